"""``fedlib._frozen.fast_builder``: a function with the constructor's parameters that builds the same frozen
dataclass object without its ``__init__`` (issue #9). Held to the constructor on generated dataclasses
(every parameter shape: positional, keyword-only, defaults, default factories) and on the login path's own
classes; and it must stand down (return the class itself) wherever the technique does not fit."""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.frozen_support import assert_same_frozen

from fedlib import binding, sp
from fedlib._frozen import fast_builder
from fedlib._xml import ids
from fedlib.protocol import models
from fedlib.xmldsig import verify

USED = [
    (binding._new_cookie, binding.BindingCookie),
    (sp._new_login_request, sp.LoginRequest),
    (sp._new_login_result, sp.LoginResult),
    (models.new_authn_result, models.AuthnResult),
    (ids._new_index, ids.IdIndex),
    (verify._new_verified, verify.VerifiedElement),
]


class _Made:
    """What a generated default_factory returns: equal by value, a new object per call."""

    def __init__(self, i: int) -> None:
        self.i = i

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Made) and other.i == self.i

    def __hash__(self) -> int:
        return hash(self.i)

    def __repr__(self) -> str:
        return f"_Made({self.i})"


@pytest.mark.parametrize(("builder", "cls"), USED, ids=[cls.__name__ for _, cls in USED])
def test_the_login_paths_builders_are_on_and_take_the_constructors_parameters(builder: Any, cls: type) -> None:
    assert builder is not cls  # the fast path is on for every class the login path builds
    ours = inspect.signature(builder).parameters
    theirs = inspect.signature(cls).parameters
    assert list(ours) == list(theirs)
    for name, parameter in ours.items():
        assert parameter.kind is theirs[name].kind, name
        if theirs[name].default is inspect.Parameter.empty:
            assert parameter.default is inspect.Parameter.empty, name
        elif parameter.default is not theirs[name].default:  # a default_factory: both print "<factory>"
            assert repr(parameter.default) == repr(theirs[name].default) == "<factory>", name


# A dataclass shape: per field, whether it is keyword-only and which default it has.
_DEFAULTS = st.sampled_from(["none", "value", "factory"])
_SHAPES = st.lists(st.tuples(st.booleans(), _DEFAULTS), min_size=1, max_size=8)
_VALUES = st.one_of(
    st.none(), st.integers(), st.text(max_size=4), st.tuples(st.integers()), st.frozensets(st.integers())
)


def _dataclass(shape: list[tuple[bool, str]], **options: Any) -> type:
    fields: list[tuple[str, type, Any]] = []
    positional_default_seen = False
    for i, (kw_only, default) in enumerate(shape):
        if not kw_only and default == "none" and positional_default_seen:
            default = "value"  # a positional field without a default cannot follow one with it
        if not kw_only and default != "none":
            positional_default_seen = True
        spec: Any = dataclasses.field(kw_only=kw_only)
        if default == "value":
            spec = dataclasses.field(kw_only=kw_only, default=("d", i))
        elif default == "factory":
            spec = dataclasses.field(kw_only=kw_only, default_factory=lambda i=i: _Made(i))
        fields.append((f"f{i}", object, spec))
    options = {"frozen": True, "slots": True, **options}
    return dataclasses.make_dataclass("Generated", fields, **options)


@settings(max_examples=300, deadline=None)
@given(shape=_SHAPES, data=st.data())
def test_a_builder_builds_what_the_constructor_builds(shape: list[tuple[bool, str]], data: st.DataObject) -> None:
    cls = _dataclass(shape)
    builder = fast_builder(cls)
    assert builder is not cls
    positional: list[Any] = []
    keywords: dict[str, Any] = {}
    for name, parameter in inspect.signature(cls).parameters.items():
        given_value = parameter.default is inspect.Parameter.empty or data.draw(st.booleans())
        if not given_value:
            continue
        value = data.draw(_VALUES)
        if parameter.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD and not keywords and data.draw(st.booleans()):
            positional.append(value)
        else:
            keywords[name] = value
    assert_same_frozen(builder(*positional, **keywords), cls(*positional, **keywords), picklable=False)
    given_names = inspect.signature(cls).bind(*positional, **keywords).arguments
    for f in dataclasses.fields(cls):
        if f.default_factory is not dataclasses.MISSING and f.name not in given_names:
            # a factory is called per object, never shared between two
            first, second = builder(*positional, **keywords), builder(*positional, **keywords)
            assert getattr(first, f.name) is not getattr(second, f.name)


