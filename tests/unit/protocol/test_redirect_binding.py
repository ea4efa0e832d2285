"""HTTP-Redirect binding: encode/decode round trips, signatures over the octets as received (upper- and
lower-case percent-encoding), algorithm policy, tampering, malformed queries and caps."""

from __future__ import annotations

import base64
import re
import zlib
from urllib.parse import quote, urlsplit

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from fedlib.constants import URL_ENCODING_DEFLATE
from fedlib.errors import ConfigurationError, ErrorCode, ResponseRejected, SignatureRejected, XMLRejected
from fedlib.protocol.bindings import (
    MAX_RELAY_STATE_BYTES,
    decode_redirect_message,
    deflate_and_encode,
    encode_redirect,
    parse_redirect_query,
    redirect_query,
    verify_redirect_signature,
)
from fedlib.testing import TestKey, default_key
from fedlib.xmldsig import Signer, TrustAnchors
from fedlib.xmldsig.algorithms import SignatureMethod
from fedlib.xmldsig.sign import sign_octets

XML = b'<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_1" Version="2.0"/>'
SSO = "https://idp.example.org/sso"
# Characters that must be percent-encoded in every parameter: '/', '+', '=', ':', '#', ' ', '&'.
RELAY = "/app/page?x=1&y=a b#frag"


def key(kind: str = "rsa", label: str = "sp") -> TestKey:
    return default_key(kind, label)  # type: ignore[arg-type]


def signer(kind: str = "rsa") -> Signer:
    k = key(kind)
    return Signer(k.private_key, k.certificate)


def trust(*keys: TestKey) -> TrustAnchors:
    return TrustAnchors.from_certificates([k.certificate for k in keys or (key(),)])


def code_of(raw_query: str, anchors: TrustAnchors | None = None, **kwargs: bool) -> ErrorCode:
    with pytest.raises(ResponseRejected) as info:
        verify_redirect_signature(raw_query, anchors or trust(), **kwargs)
    return info.value.code


def _lower_escapes(text: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), text)


# ---------------------------------------------------------------------------------------------- encoding


def test_query_shape_and_order() -> None:
    query = redirect_query(XML, relay_state=RELAY, signer=signer())
    names = [piece.split("=", 1)[0] for piece in query.split("&")]
    assert names == ["SAMLRequest", "RelayState", "SigAlg", "Signature"]
    assert "SigAlg=http%3A%2F%2Fwww.w3.org%2F2001%2F04%2Fxmldsig-more%23rsa-sha256" in query
    assert re.search(r"%[0-9A-F]?[a-f]", query) is None  # upper-case hex
    for raw in (" ", "+", "/"):
        assert raw not in query


def test_deflate_is_raw() -> None:
    deflated = base64.b64decode(deflate_and_encode(XML))
    assert zlib.decompress(deflated, wbits=-15) == XML
    with pytest.raises(zlib.error):
        zlib.decompress(deflated)  # no zlib header


def test_destination_with_query() -> None:
    url = encode_redirect(SSO + "?tenant=a%2Fb", XML, relay_state="r", signer=signer())
    parts = urlsplit(url)
    assert parts.query.startswith("tenant=a%2Fb&SAMLRequest=")
    # The destination's own parameter is not a binding parameter and not signed.
    assert verify_redirect_signature(parts.query, trust()).query.relay_state == "r"
    assert encode_redirect(SSO + "?", XML).startswith(SSO + "?SAMLRequest=")


