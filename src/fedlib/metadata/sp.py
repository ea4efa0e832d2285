"""SP metadata (SAML 2.0 metadata spec): the document an IdP imports to know this service provider.

``render_sp_metadata`` turns an ``SPConfig`` into one ``md:EntityDescriptor`` holding one
``md:SPSSODescriptor``, in the element order the OASIS schema requires (tests validate every variant
against ``saml-schema-metadata-2.0.xsd``). What is published, and why:

- ``AssertionConsumerService``: HTTP-POST only (the one binding fedlib accepts Responses on); ``acs_url``
  is index 0 and ``isDefault``, ``additional_acs_urls`` follow with indexes 1, 2, ...
- ``SingleLogoutService``: HTTP-Redirect and HTTP-POST at ``slo_url``, when configured.
- ``KeyDescriptor use="signing"`` for each signing certificate, current first, then the next one
  during a rollover. **Never** an encryption key, and never a KeyDescriptor without ``use`` (which
  means signing *and* encryption): AD FS, Shibboleth IdP, Keycloak and others encrypt assertions as
  soon as the SP's metadata offers an encryption key, and fedlib refuses encrypted claims
  (``encrypted-claims-unsupported``) by design. Publishing no encryption key is how the IdP is told.
- ``AuthnRequestsSigned``: true exactly when the SP has a signing key.
- ``WantAssertionsSigned="false"``, always, stated explicitly. fedlib's requirement is a signed
  *Response* (SAML profiles §4.1.3.5 allow either the Response or each Assertion to carry the
  signature; fedlib takes the Response signature, which also covers Status, Destination and
  InResponseTo). Metadata has no attribute for that. ``WantAssertionsSigned="true"`` would be untrue (an
  assertion-only signature is still rejected, ``assertion-only-signature``) and would make IdPs that
  honour it (Keycloak, Shibboleth) add a second signature fedlib must also verify, at no gain. The
  Response signature is configured on the IdP: AD FS ``Set-AdfsRelyingPartyTrust -SamlResponseSignature
  MessageAndAssertion``; Entra ID "Sign SAML response and assertion"; Keycloak "Sign documents" (on by
  default); Shibboleth IdP signs Responses by default.
- Optional ``Organization`` / ``ContactPerson``, ``validUntil`` / ``cacheDuration``, and an enveloped
  signature over the whole EntityDescriptor (``sign_with``).
"""

from __future__ import annotations

import base64
import secrets
from datetime import datetime, timedelta
from typing import Final

from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

from fedlib.clock import ensure_aware, format_instant
from fedlib.config import ContactPerson, Organization, SPConfig
from fedlib.constants import (
    BINDING_HTTP_POST,
    BINDING_HTTP_REDIRECT,
    DS_KEY_INFO,
    DS_X509_CERTIFICATE,
    DS_X509_DATA,
    NS_DS,
    NS_MD,
    PROTOCOL_SAML2,
    XML_NS,
    qname,
)
from fedlib.errors import ConfigurationError
from fedlib.xmldsig.sign import Signer, sign_enveloped

_MD_ENTITY_DESCRIPTOR: Final = qname(NS_MD, "EntityDescriptor")
_MD_SPSSO_DESCRIPTOR: Final = qname(NS_MD, "SPSSODescriptor")
_MD_KEY_DESCRIPTOR: Final = qname(NS_MD, "KeyDescriptor")
_MD_SINGLE_LOGOUT_SERVICE: Final = qname(NS_MD, "SingleLogoutService")
_MD_NAME_ID_FORMAT: Final = qname(NS_MD, "NameIDFormat")
_MD_ASSERTION_CONSUMER_SERVICE: Final = qname(NS_MD, "AssertionConsumerService")
_MD_ORGANIZATION: Final = qname(NS_MD, "Organization")
_MD_ORGANIZATION_NAME: Final = qname(NS_MD, "OrganizationName")
_MD_ORGANIZATION_DISPLAY_NAME: Final = qname(NS_MD, "OrganizationDisplayName")
_MD_ORGANIZATION_URL: Final = qname(NS_MD, "OrganizationURL")
_MD_CONTACT_PERSON: Final = qname(NS_MD, "ContactPerson")
_MD_COMPANY: Final = qname(NS_MD, "Company")
_MD_GIVEN_NAME: Final = qname(NS_MD, "GivenName")
_MD_SUR_NAME: Final = qname(NS_MD, "SurName")
_MD_EMAIL_ADDRESS: Final = qname(NS_MD, "EmailAddress")
_MD_TELEPHONE_NUMBER: Final = qname(NS_MD, "TelephoneNumber")
_XML_LANG: Final = qname(XML_NS, "lang")

#: md:entityIDType is an anyURI of at most 1024 characters (metadata §2.2.1).
_MAX_ENTITY_ID: Final = 1024


def format_duration(value: timedelta) -> str:
    """A positive timedelta as an xs:duration, e.g. ``P1DT2H`` or ``PT30M``; whole seconds only.

    Raises:
        ConfigurationError: zero, negative, or with a fraction of a second.
    """
    if value <= timedelta(0) or value.microseconds:
        raise ConfigurationError("cache_duration must be a positive whole number of seconds")
    days, rest = value.days, value.seconds
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    out = "P" + (f"{days}D" if days else "")
    time = "".join(f"{n}{unit}" for n, unit in ((hours, "H"), (minutes, "M"), (seconds, "S")) if n)
    return out + ("T" + time if time else "")


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    child = etree.SubElement(parent, tag)
    for name, value in attrs.items():
        child.set(name, value)
    if text is not None:
        child.text = text
    return child


