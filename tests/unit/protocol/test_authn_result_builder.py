"""``models.new_authn_result`` (issue #9) makes exactly what ``AuthnResult(...)`` makes, for any arguments.

It is ``fedlib._frozen.fast_builder(AuthnResult)`` (tests/unit/core/test_frozen.py holds the technique to
constructors in general); here every field of its values is compared with the constructor's, and the
signatures are compared.
"""

from __future__ import annotations

import dataclasses
import inspect
import pickle
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.frozen_support import assert_same_frozen

from fedlib.protocol.models import AuthnResult, new_authn_result

TEXT = st.text(max_size=12)
OPTIONAL_TEXT = st.none() | TEXT
INSTANTS = st.none() | st.datetimes(timezones=st.just(UTC))
VALUES = st.dictionaries(TEXT, st.tuples(TEXT) | st.tuples(TEXT, TEXT), max_size=3).map(MappingProxyType)
NAMES = st.dictionaries(TEXT, TEXT, max_size=3).map(MappingProxyType)

REQUIRED = {
    "issuer": TEXT,
    "name_id": TEXT,
    "name_id_format": OPTIONAL_TEXT,
    "session_index": OPTIONAL_TEXT,
    "authn_context_class": OPTIONAL_TEXT,
    "not_on_or_after": INSTANTS,
    "in_response_to": OPTIONAL_TEXT,
    "assertion_id": TEXT,
    "response_id": TEXT,
}
OPTIONAL = {
    "attributes": VALUES,
    "session_not_on_or_after": INSTANTS,
    "name_qualifier": OPTIONAL_TEXT,
    "sp_name_qualifier": OPTIONAL_TEXT,
    "friendly_names": NAMES,
    "mapped_attributes": VALUES,
    "roles": st.frozensets(TEXT, max_size=3),
}


@st.composite
def arguments(draw: st.DrawFn) -> dict[str, Any]:
    kwargs = {name: draw(strategy) for name, strategy in REQUIRED.items()}
    for name, strategy in OPTIONAL.items():
        if draw(st.booleans()):
            kwargs[name] = draw(strategy)
    return kwargs


def test_the_arguments_cover_every_field() -> None:
    assert set(REQUIRED) | set(OPTIONAL) == {field.name for field in dataclasses.fields(AuthnResult)}


def test_same_signature_as_the_constructor() -> None:
    """Same keyword-only parameters, same required ones, defaults equal to the dataclass's."""
    built = inspect.signature(new_authn_result).parameters
    by_name = {field.name: field for field in dataclasses.fields(AuthnResult)}
    assert list(built) == list(by_name)
    for name, parameter in built.items():
        assert parameter.kind is inspect.Parameter.KEYWORD_ONLY
        field = by_name[name]
        if field.default is not dataclasses.MISSING:
            assert parameter.default == field.default
        elif field.default_factory is not dataclasses.MISSING:  # called per object when not given
            assert repr(parameter.default) == "<factory>"
            assert new_authn_result(**{n: None for n in REQUIRED}).__getattribute__(name) == field.default_factory()
        else:
            assert parameter.default is inspect.Parameter.empty, name


@settings(max_examples=300, deadline=None)
@given(kwargs=arguments())
def test_new_authn_result_is_the_constructors(kwargs: dict[str, Any]) -> None:
    built = new_authn_result(**kwargs)
    expected = AuthnResult(**kwargs)
    # its mapping fields make an AuthnResult unhashable and unpicklable, the constructor's as well
    assert_same_frozen(built, expected, hashable=False, picklable=False)
    assert built.to_dict() == expected.to_dict()
    assert dataclasses.replace(built, roles=frozenset({"r"})) == dataclasses.replace(expected, roles=frozenset({"r"}))


def test_pickles_like_the_constructors() -> None:
    kwargs = {"issuer": "i", "name_id": "n", "name_id_format": None, "session_index": None}
    kwargs |= {"authn_context_class": None, "not_on_or_after": datetime(2026, 1, 1, tzinfo=UTC)}
    kwargs |= {"in_response_to": None, "assertion_id": "a", "response_id": "r", "roles": frozenset({"x"})}
    built = new_authn_result(**kwargs)
    # MappingProxyType does not pickle (neither does the constructor's value): compare without them.
    plain = {"attributes": {}, "friendly_names": {}, "mapped_attributes": {}}
    copy = pickle.loads(pickle.dumps(dataclasses.replace(built, **plain)))  # noqa: S301 - the test's own value
    assert copy == AuthnResult(**kwargs, **plain)
