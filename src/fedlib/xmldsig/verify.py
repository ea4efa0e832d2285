"""Stage 3 of 3: canonicalise, hash, verify; then hand back only the node that was digested.

.. warning:: Hazmat. Use ``fedlib.validation`` instead.

Why hand-written rather than signxml or xmlsec: this verifier does exactly what the SAML signature
profile allows (one enveloped Reference to the parent, exclusive or inclusive c14n, no other transform)
on lxml's canonicaliser and pyca/cryptography, which keeps it near the cost floor of "parse, c14n, hash,
one RSA verify" (signxml's general-purpose verifier costs several times that; xmlsec needs a native
library whose libxml2 must match lxml's, pain point #1 of SAML users). Its correctness is cross-checked
in tests against signxml and the xmlsec1 CLI over every vector (tests/differential/).

The verified tree: the enveloped-signature transform is applied by detaching the Signature from its
parent (re-attaching its tail text, which belongs to the parent's node-set), then the parent itself is
canonicalised and digested. ``VerifiedElement.element`` is that very node object. Comments were removed
when parsing (c14n without comments leaves them out too) and a processing instruction inside the
document element rejects the message (``fedlib._xml.parse``), so the canonical bytes and the node hold
the same content: reading claims from the node reads exactly what was digested.

Cost: every quantity c14n is superlinear in (namespace declarations in scope, attributes per element)
is capped by ``fedlib._xml.limits`` before this module runs, so canonicalising SignedInfo with the
algorithm the untrusted message names costs microseconds whatever namespaces the attacker declares.
"""

from __future__ import annotations

import copy
import hmac
from dataclasses import dataclass
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from lxml import etree

from fedlib._frozen import fast_builder
from fedlib._xml.ids import IdIndex
from fedlib.constants import XML_NS
from fedlib.errors import ErrorCode, SignatureRejected, reject
from fedlib.xmldsig.algorithms import (
    C14N,
    DIGEST_FUNCTION,
    ECDSA_METHODS,
    HASH_OF_SIGNATURE,
    RSA_PKCS1_METHODS,
    RSA_PSS_METHODS,
    DigestMethod,
    SignatureMethod,
)
from fedlib.xmldsig.profile import ParsedSignature, check_reference_target, prevalidate_signature
from fedlib.xmldsig.trust import PublicKey, TrustAnchors, TrustedKey

_XML_ATTR_PREFIX = f"{{{XML_NS}}}"


@dataclass(frozen=True, slots=True)
class VerifiedElement:
    """An element whose enveloped signature verified with a metadata key.

    ``element`` is the node that was canonicalised and digested, with its Signature detached. Read
    claims from it and from nothing else.
    """

    element: etree._Element
    trusted_key: TrustedKey
    signature_method: SignatureMethod
    digest_method: DigestMethod
    canonical: bytes | None = None
    """The canonical octets of ``element`` that were digested (what the tree holds, in canonical form: a
    byte search here answers "does the verified content contain X at all?" without walking the tree);
    None when the digest was streamed (``stream_digest``) and the octets never held."""


_new_verified: Final = fast_builder(VerifiedElement)
"""``VerifiedElement(...)`` (same parameters, same object) without the frozen dataclass ``__init__``
(fedlib._frozen)."""


def _fail(code: ErrorCode, message: str, detail: str | None = None) -> SignatureRejected:
    err = reject(code, message, detail=detail, element="ds:Signature")
    assert isinstance(err, SignatureRejected)
    return err


def canonicalize(element: etree._Element, method: C14N, prefixes: tuple[str, ...] = ()) -> bytes:
    """Canonical octets of ``element``'s subtree.

    C14N 1.1 differs from 1.0 only in how ``xml:*`` attributes of ancestors are inherited into a
    document subset (C14N 1.1 §1.2). lxml exposes 1.0 and exclusive 1.0 only, and its inclusive output
    for a subtree does not inherit ancestors' ``xml:*`` attributes at all; so inclusive c14n is run only
    when no ancestor carries one (then 1.0, 1.1 and lxml agree), and refused otherwise.
    """
    if method is not C14N.EXCLUSIVE:
        for ancestor in element.iterancestors():
            if any(str(name).startswith(_XML_ATTR_PREFIX) for name in ancestor.attrib):
                raise _fail(
                    ErrorCode.FORBIDDEN_TRANSFORM,
                    "inclusive canonicalization of an element whose ancestors carry xml:* attributes is not supported",
                )
        if element.getparent() is not None:
            element = _standalone_inclusive_copy(element)
    try:
        return etree.tostring(
            element,
            method="c14n",
            exclusive=method is C14N.EXCLUSIVE,
            with_comments=False,
            inclusive_ns_prefixes=list(prefixes) or None,
        )
    except (etree.C14NError, ValueError, TypeError) as exc:
        # e.g. relative namespace URIs, which C14N 1.0 defines as an error.
        raise _fail(ErrorCode.INVALID_SIGNATURE, "the signed content cannot be canonicalized", str(exc)) from None


