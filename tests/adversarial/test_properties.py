"""Property tests: no single-byte edit of signed content survives; valid responses round-trip exactly."""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from lxml import etree

from fedlib.errors import ErrorCode, ResponseRejected
from fedlib.metadata.idp import IdPMetadata
from fedlib.protocol.models import AuthnResult
from fedlib.stores.memory import MemoryStore
from fedlib.validation.pipeline import validate_response
from tests.adversarial._forge import DS, exc_c14n
from tests.support import World

# FEDLIB_ADVERSARIAL_EXAMPLES raises the budget for a long local hunt; the default keeps the suite fast.
SETTINGS = settings(
    max_examples=int(os.environ.get("FEDLIB_ADVERSARIAL_EXAMPLES", "80")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@functools.cache
def _world() -> World:
    return World()


@functools.cache
def _idp() -> IdPMetadata:
    return _world().idp


def _validate(message: bytes) -> AuthnResult:
    w = _world()
    return validate_response(message, sp=w.sp, idp=_idp(), now=w.now, store=MemoryStore())


def _signed_content(message: bytes) -> bytes:
    """What the Response signature covers: the Response with its ds:Signature child removed, exclusive
    c14n, after dropping comments and PIs as fedlib does; plus SignedInfo's own canonical form."""
    parser = etree.XMLParser(remove_comments=True, remove_pis=True, resolve_entities=False, no_network=True)
    root = etree.fromstring(message, parser)
    signature = root.find(f"{{{DS}}}Signature")
    assert signature is not None
    signed_info = exc_c14n(signature[0])
    root.remove(signature)
    return exc_c14n(root) + b"\0" + signed_info


def _result_fields(result: AuthnResult) -> tuple[Any, ...]:
    return (
        result.issuer,
        result.name_id,
        result.name_id_format,
        result.session_index,
        result.authn_context_class,
        dict(result.attributes),
        result.not_on_or_after,
        result.assertion_id,
        result.response_id,
    )


@dataclass(frozen=True)
class Baseline:
    message: bytes
    signed_content: bytes
    result: tuple[Any, ...]
    response_id_span: tuple[int, int]
    body_positions: tuple[int, ...]  # bytes of text nodes / attribute values outside ds:Signature
    signed_info_positions: tuple[int, ...]  # the same inside ds:SignedInfo


@functools.cache
def _baseline() -> Baseline:
    w = _world()
    message = w.mint(
        name_id="alice.smith@example.com",
        attributes={"mail": ["alice.smith@example.com"], "groups": ["staff", "admins"], "displayName": ["Alice"]},
        session_index="_session42",
    )
    root_start = message.index(b"<samlp:Response")
    sig_start = message.index(b"<ds:Signature")
    sig_end = message.index(b"</ds:Signature>") + len(b"</ds:Signature>")
    si_start = message.index(b"<ds:SignedInfo>")
    si_end = message.index(b"</ds:SignedInfo>")
    spans: list[tuple[int, int]] = []
    for match in re.finditer(rb'\s([\w:.-]+)="([^"]*)"', message[root_start:]):
        if not match.group(1).startswith(b"xmlns"):
            spans.append((root_start + match.start(2), root_start + match.end(2)))
    for match in re.finditer(rb">([^<]+)<", message[root_start:]):
        spans.append((root_start + match.start(1), root_start + match.end(1)))
    body = tuple(sorted(i for a, b in spans for i in range(a, b) if not sig_start <= i < sig_end))
    signed_info = tuple(sorted(i for a, b in spans for i in range(a, b) if si_start <= i < si_end))
    id_match = re.search(rb'<samlp:Response [^>]*?\sID="([^"]*)"', message)
    assert id_match is not None
    return Baseline(
        message=message,
        signed_content=_signed_content(message),
        result=_result_fields(_validate(message)),
        response_id_span=(id_match.start(1), id_match.end(1)),
        body_positions=body,
        signed_info_positions=signed_info,
    )


def test_baseline_is_accepted_and_has_positions() -> None:
    base = _baseline()
    assert base.result[1] == "alice.smith@example.com"
    assert len(base.body_positions) > 500
    assert len(base.signed_info_positions) > 100


SAFE = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._:/@ "


def _mutate(message: bytes, position: int, byte: int) -> bytes:
    return message[:position] + bytes([byte]) + message[position + 1 :]


@SETTINGS
@given(data=st.data())
def test_any_change_to_signed_text_or_attribute_values_is_rejected(data: st.DataObject) -> None:
    """(a) A one-byte change inside a text node or an attribute value of the signed Response (outside
    the Signature) is rejected: by the digest, or, for the Response's own ID, by the reference rule."""
    base = _baseline()
    position = data.draw(st.sampled_from(base.body_positions), label="position")
    replacement = data.draw(st.sampled_from([b for b in SAFE if b != base.message[position]]), label="byte")
    mutated = _mutate(base.message, position, replacement)
    with pytest.raises(ResponseRejected) as info:
        _validate(mutated)
    lo, hi = base.response_id_span
    expected = ErrorCode.SIGNATURE_WRAPPING if lo <= position < hi else ErrorCode.INVALID_SIGNATURE
    assert info.value.code == expected, (position, bytes([replacement]), info.value.detail)


@SETTINGS
@given(data=st.data())
def test_any_change_inside_signed_info_is_rejected(data: st.DataObject) -> None:
    """(a') The same for text and attribute values inside ds:SignedInfo (signed by the SignatureValue);
    the profile may refuse first (unknown algorithm URI, reference not to the parent)."""
    base = _baseline()
    position = data.draw(st.sampled_from(base.signed_info_positions), label="position")
    replacement = data.draw(st.sampled_from([b for b in SAFE if b != base.message[position]]), label="byte")
    mutated = _mutate(base.message, position, replacement)
    with pytest.raises(ResponseRejected) as info:
        _validate(mutated)
    assert info.value.code in {
        ErrorCode.INVALID_SIGNATURE,
        ErrorCode.WEAK_ALGORITHM,
        ErrorCode.FORBIDDEN_TRANSFORM,
        ErrorCode.SIGNATURE_WRAPPING,
    }, (position, info.value.code)


@SETTINGS
@given(data=st.data())
def test_any_single_byte_change_is_rejected_or_changes_nothing_signed(data: st.DataObject) -> None:
    """(a'') Any byte anywhere, any value: fedlib raises ResponseRejected (never another exception), or
    accepts a document whose signed content and result are exactly the original's (e.g. a change in
    unsigned KeyInfo whitespace, or in unused low bits of the base64 SignatureValue)."""
    base = _baseline()
    position = data.draw(st.integers(0, len(base.message) - 1), label="position")
    replacement = data.draw(st.integers(0, 255).filter(lambda b: b != base.message[position]), label="byte")
    mutated = _mutate(base.message, position, replacement)
    try:
        result = _validate(mutated)
    except ResponseRejected:
        return
    assert _signed_content(mutated) == base.signed_content, position
    assert _result_fields(result) == base.result


# --- round trip -------------------------------------------------------------------------------------


def _xml_char(c: str) -> bool:
    o = ord(c)
    return o in (0x9, 0xA, 0xD) or 0x20 <= o <= 0xD7FF or 0xE000 <= o <= 0xFFFD or o >= 0x10000


xml_text = st.text(st.characters(codec="utf-8").filter(_xml_char), max_size=40)
ncname = st.from_regex(r"\A[_A-Za-z][A-Za-z0-9._-]{0,40}\Z")


@SETTINGS
@given(
    name_id=xml_text.filter(str.strip),  # an empty or whitespace-only NameID is refused (test_saml_musts.py)
    attributes=st.dictionaries(xml_text.filter(bool), st.lists(xml_text, max_size=4), max_size=5),
    response_id=ncname,
    assertion_id=ncname,
    sign_assertion=st.booleans(),
)
def test_valid_responses_round_trip(
    name_id: str, attributes: dict[str, list[str]], response_id: str, assertion_id: str, sign_assertion: bool
) -> None:
    """(b) What the IdP put in is exactly what validate_response returns."""
    assume(response_id != assertion_id)
    w = _world()
    message = w.mint(
        name_id=name_id,
        attributes=attributes,
        response_id=response_id,
        assertion_id=assertion_id,
        sign_assertion=sign_assertion,
    )
    result = _validate(message)
    assert result.name_id == name_id
    assert dict(result.attributes) == {name: tuple(values) for name, values in attributes.items()}
    assert result.response_id == response_id
    assert result.assertion_id == assertion_id
    assert result.issuer == "https://idp.example.org/saml/metadata"
