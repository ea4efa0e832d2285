"""IdP metadata (SAML 2.0 metadata spec): the entity ID, endpoints and the only keys a response may use.

``parse_idp_metadata`` reads an md:EntityDescriptor, or an md:EntitiesDescriptor (a federation
aggregate, optionally signed) from which one entity is selected. Anything unusable raises
``ConfigurationError``: metadata is configuration, and bad configuration must stop start-up, not be
discovered by rejecting every login.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from lxml import etree

from fedlib._xml.ids import IdIndex
from fedlib._xml.limits import METADATA_XML_LIMITS
from fedlib._xml.parse import b64_text, parse_xml
from fedlib.clock import ensure_aware, parse_instant
from fedlib.constants import (
    DS_KEY_INFO,
    DS_SIGNATURE,
    DS_X509_CERTIFICATE,
    DS_X509_DATA,
    NS_MD,
    NS_MDUI,
    PROTOCOL_SAML2,
    qname,
)
from fedlib.errors import ConfigurationError, ResponseRejected
from fedlib.xmldsig.trust import TrustAnchors
from fedlib.xmldsig.verify import verify_enveloped_signature

#: Federation aggregates are large (eduGAIN: ~100 MB); a single entity's metadata is a few KB.
DEFAULT_MAX_METADATA_BYTES = 128 * 1024 * 1024

_MD_ENTITY = qname(NS_MD, "EntityDescriptor")
_MD_ENTITIES = qname(NS_MD, "EntitiesDescriptor")
_MD_IDPSSO = qname(NS_MD, "IDPSSODescriptor")
_MD_KEY_DESCRIPTOR = qname(NS_MD, "KeyDescriptor")
_MD_SSO = qname(NS_MD, "SingleSignOnService")
_MD_SLO = qname(NS_MD, "SingleLogoutService")
_MD_EXTENSIONS = qname(NS_MD, "Extensions")
_MD_ORGANIZATION = qname(NS_MD, "Organization")
_MD_ORG_DISPLAY_NAME = qname(NS_MD, "OrganizationDisplayName")
_MDUI_UIINFO = qname(NS_MDUI, "UIInfo")
_MDUI_DISPLAY_NAME = qname(NS_MDUI, "DisplayName")
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
#: A display name longer than this is cut (it is only shown, on the discovery page).
MAX_DISPLAY_NAME = 200


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A protocol endpoint: where to send a message with a given binding."""

    binding: str
    location: str
    response_location: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class IdPMetadata:
    """What fedlib knows and trusts about one IdP. Built by ``parse_idp_metadata`` or by hand."""

    entity_id: str
    signing_certificates: tuple[x509.Certificate, ...]
    sso_endpoints: tuple[Endpoint, ...] = ()
    slo_endpoints: tuple[Endpoint, ...] = ()
    want_authn_requests_signed: bool = False
    valid_until: datetime | None = None
    display_name: str | None = None
    """A name for people (discovery page): ``mdui:UIInfo/DisplayName``, else ``OrganizationDisplayName``
    (English preferred, then the first); None when the metadata has neither. Shown only, never trusted."""
    trust: TrustAnchors = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.entity_id:
            raise ConfigurationError("IdP metadata has an empty entityID")
        if not self.signing_certificates:
            raise ConfigurationError(f"IdP {self.entity_id!r} lists no signing certificate in its metadata")
        object.__setattr__(self, "trust", TrustAnchors.from_certificates(self.signing_certificates))

    def sso_endpoint(self, binding: str) -> Endpoint | None:
        """The first SingleSignOnService with ``binding``, or None."""
        return next((e for e in self.sso_endpoints if e.binding == binding), None)

    def slo_endpoint(self, binding: str) -> Endpoint | None:
        """The first SingleLogoutService with ``binding``, or None."""
        return next((e for e in self.slo_endpoints if e.binding == binding), None)