class _DigestSink:
    """A write-only file object that hashes what is written to it (lxml's ``write_c14n`` target)."""

    def __init__(self, method: DigestMethod) -> None:
        self.hash = DIGEST_FUNCTION[method](b"")

    def write(self, data: bytes) -> int:
        self.hash.update(data)
        return len(data)


def _whole_document(element: etree._Element) -> bool:
    """``element`` is its document's root and the document holds nothing else (no prolog or epilog PI;
    comments are dropped at parse time): then the document's canonical form is the element's."""
    return element.getparent() is None and element.getprevious() is None and element.getnext() is None


def streamed_digest(element: etree._Element, method: C14N, prefixes: tuple[str, ...], digest: DigestMethod) -> bytes:
    """The digest of :func:`canonicalize` ``(element, method, prefixes)`` for a root ``element`` alone in its
    document, computed while libxml2 writes the canonical form (chunk by chunk) instead of over one copy."""
    if not _whole_document(element):
        raise ValueError("streamed_digest needs the document's only top-level node")
    sink = _DigestSink(digest)
    tree: Any = element.getroottree()  # lxml-stubs: write_c14n takes any object with write(), and None prefixes
    try:
        tree.write_c14n(
            sink,
            exclusive=method is C14N.EXCLUSIVE,
            with_comments=False,
            inclusive_ns_prefixes=list(prefixes) or None,
        )
    except (etree.C14NError, ValueError, TypeError) as exc:
        raise _fail(ErrorCode.INVALID_SIGNATURE, "the signed content cannot be canonicalized", str(exc)) from None
    return bytes(sink.hash.digest())


def _standalone_inclusive_copy(element: etree._Element) -> etree._Element:
    """A root-level copy of ``element`` whose start tag declares every namespace in scope at ``element``.

    lxml canonicalises a non-root element through a temporary fake root, and in inclusive mode it then
    emits spurious ``xmlns=""`` on grandchildren when the default namespace is declared above the apex
    (seen with lxml 5.4/6.1 on libxml2 2.13/2.14; tests/unit/xmldsig pins it). Inclusive C14N 1.0 renders
    all in-scope namespaces on the apex and drops redundant re-declarations below it, so canonicalising
    this copy as a document element gives the correct octets. Exclusive c14n is unaffected and, being
    what nearly every IdP uses, keeps the zero-copy path.
    """
    nsmap: Any = element.nsmap
    attrib: Any = dict(element.attrib)
    clone = etree.Element(element.tag, attrib=attrib, nsmap=nsmap)
    clone.text = element.text
    for child in element:
        clone.append(copy.deepcopy(child))
    return clone


def _detach_enveloped(signature: etree._Element) -> None:
    """The enveloped-signature transform: remove the Signature subtree, keep the text that follows it."""
    parent = signature.getparent()
    assert parent is not None
    tail = signature.tail
    previous = signature.getprevious()
    parent.remove(signature)  # lxml moves the tail along with the element
    if tail:
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail


def _ecdsa_der(raw: bytes, key: ec.EllipticCurvePublicKey) -> bytes:
    """XML-DSig ECDSA values are r || s, each as wide as the curve order (RFC 4050 §3.3); cryptography wants DER."""
    size = (key.curve.key_size + 7) // 8
    if len(raw) != 2 * size:
        raise _fail(ErrorCode.INVALID_SIGNATURE, "the ECDSA SignatureValue has the wrong length for the key")
    r = int.from_bytes(raw[:size], "big")
    s = int.from_bytes(raw[size:], "big")
    return utils.encode_dss_signature(r, s)


_IS_RSA: dict[type, bool] = {}  # key class -> isinstance(key, rsa.RSAPublicKey)


