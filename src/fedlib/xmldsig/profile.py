"""Stage 1 of 3: the SAML signature profile (shape and algorithms), before any key or hash is touched.

.. warning:: Hazmat. This module knows XML-DSig, not SAML policy. Use ``fedlib.validation`` instead.

The rules follow SAML core §5.4 and OpenSAML's SAMLSignatureProfileValidator, tightened where the
SAML profile leaves room for ambiguity. Each rule is one small function that raises
``SignatureRejected`` with the code named in its docstring; the rule list, in order:

1. ``check_signature_children``: Signature = SignedInfo, SignatureValue, optional KeyInfo; no ds:Object.
2. ``check_signed_info_children``: SignedInfo = CanonicalizationMethod, SignatureMethod, one Reference.
3. ``parse_c14n_method``: exclusive c14n or c14n 1.0/1.1, without comments.
4. ``parse_signature_method``: on the algorithm allowlist.
5. ``check_reference_children`` / ``parse_transforms``: enveloped-signature, then at most one
   canonicalisation from the allowlist; nothing else (no XPath, XSLT, base64, ...).
6. ``parse_digest_method`` / ``parse_digest_value``: on the allowlist; value of the right length.
7. ``parse_signature_value``: strict base64.
8. ``parse_key_info``: the X509Certificate values (trust is decided later, in ``trust``).
9. ``check_reference_target``: the Reference URI names the signature's own parent, by an ID that no
   other element in the document carries (or "" when the parent is the document element).

Every element of SignedInfo has the children these rules name and no others (a DigestMethod, a DigestValue, an
InclusiveNamespaces has none): SignedInfo is canonicalised before any key is proven, with the algorithm and
the PrefixList the message names, so anything else it held would be canonicalised on the attacker's terms
(19,000 elements nested 250 deep inside a DigestMethod took 0.4-1.0 s; tests/adversarial/test_dos.py).
"""

from __future__ import annotations

import functools
from typing import Final, NamedTuple

from lxml import etree

from fedlib._xml.ids import IdIndex
from fedlib._xml.parse import b64_text as _strict_b64
from fedlib.constants import (
    DS_C14N_METHOD,
    DS_DIGEST_METHOD,
    DS_DIGEST_VALUE,
    DS_KEY_INFO,
    DS_OBJECT,
    DS_REFERENCE,
    DS_SIGNATURE_METHOD,
    DS_SIGNATURE_VALUE,
    DS_SIGNED_INFO,
    DS_TRANSFORM,
    DS_TRANSFORMS,
    DS_X509_CERTIFICATE,
    DS_X509_DATA,
    EC_INCLUSIVE_NAMESPACES,
)
from fedlib.errors import ErrorCode, SignatureRejected, reject
from fedlib.xmldsig.algorithms import (
    ALLOWED_C14N,
    C14N,
    DIGEST_SIZE,
    ENVELOPED_SIGNATURE,
    DigestMethod,
    SignatureMethod,
    allowed_digest_methods,
    allowed_signature_methods,
)


class ParsedSignature(NamedTuple):
    """A ds:Signature that passed the profile: typed values, nothing verified yet.

    (A NamedTuple rather than a frozen dataclass: it is built on every verification and is 3x cheaper.)"""

    signature: etree._Element
    signed_info: etree._Element
    c14n_method: C14N
    c14n_prefixes: tuple[str, ...]
    signature_method: SignatureMethod
    reference_uri: str
    reference_c14n: C14N
    reference_prefixes: tuple[str, ...]
    digest_method: DigestMethod
    digest_value: bytes
    signature_value: bytes
    certificates: tuple[bytes, ...]  # DER of every KeyInfo/X509Data/X509Certificate, in document order


def _fail(code: ErrorCode, message: str, detail: str | None = None) -> SignatureRejected:
    err = reject(code, message, detail=detail, element="ds:Signature")
    assert isinstance(err, SignatureRejected)
    return err


def _children(element: etree._Element) -> list[etree._Element]:
    # Comments are removed at parse time and PIs inside the document element refused, so every child is
    # an element.
    return list(element)


def _local(tag: object) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else repr(tag)


