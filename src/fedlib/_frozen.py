"""Frozen values built without the frozen dataclass ``__init__`` (the login path builds several per login).

A ``@dataclass(frozen=True, slots=True)`` ``__init__`` stores each field through ``object.__setattr__`` (its
own ``__setattr__`` refuses), about 1,200 instructions per field: 20-30 k per login for ``AuthnResult``
alone (issue #9). :func:`fast_builder` returns a function with the class's own parameters (the same names,
order, keyword-only marks and defaults) that stores the fields on a *twin* class with the same
``__slots__`` (plain attribute stores), then turns the object into the dataclass by ``__class__``
assignment. CPython allows that only between classes of the same memory layout, and :func:`fast_builder`
proves it once, at import, on an empty object. The result is an instance of the dataclass like any
other: equal, same hash and repr, frozen, picklable, ``dataclasses.replace`` works
(tests/unit/core/test_frozen.py holds builders to their constructors).

Why generated source: the builder must be as cheap as the attribute stores themselves, so it is written
out per class, the way ``dataclasses`` writes ``__init__`` (the field names are the identifiers
``dataclasses`` already accepted). A class the technique does not fit (not a frozen, slotted dataclass
directly on ``object`` with ``dataclasses``' own ``__init__``; a ``__post_init__``, an ``InitVar``, a field that
is not an ``__init__`` parameter, its own ``__new__``, abstract methods, a field named like the generated
code's locals) gets its own constructor back: the builder is then the class itself.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar, cast

P = ParamSpec("P")
T = TypeVar("T")


class _Factory:
    """The default of a ``default_factory`` parameter: the factory is called when the caller gave nothing."""

    def __repr__(self) -> str:
        return "<factory>"


_FACTORY = _Factory()
_OBJECT_NEW: Any = object.__new__
_GENERATED_NAMES = frozenset({"o", "_new", "_twin", "_cls", "_FACTORY"})
"""The names the generated code uses (with ``_factory_*`` and ``_default_*``): a field so named would shadow
them, so such a class gets its constructor."""


def fast_builder(cls: Callable[P, T]) -> Callable[P, T]:
    """A function equivalent to calling ``cls`` (a frozen, slotted dataclass), without its ``__init__``."""
    klass: Any = cls
    params = getattr(klass, "__dataclass_params__", None)
    fields = dataclasses.fields(klass) if params is not None else ()
    names = tuple(f.name for f in fields)
    init = getattr(klass, "__init__", None)
    if (
        params is None
        or not params.frozen
        or not params.init
        or klass.__bases__ != (object,)
        or getattr(klass, "__slots__", None) != names
        or hasattr(klass, "__post_init__")
        or any(not f.init for f in fields)
        or len(klass.__dataclass_fields__) != len(fields)  # an InitVar or a ClassVar: the constructor decides
        or klass.__new__ is not _OBJECT_NEW  # a __new__ of its own would be skipped
        or getattr(klass, "__abstractmethods__", None)  # not instantiable by its constructor
        or getattr(getattr(init, "__code__", None), "co_filename", None) != "<string>"  # a hand-written __init__
        or any(n in _GENERATED_NAMES or n.startswith(("_factory_", "_default_")) for n in names)
    ):
        return cls
    twin = type(f"_{klass.__name__}Slots", (), {"__slots__": names, "__module__": klass.__module__})
    probe: Any = object.__new__(twin)
    try:
        probe.__class__ = klass  # the layouts match (CPython refuses otherwise): proven once, here
    except TypeError:  # pragma: no cover - a slotted dataclass on object always matches its twin
        return cls
    namespace: dict[str, Any] = {"_new": object.__new__, "_twin": twin, "_cls": klass, "_FACTORY": _FACTORY}
    positional: list[str] = []
    keyword: list[str] = []
    body = ""
    for f in fields:
        text = f.name
        if f.default is not dataclasses.MISSING:
            namespace[f"_default_{f.name}"] = f.default
            text += f"=_default_{f.name}"
            body += f"    o.{f.name} = {f.name}\n"
        elif f.default_factory is not dataclasses.MISSING:  # called per object, as dataclasses' __init__ does
            namespace[f"_factory_{f.name}"] = f.default_factory
            text += "=_FACTORY"
            body += f"    o.{f.name} = _factory_{f.name}() if {f.name} is _FACTORY else {f.name}\n"
        else:
            body += f"    o.{f.name} = {f.name}\n"
        (keyword if f.kw_only else positional).append(text)
    parameters = ", ".join(positional + (["*", *keyword] if keyword else []))
    source = f"def build({parameters}):\n    o = _new(_twin)\n{body}    o.__class__ = _cls\n    return o\n"
    exec(source, namespace)  # noqa: S102 - see the module docstring: generated like dataclasses' __init__
    build = namespace["build"]
    build.__qualname__ = build.__name__ = f"new_{klass.__name__}"
    build.__doc__ = f"``{klass.__name__}(...)``: the same parameters, the same object (fedlib._frozen)."
    return cast(Callable[P, T], build)


__all__ = ["fast_builder"]
