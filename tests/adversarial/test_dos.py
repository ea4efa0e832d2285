"""Algorithmic denial of service before any signature is trusted (issue #8, section 1).

libxml2's canonicalization is quadratic in the namespace declarations in scope at an element and in the
attributes of one element, and fedlib canonicalizes SignedInfo with the algorithm the untrusted message
names before any key is proven. Each structural limit (fedlib._xml.limits) must refuse its flood with
``message-too-complex`` BEFORE anything is canonicalized: every test here replaces
``fedlib.xmldsig.verify.canonicalize`` with a tripwire, so a missing check fails the test (the flood
would reach c14n) rather than merely slowing it down. No timed assertions: bench/hostile.py measures.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import quote

import pytest

import fedlib.xmldsig.verify as verify_module
from fedlib._xml.limits import DEFAULT_XML_LIMITS
from fedlib._xml.parse import parse_xml
from fedlib.config import SecurityPolicy, SPConfig
from fedlib.errors import ErrorCode, ResponseRejected
from fedlib.metadata.idp import parse_idp_metadata
from fedlib.protocol.bindings import MAX_REDIRECT_QUERY_CHARS, decode_redirect_message, parse_redirect_query
from fedlib.stores.memory import MemoryStore
from fedlib.testing.idp import TestIdP, TestUser
from fedlib.testing.profiles import PROFILES, get_profile
from fedlib.validation.pipeline import validate_response
from tests.adversarial._forge import rejection
from tests.support import World

L = DEFAULT_XML_LIMITS
EXC = b"http://www.w3.org/2001/10/xml-exc-c14n#"
INCLUSIVE = b"http://www.w3.org/TR/2001/REC-xml-c14n-20010315"


@pytest.fixture
def w() -> World:
    return World()


@pytest.fixture
def no_c14n(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Make any canonicalization fail the test; returns the list of attempted calls (for controls)."""
    calls: list[int] = []

    def tripwire(*args: object, **kwargs: object) -> bytes:
        calls.append(1)
        raise AssertionError("canonicalize() ran on a message that a structural limit should have refused")

    monkeypatch.setattr(verify_module, "canonicalize", tripwire)
    return calls


def _on_root(xml: bytes, text: bytes) -> bytes:
    start = xml.index(b"<samlp:Response")
    end = xml.index(b">", start)
    return xml[:end] + text + xml[end:]


def _after_issuer(xml: bytes, content: bytes) -> bytes:
    at = xml.index(b"</saml:Issuer>") + len(b"</saml:Issuer>")
    return xml[:at] + content + xml[at:]


def _inclusive_signed_info(xml: bytes) -> bytes:
    old = b'<ds:CanonicalizationMethod Algorithm="' + EXC + b'"/>'
    assert old in xml
    return xml.replace(old, b'<ds:CanonicalizationMethod Algorithm="' + INCLUSIVE + b'"/>', 1)


def _decls(count: int, prefix: str = "p") -> bytes:
    return "".join(f' xmlns:{prefix}{i}="urn:x:{i}"' for i in range(count)).encode()


def _too_complex(w: World, xml: bytes, field: str) -> None:
    err = rejection(w, xml)
    assert err.code == ErrorCode.MESSAGE_TOO_COMPLEX, err
    assert f"XMLLimits.{field}" in err.message


# --- each cap refuses its flood before c14n ------------------------------------------------------------


def test_namespace_flood_on_the_root_with_inclusive_signed_info(w: World, no_c14n: list[int]) -> None:
    # The issue's 2.5 s case: ~10,000 declarations on the root, SignedInfo naming inclusive c14n.
    xml = _on_root(_inclusive_signed_info(w.mint()), _decls(10_000))
    _too_complex(w, xml, "max_namespace_declarations_per_element")


