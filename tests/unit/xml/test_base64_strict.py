"""decode_base64, b64_text and decode_message decide exactly like the stdlib's strict decoder, whatever fast
decoder they use.

fedlib decodes the SAMLResponse form value with pybase64 (SIMD; ~20x faster than binascii on a 9 KB
value, bench/verify.py) but the decision and the bytes must stay those of
``binascii.a2b_base64(strict_mode=True)`` (after dropping ASCII whitespace): the reference below.
"""

from __future__ import annotations

import base64
import binascii

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fedlib._xml.parse as parse_module
from fedlib._xml.parse import b64_text, decode_base64, decode_message
from fedlib.errors import ErrorCode, XMLRejected

_WS = b" \t\r\n"


def reference(value: bytes) -> bytes | None:
    """The stdlib's strict decision: the decoded bytes, or None for a refusal."""
    if not value.strip():
        return None
    try:
        return binascii.a2b_base64(value, strict_mode=True)
    except (binascii.Error, ValueError):
        pass
    try:
        return binascii.a2b_base64(value.translate(None, _WS), strict_mode=True)
    except (binascii.Error, ValueError):
        return None


def decided(value: bytes) -> bytes | None:
    try:
        return decode_base64(value)
    except XMLRejected:
        return None


_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_NEAR = st.sampled_from(list(_ALPHABET) + [ord(c) for c in "=-_ \t\r\n.\x00\x80\xff:"])


@settings(max_examples=3000, deadline=None)
@given(st.lists(_NEAR, max_size=40).map(bytes))
def test_any_near_base64_bytes(value: bytes) -> None:
    assert decided(value) == reference(value)


@settings(max_examples=1000, deadline=None)
@given(
    st.binary(max_size=60), st.integers(0, 80), st.sampled_from([b"=", b"==", b"===", b"-", b"_", b" ", b"\n", b"A"])
)
def test_valid_encodings_with_one_edit(raw: bytes, position: int, insert: bytes) -> None:
    encoded = base64.b64encode(raw)
    for candidate in (
        encoded,
        encoded[:position] + insert + encoded[position:],
        encoded[:position] + encoded[position + 1 :],
    ):
        assert decided(candidate) == reference(candidate)


@pytest.mark.parametrize(
    "value",
    [
        b"QQ==",
        b"QR==",
        b"QUE=",
        b"QUI=",
        b"QUFB",
        b"QQ",
        b"QQ=",
        b"QQ===",
        b"=QQ=",
        b"Q=Q=",
        b"QQ==QQ==",
        b"QUFB====",
        b"QU FB",
        b"QUFB\n",
        b"\nQUFB",
        b"QUFB-_",
        b"QUF\x00",
        "QUFB\u00e9".encode(),
        b"====",
        b"A",
        b"AB",
        b"ABC",
    ],
)
def test_edge_cases(value: bytes) -> None:
    assert decided(value) == reference(value)
    assert decided(value.decode("latin-1")) == reference(value) if value.isascii() else True


# --- b64_text: element text (DigestValue, SignatureValue, X509Certificate) -------------------------------------


def reference_text(text: str | None) -> bytes | None:
    """b64_text's decision as the stdlib makes it: ASCII only, ASCII whitespace dropped, then strict base64;
    None for no text, nothing left, or a refusal."""
    if not text:
        return None
    try:
        raw = text.encode("ascii").translate(None, _WS)
        return binascii.a2b_base64(raw, strict_mode=True) if raw else None
    except (UnicodeEncodeError, binascii.Error, ValueError):
        return None


_NEAR_TEXT = st.sampled_from(list(_ALPHABET.decode()) + list("=-_ \t\r\n.\x00\x80\xff:\u00e9\ud800"))


@settings(max_examples=3000, deadline=None)
@given(st.lists(_NEAR_TEXT, max_size=40).map("".join))
def test_b64_text_any_near_base64_text(text: str) -> None:
    assert b64_text(text) == reference_text(text)


@settings(max_examples=1000, deadline=None)
@given(st.binary(max_size=300), st.integers(0, 400), st.sampled_from(["=", "==", "-", "_", " ", "\n", "A", "\u00e9"]))
def test_b64_text_valid_encodings_with_one_edit(raw: bytes, position: int, insert: str) -> None:
    encoded = base64.b64encode(raw).decode("ascii")
    for candidate in (
        encoded,
        encoded[:position] + insert + encoded[position:],
        encoded[:position] + encoded[position + 1 :],
    ):
        assert b64_text(candidate) == reference_text(candidate)


@pytest.mark.parametrize("text", [None, "", "QQ==", "QR==", "QUFB====", "QUFB\n", "Q=Q=", "====", "QUFB\u00e9", "A"])
def test_b64_text_edge_cases(text: str | None) -> None:
    assert b64_text(text) == reference_text(text)


def test_b64_text_decodes_the_usual_text_without_binascii(monkeypatch: pytest.MonkeyPatch) -> None:
    """A SignatureValue in the usual shape (one line, canonical padding) is decoded by pybase64 (binascii's
    strict loop costs ~1 µs per SignatureValue on every login); binascii stays the reference for the rest."""

    def refuse(*args: object, **kwargs: object) -> bytes:
        raise AssertionError("binascii used for a canonical base64 text")

    monkeypatch.setattr(parse_module.binascii, "a2b_base64", refuse)
    value = bytes(range(256))
    assert b64_text(base64.b64encode(value).decode("ascii")) == value


# --- decode_message: a str form value ------------------------------------------------------------------------


def _message_outcome(value: str | bytes, max_bytes: int) -> object:
    try:
        return decode_message(value, max_bytes=max_bytes)
    except XMLRejected as exc:
        return exc.code


@settings(max_examples=2000, deadline=None)
@given(
    st.one_of(
        st.lists(_NEAR_TEXT | st.sampled_from(["<", "r", "/", ">"]), max_size=40).map("".join),
        st.binary(max_size=120).map(lambda raw: base64.b64encode(raw).decode("ascii")),
    ),
    st.sampled_from([1, 5, 30, 90, 256 * 1024]),
)
def test_decode_message_reads_a_str_as_its_utf8_bytes(text: str, max_bytes: int) -> None:
    """A ``str`` form value is decided as its UTF-8 encoding is (the path every form value took before the
    str fast path); one that cannot be encoded (a lone surrogate) is ``malformed-xml`` either way."""
    try:
        as_bytes: str | bytes = text.encode("utf-8")
    except UnicodeEncodeError:
        assert _message_outcome(text, max_bytes) == ErrorCode.MALFORMED_XML
        return
    assert _message_outcome(text, max_bytes) == _message_outcome(as_bytes, max_bytes)


def test_decode_message_decodes_a_usual_form_value_in_one_step(monkeypatch: pytest.MonkeyPatch) -> None:
    """The usual SAMLResponse (a canonical base64 str) is decoded by pybase64 straight from the str: no UTF-8
    copy of the ~9 KB value, no second call (bench/verify.py: ~4 µs per validation with the b64_text path)."""

    def refuse(*args: object, **kwargs: object) -> bytes:
        raise AssertionError("decode_base64 used for a canonical str form value")

    monkeypatch.setattr(parse_module, "decode_base64", refuse)
    xml = b"<samlp:Response xmlns:samlp='urn:oasis:names:tc:SAML:2.0:protocol'/>"
    assert decode_message(base64.b64encode(xml).decode("ascii")) == xml