def check_signature_children(signature: etree._Element) -> tuple[etree._Element, etree._Element, etree._Element | None]:
    """Signature = SignedInfo, SignatureValue, KeyInfo?  (ds:Object: ``signature-wrapping``;
    anything else: ``invalid-signature``)."""
    children = _children(signature)
    if any(child.tag == DS_OBJECT for child in children):
        raise _fail(
            ErrorCode.SIGNATURE_WRAPPING,
            "the signature carries a ds:Object, which the SAML signature profile does not allow",
        )
    tags = [child.tag for child in children]
    if tags[:2] != [DS_SIGNED_INFO, DS_SIGNATURE_VALUE] or len(tags) > 3 or (len(tags) == 3 and tags[2] != DS_KEY_INFO):
        raise _fail(
            ErrorCode.INVALID_SIGNATURE,
            "the signature must hold exactly one SignedInfo, one SignatureValue and at most one KeyInfo",
            detail=f"children: {[_local(t) for t in tags]}",
        )
    return children[0], children[1], children[2] if len(children) == 3 else None


def check_signed_info_children(signed_info: etree._Element) -> tuple[etree._Element, etree._Element, etree._Element]:
    """SignedInfo = CanonicalizationMethod, SignatureMethod, exactly one Reference.

    More than one Reference: ``signature-wrapping``; any other shape: ``invalid-signature``.
    """
    children = _children(signed_info)
    tags = [child.tag for child in children]
    if tags[:2] != [DS_C14N_METHOD, DS_SIGNATURE_METHOD] or any(t != DS_REFERENCE for t in tags[2:]):
        raise _fail(
            ErrorCode.INVALID_SIGNATURE,
            "SignedInfo must hold CanonicalizationMethod, SignatureMethod and one Reference",
            detail=f"children: {[_local(t) for t in tags]}",
        )
    if len(tags) != 3:
        raise _fail(
            ErrorCode.SIGNATURE_WRAPPING,
            f"the signature has {len(tags) - 2} References; the SAML signature profile requires exactly one",
        )
    return children[0], children[1], children[2]


def _inclusive_prefixes(method: etree._Element) -> tuple[str, ...]:
    """PrefixList of an ec:InclusiveNamespaces child (only child allowed; else ``forbidden-transform``)."""
    if len(method) == 0:
        return ()
    children = _children(method)
    if len(children) != 1 or children[0].tag != EC_INCLUSIVE_NAMESPACES or len(children[0]):
        raise _fail(
            ErrorCode.FORBIDDEN_TRANSFORM,
            "a canonicalization method carries parameters fedlib does not accept",
            detail=f"children: {[_local(c.tag) for c in children]}"
            + (f", in InclusiveNamespaces: {len(children[0])}" if len(children) == 1 and len(children[0]) else ""),
        )
    return tuple((children[0].get("PrefixList") or "").split())


_C14N_BY_URI = {m.value: m for m in C14N}
_SIGNATURE_METHOD_BY_URI = {m.value: m for m in SignatureMethod}
_DIGEST_METHOD_BY_URI = {m.value: m for m in DigestMethod}


def _c14n(algorithm: str | None, what: str) -> C14N:
    method = _C14N_BY_URI.get(algorithm or "")
    if method is None:
        raise _fail(
            ErrorCode.FORBIDDEN_TRANSFORM,
            f"the {what} uses a canonicalization algorithm fedlib does not run",
            detail=f"algorithm: {algorithm!r}",
        )
    if method not in ALLOWED_C14N:
        raise _fail(
            ErrorCode.FORBIDDEN_TRANSFORM,
            f"the {what} uses canonicalization with comments, which fedlib refuses",
            detail=f"algorithm: {algorithm!r}",
        )
    return method


def parse_c14n_method(element: etree._Element) -> tuple[C14N, tuple[str, ...]]:
    """CanonicalizationMethod: exclusive c14n or c14n 1.0/1.1 without comments (``forbidden-transform``)."""
    method = _c14n(element.get("Algorithm"), "SignedInfo")
    prefixes = _inclusive_prefixes(element)
    if prefixes and method is not C14N.EXCLUSIVE:
        raise _fail(ErrorCode.FORBIDDEN_TRANSFORM, "InclusiveNamespaces is only meaningful with exclusive c14n")
    return method, prefixes