def test_relay_state_limit_and_parameter() -> None:
    redirect_query(XML, relay_state="é" * (MAX_RELAY_STATE_BYTES // 2))
    with pytest.raises(ValueError, match="allows 80"):
        redirect_query(XML, relay_state="é" * (MAX_RELAY_STATE_BYTES // 2 + 1))
    with pytest.raises(ValueError, match="SAMLRequest or SAMLResponse"):
        redirect_query(XML, parameter="SAMLArtifact")  # type: ignore[arg-type]


def test_saml_response_parameter() -> None:
    query = redirect_query(XML, parameter="SAMLResponse", relay_state="r", signer=signer())
    verified = verify_redirect_signature(query, trust())
    assert verified.query.parameter == "SAMLResponse"
    assert verified.query.signed_octets.startswith(b"SAMLResponse=")
    assert decode_redirect_message(query) == XML


# ---------------------------------------------------------------------------------------------- round trip


_relay_states = st.one_of(
    st.none(),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=40).filter(
        lambda s: len(s.encode("utf-8")) <= MAX_RELAY_STATE_BYTES
    ),
)


@settings(max_examples=60, deadline=None)
@given(
    payload=st.binary(min_size=1, max_size=2048), relay_state=_relay_states, signed=st.booleans(), lower=st.booleans()
)
def test_round_trip(payload: bytes, relay_state: str | None, signed: bool, lower: bool) -> None:
    original = redirect_query(payload, relay_state=relay_state, signer=signer() if signed else None)
    # Lower-case percent-encoding: the same characters spelled differently, as AD FS / Entra ID do.
    query = _lower_escapes(original) if lower else original
    parsed = parse_redirect_query("?" + query)
    assert parsed.relay_state == relay_state
    assert parsed.decode() == payload
    assert decode_redirect_message(query) == payload
    if signed:
        respelled = query.rsplit("&Signature=", 1)[0] != original.rsplit("&Signature=", 1)[0]
        if respelled:
            # The signature covers the octets as sent; re-spelling them is tampering (no re-encoding happens).
            assert code_of(query) is ErrorCode.INVALID_SIGNATURE
        else:
            assert verify_redirect_signature(query, trust()).signature_method is SignatureMethod.RSA_SHA256


# ---------------------------------------------------------------------------------------------- signatures


@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_signature_verifies(kind: str) -> None:
    query = redirect_query(XML, relay_state=RELAY, signer=signer(kind))
    verified = verify_redirect_signature(query, trust(key(kind)))
    assert verified.trusted_key.certificate == key(kind).certificate
    assert verified.query.relay_state == RELAY
    assert verified.query.decode() == XML


def _signed_lowercase_query(s: Signer, relay_state: str) -> str:
    """What AD FS / Entra ID send: lower-case percent-encoding, signed over exactly that text."""
    unsigned = _lower_escapes(
        f"SAMLRequest={quote(deflate_and_encode(XML), safe='')}"
        f"&RelayState={quote(relay_state, safe='')}"
        f"&SigAlg={quote(s.method.value, safe='')}"
    )
    signature = base64.b64encode(s.sign(unsigned.encode("ascii"))).decode("ascii")
    return f"{unsigned}&Signature={_lower_escapes(quote(signature, safe=''))}"


@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_lowercase_percent_encoding_verifies(kind: str) -> None:
    query = _signed_lowercase_query(signer(kind), RELAY)
    assert "%2f" in query
    assert "%2F" not in query
    verified = verify_redirect_signature(query, trust(key(kind)))
    assert verified.query.relay_state == RELAY
    assert verified.query.signed_octets == query.rsplit("&Signature=", 1)[0].encode("ascii")
    # A verifier that decoded and re-encoded (upper case) would check other octets and fail:
    reencoded = re.sub(r"%[0-9a-f]{2}", lambda m: m.group(0).upper(), query)
    assert code_of(reencoded, trust(key(kind))) is ErrorCode.INVALID_SIGNATURE


def test_parameter_order_on_the_wire_does_not_matter() -> None:
    pieces = redirect_query(XML, relay_state=RELAY, signer=signer()).split("&")
    shuffled = "&".join([pieces[3], pieces[2], "foo=bar", pieces[1], pieces[0]])
    assert verify_redirect_signature(shuffled, trust()).query.relay_state == RELAY


@pytest.mark.parametrize(
    "tamper",
    [
        lambda q: q.replace("RelayState=", "RelayState=x"),
        lambda q: q.replace("&RelayState=" + quote(RELAY, safe=""), ""),
        lambda q: q.replace(
            q.split("&")[0], "SAMLRequest=" + quote(deflate_and_encode(XML.replace(b"_1", b"_2")), safe="")
        ),
    ],
    ids=["relay-state-changed", "relay-state-dropped", "message-changed"],
)
def test_tampered_query_is_invalid(tamper) -> None:  # type: ignore[no-untyped-def]
    query = redirect_query(XML, relay_state=RELAY, signer=signer())
    assert code_of(tamper(query)) is ErrorCode.INVALID_SIGNATURE


def test_other_key_is_invalid_and_rollover_finds_the_right_one() -> None:
    query = redirect_query(XML, signer=signer())
    assert code_of(query, trust(key("rsa", "attacker"))) is ErrorCode.INVALID_SIGNATURE
    verified = verify_redirect_signature(query, trust(key("rsa", "attacker"), key(), key("ec")))
    assert verified.trusted_key.certificate == key().certificate


def test_algorithm_that_does_not_fit_the_key_is_invalid() -> None:
    query = redirect_query(XML, signer=signer("ec"))
    assert code_of(query, trust(key("rsa"))) is ErrorCode.INVALID_SIGNATURE


def _query_signed_with(method: SignatureMethod, relay_state: str = "r") -> str:
    unsigned = (
        f"SAMLRequest={quote(deflate_and_encode(XML), safe='')}&RelayState={relay_state}"
        f"&SigAlg={quote(method.value, safe='')}"
    )
    signature = sign_octets(method, key().private_key, unsigned.encode("ascii"))  # type: ignore[arg-type]
    return f"{unsigned}&Signature={quote(base64.b64encode(signature).decode(), safe='')}"


def test_sha1_is_weak_unless_allowed() -> None:
    query = _query_signed_with(SignatureMethod.RSA_SHA1)
    assert code_of(query) is ErrorCode.WEAK_ALGORITHM
    verified = verify_redirect_signature(query, trust(), allow_sha1=True)
    assert verified.signature_method is SignatureMethod.RSA_SHA1


@pytest.mark.parametrize(
    "sig_alg",
    [
        SignatureMethod.HMAC_SHA256.value,
        SignatureMethod.RSA_MD5.value,
        SignatureMethod.DSA_SHA1.value,
        "http://example.invalid/none",
    ],
)
def test_other_algorithms_are_weak(sig_alg: str) -> None:
    query = redirect_query(XML, signer=signer())
    query = re.sub(r"SigAlg=[^&]*", "SigAlg=" + quote(sig_alg, safe=""), query)
    assert code_of(query, allow_sha1=True) is ErrorCode.WEAK_ALGORITHM


def test_unsigned_and_half_signed() -> None:
    assert code_of(redirect_query(XML, relay_state="r")) is ErrorCode.UNSIGNED_MESSAGE
    signed = redirect_query(XML, signer=signer())
    assert code_of(re.sub(r"&Signature=[^&]*", "", signed)) is ErrorCode.UNSIGNED_MESSAGE
    assert code_of(re.sub(r"&SigAlg=[^&]*", "", signed)) is ErrorCode.INVALID_SIGNATURE
    assert code_of(re.sub(r"Signature=[^&]*", "Signature=%25%25notbase64", signed)) is ErrorCode.INVALID_SIGNATURE
    with pytest.raises(SignatureRejected):
        verify_redirect_signature(signed.replace("Signature=", "Signature=AAAA"), trust())


def test_empty_trust_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        verify_redirect_signature(redirect_query(XML, signer=signer()), TrustAnchors())


# ---------------------------------------------------------------------------------------------- malformed


@pytest.mark.parametrize(
    "query",
    [
        "",
        "RelayState=x",
        "SAMLRequest=a&SAMLRequest=b",
        "SAMLRequest=a&SAMLResponse=b",
        "SAMLRequest=a&RelayState=1&RelayState=2",
        "SAMLRequest=a&Signature=1&Signature=2",
        "SAMLRequest=a&SAMLEncoding=urn%3Aexample%3Aother",
        "SAMLRequest=a&RelayState=caf\u00e9",
        "SAMLRequest=a&RelayState=%ff%fe",
    ],
)
def test_malformed_queries(query: str) -> None:
    with pytest.raises(XMLRejected) as info:
        parse_redirect_query(query)
    assert info.value.code is ErrorCode.MALFORMED_XML


def test_deflate_encoding_parameter_is_accepted() -> None:
    query = redirect_query(XML) + "&SAMLEncoding=" + quote(URL_ENCODING_DEFLATE, safe="")
    assert decode_redirect_message(query) == XML


@pytest.mark.parametrize(
    "message",
    [
        "not*base64",
        base64.b64encode(b"\x00\x01 not deflate").decode(),
        base64.b64encode(zlib.compress(XML)).decode(),  # zlib header: not raw DEFLATE
        deflate_and_encode(XML)[:-8],  # truncated
    ],
)
def test_undecodable_messages(message: str) -> None:
    with pytest.raises(XMLRejected):
        decode_redirect_message("SAMLRequest=" + quote(message, safe=""))


def test_inflate_is_capped() -> None:
    bomb = deflate_and_encode(b"<a>" + b" " * (4 * 1024 * 1024) + b"</a>")
    assert len(bomb) < 16 * 1024
    with pytest.raises(XMLRejected, match="limit"):
        decode_redirect_message("SAMLRequest=" + quote(bomb, safe=""))
    with pytest.raises(XMLRejected, match="limit"):
        decode_redirect_message("SAMLRequest=" + quote(deflate_and_encode(b"x" * 5000), safe=""), max_bytes=4096)


def test_overlong_query_is_refused_before_work() -> None:
    with pytest.raises(XMLRejected, match="over the limit"):
        parse_redirect_query("SAMLRequest=" + "A" * 4_000_000)


def test_der_encoded_ecdsa_is_accepted() -> None:
    """Java SAML stacks sign Redirect queries with plain JCA, i.e. DER-encoded ECDSA values."""
    ec_key = key("ec")
    private_key = ec_key.private_key
    assert isinstance(private_key, ec.EllipticCurvePrivateKey)
    sig_alg = quote(SignatureMethod.ECDSA_SHA256.value, safe="")
    unsigned = f"SAMLRequest={quote(deflate_and_encode(XML), safe='')}&SigAlg={sig_alg}"
    der = private_key.sign(unsigned.encode("ascii"), ec.ECDSA(hashes.SHA256()))
    query = f"{unsigned}&Signature={quote(base64.b64encode(der).decode(), safe='')}"
    assert verify_redirect_signature(query, trust(ec_key)).signature_method is SignatureMethod.ECDSA_SHA256
    assert code_of(query, trust(key("ec", "attacker"))) is ErrorCode.INVALID_SIGNATURE


def test_signed_octets_are_the_spec_ones() -> None:
    """Checked without fedlib's decoder: rebuild SAML Bindings §3.4.4.1's octets from the URL by hand."""
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    url = encode_redirect(SSO, XML, relay_state=RELAY, signer=signer())
    params = dict(piece.split("=", 1) for piece in urlsplit(url).query.split("&"))
    octets = f"SAMLRequest={params['SAMLRequest']}&RelayState={params['RelayState']}&SigAlg={params['SigAlg']}"
    public_key = key().certificate.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    signature = base64.b64decode(params["Signature"].replace("%2B", "+").replace("%2F", "/").replace("%3D", "="))
    public_key.verify(signature, octets.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
