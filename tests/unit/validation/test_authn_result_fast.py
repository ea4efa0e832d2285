"""The pipeline builds its AuthnResult through the slot setters (issue #9: no frozen-dataclass __init__); the
object must be the one the constructor builds, and the shortcut must stand down when AuthnResult changes."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from types import MappingProxyType

from hypothesis import given, settings
from hypothesis import strategies as st

from fedlib.protocol.models import AuthnResult
from fedlib.validation import pipeline
from fedlib.validation.pipeline import AUTHN_RESULT_FIELDS, _authn_result_setters

_optional_text = st.one_of(st.none(), st.text(max_size=5))
_instant = st.one_of(st.none(), st.datetimes(timezones=st.just(UTC)))
_mapping = st.dictionaries(st.text(max_size=3), st.lists(st.text(max_size=3), max_size=2).map(tuple), max_size=2)


def _build(values: dict[str, object]) -> AuthnResult:
    setters = pipeline._AUTHN_RESULT_SETTERS
    assert setters is not None
    result = object.__new__(AuthnResult)
    for name, setter in zip(AUTHN_RESULT_FIELDS, setters, strict=True):
        setter(result, values[name])
    return result


def test_the_shortcut_is_on_for_the_current_authn_result() -> None:
    assert _authn_result_setters(AuthnResult) is not None
    assert tuple(f.name for f in dataclasses.fields(AuthnResult)) == AUTHN_RESULT_FIELDS


@settings(max_examples=100, deadline=None)
@given(
    st.text(max_size=5), st.text(max_size=5), _optional_text, _optional_text, _optional_text, _mapping, _instant,
    _instant, _optional_text, st.text(max_size=5), st.text(max_size=5), _optional_text, _optional_text,
)  # fmt: skip
def test_slot_setters_build_what_the_constructor_builds(
    issuer: str, name_id: str, fmt: str | None, session_index: str | None, context: str | None,
    attributes: dict[str, tuple[str, ...]], until: datetime | None, session_until: datetime | None,
    irt: str | None, assertion_id: str, response_id: str, qualifier: str | None, sp_qualifier: str | None,
) -> None:  # fmt: skip
    kwargs: dict[str, object] = {
        "issuer": issuer, "name_id": name_id, "name_id_format": fmt, "session_index": session_index,
        "authn_context_class": context, "attributes": MappingProxyType(attributes), "not_on_or_after": until,
        "session_not_on_or_after": session_until, "in_response_to": irt, "assertion_id": assertion_id,
        "response_id": response_id, "name_qualifier": qualifier, "sp_name_qualifier": sp_qualifier,
        "friendly_names": MappingProxyType({}), "mapped_attributes": MappingProxyType({}),
    }  # fmt: skip
    expected = AuthnResult(**kwargs)  # type: ignore[arg-type]
    built = _build({**kwargs, "roles": frozenset()})
    assert built == expected
    assert type(built) is AuthnResult
    assert [getattr(built, n) for n in AUTHN_RESULT_FIELDS] == [getattr(expected, n) for n in AUTHN_RESULT_FIELDS]
    assert built.to_dict() == expected.to_dict()
    assert hash(built.issuer) == hash(expected.issuer)


def _variant(**changes: object) -> type:
    """A stand-in for AuthnResult after someone changed it (a field more, another default, a __post_init__)."""
    fields: list[tuple[str, type, object]] = [
        (name, object, dataclasses.field(default=None)) for name in AUTHN_RESULT_FIELDS
    ]
    fields[-1] = ("roles", frozenset, dataclasses.field(default=frozenset()))
    extra = changes.pop("extra", None)
    if extra:
        fields.append((str(extra), object, dataclasses.field(default=None)))
    if "roles_default" in changes:
        fields[-1] = ("roles", frozenset, dataclasses.field(default=changes.pop("roles_default")))
    namespace = changes.pop("namespace", {})
    order = changes.pop("order", None)
    if order:
        fields.reverse()
    return dataclasses.make_dataclass("Variant", fields, frozen=True, slots=True, kw_only=True, namespace=namespace)


def test_the_shortcut_stands_down_when_authn_result_changes() -> None:
    # The guard is what keeps the shortcut from building a half-initialised or unvalidated object: every
    # one of these must fall back to the constructor (each assertion fails with its guard dropped).
    assert _authn_result_setters(_variant()) is not None
    assert _authn_result_setters(_variant(extra="tenant")) is None  # a new field the setters would skip
    assert _authn_result_setters(_variant(order=True)) is None  # another field order
    assert _authn_result_setters(_variant(roles_default=frozenset({"admin"}))) is None  # another default
    assert _authn_result_setters(_variant(namespace={"__post_init__": lambda self: None})) is None
    assert _authn_result_setters(dict) is None  # not a dataclass
