"""Transforms, canonicalisation and algorithm attacks on the Response signature.

- XSLT / XPath transforms as DoS and code-execution vectors: Hill, "Attacking XML Security" (Black Hat
  USA 2007); XML Signature Best Practices (W3C WG Note 2013) §2.1-2.3 (avoid XSLT, XPath, restrict
  transforms).
- HMAC key confusion (verifier keyed with the public certificate bytes): the JWT "alg confusion" class
  (CVE-2015-9235, node-jsonwebtoken) applied to XML-DSig's HMAC SignatureMethods.
- HMAC truncation via HMACOutputLength: CVE-2009-0217.
- SHA-1 collisions: Stevens et al., "The first collision for full SHA-1" (CRYPTO 2017); MD5: Wang & Yu
  (EUROCRYPT 2005).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

from fedlib.config import SecurityPolicy
from fedlib.errors import ErrorCode
from fedlib.testing import default_key
from tests.adversarial._forge import (
    BASE64,
    C14N10,
    C14N10_WC,
    C14N11_WC,
    DSA_SHA1,
    DSA_SHA256,
    EC_NS,
    ECDSA_SHA256,
    ENVELOPED,
    EXC_C14N,
    EXC_C14N_WC,
    HMAC_SHA1,
    HMAC_SHA256,
    MD5,
    RSA_MD5,
    RSA_SHA1,
    RSA_SHA256,
    SHA1,
    SHA256,
    XPATH,
    XPATH_FILTER2,
    XSLT,
    assertion_of,
    ds,
    hand_signature,
    one,
    parse,
    q,
    rejection,
    resign,
    signature_of,
    to_bytes,
)
from tests.support import World

XSL = "http://www.w3.org/1999/XSL/Transform"
RSA_PSS_SHA256 = "http://www.w3.org/2007/05/xmldsig-more#sha256-rsa-MGF1"
SHA224 = "http://www.w3.org/2001/04/xmldsig-more#sha224"
SHA512 = "http://www.w3.org/2001/04/xmlenc#sha512"


@pytest.fixture
def w() -> World:
    return World()


def hand_signed(
    w: World,
    *,
    transforms: Sequence[str] | None = (ENVELOPED, EXC_C14N),
    c14n: str = EXC_C14N,
    method: str = RSA_SHA256,
    digest: str = SHA256,
    key: object = None,
    **kwargs: object,
) -> tuple[etree._Element, etree._Element]:
    """An unsigned minted Response with a hand-made Signature (digest by exclusive c14n), signed with
    ``key`` (the trusted TestKey by default, or HMAC secret bytes)."""
    root = parse(w.mint(sign_response=False, **kwargs))
    signature = hand_signature(
        uri="#" + (root.get("ID") or ""),
        cert_b64=[w.key.cert_b64],
        transforms=transforms,
        c14n=c14n,
        method=method,
        digest=digest,
    )
    one(root, "saml:Issuer").addnext(signature)
    resign(root, w.key if key is None else key, signature=signature)  # type: ignore[arg-type]
    return root, signature


def code(w: World, root: etree._Element) -> ErrorCode:
    return rejection(w, to_bytes(root)).code


def test_control_hand_signed_exclusive_is_accepted(w: World) -> None:
    root, _ = hand_signed(w)
    assert w.check(to_bytes(root)).name_id == "alice@example.com"


# --- transforms ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "transforms",
    [
        pytest.param((ENVELOPED, XSLT), id="xslt-after-enveloped"),
        pytest.param((XSLT, ENVELOPED, EXC_C14N), id="xslt-first"),
        pytest.param((ENVELOPED, XPATH), id="xpath"),
        pytest.param((XPATH, ENVELOPED), id="xpath-first"),
        pytest.param((ENVELOPED, EXC_C14N, XPATH), id="xpath-third"),
        pytest.param((ENVELOPED, XPATH_FILTER2), id="xpath-filter2"),
        pytest.param((ENVELOPED, BASE64), id="base64"),
        pytest.param((BASE64,), id="base64-only"),
        pytest.param((ENVELOPED, "urn:example:unknown-transform"), id="unknown"),
        pytest.param(("",), id="empty-uri"),
        pytest.param((EXC_C14N,), id="c14n-without-enveloped"),
        pytest.param((EXC_C14N, ENVELOPED), id="c14n-before-enveloped"),
        pytest.param((ENVELOPED, ENVELOPED), id="enveloped-twice"),
        pytest.param((ENVELOPED, EXC_C14N, EXC_C14N), id="c14n-twice"),
        pytest.param((ENVELOPED, EXC_C14N_WC), id="exc-with-comments"),
        pytest.param((ENVELOPED, C14N10_WC), id="c14n10-with-comments"),
        pytest.param((ENVELOPED, C14N11_WC), id="c14n11-with-comments"),
        pytest.param((), id="empty-transforms"),
        pytest.param(None, id="no-transforms"),
    ],
)
def test_forbidden_transform_lists(w: World, transforms: tuple[str, ...] | None) -> None:
    root, _ = hand_signed(w, transforms=transforms)
    assert code(w, root) == ErrorCode.FORBIDDEN_TRANSFORM


def test_xslt_transform_with_a_real_stylesheet(w: World) -> None:
    # A stylesheet that would replace the signed content with anything: never run.
    root, signature = hand_signed(w, transforms=(ENVELOPED, XSLT))
    transform = signature.findall(f".//{ds('Transform')}")[1]
    sheet = etree.SubElement(transform, q(XSL, "stylesheet"), nsmap={"xsl": XSL}, version="1.0")
    template = etree.SubElement(sheet, q(XSL, "template"), match="/")
    etree.SubElement(template, q(XSL, "value-of"), select="document('file:///etc/passwd')")
    resign(root, w.key, signature=signature, redigest=False)
    assert code(w, root) == ErrorCode.FORBIDDEN_TRANSFORM


def test_xpath_transform_with_expression_that_selects_nothing(w: World) -> None:
    # XPath "0" would make the reference digest the empty node-set: any document would then verify.
    root, signature = hand_signed(w, transforms=(ENVELOPED, XPATH))
    etree.SubElement(signature.findall(f".//{ds('Transform')}")[1], ds("XPath")).text = "0"
    resign(root, w.key, signature=signature, redigest=False)
    assert code(w, root) == ErrorCode.FORBIDDEN_TRANSFORM


def test_enveloped_transform_with_parameters(w: World) -> None:
    root, signature = hand_signed(w)
    etree.SubElement(signature.find(f".//{ds('Transform')}"), ds("XPath")).text = "1"
    resign(root, w.key, signature=signature)
    assert code(w, root) == ErrorCode.FORBIDDEN_TRANSFORM


def test_non_transform_child_in_transforms(w: World) -> None:
    root, signature = hand_signed(w)
    etree.SubElement(signature.find(f".//{ds('Transforms')}"), ds("XPath")).text = "1"
    resign(root, w.key, signature=signature)
    assert code(w, root) == ErrorCode.FORBIDDEN_TRANSFORM


@pytest.mark.parametrize(
    "c14n",
    [XSLT, XPATH, BASE64, ENVELOPED, "urn:example:unknown", "", EXC_C14N_WC, C14N10_WC, C14N11_WC],
)
def test_forbidden_signed_info_canonicalization(w: World, c14n: str) -> None:
    root, _ = hand_signed(w, c14n=c14n)
    assert code(w, root) == ErrorCode.FORBIDDEN_TRANSFORM


def test_inclusive_namespaces_on_inclusive_c14n(w: World) -> None:
    root, signature = hand_signed(w, transforms=(ENVELOPED, C14N10))
    transform = signature.findall(f".//{ds('Transform')}")[1]
    etree.SubElement(transform, q(EC_NS, "InclusiveNamespaces"), PrefixList="saml")
    resign(root, w.key, signature=signature, redigest=False)
    assert code(w, root) == ErrorCode.FORBIDDEN_TRANSFORM


def test_foreign_parameter_on_canonicalization_method(w: World) -> None:
    root, signature = hand_signed(w)
    etree.SubElement(signature.find(f".//{ds('CanonicalizationMethod')}"), "{urn:example:x}Param")
    resign(root, w.key, signature=signature, redigest=False)
    assert code(w, root) == ErrorCode.FORBIDDEN_TRANSFORM


@pytest.mark.parametrize("c14n", ["exc-with-comments", "c14n-with-comments", "c14n11-with-comments"])
def test_signxml_signed_with_comments_variants_are_refused(w: World, c14n: str) -> None:
    # Decision pinned: "#WithComments" is refused outright (fedlib strips comments at parse time, so
    # what it would digest could never be what the IdP signed), even when the document has no comment.
    assert rejection(w, w.mint(c14n=c14n)).code == ErrorCode.FORBIDDEN_TRANSFORM


@pytest.mark.parametrize("c14n", ["exc-with-comments", "c14n-with-comments"])
def test_with_comments_assertion_signature_is_refused(w: World, c14n: str) -> None:
    root = parse(w.mint(sign_response=False, sign_assertion=True, c14n=c14n))
    from fedlib.testing.responses import sign_element

    sign_element(root, w.key)
    assert code(w, root) == ErrorCode.FORBIDDEN_TRANSFORM


@pytest.mark.parametrize("c14n", ["c14n", "c14n11"])
def test_inclusive_c14n_of_assertion_under_xml_attributes_is_refused(w: World, c14n: str) -> None:
    # C14N 1.0 and 1.1 differ on inherited xml:* attributes; fedlib refuses rather than guess.
    from fedlib.testing.responses import sign_element

    root = parse(w.mint(sign_response=False))
    root.set(q("http://www.w3.org/XML/1998/namespace", "lang"), "en")
    sign_element(assertion_of(root), w.key, c14n=c14n)
    sign_element(root, w.key)
    assert code(w, root) == ErrorCode.FORBIDDEN_TRANSFORM


def test_enveloped_only_defaults_to_inclusive_c14n(w: World) -> None:
    # Decision pinned (XML-DSig §4.3.3.2): with no c14n transform, the node-set is converted with
    # inclusive C14N 1.0. A digest over the inclusive form verifies ...
    root, signature = hand_signed(w, transforms=(ENVELOPED,))
    parent = signature.getparent()
    assert parent is not None
    index = parent.index(signature)
    parent.remove(signature)
    inclusive = etree.tostring(root, method="c14n", exclusive=False, with_comments=False)
    parent.insert(index, signature)
    one(signature, "ds:SignedInfo/ds:Reference/ds:DigestValue").text = base64.b64encode(
        hashlib.sha256(inclusive).digest()
    ).decode()
    resign(root, w.key, signature=signature, redigest=False)
    assert w.check(to_bytes(root)).name_id == "alice@example.com"


def test_enveloped_only_with_exclusive_digest_is_invalid(w: World) -> None:
    # ... and one over the exclusive form does not (the Response root declares namespaces it does not
    # use, so the two forms differ).
    root, _ = hand_signed(w, transforms=(ENVELOPED,))
    assert code(w, root) == ErrorCode.INVALID_SIGNATURE


# --- algorithms -------------------------------------------------------------------------------------


def _key_bytes() -> dict[str, bytes]:
    cert = default_key().certificate
    return {
        "pem": cert.public_bytes(Encoding.PEM),
        "der": cert.public_bytes(Encoding.DER),
        "b64": default_key().cert_b64.encode(),
        "spki-pem": cert.public_key().public_bytes(Encoding.PEM, format=_spki()),
    }


def _spki() -> object:
    from cryptography.hazmat.primitives.serialization import PublicFormat

    return PublicFormat.SubjectPublicKeyInfo


@pytest.mark.parametrize("key_form", ["pem", "der", "b64", "spki-pem"])
@pytest.mark.parametrize("method", [HMAC_SHA256, HMAC_SHA1, "http://www.w3.org/2001/04/xmldsig-more#hmac-sha512"])
@pytest.mark.parametrize("allow_sha1", [False, True])
def test_hmac_keyed_with_the_public_certificate(w: World, key_form: str, method: str, allow_sha1: bool) -> None:
    # Key confusion: a verifier that feeds "the key" to HMAC would use public bytes the attacker knows.
    w.policy = SecurityPolicy(allow_unsolicited=True, allow_sha1=allow_sha1)
    root, _ = hand_signed(w, method=method, key=_key_bytes()[key_form])
    assert code(w, root) == ErrorCode.WEAK_ALGORITHM


def test_hmac_output_length_truncation(w: World) -> None:
    # CVE-2009-0217: HMACOutputLength 0/8 made any value verify in several libraries.
    root, signature = hand_signed(w, method=HMAC_SHA256, key=_key_bytes()["der"])
    method = one(signature, "ds:SignedInfo/ds:SignatureMethod")
    etree.SubElement(method, ds("HMACOutputLength")).text = "0"
    one(signature, "ds:SignatureValue").text = ""
    assert code(w, root) == ErrorCode.WEAK_ALGORITHM


def test_parameters_on_an_rsa_signature_method(w: World) -> None:
    root, signature = hand_signed(w)
    etree.SubElement(one(signature, "ds:SignedInfo/ds:SignatureMethod"), ds("HMACOutputLength")).text = "8"
    resign(root, w.key, signature=signature, redigest=False)
    assert code(w, root) == ErrorCode.INVALID_SIGNATURE


@pytest.mark.parametrize(
    ("signature_algorithm", "digest_algorithm"),
    [("rsa-sha1", "sha1"), ("rsa-sha1", "sha256"), ("rsa-sha256", "sha1")],
)
def test_sha1_is_weak_unless_allowed(signature_algorithm: str, digest_algorithm: str) -> None:
    w = World()
    xml = w.mint(signature_algorithm=signature_algorithm, digest_algorithm=digest_algorithm)
    assert rejection(w, xml).code == ErrorCode.WEAK_ALGORITHM
    w.policy = SecurityPolicy(allow_unsolicited=True, allow_sha1=True)
    assert w.check(xml).name_id == "alice@example.com"


def test_ecdsa_sha1_is_weak_unless_allowed() -> None:
    w = World(key=default_key("ec"))
    xml = w.mint(signature_algorithm="ecdsa-sha1", digest_algorithm="sha1")
    assert rejection(w, xml).code == ErrorCode.WEAK_ALGORITHM
    w.policy = SecurityPolicy(allow_unsolicited=True, allow_sha1=True)
    assert w.check(xml).name_id == "alice@example.com"


@pytest.mark.parametrize(
    ("method", "digest"),
    [
        pytest.param(RSA_MD5, SHA256, id="rsa-md5"),
        pytest.param(RSA_SHA256, MD5, id="md5-digest"),
        pytest.param(RSA_SHA256, SHA224, id="sha224-digest"),
        pytest.param(DSA_SHA1, SHA256, id="dsa-sha1"),
        pytest.param(DSA_SHA256, SHA256, id="dsa-sha256"),
        pytest.param("urn:example:rot13", SHA256, id="unknown-method"),
        pytest.param("", SHA256, id="empty-method"),
        pytest.param(RSA_SHA256, "urn:example:crc32", id="unknown-digest"),
        pytest.param(RSA_SHA256, "", id="empty-digest"),
        pytest.param(RSA_SHA256.upper(), SHA256, id="method-uri-case"),
        pytest.param(RSA_SHA256 + " ", SHA256, id="method-uri-trailing-space"),
    ],
)
@pytest.mark.parametrize("allow_sha1", [False, True])
def test_never_allowed_algorithms(w: World, method: str, digest: str, allow_sha1: bool) -> None:
    w.policy = SecurityPolicy(allow_unsolicited=True, allow_sha1=allow_sha1)
    signing = RSA_SHA256 if method not in (RSA_MD5,) else RSA_MD5
    root = parse(w.mint(sign_response=False))
    signature = hand_signature(
        uri="#" + (root.get("ID") or ""), cert_b64=[w.key.cert_b64], method=method, digest=digest
    )
    one(root, "saml:Issuer").addnext(signature)
    if digest in (SHA256, MD5, SHA224):
        resign(root, w.key, signature=signature, signing_method=signing)
    assert code(w, root) == ErrorCode.WEAK_ALGORITHM


def test_sha1_digest_under_allow_sha1_is_still_checked(w: World) -> None:
    # allow_sha1 relaxes the algorithm list, not the digest comparison.
    w.policy = SecurityPolicy(allow_unsolicited=True, allow_sha1=True)
    root, signature = hand_signed(w, method=RSA_SHA1, digest=SHA1)
    assert w.check(to_bytes(root)).name_id == "alice@example.com"
    w.store = type(w.store)()
    one(signature, "ds:SignedInfo/ds:Reference/ds:DigestValue").text = base64.b64encode(b"\1" * 20).decode()
    resign(root, w.key, signature=signature, redigest=False)
    assert code(w, root) == ErrorCode.INVALID_SIGNATURE


def test_ecdsa_uri_over_an_rsa_key(w: World) -> None:
    # Algorithm/key confusion: the URI says ECDSA, the metadata key is RSA.
    root, _ = hand_signed(w, method=ECDSA_SHA256, key=None)
    assert code(w, root) == ErrorCode.INVALID_SIGNATURE


def test_rsa_pss_is_accepted(w: World) -> None:
    root, _ = hand_signed(w, method=RSA_PSS_SHA256, digest=SHA512)
    assert w.check(to_bytes(root)).name_id == "alice@example.com"


def test_rsa_pkcs1_value_under_a_pss_uri(w: World) -> None:
    root, signature = hand_signed(w, method=RSA_PSS_SHA256)
    resign(root, w.key, signature=signature, redigest=False, signing_method=RSA_SHA256)
    assert code(w, root) == ErrorCode.INVALID_SIGNATURE


@pytest.mark.parametrize(
    "value",
    ["", "!!!!", "QUJD", "QUJD=", "QU JD\n", "QUJD" * 64 + "=", "AAAA" * 86 + "A==="],
)
def test_malformed_signature_value(w: World, value: str) -> None:
    root = parse(w.mint())
    one(signature_of(root), "ds:SignatureValue").text = value
    assert code(w, root) == ErrorCode.INVALID_SIGNATURE


@pytest.mark.parametrize("value", ["", "AAAA", base64.b64encode(b"\0" * 31).decode(), "!" * 44])
def test_malformed_digest_value(w: World, value: str) -> None:
    root = parse(w.mint())
    one(signature_of(root), "ds:SignedInfo/ds:Reference/ds:DigestValue").text = value
    assert code(w, root) == ErrorCode.INVALID_SIGNATURE
