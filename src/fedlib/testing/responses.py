"""Mint SAML 2.0 Responses the way real IdPs do, for tests (IdP side; TEST USE ONLY).

:class:`ResponseSpec` describes a Response; its defaults make a valid, successful, unsolicited
Response for one SP, and every field is a knob a test can turn to produce a particular defect.
:func:`build_response` turns a spec into an unsigned lxml tree, :func:`sign_element` signs any element
of such a tree in place (enveloped XML-DSig, Reference ``#<ID>``), and :func:`mint_response` does both
and serialises the result.

Signing is done by signxml's ``XMLSigner`` on purpose: this module must stay independent of fedlib's
own XML-DSig code (it never imports ``fedlib.xmldsig`` or ``fedlib.validation``), so that a bug in the
verifier cannot be mirrored by the signer and cancel out in tests.
"""

from __future__ import annotations

import base64
import enum
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from lxml import etree

from fedlib.testing._deps import INSTALL_HINT

try:
    from signxml.algorithms import (
        CanonicalizationMethod,
        DigestAlgorithm,
        SignatureConstructionMethod,
        SignatureMethod,
    )
    from signxml.signer import XMLSigner
except ImportError as exc:  # the `testing` extra is not installed: say what to install
    raise ModuleNotFoundError(INSTALL_HINT, name="signxml") from exc

from fedlib.clock import ensure_aware, format_instant
from fedlib.constants import (
    CM_BEARER,
    DS_SIGNATURE,
    DS_X509_CERTIFICATE,
    NAMEID_EMAIL,
    NS_DS,
    NS_SAML,
    NS_SAMLP,
    NS_XSI,
    SAML_ASSERTION,
    SAML_ATTRIBUTE,
    SAML_ATTRIBUTE_STATEMENT,
    SAML_ATTRIBUTE_VALUE,
    SAML_AUDIENCE,
    SAML_AUDIENCE_RESTRICTION,
    SAML_AUTHN_CONTEXT,
    SAML_AUTHN_CONTEXT_CLASS_REF,
    SAML_AUTHN_STATEMENT,
    SAML_CONDITIONS,
    SAML_ISSUER,
    SAML_NAMEID,
    SAML_SUBJECT,
    SAML_SUBJECT_CONFIRMATION,
    SAML_SUBJECT_CONFIRMATION_DATA,
    SAML_VERSION,
    SAMLP_RESPONSE,
    SAMLP_STATUS,
    SAMLP_STATUS_CODE,
    SAMLP_STATUS_MESSAGE,
    STATUS_SUCCESS,
)
from fedlib.testing.keys import TestKey

__all__ = [
    "ATTRNAME_FORMAT_BASIC",
    "ATTRNAME_FORMAT_UNSPECIFIED",
    "ATTRNAME_FORMAT_URI",
    "AUTHN_CONTEXT_PASSWORD_PROTECTED_TRANSPORT",
    "OMIT",
    "Omit",
    "ResponseSpec",
    "build_response",
    "mint_response",
    "mint_response_b64",
    "new_id",
    "serialize",
    "sign_element",
]

ATTRNAME_FORMAT_BASIC: Final = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"
ATTRNAME_FORMAT_URI: Final = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
ATTRNAME_FORMAT_UNSPECIFIED: Final = "urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified"
AUTHN_CONTEXT_PASSWORD_PROTECTED_TRANSPORT: Final = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"  # noqa: S105 (a URI)
_NS_XS: Final = "http://www.w3.org/2001/XMLSchema"

_T = TypeVar("_T")


class Omit(enum.Enum):
    """Type of the :data:`OMIT` sentinel."""

    OMIT = "OMIT"

    def __repr__(self) -> str:
        return "OMIT"


OMIT: Final = Omit.OMIT
"""Pass as a :class:`ResponseSpec` field value to leave that attribute or element out entirely
(as opposed to ``None``, which means "use the default")."""


def new_id() -> str:
    """A fresh random SAML ID: ``"_"`` followed by 32 hex digits (a valid xs:ID, 128 bits of entropy)."""
    return "_" + secrets.token_hex(16)