def test_namespace_flood_with_a_prefix_list_naming_them_all(w: World, no_c14n: list[int]) -> None:
    # Spread over nested elements so that no per-element cap fires first: the in-scope cap does.
    n = L.max_namespace_declarations_in_scope
    nested = b"".join(b"<x" + _decls(4, f"n{i}_") + b">" for i in range(n)) + b"</x>" * n
    prefixes = " ".join(f"n{i}_0" for i in range(n)).encode()
    xml = _after_issuer(w.mint(), nested).replace(
        b'<ds:CanonicalizationMethod Algorithm="' + EXC + b'"/>',
        b'<ds:CanonicalizationMethod Algorithm="' + EXC + b'"><ec:InclusiveNamespaces xmlns:ec="' + EXC + b'" '
        b'PrefixList="' + prefixes + b'"/></ds:CanonicalizationMethod>',
        1,
    )
    _too_complex(w, xml, "max_namespace_declarations_in_scope")


def test_prefix_list_flood(w: World, no_c14n: list[int]) -> None:
    prefixes = " ".join(f"q{i}" for i in range(L.max_prefix_list + 1)).encode()
    xml = w.mint().replace(
        b'<ds:CanonicalizationMethod Algorithm="' + EXC + b'"/>',
        b'<ds:CanonicalizationMethod Algorithm="' + EXC + b'"><ec:InclusiveNamespaces xmlns:ec="' + EXC + b'" '
        b'PrefixList="' + prefixes + b'"/></ds:CanonicalizationMethod>',
        1,
    )
    _too_complex(w, xml, "max_prefix_list")


def test_namespace_flood_in_signed_info_scope(w: World, no_c14n: list[int]) -> None:
    xml = _inclusive_signed_info(w.mint()).replace(
        b"<ds:SignedInfo>", b"<ds:SignedInfo" + _decls(L.max_namespace_declarations_per_element + 1) + b">", 1
    )
    _too_complex(w, xml, "max_namespace_declarations_per_element")


def test_unused_namespaces_behind_a_genuine_signed_info(w: World, no_c14n: list[int]) -> None:
    # Exclusive c14n ignores unused declarations, so before the limits this was even ACCEPTED (after
    # ~0.5 s of canonicalization): the attacker's own valid login, re-posted with a namespace flood.
    xml = _on_root(w.mint(), _decls(L.max_namespace_declarations_per_element + 1))
    _too_complex(w, xml, "max_namespace_declarations_per_element")


def test_nested_namespace_flood_under_the_per_element_cap(w: World, no_c14n: list[int]) -> None:
    depth = L.max_namespace_declarations_in_scope  # one declaration per level: the in-scope cap fires
    nested = b"".join(b"<x" + _decls(1, f"n{i}_") + b">" for i in range(depth)) + b"</x>" * depth
    _too_complex(w, _after_issuer(w.mint(), nested), "max_namespace_declarations_in_scope")


def test_many_namespace_declarations_per_document(w: World, no_c14n: list[int]) -> None:
    # Siblings, each under every per-element and in-scope cap: only the document total catches them.
    siblings = b"<x" + _decls(4) + b"/>"
    count = L.max_namespace_declarations // 4 + 1
    _too_complex(w, _after_issuer(w.mint(), siblings * count), "max_namespace_declarations")


def test_attribute_flood_on_one_element(w: World, no_c14n: list[int]) -> None:
    attrs = "".join(f' a{i}="1"' for i in range(20_000)).encode()
    _too_complex(w, _on_root(w.mint(), attrs), "max_attributes_per_element")


def test_element_flood(w: World, no_c14n: list[int]) -> None:
    _too_complex(w, _after_issuer(w.mint(), b"<x/>" * (L.max_elements + 1)), "max_elements")


def test_id_flood(w: World, no_c14n: list[int]) -> None:
    ids = "".join(f'<x ID="i{i}"/>' for i in range(L.max_id_attributes + 1)).encode()
    _too_complex(w, _after_issuer(w.mint(), ids), "max_id_attributes")