def parse_signature_method(element: etree._Element, *, allow_sha1: bool) -> SignatureMethod:
    """SignatureMethod on the allowlist (``weak-algorithm``): no SHA-1 unless allowed, never MD5/HMAC/DSA."""
    algorithm = element.get("Algorithm") or ""
    method = _SIGNATURE_METHOD_BY_URI.get(algorithm)
    if method is None:
        raise _fail(
            ErrorCode.WEAK_ALGORITHM,
            "the signature algorithm is not one fedlib accepts (RSA-SHA256/384/512, RSA-PSS, ECDSA-SHA256/384/512)",
            detail=f"algorithm: {algorithm!r}",
        )
    if method not in allowed_signature_methods(allow_sha1=allow_sha1):
        raise _fail(
            ErrorCode.WEAK_ALGORITHM,
            f"the message is signed with {_algorithm_name(method)}, which fedlib refuses; configure the IdP to "
            "sign with RSA-SHA256 (Entra ID: SAML Certificates > Signing Algorithm = SHA-256; AD FS: relying "
            "party > Advanced > Secure hash algorithm = SHA-256; Okta/OneLogin: Signature Algorithm RSA-SHA256)",
            detail=f"algorithm: {algorithm!r}",
        )
    if len(element):
        raise _fail(
            ErrorCode.INVALID_SIGNATURE,
            "SignatureMethod carries parameters fedlib does not accept",
            detail=f"children: {[_local(c.tag) for c in _children(element)]}",
        )
    return method


def _algorithm_name(method: SignatureMethod | DigestMethod) -> str:
    return method.value.rsplit("#", 1)[-1].upper()


def check_reference_children(
    reference: etree._Element,
) -> tuple[etree._Element | None, etree._Element, etree._Element]:
    """Reference = Transforms?, DigestMethod, DigestValue (``invalid-signature``)."""
    children = _children(reference)
    tags = [child.tag for child in children]
    if tags == [DS_TRANSFORMS, DS_DIGEST_METHOD, DS_DIGEST_VALUE]:
        return children[0], children[1], children[2]
    if tags == [DS_DIGEST_METHOD, DS_DIGEST_VALUE]:
        return None, children[0], children[1]
    raise _fail(
        ErrorCode.INVALID_SIGNATURE,
        "the Reference must hold Transforms, DigestMethod and DigestValue",
        detail=f"children: {[_local(t) for t in tags]}",
    )


def parse_transforms(transforms: etree._Element | None) -> tuple[C14N, tuple[str, ...]]:
    """Transforms = enveloped-signature, then at most one allowed c14n (``forbidden-transform``).

    Returns the canonicalization applied to the reference: the explicit one, or inclusive c14n 1.0,
    which XML-DSig §4.3.3.2 prescribes when a node-set must become octets with none named.
    """
    items = _children(transforms) if transforms is not None else []
    if any(item.tag != DS_TRANSFORM for item in items):
        raise _fail(ErrorCode.FORBIDDEN_TRANSFORM, "Transforms may only contain Transform elements")
    algorithms = [item.get("Algorithm") or "" for item in items]
    if not algorithms or algorithms[0] != ENVELOPED_SIGNATURE:
        bad = next((a for a in algorithms if a != ENVELOPED_SIGNATURE), "")
        if bad and bad not in _C14N_BY_URI:
            raise _fail(
                ErrorCode.FORBIDDEN_TRANSFORM,
                "the signature uses a transform fedlib refuses (only enveloped-signature and c14n are allowed)",
                detail=f"transforms: {algorithms!r}",
            )
        raise _fail(
            ErrorCode.FORBIDDEN_TRANSFORM,
            "the signature must be enveloped: its first transform must be enveloped-signature",
            detail=f"transforms: {algorithms!r}",
        )
    if len(items[0]):
        raise _fail(ErrorCode.FORBIDDEN_TRANSFORM, "the enveloped-signature transform takes no parameters")
    if len(items) == 1:
        return C14N.INCLUSIVE_1_0, ()
    if len(items) > 2:
        raise _fail(
            ErrorCode.FORBIDDEN_TRANSFORM,
            "the signature has more transforms than enveloped-signature and one canonicalization",
            detail=f"transforms: {algorithms!r}",
        )
    method = _c14n(algorithms[1], "Reference")
    prefixes = _inclusive_prefixes(items[1])
    if prefixes and method is not C14N.EXCLUSIVE:
        raise _fail(ErrorCode.FORBIDDEN_TRANSFORM, "InclusiveNamespaces is only meaningful with exclusive c14n")
    return method, prefixes