@settings(max_examples=100, deadline=None)
@given(shape=_SHAPES)
def test_wrong_arguments_are_refused_as_by_the_constructor(shape: list[tuple[bool, str]]) -> None:
    cls = _dataclass(shape)
    builder = fast_builder(cls)
    with pytest.raises(TypeError):
        builder(unknown=1)
    required = [p for p in inspect.signature(cls).parameters.values() if p.default is inspect.Parameter.empty]
    if required:
        with pytest.raises(TypeError):
            builder()
        with pytest.raises(TypeError):
            cls()


def _post_init(self: Any) -> None:
    pass


@pytest.mark.parametrize(
    "make",
    [
        lambda: _dataclass([(False, "none")], frozen=False),  # not frozen: its __init__ is cheap already
        lambda: _dataclass([(False, "none")], slots=False),  # no slots: no twin layout
        lambda: _dataclass([(False, "none")], namespace={"__post_init__": _post_init}),  # its checks would be skipped
        lambda: dataclasses.make_dataclass(
            "NotInit", [("a", int), ("b", int, dataclasses.field(init=False, default=0))], frozen=True, slots=True
        ),
        lambda: dataclasses.make_dataclass(
            "Derived", [("b", int)], bases=(_dataclass([(False, "none")]),), frozen=True
        ),
        lambda: dict,  # not a dataclass
        lambda: _dataclass([(False, "none")], init=False),
        lambda: _with_own_init(),
        lambda: _with_own_new(),
        lambda: _abstract(),
        lambda: dataclasses.make_dataclass(
            "WithInitVar", [("a", int), ("b", dataclasses.InitVar[int])], frozen=True, slots=True
        ),
        *[
            (lambda name=name: dataclasses.make_dataclass("Shadow", [(name, int)], frozen=True, slots=True))
            for name in ("o", "_new", "_twin", "_cls", "_FACTORY", "_factory_x", "_default_x")
        ],
    ],
    ids=[
        "not-frozen",
        "no-slots",
        "post-init",
        "init-false",
        "derived",
        "not-a-dataclass",
        "no-init",
        "own-init",
        "own-new",
        "abstract",
        "initvar",
        *(f"field-named-{n}" for n in ("o", "_new", "_twin", "_cls", "_FACTORY", "_factory_x", "_default_x")),
    ],
)
def test_a_class_the_technique_does_not_fit_gets_its_constructor(make: Any) -> None:
    cls = make()
    assert fast_builder(cls) is cls


def _with_own_init() -> type:
    """A dataclass keeps an ``__init__`` written in its class (one that refuses some values, say)."""

    @dataclasses.dataclass(frozen=True, slots=True)
    class OwnInit:
        url: str

        def __init__(self, url: str) -> None:
            if url.startswith("javascript:"):
                raise ValueError(url)
            object.__setattr__(self, "url", url)

    return OwnInit


def _with_own_new() -> type:
    @dataclasses.dataclass(frozen=True, slots=True)
    class OwnNew:
        a: int

        def __new__(cls, *args: Any, **kwargs: Any) -> Any:
            raise TypeError("not here")

    return OwnNew


def _abstract() -> type:
    import abc

    @dataclasses.dataclass(frozen=True, slots=True)
    class Abstract(abc.ABC):
        a: int

        @abc.abstractmethod
        def f(self) -> None: ...

    return Abstract


def test_a_field_named_like_a_generated_local_does_not_shadow_it() -> None:
    cls = dataclasses.make_dataclass(
        "Clash", [("o", object), ("a", object, dataclasses.field(default=3))], frozen=True, slots=True
    )
    assert fast_builder(cls)(1) == cls(1)