def test_many_signatures(w: World, no_c14n: list[int]) -> None:
    sig = b'<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"/>'
    _too_complex(w, _after_issuer(w.mint(), sig * L.max_signatures), "max_signatures")


def test_many_references(w: World, no_c14n: list[int]) -> None:
    xml = w.mint()
    reference = xml[xml.index(b"<ds:Reference ") : xml.index(b"</ds:Reference>") + len(b"</ds:Reference>")]
    _too_complex(w, xml.replace(reference, reference * (L.max_references + 1), 1), "max_references")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32"])
def test_namespace_flood_in_a_non_ascii_encoding_is_counted_too(w: World, no_c14n: list[int], encoding: str) -> None:
    # The byte-count fast path only applies to ASCII-compatible encodings; UTF-16 hides b"xmlns".
    xml = _on_root(w.mint(), _decls(L.max_namespace_declarations_per_element + 1))
    text = xml.decode("utf-8").replace("encoding='UTF-8'", f"encoding='{encoding.upper()}'")
    with pytest.raises(ResponseRejected) as info:  # parse_xml: the form-value decoder wants '<' first
        parse_xml(text.encode(encoding))
    assert info.value.code == ErrorCode.MESSAGE_TOO_COMPLEX
    assert "XMLLimits.max_namespace_declarations_per_element" in info.value.message


# --- controls: what real IdPs send passes, and the limits are not off by one ----------------------------


def test_genuine_response_reaches_c14n(w: World, no_c14n: list[int]) -> None:
    # Control for the tripwire: a message within every limit does get canonicalized.
    with pytest.raises(AssertionError, match="canonicalize"):
        w.check(w.mint())
    assert no_c14n


def test_okta_style_redeclaration_on_every_attribute_value_is_accepted(w: World) -> None:
    # Okta re-declares xs/xsi on every AttributeValue: hundreds per document, 2 per element.
    xml = w.mint(attributes={f"a{i}": [f"v{i}-{j}" for j in range(4)] for i in range(150)})
    redeclared = xml.replace(
        b"<saml:AttributeValue",
        b'<saml:AttributeValue xmlns:xs="http://www.w3.org/2001/XMLSchema" '
        b'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"',
    )
    assert redeclared.count(b"xmlns:xs=") >= 600
    # Re-declarations change no canonical byte under exclusive c14n: the genuine signature still holds.
    assert w.check(redeclared).attributes["a149"] == ("v149-0", "v149-1", "v149-2", "v149-3")


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_every_vendor_profile_with_100_attributes_is_accepted(name: str) -> None:
    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    sp_id, acs = "https://sp.example.org/saml/metadata", "https://sp.example.org/saml/acs"
    profile = get_profile(name)
    user = TestUser(
        name_id="bob@example.org", attributes={f"attr{i}": [f"v{i}-{j}" for j in range(3)] for i in range(100)}
    )
    knobs = {s.knob: s.value for s in profile.settings}
    knobs.update(signing="both", idp_initiated=True)
    idp = TestIdP(profile=name, users=[user], **knobs)
    form = idp.initiate(sp_id, acs, user="bob@example.org", now=now)
    result = validate_response(
        form.saml_response,
        sp=SPConfig(
            entity_id=sp_id,
            acs_url=acs,
            # fedlib-side quirk settings the profile documents (Rippling's InResponseTo on IdP-initiated)
            policy=SecurityPolicy(allow_unsolicited=True, **{s.key: True for s in profile.sp_settings}),
        ),
        idp=parse_idp_metadata(idp.metadata_xml(), now=now),
        now=now,
        store=MemoryStore(),
    )
    assert len(result.attributes) >= 100


# --- Redirect binding -------------------------------------------------------------------------------------


def _deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


