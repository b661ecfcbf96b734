"""pyctr.values.value: a dataclass in all but the compiled methods. Its shared __init__ makes what
@dataclass's would (the same attributes in the same order, the same errors), its compiled one takes
over after COMPILE_AFTER instances, and the docstring it makes itself is @dataclass's."""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from dataclasses import field

import pytest

import pyctr
from pyctr import values
from pyctr.values import value


def _body(frozen=False, kw_only=False):
    """The same class body, to be made by @value and by @dataclass."""
    class Plain:
        a: str
        b: int = 3
        c: list[str] = field(default_factory=list)
        d: dict | None = None
        e: str = field(default="x", repr=False)
        f: int = field(default=0, init=False)
        g: list = field(default_factory=lambda: [1], init=False)

    class KeywordsOnly:
        a: str
        b: tuple = (1, "two")

    class Mixed:
        a: int
        b: str = field(default="b", kw_only=True)
        c: float = 1.5

        def __post_init__(self):
            self.c += 1

    return {"Plain": Plain, "KeywordsOnly": KeywordsOnly, "Mixed": Mixed}


def _made(decorator, name, **options):
    cls = _body()[name]
    namespace = {k: v for k, v in vars(cls).items() if k not in ("__dict__", "__weakref__")}
    namespace["__qualname__"] = name
    return decorator(**options)(type(name, (), namespace))


CASES = [("Plain", {}), ("KeywordsOnly", {"kw_only": True}), ("Mixed", {}), ("Plain", {"frozen": True})]
CALLS = [((), {}), (("a",), {}), (("a", 1), {}), ((), {"a": "x", "b": 2}), (("a",), {"c": ["z"], "e": "y"}),
         (("a", 1, [], None, "e", "extra"), {}), (("a",), {"a": "again"}), (("a",), {"nope": 1}), ((), {"b": 1}),
         ((), {"a": "x", "f": 1}), ((1,), {"b": "b"}), ((), {"a": 1, "b": "B", "c": 2.0})]


def outcome(cls, args, kwargs):
    try:
        made = cls(*args, **kwargs)
    except TypeError as exc:
        return "TypeError", str(exc)
    return list(vars(made).items())


@pytest.mark.parametrize("name, options", CASES)
def test_made_as_by_dataclass(name, options):
    mine = _made(value, name, **options)
    theirs = _made(dataclasses.dataclass, name, eq=False, repr=False, **options)
    assert mine.__doc__ == theirs.__doc__
    assert [f.name for f in dataclasses.fields(mine)] == [f.name for f in dataclasses.fields(theirs)]
    assert mine.__match_args__ == theirs.__match_args__
    for args, kwargs in CALLS:
        assert outcome(mine, args, kwargs) == outcome(theirs, args, kwargs), (args, kwargs)


def test_compiled_after_many():
    cls = _made(value, "Plain")
    shared = cls.__init__
    for n in range(values.COMPILE_AFTER):
        cls(str(n))
    assert cls.__init__ is shared
    made = cls("last", c=["c"])
    assert cls.__init__ is not shared and cls.__init__.__qualname__ == "Plain.__init__"
    assert list(vars(made).items()) == [("a", "last"), ("b", 3), ("c", ["c"]), ("d", None), ("e", "x"), ("g", [1])]
    assert list(vars(cls("again")).items()) == [("a", "again"), ("b", 3), ("c", []), ("d", None), ("e", "x"), ("g", [1])]


def test_an_error_is_dataclass_own():
    cls = _made(value, "Plain")
    with pytest.raises(TypeError, match=r"^Plain.__init__\(\) missing 1 required positional argument: 'a'$"):
        cls()
    assert cls("a").a == "a"


def test_defaults_out_of_order_refused_as_dataclass():
    with pytest.raises(TypeError, match="non-default argument 'b' follows default argument"):
        @value
        class Bad:
            a: int = 0
            b: int


@value
class Base:
    a: str
    b: int = 1


@value
class Derived(Base):
    c: bytes = b"c"


@value(frozen=True)
class Frozen:
    a: str
    b: frozenset = frozenset()


@value
class Documented:
    """Its own words."""

    a: int = 0


@value
class OwnInit:
    a: int = 0

    def __init__(self, a: int = 7):
        self.a = a


def test_docs():
    assert Base.__doc__ == "Base(a: 'str', b: 'int' = 1)"
    assert Derived.__doc__ == "Derived(a: 'str', b: 'int' = 1, c: 'bytes' = b'c')"
    assert Frozen.__doc__ == "Frozen(a: 'str', b: 'frozenset' = frozenset())"
    assert Documented.__doc__ == "Its own words."
    assert OwnInit.__doc__ == "OwnInit(a: 'int' = 7)" and OwnInit().a == 7
    assert _made(value, "Plain").__doc__ == (
        "Plain(a: 'str', b: 'int' = 3, c: 'list[str]' = <factory>, d: 'dict | None' = None, e: 'str' = 'x')")
    assert _made(value, "KeywordsOnly", kw_only=True).__doc__ == "KeywordsOnly(*, a: 'str', b: 'tuple' = (1, 'two'))"
    assert _made(value, "Mixed").__doc__ == "Mixed(a: 'int', c: 'float' = 1.5, *, b: 'str' = 'b')"


def test_behaves_as_dataclass():
    d = Derived("a", c=b"x")
    assert d == Derived("a", 1, b"x") and d != Derived("b") and Base("a") != Derived("a")
    assert repr(d) == "Derived(a='a', b=1, c=b'x')"
    assert dataclasses.asdict(d) == {"a": "a", "b": 1, "c": b"x"}
    assert dataclasses.replace(d, b=4) == Derived("a", 4, b"x")
    assert dataclasses.is_dataclass(Derived) and Derived.__hash__ is None
    assert hash(Frozen("a")) == hash(Frozen("a"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        Frozen("a").a = "b"


def twin(cls):
    """`cls` made again by @dataclass alone, from its fields (the same bases, module and options)."""
    namespace = {"__module__": cls.__module__, "__qualname__": cls.__qualname__,
                 "__annotations__": dict(cls.__dict__.get("__annotations__", {}))}
    for f in dataclasses.fields(cls):
        if f.name in namespace["__annotations__"]:
            namespace[f.name] = field(default=f.default, default_factory=f.default_factory, init=f.init, repr=f.repr)
    frozen = cls.__dataclass_params__.frozen
    return dataclasses.dataclass(type(cls.__name__, cls.__bases__, namespace), eq=False, repr=False, frozen=frozen)


def test_every_value_class_of_pyctr():
    """Every @value class in pyctr: the docstring, and what a call with its required fields makes,
    as @dataclass's."""
    checked = 0
    for module in pkgutil.walk_packages(pyctr.__path__, "pyctr."):
        if module.name.endswith("__main__") or ".shim." in module.name:
            continue
        mod = importlib.import_module(module.name)
        for cls in vars(mod).values():
            if not (isinstance(cls, type) and cls.__module__ == mod.__name__ and cls.__eq__ is values._eq):
                continue
            other = twin(cls)
            if cls.__doc__.startswith(cls.__name__ + "("):
                assert cls.__doc__ == other.__doc__, cls
            required = {f.name: object() for f in dataclasses.fields(cls)
                        if f.init and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
            assert outcome(cls, (), required) == outcome(other, (), required), cls
            assert outcome(cls, (), {}) == outcome(other, (), {}), cls
            checked += 1
    assert checked > 50