def _localized(parent: etree._Element, tag: str, text: str, lang: str) -> None:
    child = etree.SubElement(parent, tag)
    child.set(_XML_LANG, lang)
    child.text = text


def _key_descriptor(parent: etree._Element, der: bytes) -> None:
    descriptor = _sub(parent, _MD_KEY_DESCRIPTOR, use="signing")
    data = _sub(_sub(descriptor, DS_KEY_INFO), DS_X509_DATA)
    _sub(data, DS_X509_CERTIFICATE, base64.b64encode(der).decode("ascii"))


def _organization(parent: etree._Element, organization: Organization) -> None:
    element = _sub(parent, _MD_ORGANIZATION)
    _localized(element, _MD_ORGANIZATION_NAME, organization.name, organization.lang)
    _localized(element, _MD_ORGANIZATION_DISPLAY_NAME, organization.display_name, organization.lang)
    _localized(element, _MD_ORGANIZATION_URL, organization.url, organization.lang)


def _contact(parent: etree._Element, contact: ContactPerson) -> None:
    element = _sub(parent, _MD_CONTACT_PERSON, contactType=contact.contact_type)
    if contact.company is not None:
        _sub(element, _MD_COMPANY, contact.company)
    if contact.given_name is not None:
        _sub(element, _MD_GIVEN_NAME, contact.given_name)
    if contact.surname is not None:
        _sub(element, _MD_SUR_NAME, contact.surname)
    for address in contact.email_addresses:
        # md:EmailAddress is typed xs:anyURI, so an address is published as a mailto: URI.
        _sub(element, _MD_EMAIL_ADDRESS, address if address.startswith("mailto:") else f"mailto:{address}")
    for number in contact.telephone_numbers:
        _sub(element, _MD_TELEPHONE_NUMBER, number)


def build_sp_metadata(
    sp: SPConfig,
    *,
    valid_until: datetime | None = None,
    cache_duration: timedelta | None = None,
    entity_descriptor_id: str | None = None,
) -> etree._Element:
    """The unsigned ``md:EntityDescriptor`` tree that ``render_sp_metadata`` serialises (see there)."""
    if len(sp.entity_id) > _MAX_ENTITY_ID:
        raise ConfigurationError(f"entity_id is {len(sp.entity_id)} characters; SAML metadata allows {_MAX_ENTITY_ID}")
    root = etree.Element(_MD_ENTITY_DESCRIPTOR, nsmap={"md": NS_MD, "ds": NS_DS})
    root.set("entityID", sp.entity_id)
    if entity_descriptor_id is not None:
        root.set("ID", entity_descriptor_id)
    if valid_until is not None:
        root.set("validUntil", format_instant(ensure_aware(valid_until)))
    if cache_duration is not None:
        root.set("cacheDuration", format_duration(cache_duration))

    descriptor = _sub(
        root,
        _MD_SPSSO_DESCRIPTOR,
        protocolSupportEnumeration=PROTOCOL_SAML2,
        AuthnRequestsSigned="true" if sp.authn_requests_signed else "false",
        WantAssertionsSigned="false",
    )
    for certificate in sp.signing_certificates:
        _key_descriptor(descriptor, certificate.public_bytes(Encoding.DER))
    if sp.slo_url is not None:
        for binding in (BINDING_HTTP_REDIRECT, BINDING_HTTP_POST):
            _sub(descriptor, _MD_SINGLE_LOGOUT_SERVICE, Binding=binding, Location=sp.slo_url)
    for name_id_format in sp.name_id_formats:
        _sub(descriptor, _MD_NAME_ID_FORMAT, name_id_format)
    for index, url in enumerate(sp.acs_urls):
        acs = _sub(descriptor, _MD_ASSERTION_CONSUMER_SERVICE, Binding=BINDING_HTTP_POST, Location=url)
        acs.set("index", str(index))
        if index == 0:
            acs.set("isDefault", "true")

    if sp.organization is not None:
        _organization(root, sp.organization)
    for contact in sp.contacts:
        _contact(root, contact)
    return root


def render_sp_metadata(
    sp: SPConfig,
    *,
    valid_until: datetime | None = None,
    cache_duration: timedelta | None = None,
    sign_with: Signer | None = None,
) -> bytes:
    """Render the SP's SAML 2.0 metadata (what is published and why: see the module docstring).

    Args:
        sp: the service provider.
        valid_until: optional ``validUntil`` (aware datetime): IdPs must not use the document after it.
            fedlib does not read the clock; callers compute it (e.g. ``now + timedelta(days=7)``).
        cache_duration: optional ``cacheDuration``: how long an IdP may cache the document before
            fetching it again (whole seconds, positive).
        sign_with: if given, the EntityDescriptor gets an ``ID`` and an enveloped signature (exclusive
            c14n, SHA-256, the signer's algorithm, its certificate in KeyInfo). Typically ``sp.signer``,
            or a federation-specific metadata-signing key.

    Returns:
        UTF-8 XML with an XML declaration, indented for reading (the signature, if any, is computed over
        the indented document and stays valid as long as the bytes are served unchanged).

    Raises:
        ConfigurationError: the entity ID is longer than SAML metadata allows, or ``cache_duration`` is
            not a positive number of whole seconds.
        ValueError: ``valid_until`` is naive.
    """
    root = build_sp_metadata(
        sp,
        valid_until=valid_until,
        cache_duration=cache_duration,
        entity_descriptor_id="_" + secrets.token_hex(16) if sign_with is not None else None,
    )
    etree.indent(root, space="  ")
    if sign_with is not None:
        sign_enveloped(root, sign_with)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


__all__ = ["build_sp_metadata", "format_duration", "render_sp_metadata"]