def parse_idp_metadata(
    xml: bytes,
    *,
    now: datetime,
    entity_id: str | None = None,
    signed_by: Sequence[x509.Certificate] | None = None,
    max_bytes: int = DEFAULT_MAX_METADATA_BYTES,
) -> IdPMetadata:
    """Read IdP metadata.

    Args:
        xml: an md:EntityDescriptor or md:EntitiesDescriptor document.
        now: the current time, for validUntil.
        entity_id: which entity to take from an aggregate (required when it holds more than one IdP).
        signed_by: if given, the document element must carry an enveloped signature by one of these
            certificates (the federation operator's), verified under the same profile as responses.
        max_bytes: size cap on the document.

    Raises:
        ConfigurationError: the metadata is malformed, expired, unsigned when a signature is required,
            or holds no usable IdP.
    """
    now = ensure_aware(now)
    data: object = xml  # callers pass anything: a str (a file read as text), None from a missing setting
    if isinstance(data, str):
        try:
            data = data.encode("utf-8")
        except UnicodeEncodeError:
            raise ConfigurationError("IdP metadata is not valid text (it holds a lone surrogate)") from None
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ConfigurationError(f"IdP metadata must be bytes, not {type(data).__name__}")
    try:
        root = parse_xml(bytes(data), max_bytes=max_bytes, limits=METADATA_XML_LIMITS)
    except ResponseRejected as exc:
        raise ConfigurationError(f"IdP metadata is not usable XML: {exc.message}", detail=exc.detail) from None
    if signed_by is not None:
        root = _verify_aggregate(root, signed_by)
    if root.tag == _MD_ENTITY:
        candidates = [root]
    elif root.tag == _MD_ENTITIES:
        candidates = list(root.iter(_MD_ENTITY))
    else:
        raise ConfigurationError(
            f"IdP metadata must be an md:EntityDescriptor or md:EntitiesDescriptor, not {etree.QName(root).localname}"
        )
    entity = _select_entity(candidates, entity_id)
    idp = _idp_descriptor(entity)
    valid_until = _earliest_valid_until(entity, idp)
    if valid_until is not None and valid_until <= now:
        raise ConfigurationError(
            f"IdP metadata for {entity.get('entityID')!r} expired at {valid_until.isoformat()}; fetch a fresh copy"
        )
    return IdPMetadata(
        entity_id=entity.get("entityID") or "",
        signing_certificates=_signing_certificates(idp, entity.get("entityID") or ""),
        sso_endpoints=_endpoints(idp, _MD_SSO),
        slo_endpoints=_endpoints(idp, _MD_SLO),
        want_authn_requests_signed=(idp.get("WantAuthnRequestsSigned") or "").strip() in ("true", "1"),
        valid_until=valid_until,
        display_name=_display_name(entity, idp),
    )


def _display_name(entity: etree._Element, idp: etree._Element) -> str | None:
    """``mdui:UIInfo/DisplayName`` of the IdP role, else the entity's ``md:OrganizationDisplayName``;
    ``xml:lang`` ``en`` (or ``en-*``) first, then the first non-blank one in document order."""
    for candidates in (
        [
            name
            for ext in idp.iterchildren(_MD_EXTENSIONS)
            for ui in ext.iterchildren(_MDUI_UIINFO)
            for name in ui.iterchildren(_MDUI_DISPLAY_NAME)
        ],
        [name for org in entity.iterchildren(_MD_ORGANIZATION) for name in org.iterchildren(_MD_ORG_DISPLAY_NAME)],
    ):
        best: str | None = None
        for element in candidates:
            text = " ".join((element.text or "").split())
            if not text:
                continue
            lang = (element.get(_XML_LANG) or "").lower()
            if lang == "en" or lang.startswith("en-"):
                return text[:MAX_DISPLAY_NAME]
            if best is None:
                best = text[:MAX_DISPLAY_NAME]
        if best is not None:
            return best
    return None


def _verify_aggregate(
    root: etree._Element, signed_by: Sequence[x509.Certificate], *, ids: IdIndex | None = None
) -> etree._Element:
    """Verify the document element's one enveloped signature; ``ids``: the index of the root's ID if the
    caller already has it (``load_metadata_document`` gets it from its structural pass), else built here."""
    signatures = [child for child in root if child.tag == DS_SIGNATURE]
    if len(signatures) != 1:
        raise ConfigurationError("the metadata must carry exactly one signature on its document element")
    # Signature wrapping in metadata: the only signature fedlib accepts here is enveloped in the document
    # element and must reference it (check_reference_target: its parent's own ID), the digest is computed
    # over that element itself (never over an element found by ID lookup), and every entity is then read
    # from that same verified element. So the one ID that matters is the root's, and the rule kept from
    # the Response path is that no other element may carry it under any ID-like name: proven by one
    # XPath pass for that value (IdIndex.for_value) instead of indexing every ID of a 44 MB aggregate
    # (a quarter of the load time). Other duplicate IDs inside the signed aggregate are covered by the
    # signature and never looked up. Responses still build the full index and refuse any duplicate.
    own_id = root.get("ID")
    if ids is None:
        ids = IdIndex.for_value(root, own_id) if own_id is not None else IdIndex(holders={})
    try:
        verified = verify_enveloped_signature(
            root, signatures[0], TrustAnchors.from_certificates(signed_by), ids=ids, stream_digest=True
        )
    except ResponseRejected as exc:
        raise ConfigurationError(f"the metadata signature is not valid ({exc.code}): {exc.message}") from None
    return verified.element


