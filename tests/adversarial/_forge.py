"""Attack-document toolkit for the adversarial suite (TEST USE ONLY; not collected by pytest).

Most attacks start from a validly minted, signxml-signed Response (``World().mint(...)``) that is then
rewritten with lxml. Some attacks need the *edited* document to carry a signature that is
cryptographically correct, so that only one profile rule can be what rejects it. For those this module
re-signs by hand, independently of both fedlib's verifier and signxml:

``resign(parent, key)``
    1. (``redigest=True``) applies the enveloped-signature transform by temporarily unlinking the
       ds:Signature child of ``parent`` (its tail text stays in place), canonicalises ``parent`` with
       lxml's exclusive C14N 1.0 (no comments), hashes it with the DigestMethod the Reference names, and
       writes the base64 digest into DigestValue; the Signature is then put back where it was;
    2. canonicalises ds:SignedInfo *in its document context* with lxml's exclusive C14N 1.0 (no
       comments; the InclusiveNamespaces PrefixList of the CanonicalizationMethod, if any, is honoured);
    3. signs those octets with ``cryptography`` according to the SignatureMethod URI: RSA PKCS#1 v1.5,
       RSA-PSS (MGF1, salt = digest length), ECDSA (raw ``r || s`` as XML-DSig wants), or HMAC when
       ``key`` is ``bytes`` (the key-confusion attack), and writes SignatureValue.

Exclusive C14N is used throughout: the documents built here never depend on inherited namespaces
or ``xml:*`` attributes, and for "with comments" variants the documents carry no comments, so those
octets are also what a conforming XML-DSig implementation would compute for them.

``hand_signature(...)`` builds a ds:Signature element from scratch (any URI, any transform list, any
KeyInfo), so malformed shapes that signxml refuses to produce can be signed with ``resign``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from lxml import etree

from fedlib.errors import ResponseRejected
from fedlib.testing import TestKey
from tests.support import NS, World, serialize

DS = NS["ds"]
SAML = NS["saml"]
SAMLP = NS["samlp"]
XENC = "http://www.w3.org/2001/04/xmlenc#"
EC_NS = "http://www.w3.org/2001/10/xml-exc-c14n#"
XML_NS = "http://www.w3.org/XML/1998/namespace"

ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
EXC_C14N_WC = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments"
C14N10 = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
C14N10_WC = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments"
C14N11 = "http://www.w3.org/2006/12/xml-c14n11"
C14N11_WC = "http://www.w3.org/2006/12/xml-c14n11#WithComments"
XPATH = "http://www.w3.org/TR/1999/REC-xpath-19991116"
XPATH_FILTER2 = "http://www.w3.org/2002/06/xmldsig-filter2"
XSLT = "http://www.w3.org/TR/1999/REC-xslt-19991116"
BASE64 = "http://www.w3.org/2000/09/xmldsig#base64"

RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
RSA_MD5 = "http://www.w3.org/2001/04/xmldsig-more#rsa-md5"
ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
HMAC_SHA1 = "http://www.w3.org/2000/09/xmldsig#hmac-sha1"
HMAC_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256"
DSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#dsa-sha1"
DSA_SHA256 = "http://www.w3.org/2009/xmldsig11#dsa-sha256"

SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
SHA1 = "http://www.w3.org/2000/09/xmldsig#sha1"
MD5 = "http://www.w3.org/2001/04/xmldsig-more#md5"

_DIGESTS = {
    SHA256: "sha256",
    "http://www.w3.org/2001/04/xmldsig-more#sha384": "sha384",
    "http://www.w3.org/2001/04/xmlenc#sha512": "sha512",
    SHA1: "sha1",
    MD5: "md5",
    "http://www.w3.org/2001/04/xmldsig-more#sha224": "sha224",
}

_SIG_HASH: dict[str, hashes.HashAlgorithm] = {
    RSA_SHA256: hashes.SHA256(),
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384": hashes.SHA384(),
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512": hashes.SHA512(),
    RSA_SHA1: hashes.SHA1(),  # noqa: S303 - forging weak-algorithm vectors
    RSA_MD5: hashes.MD5(),  # noqa: S303 - forging weak-algorithm vectors
    ECDSA_SHA256: hashes.SHA256(),
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384": hashes.SHA384(),
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512": hashes.SHA512(),
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha1": hashes.SHA1(),  # noqa: S303
    "http://www.w3.org/2007/05/xmldsig-more#sha256-rsa-MGF1": hashes.SHA256(),
}
_HMAC_HASH = {
    HMAC_SHA1: "sha1",
    HMAC_SHA256: "sha256",
    "http://www.w3.org/2001/04/xmldsig-more#hmac-sha384": "sha384",
    "http://www.w3.org/2001/04/xmldsig-more#hmac-sha512": "sha512",
}


def q(ns: str, local: str) -> str:
    """Clark notation."""
    return f"{{{ns}}}{local}"


def ds(local: str) -> str:
    return q(DS, local)


def saml(local: str) -> str:
    return q(SAML, local)


def samlp(local: str) -> str:
    return q(SAMLP, local)


def parse(xml: bytes) -> etree._Element:
    """Parse a minted document for editing (a plain parser: minted documents have no DTD)."""
    return etree.fromstring(xml)


def to_bytes(root: etree._Element) -> bytes:
    return serialize(root)


def signature_of(element: etree._Element) -> etree._Element:
    """The (first) ds:Signature child of ``element``."""
    found = element.find("ds:Signature", NS)
    assert found is not None, "no ds:Signature child"
    return found


def assertion_of(root: etree._Element) -> etree._Element:
    found = root.find("saml:Assertion", NS)
    assert found is not None, "no saml:Assertion child"
    return found


def one(root: etree._Element, path: str) -> etree._Element:
    found = root.find(path, NS)
    assert found is not None, path
    return found


def clone(element: etree._Element) -> etree._Element:
    """A deep copy that keeps the namespace declarations it needs."""
    return etree.fromstring(etree.tostring(element))


def exc_c14n(element: etree._Element, prefixes: Sequence[str] = ()) -> bytes:
    return etree.tostring(
        element, method="c14n", exclusive=True, with_comments=False, inclusive_ns_prefixes=list(prefixes) or None
    )


def _prefix_list(method: etree._Element | None) -> list[str]:
    if method is None:
        return []
    inclusive = method.find(q(EC_NS, "InclusiveNamespaces"))
    return (inclusive.get("PrefixList") or "").split() if inclusive is not None else []


def enveloped_digest(parent: etree._Element, signature: etree._Element, digest_uri: str) -> bytes:
    """Digest of ``parent`` with ``signature`` removed (enveloped transform + exclusive c14n)."""
    index = parent.index(signature)
    tail = signature.tail
    previous = signature.getprevious()
    saved_prev_tail = previous.tail if previous is not None else None
    saved_text = parent.text
    parent.remove(signature)
    if tail:
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    try:
        octets = exc_c14n(parent)
    finally:
        if previous is not None:
            previous.tail = saved_prev_tail
        else:
            parent.text = saved_text
        signature.tail = tail
        parent.insert(index, signature)
    return hashlib.new(_DIGESTS[digest_uri], octets).digest()


def sign_octets(method_uri: str, key: TestKey | bytes, octets: bytes) -> bytes:
    """SignatureValue bytes for ``octets`` under ``method_uri`` (HMAC when ``key`` is bytes)."""
    if isinstance(key, bytes):
        return hmac.new(key, octets, _HMAC_HASH[method_uri]).digest()
    hash_algorithm = _SIG_HASH[method_uri]
    private = key.private_key
    if isinstance(private, rsa.RSAPrivateKey):
        if "MGF1" in method_uri:
            pss = padding.PSS(mgf=padding.MGF1(hash_algorithm), salt_length=hash_algorithm.digest_size)
            return private.sign(octets, pss, hash_algorithm)
        return private.sign(octets, padding.PKCS1v15(), hash_algorithm)
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    r, s = utils.decode_dss_signature(private.sign(octets, ec.ECDSA(hash_algorithm)))
    size = (private.curve.key_size + 7) // 8
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def resign(
    parent: etree._Element,
    key: TestKey | bytes,
    *,
    signature: etree._Element | None = None,
    redigest: bool = True,
    signing_method: str | None = None,
) -> etree._Element:
    """Recompute DigestValue (optional) and SignatureValue of ``parent``'s enveloped signature in place.

    ``signing_method`` overrides the algorithm used to compute the value (not the URI written in the
    document), for key/algorithm-confusion vectors. Returns the signature element.
    """
    signature = signature if signature is not None else signature_of(parent)
    signed_info = signature.find("ds:SignedInfo", NS)
    assert signed_info is not None
    reference = signed_info.find("ds:Reference", NS)
    if redigest and reference is not None:
        digest_method = reference.find("ds:DigestMethod", NS)
        digest_value = reference.find("ds:DigestValue", NS)
        assert digest_method is not None
        assert digest_value is not None
        digest = enveloped_digest(parent, signature, digest_method.get("Algorithm") or SHA256)
        digest_value.text = base64.b64encode(digest).decode("ascii")
    c14n_method = signed_info.find("ds:CanonicalizationMethod", NS)
    method_el = signed_info.find("ds:SignatureMethod", NS)
    method_uri = signing_method or (method_el.get("Algorithm") if method_el is not None else None) or RSA_SHA256
    octets = exc_c14n(signed_info, _prefix_list(c14n_method))
    value = signature.find("ds:SignatureValue", NS)
    assert value is not None
    value.text = base64.b64encode(sign_octets(method_uri, key, octets)).decode("ascii")
    return signature


def hand_signature(
    *,
    uri: str | None,
    cert_b64: Sequence[str] = (),
    c14n: str = EXC_C14N,
    method: str = RSA_SHA256,
    digest: str = SHA256,
    transforms: Sequence[str] | None = (ENVELOPED, EXC_C14N),
    key_info_extra: Sequence[etree._Element] = (),
    include_key_info: bool = True,
) -> etree._Element:
    """A ds:Signature skeleton (values empty until ``resign``). ``uri=None`` leaves the URI attribute out;
    ``transforms=None`` leaves ds:Transforms out."""
    signature = etree.Element(ds("Signature"), nsmap={"ds": DS})
    signed_info = etree.SubElement(signature, ds("SignedInfo"))
    etree.SubElement(signed_info, ds("CanonicalizationMethod"), Algorithm=c14n)
    etree.SubElement(signed_info, ds("SignatureMethod"), Algorithm=method)
    reference = etree.SubElement(signed_info, ds("Reference"))
    if uri is not None:
        reference.set("URI", uri)
    if transforms is not None:
        transforms_el = etree.SubElement(reference, ds("Transforms"))
        for algorithm in transforms:
            etree.SubElement(transforms_el, ds("Transform"), Algorithm=algorithm)
    etree.SubElement(reference, ds("DigestMethod"), Algorithm=digest)
    etree.SubElement(reference, ds("DigestValue")).text = base64.b64encode(b"\0" * 32).decode()
    etree.SubElement(signature, ds("SignatureValue")).text = base64.b64encode(b"\0" * 256).decode()
    if include_key_info:
        key_info = etree.SubElement(signature, ds("KeyInfo"))
        if cert_b64:
            x509_data = etree.SubElement(key_info, ds("X509Data"))
            for cert in cert_b64:
                etree.SubElement(x509_data, ds("X509Certificate")).text = cert
        for extra in key_info_extra:
            key_info.append(extra)
    return signature


def insert_after_issuer(parent: etree._Element, child: etree._Element) -> None:
    """Insert ``child`` where the SAML schema puts a Signature: after the Issuer child, else first."""
    issuer = parent.find("saml:Issuer", NS)
    parent.insert(parent.index(issuer) + 1 if issuer is not None else 0, child)


def replace_signature(parent: etree._Element, new: etree._Element) -> None:
    old = parent.find("ds:Signature", NS)
    if old is None:
        insert_after_issuer(parent, new)
    else:
        parent.replace(old, new)


def set_name_id(element: etree._Element, value: str) -> None:
    for name_id in element.iter(saml("NameID")):
        name_id.text = value


# --------------------------------------------------------------------------------------------------
# Helpers added for the adversarial test modules.


def extensions_of(response: etree._Element) -> etree._Element:
    """The samlp:Extensions child of ``response``, created at its schema position (after Issuer and
    Signature, before Status) when missing."""
    found = response.find("samlp:Extensions", NS)
    if found is not None:
        return found
    extensions = etree.Element(samlp("Extensions"))
    status = response.find("samlp:Status", NS)
    if status is not None:
        status.addprevious(extensions)
    else:
        response.append(extensions)
    return extensions


def strip_signatures(element: etree._Element) -> None:
    """Remove every ds:Signature in ``element``'s subtree (keeping surrounding text)."""
    for signature in list(element.iter(ds("Signature"))):
        parent = signature.getparent()
        assert parent is not None
        parent.remove(signature)


def rejection(world: World, message: bytes | str, **kwargs: object) -> ResponseRejected:
    """The ResponseRejected ``world`` raises for ``message`` (AssertionError if it is accepted or
    anything else is raised)."""
    try:
        world.check(message, **kwargs)  # type: ignore[arg-type]
    except ResponseRejected as exc:
        return exc
    raise AssertionError("the message was accepted")
