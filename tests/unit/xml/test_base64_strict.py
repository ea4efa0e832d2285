"""decode_base64 decides exactly like the stdlib's strict decoder, whatever fast decoder it uses.

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

from fedlib._xml.parse import decode_base64
from fedlib.errors import XMLRejected

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