def test_redirect_query_over_the_fixed_cap_is_refused_before_url_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    # URL-decoding is a Python loop per %XX: a ~1 MB query of escapes cost ~150 ms before the cap.
    import fedlib.protocol.bindings as bindings

    decoded: list[str] = []
    real_unquote = bindings._unquote

    def spy(raw: str, *, plus_is_space: bool = False) -> str:
        decoded.append(raw)
        return real_unquote(raw, plus_is_space=plus_is_space)

    monkeypatch.setattr(bindings, "_unquote", spy)
    query = "SAMLRequest=" + "%41" * (MAX_REDIRECT_QUERY_CHARS // 3)
    with pytest.raises(ResponseRejected) as info:
        parse_redirect_query(query)
    assert info.value.code == ErrorCode.MALFORMED_XML
    assert "over the limit" in info.value.message
    assert decoded == []


def test_redirect_query_cap_leaves_room_for_real_messages() -> None:
    # A large real AuthnRequest (deflated, base64, URL-encoded) with RelayState and a 4096-bit signature.
    xml = b'<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_r" Version="2.0">'
    xml += b"<x>" + base64.b64encode(bytes(range(256)) * 8) + b"</x></samlp:AuthnRequest>"
    value = quote(base64.b64encode(_deflate(xml)), safe="")
    query = f"SAMLRequest={value}&RelayState={'%2F' * 80}&SigAlg=x&Signature={'A' * 684}"
    assert len(query) < MAX_REDIRECT_QUERY_CHARS // 4
    assert decode_redirect_message(query) == xml


def test_deflate_bomb_under_the_query_cap_is_stopped_at_the_output_cap() -> None:
    bomb = _deflate(b"<a>" + b" " * (40 * 1024 * 1024) + b"</a>")
    query = "SAMLRequest=" + quote(base64.b64encode(bomb), safe="")
    assert len(query) <= MAX_REDIRECT_QUERY_CHARS
    with pytest.raises(ResponseRejected, match="limit"):
        decode_redirect_message(query)


# --- URI="" and processing instructions beside the document element (issue #8, section 2) ---------------


def _rejection_of(check: Callable[[], object]) -> ResponseRejected:
    with pytest.raises(ResponseRejected) as info:
        check()
    return info.value


def test_whole_document_reference_with_a_prolog_pi_is_refused(w: World) -> None:
    # URI="" covers the whole document, prolog PIs included (XML-DSig); fedlib digests the element
    # only, so it refuses instead of disagreeing with the standard.
    xml = w.mint()
    start = xml.index(b"<ds:Reference ")
    uri_at = xml.index(b'URI="', start)
    uri_end = xml.index(b'"', uri_at + 5)
    with_empty_uri = xml[: uri_at + 5] + xml[uri_end:]
    body = with_empty_uri.split(b"?>", 1)[1]
    tampered = b'<?xml version="1.0"?><?pi before?>' + body
    err = _rejection_of(lambda: w.check(tampered))
    assert err.code == ErrorCode.INVALID_SIGNATURE
    assert "processing instructions outside" in err.message


# --- SignedInfo holds only the profile's elements: nothing else reaches its canonicalization ---------------
# Found by an attacker-review helper (2026-12-07): ~19,000 elements nested 250 deep inside a DigestMethod (or
# an InclusiveNamespaces, or after a DigestValue's text), every structural cap respected, made the
# canonicalization of SignedInfo (which runs before the RSA check, with the algorithm and PrefixList the
# message names) take 0.4-1.0 s: exclusive c14n with 32 inclusive prefixes, or inclusive c14n with 26
# declarations in scope. The profile now refuses any child where it names none.


def _deep_chain(depth: int = 200, leaves: int = 2_000, declarations: int = 26) -> bytes:
    return b"<c" + _decls(declarations) + b">" + b"<c>" * (depth - 1) + b"<a/>" * leaves + b"</c>" * depth


_EXC_WITH_PREFIXES = (
    b'<ds:CanonicalizationMethod Algorithm="' + EXC + b'"><ec:InclusiveNamespaces xmlns:ec="' + EXC + b'" '
    b'PrefixList="' + " ".join(f"p{i}" for i in range(32)).encode() + b'"/></ds:CanonicalizationMethod>'
)


def _signed_info_with(xml: bytes, where: str, content: bytes) -> bytes:
    plain_c14n = b'<ds:CanonicalizationMethod Algorithm="' + EXC + b'"/>'
    if where == "c14n-inclusive-namespaces":
        return xml.replace(
            plain_c14n,
            _EXC_WITH_PREFIXES.replace(b'"/></ds:Can', b'">' + content + b"</ec:InclusiveNamespaces></ds:Can"),
            1,
        )
    xml = xml.replace(plain_c14n, _EXC_WITH_PREFIXES, 1)
    if where == "digest-method":
        start = xml.index(b"<ds:DigestMethod ")
        end = xml.index(b"/>", start)
        return xml[:end] + b">" + content + b"</ds:DigestMethod>" + xml[end + 2 :]
    if where == "digest-value":
        end = xml.index(b"</ds:DigestValue>")
        return xml[:end] + content + xml[end:]
    if where == "reference-inclusive-namespaces":
        start = xml.index(b"<ds:Transform ", xml.index(b"<ds:Transform ") + 1)
        end = xml.index(b"/>", start)
        inclusive = (
            b'<ec:InclusiveNamespaces xmlns:ec="' + EXC + b'" PrefixList="p0">' + content + b"</ec:InclusiveNamespaces>"
        )
        return xml[:end] + b">" + inclusive + b"</ds:Transform>" + xml[end + 2 :]
    raise AssertionError(where)


# (a chain under XMLLimits.max_depth, max_namespace_scope_total and max_signature_nodes, which refuse bigger ones)
_CHAIN_UNDER_THE_CAPS = _deep_chain(depth=10, leaves=20, declarations=10)


@pytest.mark.parametrize(
    ("where", "code"),
    [
        ("digest-method", ErrorCode.INVALID_SIGNATURE),
        ("digest-value", ErrorCode.INVALID_SIGNATURE),
        ("c14n-inclusive-namespaces", ErrorCode.FORBIDDEN_TRANSFORM),
        ("reference-inclusive-namespaces", ErrorCode.FORBIDDEN_TRANSFORM),
    ],
)
@pytest.mark.parametrize("content", [b"<x/>", _CHAIN_UNDER_THE_CAPS], ids=["one-element", "deep-chain"])
def test_nothing_but_the_profile_in_signed_info_reaches_c14n(
    w: World, no_c14n: list[int], where: str, code: ErrorCode, content: bytes
) -> None:
    xml = _signed_info_with(w.mint(), where, content)
    assert rejection(w, xml).code == code
    assert not no_c14n


# --- nesting depth -----------------------------------------------------------------------------------------
# Also from the attacker review: 19,000 elements nested 240 deep in the (unsigned) KeyInfo of a genuine
# Response took ~60 ms to detach with the Signature (lxml fixes up every moved node against its ancestors),
# and the same in a signed Response's Extensions ~50 ms to digest. XMLLimits.max_depth (48; real <= 9) refuses
# them before anything else reads the tree.


@pytest.mark.parametrize("where", ["keyinfo", "extensions"])
def test_deep_nesting_is_refused_before_c14n(w: World, no_c14n: list[int], where: str) -> None:
    chain = _deep_chain(depth=L.max_depth, leaves=10)
    xml = w.mint()
    if where == "keyinfo":
        at = xml.index(b"</ds:KeyInfo>")
        xml = xml[:at] + chain + xml[at:]
    else:
        xml = _after_issuer(xml, b"<samlp:Extensions>" + chain + b"</samlp:Extensions>")
    _too_complex(w, xml, "max_depth")
    assert f"the limit is {L.max_depth}" in rejection(w, xml).message


def test_nesting_up_to_the_cap_is_not_refused_for_depth() -> None:
    """A document exactly ``max_depth`` deep passes the structural pass; one level more is refused."""

    def nested(depth: int) -> bytes:
        return b"<r>" + b"<c>" * (depth - 1) + b"</c>" * (depth - 1) + b"</r>"

    parse_xml(nested(L.max_depth))
    with pytest.raises(ResponseRejected) as info:
        parse_xml(nested(L.max_depth + 1))
    assert info.value.code == ErrorCode.MESSAGE_TOO_COMPLEX
    assert f"levels of nesting ({L.max_depth + 1};" in info.value.message


# --- declarations in scope, summed over the elements -------------------------------------------------------
# Also from the attacker review: behind a genuine signature whose Reference uses inclusive c14n (gosaml2's
# Okta fixtures use c14n 1.1), 19,000 elements under 26-31 declarations (every per-element, in-scope and
# depth cap kept) took 70-200 ms to digest: inclusive c14n looks at every declaration in scope at every element.


@pytest.mark.parametrize("c14n", ["c14n", "c14n11", "exc"])
def test_declarations_in_scope_summed_over_a_flood_are_refused_before_c14n(
    w: World, no_c14n: list[int], c14n: str
) -> None:
    flood = b"<samlp:Extensions><c" + _decls(26) + b">" + b"<a/>" * 9_000 + b"</c></samlp:Extensions>"
    _too_complex(w, _after_issuer(w.mint(c14n=c14n), flood), "max_namespace_scope_total")


def test_a_real_sized_okta_style_response_is_under_the_summed_cap(w: World) -> None:
    """Okta re-declares xs and xsi on every AttributeValue: 100 attributes of 3 values stay far under."""
    values = {f"attr{i}": [f"value {i}.{j}" for j in range(3)] for i in range(100)}
    xml = w.mint(attributes=values).replace(
        b"<saml:AttributeValue", b'<saml:AttributeValue xmlns:xs="urn:xs" xmlns:xsi="urn:xsi"'
    )
    assert w.check(xml).attributes["attr99"] == ("value 99.0", "value 99.1", "value 99.2")


# --- the Signature's own size ------------------------------------------------------------------------------
# From the attacker review, last: a genuine Response with an unused xmlns:p on its root (exclusive c14n drops
# it) and ~970 <p:a> of 32 p: attributes in its unsigned KeyInfo was ACCEPTED after 150-280 ms, spent detaching
# the Signature (lxml reconciles every node whose namespace is declared outside the moved subtree).


@pytest.mark.parametrize(("elements", "attributes"), [(400, 32), (L.max_signature_nodes, 0)])
def test_a_padded_key_info_is_refused_before_c14n(w: World, no_c14n: list[int], elements: int, attributes: int) -> None:
    leaf = b"<p:a" + b"".join(b' p:A%d=""' % i for i in range(attributes)) + b"/>"
    xml = _on_root(w.mint(), b' xmlns:p="urn:p"')
    at = xml.index(b"</ds:KeyInfo>")
    _too_complex(w, xml[:at] + leaf * elements + xml[at:], "max_signature_nodes")


@pytest.mark.parametrize("element", [b"DigestMethod", b"DigestValue"])
def test_the_one_pass_profile_refuses_children_in_an_otherwise_usual_signed_info(
    w: World, no_c14n: list[int], element: bytes
) -> None:
    """The common shape (no InclusiveNamespaces anywhere) is decided by the one-pass profile path: it must
    decline a DigestMethod or DigestValue with a child, so that the rules refuse it before any c14n."""
    xml = w.mint()
    if element == b"DigestMethod":
        start = xml.index(b"<ds:DigestMethod ")
        end = xml.index(b"/>", start)
        xml = xml[:end] + b"><x/></ds:DigestMethod>" + xml[end + 2 :]
    else:
        end = xml.index(b"</ds:DigestValue>")
        xml = xml[:end] + b"<x/>" + xml[end:]
    assert rejection(w, xml).code == ErrorCode.INVALID_SIGNATURE
    assert not no_c14n