def _pick(value: _T | Omit | None, default: _T) -> _T | None:
    """Resolve a defaultable field: ``None`` -> ``default``, ``OMIT`` -> ``None`` (leave out)."""
    if isinstance(value, Omit):
        return None
    return default if value is None else value


@dataclass(frozen=True, kw_only=True)
class ResponseSpec:
    """Everything that goes into a minted SAML 2.0 Response. Defaults produce a valid one.

    Only ``idp_entity_id``, ``sp_entity_id``, ``acs_url`` and ``now`` are required. For fields typed
    ``X | None | Omit``, ``None`` means "the default described below" and :data:`OMIT` means "leave the
    attribute or element out". IDs are drawn at construction (``dataclasses.replace`` keeps them), so a
    given spec always builds the same tree.

    Attributes:
        idp_entity_id: the IdP's entity ID (default Issuer of Response and Assertion).
        sp_entity_id: the SP's entity ID (default Audience).
        acs_url: the SP's assertion consumer service URL (default Destination and Recipient).
        now: the minting time, an aware datetime; all timestamps derive from it.
        name_id: the Subject's NameID value.
        name_id_format: NameID ``Format`` (default emailAddress; ``None`` leaves the attribute out).
        name_id_name_qualifier: optional NameID ``NameQualifier``.
        name_id_sp_name_qualifier: optional NameID ``SPNameQualifier``.
        attributes: attribute name -> values, rendered as one ``saml:AttributeStatement`` (left out
            when empty, since an empty statement is schema-invalid). Values must be a sequence of
            strings, not a bare string.
        attribute_name_format: ``NameFormat`` on every Attribute (default basic; ``None`` leaves it out).
        attribute_value_xsi_type: if set (e.g. ``"xs:string"``), every AttributeValue carries this
            ``xsi:type`` and declares ``xs``/``xsi`` itself, as several commercial IdPs do.
        in_response_to: the AuthnRequest ID being answered; ``None`` makes an unsolicited
            (IdP-initiated) Response. Set on the Response and on SubjectConfirmationData.
        destination: Response ``Destination``; default ``acs_url``.
        recipient: SubjectConfirmationData ``Recipient``; default ``acs_url``.
        audiences: ``Audience`` values of one AudienceRestriction; default ``[sp_entity_id]``. An
            empty sequence leaves the AudienceRestriction out.
        response_issuer: Issuer of the Response (optional in the schema); default ``idp_entity_id``.
        assertion_issuer: Issuer of the Assertion (required by the schema); default ``idp_entity_id``.
        issuer_format: optional ``Format`` on both Issuers (e.g. the entity format URI).
        issue_instant_offset: added to ``now`` for the Response and Assertion ``IssueInstant``.
        lifetime: validity window: default ``NotOnOrAfter`` of Conditions and of
            SubjectConfirmationData is ``now + lifetime`` (5 minutes).
        not_before: Conditions ``NotBefore``; default ``now``.
        not_on_or_after: Conditions ``NotOnOrAfter``; default ``now + lifetime``.
        subject_not_before: SubjectConfirmationData ``NotBefore``; default absent (the Web SSO profile
            forbids it on bearer confirmations, so only set it to test that).
        subject_not_on_or_after: SubjectConfirmationData ``NotOnOrAfter``; default ``now + lifetime``.
        subject_confirmation_method: SubjectConfirmation ``Method``; default bearer.
        authn_instant: AuthnStatement ``AuthnInstant``; default the issue instant.
        session_index: AuthnStatement ``SessionIndex``; default the assertion ID (as AD FS does).
        session_not_on_or_after: optional AuthnStatement ``SessionNotOnOrAfter``.
        authn_context_class_ref: the ``AuthnContextClassRef``; default PasswordProtectedTransport.
        status_code: top-level ``StatusCode`` value; default Success.
        second_status_code: optional nested (second-level) ``StatusCode`` value.
        status_message: optional ``StatusMessage`` text.
        response_id: Response ``ID``; default a fresh :func:`new_id`.
        assertion_id: Assertion ``ID``; default a fresh :func:`new_id`.
        include_assertion: whether to include the Assertion; default only when the status is Success.
        include_conditions: whether to include ``saml:Conditions``.
        include_authn_statement: whether to include ``saml:AuthnStatement``.
        version: ``Version`` of the Response and the Assertion; default ``"2.0"``.
    """

    idp_entity_id: str
    sp_entity_id: str
    acs_url: str
    now: datetime

    name_id: str = "alice@example.com"
    name_id_format: str | None = NAMEID_EMAIL
    name_id_name_qualifier: str | None = None
    name_id_sp_name_qualifier: str | None = None

    attributes: Mapping[str, Sequence[str]] = field(default_factory=dict)
    attribute_name_format: str | None = ATTRNAME_FORMAT_BASIC
    attribute_value_xsi_type: str | None = None
    attribute_friendly_names: Mapping[str, str] = field(default_factory=dict)

    in_response_to: str | None = None
    destination: str | Omit | None = None
    recipient: str | Omit | None = None
    audiences: Sequence[str] | None = None
    response_issuer: str | Omit | None = None
    assertion_issuer: str | Omit | None = None
    issuer_format: str | None = None

    issue_instant_offset: timedelta = timedelta(0)
    lifetime: timedelta = timedelta(minutes=5)
    not_before: datetime | Omit | None = None
    not_on_or_after: datetime | Omit | None = None
    subject_not_before: datetime | None = None
    subject_not_on_or_after: datetime | Omit | None = None
    subject_confirmation_method: str = CM_BEARER

    authn_instant: datetime | None = None
    session_index: str | Omit | None = None
    session_not_on_or_after: datetime | None = None
    authn_context_class_ref: str = AUTHN_CONTEXT_PASSWORD_PROTECTED_TRANSPORT

    status_code: str = STATUS_SUCCESS
    second_status_code: str | None = None
    status_message: str | None = None

    response_id: str = field(default_factory=new_id)
    assertion_id: str = field(default_factory=new_id)
    include_assertion: bool | None = None
    include_conditions: bool = True
    include_authn_statement: bool = True
    version: str = SAML_VERSION

    def __post_init__(self) -> None:
        ensure_aware(self.now)
        for name, values in self.attributes.items():
            if isinstance(values, str | bytes):
                raise TypeError(f"attribute {name!r}: values must be a sequence of str, not a bare string")

    @property
    def issue_instant(self) -> datetime:
        """``now + issue_instant_offset``: the IssueInstant of the Response and the Assertion."""
        return self.now + self.issue_instant_offset

    @property
    def has_assertion(self) -> bool:
        """Whether :func:`build_response` will include an Assertion."""
        if self.include_assertion is None:
            return self.status_code == STATUS_SUCCESS
        return self.include_assertion


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attrs: str | None) -> etree._Element:
    """Append a child; attributes whose value is None are left out (insertion order is kept)."""
    child = etree.SubElement(parent, tag)
    for name, value in attrs.items():
        if value is not None:
            child.set(name, value)
    if text is not None:
        child.text = text
    return child