def parse_digest_method(element: etree._Element, *, allow_sha1: bool) -> DigestMethod:
    """DigestMethod on the allowlist (``weak-algorithm``)."""
    algorithm = element.get("Algorithm") or ""
    method = _DIGEST_METHOD_BY_URI.get(algorithm)
    if method is None:
        raise _fail(
            ErrorCode.WEAK_ALGORITHM,
            "the digest algorithm is not one fedlib accepts (SHA-256/384/512)",
            detail=f"algorithm: {algorithm!r}",
        )
    if method not in allowed_digest_methods(allow_sha1=allow_sha1):
        raise _fail(
            ErrorCode.WEAK_ALGORITHM,
            f"the message digest uses {_algorithm_name(method)}, which fedlib refuses; configure the IdP to use "
            "SHA-256 (Entra ID: SAML Certificates > Signing Algorithm = SHA-256; AD FS: relying party > "
            "Advanced > Secure hash algorithm = SHA-256)",
            detail=f"algorithm: {algorithm!r}",
        )
    if len(element):
        raise _fail(
            ErrorCode.INVALID_SIGNATURE,
            "DigestMethod carries parameters fedlib does not accept",
            detail=f"children: {[_local(c.tag) for c in _children(element)]}",
        )
    return method


def parse_digest_value(element: etree._Element, method: DigestMethod) -> bytes:
    """DigestValue: strict base64 of exactly the digest size, text only (``invalid-signature``)."""
    value = _strict_b64(element.text)
    if value is None or len(value) != DIGEST_SIZE[method] or len(element):
        raise _fail(ErrorCode.INVALID_SIGNATURE, "the DigestValue is not a valid digest for its algorithm")
    return value


def parse_signature_value(element: etree._Element) -> bytes:
    """SignatureValue: strict base64, non-empty (``invalid-signature``)."""
    value = _strict_b64(element.text)
    if value is None or len(element):
        raise _fail(ErrorCode.INVALID_SIGNATURE, "the SignatureValue is not valid base64")
    return value


_CACHEABLE_CERTIFICATE_CHARS = 16384  # a real certificate is 1-3 KB of base64; larger ones are decoded each time


@functools.lru_cache(maxsize=64)
def _cached_certificate_der(text: str) -> bytes | None:
    return _strict_b64(text)


def _certificate_der(text: str | None) -> bytes | None:
    # An IdP sends the same certificate text in every response: decode it once per process. The cache is
    # bounded in entries and in entry size, so attacker-chosen KeyInfo text cannot pin memory.
    if text is None or len(text) > _CACHEABLE_CERTIFICATE_CHARS:
        return _strict_b64(text)
    return _cached_certificate_der(text)


def parse_key_info(key_info: etree._Element | None) -> tuple[bytes, ...]:
    """DER bytes of each KeyInfo/X509Data/X509Certificate. KeyValue, KeyName and the rest are ignored:
    they are never used as keys. A certificate that is not base64: ``untrusted-certificate``."""
    if key_info is None:
        return ()
    out: list[bytes] = []
    for data in key_info.iterchildren(DS_X509_DATA):
        for cert in data.iterchildren(DS_X509_CERTIFICATE):
            der = _certificate_der(cert.text)
            if der is None:
                raise _fail(ErrorCode.UNTRUSTED_CERTIFICATE, "the X509Certificate in KeyInfo is not valid base64")
            out.append(der)
    return tuple(out)


