"""Fuzz targets (issue #8 §5): the HTTP-Redirect decoder and RelayState handling.

The Redirect decoder gets query strings: junk, mutations of a genuine signed query (bad percent-encoding,
bad base64, DEFLATE garbage, repeated and reordered parameters, oversize). Only fedlib's typed errors may
come out, and a query whose signature verifies must carry exactly the seed's message, RelayState and
SigAlg. ``safe_relay_state`` gets arbitrary text (lone surrogates included) and URL-shaped text; it never
raises and what it keeps is checked against an independent reading of "relative path or allowed origin".
"""

from __future__ import annotations

import base64
import zlib
from functools import cache
from typing import Any
from urllib.parse import quote

from hypothesis import event, example, given
from hypothesis import strategies as st
from tests.fuzz._fuzz import budget, typed_only

from fedlib.errors import ResponseRejected
from fedlib.protocol.bindings import (
    RedirectQuery,
    VerifiedRedirect,
    decode_redirect_message,
    parse_redirect_query,
    redirect_query,
    verify_redirect_signature,
)
from fedlib.sp import safe_relay_state
from fedlib.testing import default_key
from fedlib.xmldsig import Signer, TrustAnchors

XML = (
    b'<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
    b'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_lr1" Version="2.0" '
    b'IssueInstant="2026-06-01T12:00:00Z"><saml:Issuer>https://idp.example.test</saml:Issuer>'
    b"<saml:NameID>ada@example.org</saml:NameID></samlp:LogoutRequest>"
)
RELAY = "/app/page?x=1&y=a b"


@cache
def seed() -> tuple[str, TrustAnchors]:
    key = default_key("rsa", "idp")
    query = redirect_query(XML, relay_state=RELAY, signer=Signer(key.private_key, key.certificate))
    return query, TrustAnchors.from_certificates([key.certificate])


def _deflate(data: bytes) -> str:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return quote(base64.b64encode(c.compress(data) + c.flush()).decode("ascii"), safe="")


QUERY_FRAGMENTS = [
    "%",
    "%G0",
    "%ff",
    "%ED%A0%80",
    "%00",
    "&",
    "=",
    "+",
    "%2B",
    "%2b",
    "?",
    "&SAMLRequest=",
    "&SAMLResponse=PHg%2B",
    "&Signature=",
    "&Signature=%%%",
    "&SigAlg=http%3A%2F%2Fwww.w3.org%2F2000%2F09%2Fxmldsig%23rsa-sha1",
    "&SigAlg=urn%3Ax",
    "&RelayState=",
    "&RelayState=%2F%2Fevil",
    "&SAMLEncoding=urn%3Ax",
    "&SAMLEncoding=urn%3Aoasis%3Anames%3Atc%3ASAML%3A2.0%3Abindings%3AURL-Encoding%3ADEFLATE",
    "\u00e9",
    "\ud800",
    "\x00",
    " ",
    "SAMLRequest=" + _deflate(b"<x/>" * 3),
    "SAMLRequest=" + _deflate(b"\x00" * 300_000),  # a deflate bomb past the cap
    "SAMLRequest=AAAA",
    "SAMLRequest=" + quote(base64.b64encode(b"\xff\xfe garbage").decode(), safe=""),
]


@st.composite
def queries(draw: Any) -> str:
    base, _ = seed()
    text = base if draw(st.booleans()) else draw(st.text(max_size=200))
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(("insert", "delete", "flip-case", "swap", "repeat", "oversize")))
        at = draw(st.integers(0, len(text)))
        if op == "insert":
            piece = draw(st.sampled_from(QUERY_FRAGMENTS) | st.text(max_size=6))
            text = text[:at] + piece + text[at:]
        elif op == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 40)) :]
        elif op == "flip-case":  # %2F -> %2f and the like: same characters, other octets
            text = text[:at] + text[at:].swapcase()
        elif op == "swap":
            parts = text.split("&")
            draw(st.randoms()).shuffle(parts)
            text = "&".join(parts)
        elif op == "repeat":
            text = text[:at] + text[at : at + draw(st.integers(1, 300))] + text[at:]
        else:
            text = text + "&x=" + "A" * draw(st.sampled_from((10, 10_000, 2_000_000)))
    return text


@budget(4)
@given(query=queries(), allow_sha1=st.booleans())
@example(query="", allow_sha1=False)
@example(query="?", allow_sha1=False)
def test_redirect_decoder_typed_errors_only(query: str, allow_sha1: bool) -> None:
    base, trust = seed()
    parsed = typed_only(lambda: parse_redirect_query(query), ResponseRejected)
    if isinstance(parsed, RedirectQuery):
        typed_only(parsed.decode, ResponseRejected)
    typed_only(lambda: decode_redirect_message(query), ResponseRejected)
    verified = typed_only(lambda: verify_redirect_signature(query, trust, allow_sha1=allow_sha1), ResponseRejected)
    event(type(verified).__name__)
    if isinstance(verified, VerifiedRedirect):
        expected = parse_redirect_query(base)
        assert verified.query.decode() == XML
        assert verified.query.relay_state == RELAY
        assert verified.query.sig_alg == expected.sig_alg
        assert verified.query.signed_octets == expected.signed_octets


def test_redirect_seed_verifies() -> None:
    """The seed itself is accepted, so the fuzz target's acceptance check is not vacuous."""
    query, trust = seed()
    assert verify_redirect_signature(query, trust).query.decode() == XML
    assert verify_redirect_signature(query + "&unrelated=%ff", trust).query.relay_state == RELAY


# ---- RelayState ---------------------------------------------------------------------------------------

ORIGINS = ("https://app.example.test", "http://[::1]:8080")

url_like = st.builds(
    lambda scheme, host, port, path: f"{scheme}{host}{port}{path}",
    st.sampled_from(["https://", "http://", "HTTPS://", "javascript:", "//", "/", "", "https:/", "ftp://"]),
    st.sampled_from(["app.example.test", "APP.example.test", "[::1]", "[x", "]", "a\u2100b", "\uff41pp.example.test"])
    | st.text(max_size=12),
    st.sampled_from(["", ":443", ":8080", ":99999999", ":x", ":"]),
    st.sampled_from(["", "/", "/x?y#z", "\\evil", "@evil.example/", "#@evil"]) | st.text(max_size=12),
)


def _independently_safe(value: str) -> bool:
    if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in value):
        return False
    if value.startswith("/"):
        return not value.startswith("//") and "\\" not in value
    lowered = value.lower()
    return any(lowered == o or lowered.startswith((o + "/", o + "?", o + "#")) for o in ORIGINS)


@budget(8)
@given(value=st.text() | url_like | st.binary().map(lambda b: b.decode("utf-8", "surrogateescape")))
def test_safe_relay_state_never_raises_and_keeps_only_safe_values(value: str) -> None:
    kept = safe_relay_state(value, ORIGINS)  # any exception fails the test
    assert kept is None or kept == value
    if kept is not None:
        assert _independently_safe(kept), kept
        kept.encode("utf-8")  # never a lone surrogate