def _instant(value: datetime | None) -> str | None:
    return None if value is None else format_instant(value)


def _issuer(parent: etree._Element, value: str | None, fmt: str | None) -> None:
    if value is not None:
        _sub(parent, SAML_ISSUER, value, Format=fmt)


def build_response(spec: ResponseSpec) -> etree._Element:
    """Build the unsigned ``samlp:Response`` tree a spec describes.

    Element order follows the SAML 2.0 core schema: Response(Issuer?, Status, Assertion?) and
    Assertion(Issuer, Subject, Conditions?, AuthnStatement?, AttributeStatement?). ``samlp`` and
    ``saml`` are declared once, on the Response. No whitespace is added, so signing and serialising
    never interact with formatting. Building is deterministic: the same spec gives the same tree.

    Args:
        spec: the Response to build.

    Returns:
        The root ``samlp:Response`` element of a new document.
    """
    issue_instant = format_instant(spec.issue_instant)
    expiry = spec.now + spec.lifetime

    root = etree.Element(SAMLP_RESPONSE, nsmap={"samlp": NS_SAMLP, "saml": NS_SAML})
    root.set("ID", spec.response_id)
    root.set("Version", spec.version)
    root.set("IssueInstant", issue_instant)
    destination = _pick(spec.destination, spec.acs_url)
    if destination is not None:
        root.set("Destination", destination)
    if spec.in_response_to is not None:
        root.set("InResponseTo", spec.in_response_to)

    _issuer(root, _pick(spec.response_issuer, spec.idp_entity_id), spec.issuer_format)

    status = _sub(root, SAMLP_STATUS)
    code = _sub(status, SAMLP_STATUS_CODE, Value=spec.status_code)
    if spec.second_status_code is not None:
        _sub(code, SAMLP_STATUS_CODE, Value=spec.second_status_code)
    if spec.status_message is not None:
        _sub(status, SAMLP_STATUS_MESSAGE, spec.status_message)

    if not spec.has_assertion:
        return root

    assertion = _sub(root, SAML_ASSERTION, ID=spec.assertion_id, Version=spec.version)
    assertion.set("IssueInstant", issue_instant)
    _issuer(assertion, _pick(spec.assertion_issuer, spec.idp_entity_id), spec.issuer_format)

    subject = _sub(assertion, SAML_SUBJECT)
    _sub(
        subject,
        SAML_NAMEID,
        spec.name_id,
        NameQualifier=spec.name_id_name_qualifier,
        SPNameQualifier=spec.name_id_sp_name_qualifier,
        Format=spec.name_id_format,
    )
    confirmation = _sub(subject, SAML_SUBJECT_CONFIRMATION, Method=spec.subject_confirmation_method)
    _sub(
        confirmation,
        SAML_SUBJECT_CONFIRMATION_DATA,
        NotBefore=_instant(spec.subject_not_before),
        NotOnOrAfter=_instant(_pick(spec.subject_not_on_or_after, expiry)),
        Recipient=_pick(spec.recipient, spec.acs_url),
        InResponseTo=spec.in_response_to,
    )

    if spec.include_conditions:
        conditions = _sub(
            assertion,
            SAML_CONDITIONS,
            NotBefore=_instant(_pick(spec.not_before, spec.now)),
            NotOnOrAfter=_instant(_pick(spec.not_on_or_after, expiry)),
        )
        audiences = [spec.sp_entity_id] if spec.audiences is None else list(spec.audiences)
        if audiences:
            restriction = _sub(conditions, SAML_AUDIENCE_RESTRICTION)
            for audience in audiences:
                _sub(restriction, SAML_AUDIENCE, audience)

    if spec.include_authn_statement:
        statement = _sub(
            assertion,
            SAML_AUTHN_STATEMENT,
            AuthnInstant=format_instant(spec.authn_instant or spec.issue_instant),
            SessionIndex=_pick(spec.session_index, spec.assertion_id),
            SessionNotOnOrAfter=_instant(spec.session_not_on_or_after),
        )
        context = _sub(statement, SAML_AUTHN_CONTEXT)
        _sub(context, SAML_AUTHN_CONTEXT_CLASS_REF, spec.authn_context_class_ref)

    if spec.attributes:
        attribute_statement = _sub(assertion, SAML_ATTRIBUTE_STATEMENT)
        for name, values in spec.attributes.items():
            attribute = _sub(
                attribute_statement,
                SAML_ATTRIBUTE,
                Name=name,
                NameFormat=spec.attribute_name_format,
                FriendlyName=spec.attribute_friendly_names.get(name),
            )
            for value in values:
                if spec.attribute_value_xsi_type is None:
                    _sub(attribute, SAML_ATTRIBUTE_VALUE, value)
                else:
                    element = etree.SubElement(attribute, SAML_ATTRIBUTE_VALUE, nsmap={"xs": _NS_XS, "xsi": NS_XSI})
                    element.set(f"{{{NS_XSI}}}type", spec.attribute_value_xsi_type)
                    element.text = value
    return root