def check_reference_target(parsed: ParsedSignature, parent: etree._Element, ids: IdIndex | None = None) -> None:
    """The Reference points at the signature's own parent, unambiguously (``signature-wrapping``).

    ``#<ID>``: the parent's ``ID`` attribute equals it and no other element in the document carries that
    value in any ID-like attribute. ``""`` (the whole document): only when the parent is the document
    element and nothing (a processing instruction) stands beside it (``invalid-signature``). Anything
    else (another element, XPointer, an external URI, no URI) is refused.
    """
    uri = parsed.reference_uri
    is_document_element = parent.getparent() is None
    if uri == "":
        if not is_document_element:
            raise _fail(
                ErrorCode.SIGNATURE_WRAPPING,
                "the signature references the whole document but is not on the document element",
            )
        if parent.getprevious() is not None or parent.getnext() is not None:
            # URI="" is the whole document: XML-DSig canonicalises the processing instructions before and
            # after the document element too, fedlib digests the element only. Refuse rather than differ.
            raise _fail(
                ErrorCode.INVALID_SIGNATURE,
                "the signature covers the whole document, which has processing instructions outside its "
                "document element; fedlib does not verify those",
            )
        return
    own_id = parent.get("ID")
    if not uri.startswith("#") or own_id is None or uri[1:] != own_id:
        raise _fail(
            ErrorCode.SIGNATURE_WRAPPING,
            "the signature does not reference the element it is enveloped in",
            detail=f"reference {uri!r}, parent ID {own_id!r}",
        )
    index = ids or IdIndex.build(parent)
    if not index.sole_holder(own_id, parent):
        raise _fail(
            ErrorCode.SIGNATURE_WRAPPING,
            "the ID the signature references is carried by more than one element",
            detail=f"ID {own_id!r} on {len(index.elements(own_id))} elements",
        )


def prevalidate_signature(signature: etree._Element, *, allow_sha1: bool = False) -> ParsedSignature:
    """Run profile rules 1-8 on a ds:Signature and return its typed view (rule 9 needs the parent).

    Raises:
        SignatureRejected: with the code of the first rule that fails.
    """
    parsed = _prevalidate_common_shape(signature, allow_sha1=allow_sha1)
    return parsed if parsed is not None else _prevalidate_rule_by_rule(signature, allow_sha1=allow_sha1)


_FAST_C14N: Final = {m.value: m for m in ALLOWED_C14N}
_FAST_SIGNATURE_METHODS: Final = {
    allow_sha1: {m.value: m for m in allowed_signature_methods(allow_sha1=allow_sha1)} for allow_sha1 in (False, True)
}
_FAST_DIGEST_METHODS: Final = {
    allow_sha1: {m.value: m for m in allowed_digest_methods(allow_sha1=allow_sha1)} for allow_sha1 in (False, True)
}