def verify_signature_value(
    method: SignatureMethod, key: PublicKey, signature_value: bytes, signed_octets: bytes
) -> None:
    """Verify ``signature_value`` over ``signed_octets`` (``invalid-signature``; key/algorithm mismatch too)."""
    hash_algorithm = HASH_OF_SIGNATURE[method]
    # isinstance against cryptography's ABCs runs Python code (ABCMeta.__instancecheck__) on every call:
    # asked once per key class and remembered.
    key_type = type(key)
    is_rsa = _IS_RSA.get(key_type)
    if is_rsa is None:
        is_rsa = _IS_RSA[key_type] = isinstance(key, rsa.RSAPublicKey)
    try:
        if method in RSA_PKCS1_METHODS and is_rsa:
            rsa_key: Any = key  # an RSAPublicKey (is_rsa); typed Any, not cast(), to add no call
            rsa_key.verify(signature_value, signed_octets, padding.PKCS1v15(), hash_algorithm)
        elif method in RSA_PSS_METHODS and isinstance(key, rsa.RSAPublicKey):
            pss = padding.PSS(mgf=padding.MGF1(hash_algorithm), salt_length=hash_algorithm.digest_size)
            key.verify(signature_value, signed_octets, pss, hash_algorithm)
        elif method in ECDSA_METHODS and isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(_ecdsa_der(signature_value, key), signed_octets, ec.ECDSA(hash_algorithm))
        else:
            raise _fail(
                ErrorCode.INVALID_SIGNATURE,
                "the signature algorithm does not match the type of the IdP's key",
                detail=f"{method.name} with {type(key).__name__}",
            )
    except InvalidSignature:
        raise _fail(
            ErrorCode.INVALID_SIGNATURE,
            "the signature does not verify with the IdP certificate: the message was altered after signing, "
            "or signed with another key",
        ) from None


def verify_enveloped_signature(
    parent: etree._Element,
    signature: etree._Element,
    anchors: TrustAnchors,
    *,
    allow_sha1: bool = False,
    ids: IdIndex | None = None,
    stream_digest: bool = False,
) -> VerifiedElement:
    """Verify ``signature``, an enveloped ds:Signature that is an immediate child of ``parent``.

    Profile, then trust, then crypto. ``ids`` is the document's ID index if the caller built one
    (the pipeline does, to check uniqueness); otherwise it is built here. On success ``parent`` has had
    its Signature detached and is returned as the verified element.

    ``stream_digest`` (large documents: metadata aggregates): when ``parent`` is the whole document (its
    root, with no sibling node), its canonical form is fed to the digest as libxml2 writes it, never held
    in memory at once (tens of MB less at the peak, and faster); the octets are the same
    (tests/unit/xmldsig/test_stream_digest.py). Otherwise, or when False, it is canonicalised to bytes.

    Raises:
        SignatureRejected: the code of the first failing check.
    """
    if signature.getparent() is not parent:
        raise _fail(ErrorCode.SIGNATURE_WRAPPING, "the signature is not an immediate child of the signed element")
    parsed: ParsedSignature = prevalidate_signature(signature, allow_sha1=allow_sha1)
    # check_reference_target's answer for the common case without calling it: "#<the parent's ID>", and the
    # caller's counted index saw every ID of the document once (so the parent is its value's sole holder).
    own_id = parent.get("ID")
    if ids is None or not ids.unique or own_id is None or parsed.reference_uri != "#" + own_id:
        check_reference_target(parsed, parent, ids)
    # anchors.select's answer when the first certificate presented is trusted; else its call decides.
    certificates = parsed.certificates
    trusted = anchors.by_der.get(certificates[0]) if certificates else None
    if trusted is None:
        trusted = anchors.select(certificates)

    # SignedInfo must be canonicalised in its original context (before the Signature is detached).
    signed_info_octets = canonicalize(parsed.signed_info, parsed.c14n_method, parsed.c14n_prefixes)
    verify_signature_value(parsed.signature_method, trusted.public_key, parsed.signature_value, signed_info_octets)

    _detach_enveloped(signature)
    referenced_octets: bytes | None = None
    if stream_digest and _whole_document(parent):
        digest = streamed_digest(parent, parsed.reference_c14n, parsed.reference_prefixes, parsed.digest_method)
    else:
        referenced_octets = canonicalize(parent, parsed.reference_c14n, parsed.reference_prefixes)
        digest = DIGEST_FUNCTION[parsed.digest_method](referenced_octets).digest()
    if not hmac.compare_digest(digest, parsed.digest_value):
        raise _fail(
            ErrorCode.INVALID_SIGNATURE,
            "the signed content does not match its digest: the message was altered after signing",
        )
    return _new_verified(  # VerifiedElement(...) without the frozen dataclass __init__ (fedlib._frozen)
        element=parent,
        trusted_key=trusted,
        signature_method=parsed.signature_method,
        digest_method=parsed.digest_method,
        canonical=referenced_octets,
    )