# --------------------------------------------------------------------------------------------------
# Signing (signxml only)

_SIGNATURE_ALIASES: Final = {
    "rsa-pss-sha256": "sha256-rsa-MGF1",
    "rsa-pss-sha384": "sha384-rsa-MGF1",
    "rsa-pss-sha512": "sha512-rsa-MGF1",
    "rsa-pss": "sha256-rsa-MGF1",
}
_C14N_ALIASES: Final = {
    "exc": CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
    "exc-with-comments": CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0_WITH_COMMENTS,
    "c14n": CanonicalizationMethod.CANONICAL_XML_1_0,
    "c14n-with-comments": CanonicalizationMethod.CANONICAL_XML_1_0_WITH_COMMENTS,
    "c14n11": CanonicalizationMethod.CANONICAL_XML_1_1,
    "c14n11-with-comments": CanonicalizationMethod.CANONICAL_XML_1_1_WITH_COMMENTS,
}


def _signature_method(name: str) -> SignatureMethod:
    """``"rsa-sha256"``-style fragment, alias or full URI -> signxml SignatureMethod."""
    if "#" in name:
        return SignatureMethod(name)
    fragment = "#" + _SIGNATURE_ALIASES.get(name, name)
    for method in SignatureMethod:
        if method.value.endswith(fragment):
            return method
    raise ValueError(f"unknown signature algorithm {name!r}")


