"""@value: a dataclass whose __eq__ and __repr__ are shared, not compiled per class.

Every command imports a few dozen of pyctr's dataclasses (specs, records, results), and
@dataclass compiles an __init__, an __eq__ and a __repr__ for each at import time: about
0.3 ms a class, paid on every `pyctr run`. A @value class compiles only its __init__;
equality and repr work field by field, as a dataclass's do.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import dataclass_transform


def _eq(self, other) -> bool:
    if other.__class__ is not self.__class__:
        return NotImplemented
    return all(getattr(self, f.name) == getattr(other, f.name) for f in fields(self))


def _hash(self) -> int:
    return hash(tuple(getattr(self, f.name) for f in fields(self)))


def _repr(self) -> str:
    shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self) if f.repr)
    return f"{self.__class__.__qualname__}({shown})"


@dataclass_transform()
def value(cls=None, /, **options):
    """Use as @value or @value(frozen=True, ...): dataclass options except eq and repr."""
    def wrap(cls):
        # Hashable when frozen, as a frozen dataclass is; unhashable otherwise (mutable, compared by value).
        cls.__eq__, cls.__repr__, cls.__hash__ = _eq, _repr, (_hash if options.get("frozen") else None)
        return dataclass(cls, eq=False, repr=False, **options)

    return wrap if cls is None else wrap(cls)