def _has_idp_role(entity: etree._Element) -> bool:
    return any(
        PROTOCOL_SAML2 in (d.get("protocolSupportEnumeration") or "").split() for d in entity.iterchildren(_MD_IDPSSO)
    )


def _select_entity(candidates: list[etree._Element], entity_id: str | None) -> etree._Element:
    if entity_id is not None:
        matches = [e for e in candidates if e.get("entityID") == entity_id]
        if not matches:
            raise ConfigurationError(f"the metadata has no entity {entity_id!r}")
        if len(matches) > 1:
            raise ConfigurationError(f"the metadata lists entity {entity_id!r} more than once")
        return matches[0]
    idps = [e for e in candidates if _has_idp_role(e)]
    if len(idps) != 1:
        raise ConfigurationError(f"the metadata holds {len(idps)} SAML 2.0 IdPs; name the one to use by its entityID")
    return idps[0]


def _idp_descriptor(entity: etree._Element) -> etree._Element:
    for descriptor in entity.iterchildren(_MD_IDPSSO):
        if PROTOCOL_SAML2 in (descriptor.get("protocolSupportEnumeration") or "").split():
            return descriptor
    raise ConfigurationError(
        f"entity {entity.get('entityID')!r} has no IDPSSODescriptor supporting the SAML 2.0 protocol"
    )


def _earliest_valid_until(entity: etree._Element, idp: etree._Element) -> datetime | None:
    values: list[datetime] = []
    for element in (idp, entity, *entity.iterancestors()):
        raw = element.get("validUntil")
        if raw is None:
            continue
        try:
            values.append(parse_instant(raw))
        except (ValueError, OverflowError):
            raise ConfigurationError(f"the metadata has an unreadable validUntil {raw!r}") from None
    return min(values) if values else None


def _signing_certificates(idp: etree._Element, entity_id: str) -> tuple[x509.Certificate, ...]:
    certs: list[x509.Certificate] = []
    seen: set[bytes] = set()
    for descriptor in idp.iterchildren(_MD_KEY_DESCRIPTOR):
        if descriptor.get("use") not in (None, "signing"):
            continue
        for key_info in descriptor.iterchildren(DS_KEY_INFO):
            for data in key_info.iterchildren(DS_X509_DATA):
                for cert_el in data.iterchildren(DS_X509_CERTIFICATE):
                    der = b64_text(cert_el.text)
                    if der is None:
                        raise ConfigurationError(f"IdP {entity_id!r}: an X509Certificate is not valid base64")
                    try:
                        cert = x509.load_der_x509_certificate(der)
                    except ValueError:
                        raise ConfigurationError(
                            f"IdP {entity_id!r}: an X509Certificate is not a certificate"
                        ) from None
                    try:
                        cert.public_key()  # parsed lazily: an unknown or broken key must stop here, typed
                    except (ValueError, UnsupportedAlgorithm) as exc:
                        raise ConfigurationError(
                            f"IdP {entity_id!r}: a signing certificate's public key cannot be used ({exc})"
                        ) from None
                    if der not in seen:
                        seen.add(der)
                        certs.append(cert)
    if not certs:
        raise ConfigurationError(
            f"IdP {entity_id!r} lists no signing certificate (KeyDescriptor use='signing' or without use)"
        )
    return tuple(certs)


def _endpoints(idp: etree._Element, tag: str) -> tuple[Endpoint, ...]:
    out: list[Endpoint] = []
    for element in idp.iterchildren(tag):
        binding = element.get("Binding")
        location = element.get("Location")
        if not binding or not location:
            raise ConfigurationError("an IdP endpoint lacks its Binding or Location")
        out.append(Endpoint(binding=binding, location=location, response_location=element.get("ResponseLocation")))
    return tuple(out)