def _digest_method(name: str) -> DigestAlgorithm:
    """``"sha256"``-style fragment or full URI -> signxml DigestAlgorithm."""
    if "#" in name:
        return DigestAlgorithm(name)
    for method in DigestAlgorithm:
        if method.value.endswith("#" + name):
            return method
    raise ValueError(f"unknown digest algorithm {name!r}")


def _c14n_method(name: str) -> CanonicalizationMethod:
    """Short name (``"exc"``, ``"c14n"``, ``"c14n11"``, ``...-with-comments``) or URI -> signxml enum."""
    if name in _C14N_ALIASES:
        return _C14N_ALIASES[name]
    try:
        return CanonicalizationMethod(name)
    except Exception:
        raise ValueError(f"unknown canonicalization {name!r}") from None


class _LegacySHA1Signer(XMLSigner):
    """signxml's XMLSigner with its SHA-1 refusal switched off. TEST VECTORS ONLY.

    signxml 5 raises ``InvalidInput`` in ``XMLSigner.__init__`` (via ``check_deprecated_methods``) for
    any SHA-1 signature or digest algorithm. fedlib's tests need SHA-1 signed Responses to prove that
    the verifier rejects them, and real legacy IdPs still emit them, so this subclass disables only that
    refusal; canonicalisation, digesting and RSA-SHA1 (PKCS#1 v1.5) signing remain signxml's own,
    standards-conformant code. Used only when a SHA-1 algorithm is explicitly requested.
    """

    def check_deprecated_methods(self) -> None:
        return None


