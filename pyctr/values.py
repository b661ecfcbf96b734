"""@value: a dataclass whose __eq__, __repr__ and (at first) __init__ are shared, not compiled per class.

Every command imports a few dozen of pyctr's dataclasses (specs, records, results), and
@dataclass compiles an __init__, an __eq__ and a __repr__ for each at import time: about
0.25 ms a class, most of it the __init__. A @value class compiles none of them: equality and
repr work field by field, as a dataclass's do, and its first instances are made by a shared
__init__ that reads the class's fields; a class that makes many (ps of a thousand containers)
gets the compiled __init__ @dataclass would have made, as does a call that the shared one does
not take as it is (a missing or unexpected argument: @dataclass's own error).

A class without a docstring gets the one @dataclass would give it (`Name(field: 'type' = ...)`),
made here: @dataclass makes it with `inspect`, which costs ~4 ms to import (pyctr.cli.fast defers it).
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields

# (typing is not imported: it costs every command ~2 ms; type checkers read this branch as taken)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import dataclass_transform
else:
    def dataclass_transform(**_):
        return lambda decorator: decorator

COMPILE_AFTER = 32  # instances made by the shared __init__ before a class gets a compiled one


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
        shared_init = (set(options) <= {"frozen"} and "__init__" not in cls.__dict__ and type(cls) is type
                       and cls.__new__ is object.__new__ and cls.__setattr__ is object.__setattr__
                       and "__slots__" not in cls.__dict__)
        own_doc = (not cls.__doc__ and options.get("init", True) and "__init__" not in cls.__dict__
                   and type(cls) is type and cls.__new__ is object.__new__)
        if own_doc:
            cls.__doc__ = cls.__name__  # (for the moment: so that @dataclass does not make one)
        cls = dataclass(cls, eq=False, repr=False, **(dict(options, init=False) if shared_init else options))
        if shared_init:
            cls.__init__ = _shared_init(cls, options)
        if own_doc:
            cls.__doc__ = _signature_doc(cls, options)
        return cls

    return wrap if cls is None else wrap(cls)


def _shared_init(cls, options: dict):
    """An __init__ for `cls` (made by @dataclass with init=False) that does what @dataclass's would,
    for calls that bind as they are; anything else, and the COMPILE_AFTER-th instance, on goes the
    compiled one (_compiled_init)."""
    every = fields(cls)
    in_init = [f for f in every if f.init]
    positional = tuple(f.name for f in in_init if not f.kw_only)
    accepted = frozenset(f.name for f in in_init)
    required = frozenset(f.name for f in in_init if f.default is MISSING and f.default_factory is MISSING)
    plan = tuple((f.name, f.init, f.default, f.default_factory) for f in every)
    post_init = hasattr(cls, "__post_init__")
    defaults_seen = False
    for f in in_init:  # @dataclass refuses this order (at the class, not at a call): its error
        if f.kw_only:
            continue
        if f.default is not MISSING or f.default_factory is not MISSING:
            defaults_seen = True
        elif defaults_seen:
            return _compiled_init(cls, options)
    if (len(cls.__dataclass_fields__) != len(every)  # ClassVar or InitVar pseudo-fields
            or any(hasattr(type(cls.__dict__.get(f.name)), "__set__") for f in every)):  # (a descriptor)
        return _compiled_init(cls, options)
    made = 0

    def __init__(self, *args, **kwargs):
        nonlocal made
        given = dict(zip(positional, args)) if args else {}
        if (len(args) > len(positional) or (kwargs and (not kwargs.keys() <= accepted or not given.keys().isdisjoint(kwargs)))
                or not required <= (given.keys() | kwargs.keys()) or made >= COMPILE_AFTER):
            compiled = cls.__init__ = _compiled_init(cls, options)
            return compiled(self, *args, **kwargs)
        made += 1
        if kwargs:
            given.update(kwargs)
        attributes = self.__dict__
        for name, init, default, factory in plan:  # in the fields' order, as @dataclass assigns them
            if init and name in given:
                attributes[name] = given[name]
            elif factory is not MISSING:
                attributes[name] = factory()
            elif init:
                attributes[name] = default
        if post_init:
            self.__post_init__()

    __init__.__qualname__ = f"{cls.__qualname__}.__init__"
    return __init__


def _compiled_init(cls, options: dict):
    """The __init__ @dataclass makes for `cls`: made for a twin of it (same bases, fields, module)."""
    namespace = {"__module__": cls.__module__, "__qualname__": cls.__qualname__,
                 "__annotations__": dict(cls.__dict__.get("__annotations__", {}))}
    real = {f.name: f for f in fields(cls)}
    for name in namespace["__annotations__"]:
        if name in real:
            f = real[name]
            namespace[name] = field(default=f.default, default_factory=f.default_factory, init=f.init, repr=f.repr,
                                    hash=f.hash, compare=f.compare, metadata=f.metadata, kw_only=f.kw_only)
        elif name in cls.__dict__:
            namespace[name] = cls.__dict__[name]
    if "__post_init__" in cls.__dict__:
        namespace["__post_init__"] = cls.__dict__["__post_init__"]
    namespace["__doc__"] = "twin"
    return dataclass(type(cls.__name__, cls.__bases__, namespace), eq=False, repr=False, **options).__init__


def _signature_doc(cls, options: dict) -> str:
    """The docstring @dataclass gives a class without one, `Name` + str(inspect.signature(Name)):
    the parameters of the __init__ it makes, as inspect shows them (for string annotations, as
    `from __future__ import annotations` makes them; anything else is left to inspect)."""
    every = fields(cls)
    if len(cls.__dataclass_fields__) != len(every) or not all(isinstance(f.type, str) for f in every):
        import inspect

        made = _compiled_init(cls, options)
        parameters = list(inspect.signature(made).parameters.values())[1:]
        return cls.__name__ + str(inspect.signature(made).replace(parameters=parameters)).replace(" -> None", "")
    in_init = [f for f in every if f.init]
    keywords = [f for f in in_init if f.kw_only]
    shown = []
    for f in [f for f in in_init if not f.kw_only] + (["*"] if keywords else []) + keywords:
        if isinstance(f, str):  # keyword-only from here on
            shown.append(f)
            continue
        text = f"{f.name}: {f.type!r}"
        if f.default is not MISSING:
            text += f" = {f.default!r}"
        elif f.default_factory is not MISSING:
            text += " = <factory>"
        shown.append(text)
    return (cls.__name__ + f"({', '.join(shown)}) -> None").replace(" -> None", "")