def _prevalidate_common_shape(signature: etree._Element, *, allow_sha1: bool) -> ParsedSignature | None:
    """Rules 1-8 in one pass for the shape every IdP sends: Signature = SignedInfo, SignatureValue,
    KeyInfo?; SignedInfo = CanonicalizationMethod (no parameters), SignatureMethod, one Reference;
    Reference = Transforms (enveloped-signature, then one c14n, optionally with InclusiveNamespaces),
    DigestMethod, DigestValue; every algorithm on the allowlist, every value well-formed.

    Returns the same ParsedSignature as the rule-by-rule path, or None for anything else (including
    every input that path refuses), which then goes through the rules one by one and gets its precise
    code. Runs on every login (bench/verify.py): positional access and one tag read per element instead of
    a function and a child list per rule. tests/unit/xmldsig/test_profile_fast_path.py holds it to the
    rule-by-rule result over mutated signatures.
    """
    count = len(signature)
    if count == 3:
        signed_info, signature_value_el, key_info = signature
        if key_info.tag != DS_KEY_INFO:
            return None
    elif count == 2:
        signed_info, signature_value_el = signature
        key_info = None
    else:
        return None
    if signed_info.tag != DS_SIGNED_INFO or signature_value_el.tag != DS_SIGNATURE_VALUE or len(signed_info) != 3:
        return None
    c14n_el, method_el, reference = signed_info
    if c14n_el.tag != DS_C14N_METHOD or method_el.tag != DS_SIGNATURE_METHOD or reference.tag != DS_REFERENCE:
        return None
    c14n_method = _FAST_C14N.get(c14n_el.get("Algorithm") or "")
    # bool(): the rule-by-rule path reads allow_sha1 by truthiness, and a policy is not type-checked, so a
    # None or "" there (or an unhashable value) must mean what it means there, not a KeyError/TypeError here.
    sha1 = bool(allow_sha1)
    signature_method = _FAST_SIGNATURE_METHODS[sha1].get(method_el.get("Algorithm") or "")
    reference_uri = reference.get("URI")
    if (
        c14n_method is None
        or signature_method is None
        or reference_uri is None
        or len(c14n_el)
        or len(method_el)
        or len(reference) != 3
    ):
        return None
    transforms, digest_method_el, digest_value_el = reference
    if transforms.tag != DS_TRANSFORMS or digest_method_el.tag != DS_DIGEST_METHOD or len(transforms) != 2:
        return None
    if digest_value_el.tag != DS_DIGEST_VALUE or len(digest_method_el) or len(digest_value_el):
        return None
    enveloped, reference_c14n_el = transforms
    if enveloped.tag != DS_TRANSFORM or reference_c14n_el.tag != DS_TRANSFORM or len(enveloped):
        return None
    reference_c14n = _FAST_C14N.get(reference_c14n_el.get("Algorithm") or "")
    if enveloped.get("Algorithm") != ENVELOPED_SIGNATURE or reference_c14n is None:
        return None
    reference_prefixes: tuple[str, ...] = ()
    if len(reference_c14n_el):
        if reference_c14n is not C14N.EXCLUSIVE or len(reference_c14n_el) != 1:
            return None
        inclusive = reference_c14n_el[0]
        if inclusive.tag != EC_INCLUSIVE_NAMESPACES or len(inclusive):
            return None
        reference_prefixes = tuple((inclusive.get("PrefixList") or "").split())
    digest_method = _FAST_DIGEST_METHODS[sha1].get(digest_method_el.get("Algorithm") or "")
    if digest_method is None:
        return None
    digest_value = _strict_b64(digest_value_el.text)
    signature_value = _strict_b64(signature_value_el.text)
    if digest_value is None or len(digest_value) != DIGEST_SIZE[digest_method] or signature_value is None:
        return None
    if len(signature_value_el):
        return None
    # parse_key_info's answer for the usual KeyInfo (one X509Data holding one X509Certificate, of a size the
    # certificate cache takes) without its calls; anything else, or a certificate that is not base64, is its.
    certificates: tuple[bytes, ...] | None = None
    if key_info is not None and len(key_info) == 1:
        data = key_info[0]
        if data.tag == DS_X509_DATA and len(data) == 1:
            certificate = data[0]
            text = certificate.text
            cacheable = text is not None and len(text) <= _CACHEABLE_CERTIFICATE_CHARS
            if certificate.tag == DS_X509_CERTIFICATE and cacheable:
                der = _cached_certificate_der(text)
                if der is not None:
                    certificates = (der,)
    # ParsedSignature(signature=..., ...) without the NamedTuple's Python __new__ and its keyword matching
    # (~5 k instructions per login): the tuple of the fields in declaration order, all that __new__ builds.
    # test_profile_fast_path.py compares the result with the rule-by-rule path's keyword-built one.
    return _new_tuple(
        ParsedSignature,
        (
            signature,
            signed_info,
            c14n_method,
            (),  # c14n_prefixes
            signature_method,
            reference_uri,
            reference_c14n,
            reference_prefixes,
            digest_method,
            digest_value,
            signature_value,
            certificates if certificates is not None else parse_key_info(key_info),
        ),
    )


_new_tuple: Final = tuple.__new__


def _prevalidate_rule_by_rule(signature: etree._Element, *, allow_sha1: bool) -> ParsedSignature:
    """:func:`prevalidate_signature`, one rule function after the other (the reference path)."""
    signed_info, signature_value_el, key_info = check_signature_children(signature)
    c14n_el, method_el, reference = check_signed_info_children(signed_info)
    c14n_method, c14n_prefixes = parse_c14n_method(c14n_el)
    signature_method = parse_signature_method(method_el, allow_sha1=allow_sha1)
    reference_uri = reference.get("URI")
    if reference_uri is None:
        raise _fail(ErrorCode.SIGNATURE_WRAPPING, "the signature's Reference has no URI")
    transforms, digest_method_el, digest_value_el = check_reference_children(reference)
    reference_c14n, reference_prefixes = parse_transforms(transforms)
    digest_method = parse_digest_method(digest_method_el, allow_sha1=allow_sha1)
    digest_value = parse_digest_value(digest_value_el, digest_method)
    signature_value = parse_signature_value(signature_value_el)
    certificates = parse_key_info(key_info)
    return ParsedSignature(
        signature=signature,
        signed_info=signed_info,
        c14n_method=c14n_method,
        c14n_prefixes=c14n_prefixes,
        signature_method=signature_method,
        reference_uri=reference_uri,
        reference_c14n=reference_c14n,
        reference_prefixes=reference_prefixes,
        digest_method=digest_method,
        digest_value=digest_value,
        signature_value=signature_value,
        certificates=certificates,
    )