def _check_key(method: SignatureMethod, key: TestKey | bytes) -> rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | bytes:
    """Return the signing secret for ``method``, refusing key/algorithm mismatches with a clear error."""
    name = method.name
    if name.startswith("HMAC_"):
        if not isinstance(key, bytes):
            raise ValueError("HMAC signature algorithms need the shared secret as bytes, not a TestKey")
        return key
    if isinstance(key, bytes):
        raise ValueError(f"{method.value} needs a TestKey, not bytes")
    if name.startswith("RSA_") or name.endswith("_RSA_MGF1"):
        if not isinstance(key.private_key, rsa.RSAPrivateKey):
            raise ValueError(f"{method.value} needs an RSA key")
    elif name.startswith("ECDSA_"):
        if not isinstance(key.private_key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{method.value} needs an EC key")
    else:
        raise ValueError(f"unsupported signature algorithm {method.value}")
    return key.private_key


def _default_signature_algorithm(key: TestKey | bytes) -> str:
    if isinstance(key, bytes):
        return "hmac-sha256"
    return "rsa-sha256" if key.kind == "rsa" else "ecdsa-sha256"


def sign_element(
    element: etree._Element,
    key: TestKey | bytes,
    *,
    signature_algorithm: str | None = None,
    digest_algorithm: str = "sha256",
    c14n: str = "exc",
    include_cert: bool = True,
    include_key_value: bool = False,
    include_key_info: bool = True,
    certificates: Sequence[x509.Certificate] | None = None,
    key_name: str | None = None,
    inclusive_ns_prefixes: Sequence[str] | None = None,
    wrap_certificates: bool = False,
) -> etree._Element:
    """Sign ``element`` in place with an enveloped XML signature, as a SAML IdP does (TEST USE ONLY).

    The ``ds:Signature`` is placed where the SAML schema wants it: immediately after the element's
    ``saml:Issuer`` child, or first if it has none. It has one Reference, ``URI="#<ID>"`` (the element's
    ``ID`` attribute), with the enveloped-signature and canonicalisation transforms. Signing is done by
    signxml's ``XMLSigner`` using its ``<ds:Signature Id="placeholder"/>`` mechanism on a copy of the
    element (signxml always works on a serialised copy); the finished Signature is then moved into
    ``element`` at the placeholder's position, so the caller's tree and element objects stay valid.
    Sign inner elements first (an Assertion before its Response) so outer digests cover inner
    signatures.

    Args:
        element: the element to sign; must carry an ``ID`` attribute.
        key: a :class:`TestKey`, or for ``hmac-*`` algorithms the shared secret as bytes.
        signature_algorithm: a URI or its fragment: ``rsa-sha256`` (default for RSA keys),
            ``rsa-sha384``, ``rsa-sha512``, ``rsa-sha1``, ``ecdsa-sha256`` (default for EC keys),
            ``ecdsa-sha384``, ``ecdsa-sha512``, ``ecdsa-sha1``, RSA-PSS as ``sha256-rsa-MGF1`` (alias
            ``rsa-pss-sha256``) and friends, ``hmac-sha256`` etc.
        digest_algorithm: a URI or fragment: ``sha256`` (default), ``sha384``, ``sha512``, ``sha1``, ...
        c14n: ``"exc"`` (default), ``"c14n"``, ``"c14n11"``, any of those with ``"-with-comments"``, or a
            URI. Used both for SignedInfo and as the Reference transform.
        include_cert: put ``X509Data/X509Certificate`` in KeyInfo. When False (and KeyInfo is kept),
            signxml writes a ``KeyValue`` instead.
        include_key_value: also write ``KeyValue`` next to the certificate.
        include_key_info: when False, the signature has no ``ds:KeyInfo`` at all.
        certificates: certificates for X509Data instead of ``key.certificate`` (e.g. a trusted cert
            next to a signature by another key).
        key_name: optional ``ds:KeyName``.
        inclusive_ns_prefixes: exclusive-c14n ``InclusiveNamespaces PrefixList``.
        wrap_certificates: keep signxml's 64-column line breaks inside ``ds:X509Certificate`` (as
            Shibboleth emits); by default the base64 is one line (as AD FS and Entra ID emit). KeyInfo
            is outside the signed data, so this does not affect the signature.

    Returns:
        ``element`` itself, now carrying the signature.

    Raises:
        ValueError: no ``ID`` attribute, unknown algorithm, or a key that does not fit the algorithm.
    """
    element_id = element.get("ID")
    if element_id is None:
        raise ValueError("the element to sign has no ID attribute")
    method = _signature_method(signature_algorithm or _default_signature_algorithm(key))
    digest = _digest_method(digest_algorithm)
    canon = _c14n_method(c14n)
    secret = _check_key(method, key)

    signer_cls = _LegacySHA1Signer if "SHA1" in method.name or "SHA1" in digest.name else XMLSigner
    signer = signer_cls(
        method=SignatureConstructionMethod.enveloped,
        signature_algorithm=method,
        digest_algorithm=digest,
        c14n_algorithm=canon,
    )
    if not include_key_info:
        signer.signature_annotators = []

    certs: list[x509.Certificate] | None = None
    if include_cert and isinstance(key, TestKey):
        certs = [key.certificate] if certificates is None else list(certificates)
    elif include_cert and certificates is not None:
        certs = list(certificates)

    # Schema position: right after the Issuer child, else first.
    index = 0
    for position, child in enumerate(element):
        if child.tag == SAML_ISSUER:
            index = position + 1
            break
    placeholder = etree.Element(DS_SIGNATURE, nsmap={"ds": NS_DS})
    placeholder.set("Id", "placeholder")
    element.insert(index, placeholder)
    try:
        signed_copy = signer.sign(
            element,
            key=secret,
            cert=certs,
            reference_uri=f"#{element_id}",
            id_attribute="ID",
            key_name=key_name,
            always_add_key_value=include_key_value and certs is not None,
            inclusive_ns_prefixes=list(inclusive_ns_prefixes) if inclusive_ns_prefixes else None,
        )
    except BaseException:
        element.remove(placeholder)
        raise
    signature = signed_copy[index]
    if signature.tag != DS_SIGNATURE:  # pragma: no cover - would mean signxml moved the signature
        element.remove(placeholder)
        raise RuntimeError("signxml did not put the signature at the placeholder")
    if not wrap_certificates:
        for certificate in signature.iter(DS_X509_CERTIFICATE):
            certificate.text = "".join((certificate.text or "").split())
    element.replace(placeholder, signature)
    return element


def serialize(element: etree._Element) -> bytes:
    """Serialise a (signed) tree the way it goes on the wire: UTF-8, with an XML declaration, no
    pretty-printing (which would break signatures)."""
    return etree.tostring(element, xml_declaration=True, encoding="UTF-8")


def mint_response(
    spec: ResponseSpec,
    key: TestKey,
    *,
    sign_response: bool = True,
    sign_assertion: bool = False,
    signature_algorithm: str | None = None,
    digest_algorithm: str = "sha256",
    c14n: str = "exc",
    include_cert: bool = True,
) -> bytes:
    """Build, sign and serialise a Response (TEST USE ONLY).

    When both ``sign_assertion`` and ``sign_response`` are set, the Assertion is signed first, then
    the Response, so the Response's digest covers the Assertion's signature (as real IdPs do).

    Args:
        spec: the Response to mint.
        key: the TEST signing key.
        sign_response: sign the ``samlp:Response``.
        sign_assertion: sign the ``saml:Assertion`` (ValueError if the spec has none).
        signature_algorithm: see :func:`sign_element`; default by key kind (``rsa-sha256`` or
            ``ecdsa-sha256``).
        digest_algorithm: see :func:`sign_element`.
        c14n: see :func:`sign_element`.
        include_cert: put the certificate into each signature's KeyInfo (else a KeyValue).

    Returns:
        The Response as UTF-8 bytes with an XML declaration.
    """
    root = build_response(spec)
    targets: list[etree._Element] = []
    if sign_assertion:
        assertion = root.find(SAML_ASSERTION)
        if assertion is None:
            raise ValueError("sign_assertion=True but the spec builds no Assertion")
        targets.append(assertion)
    if sign_response:
        targets.append(root)
    for target in targets:  # inner first
        sign_element(
            target,
            key,
            signature_algorithm=signature_algorithm,
            digest_algorithm=digest_algorithm,
            c14n=c14n,
            include_cert=include_cert,
        )
    return serialize(root)


def mint_response_b64(
    spec: ResponseSpec,
    key: TestKey,
    *,
    sign_response: bool = True,
    sign_assertion: bool = False,
    signature_algorithm: str | None = None,
    digest_algorithm: str = "sha256",
    c14n: str = "exc",
    include_cert: bool = True,
) -> str:
    """:func:`mint_response`, base64-encoded: the ``SAMLResponse`` form value of the HTTP-POST binding."""
    xml = mint_response(
        spec,
        key,
        sign_response=sign_response,
        sign_assertion=sign_assertion,
        signature_algorithm=signature_algorithm,
        digest_algorithm=digest_algorithm,
        c14n=c14n,
        include_cert=include_cert,
    )
    return base64.b64encode(xml).decode("ascii")
