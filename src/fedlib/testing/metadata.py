"""TEST IdP metadata: a minimal, schema-ordered ``md:EntityDescriptor`` for a minted IdP.

Pairs with :mod:`fedlib.testing.responses`: publish the certificate of the :class:`TestKey` that signs
the Responses, and fedlib's metadata parser can pin it. TEST USE ONLY.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import datetime
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree

from fedlib.clock import format_instant
from fedlib.constants import (
    BINDING_HTTP_POST,
    BINDING_HTTP_REDIRECT,
    NS_DS,
    NS_MD,
    PROTOCOL_SAML2,
    qname,
)
from fedlib.testing.keys import TestKey

__all__ = ["idp_metadata_xml"]

_MD_ENTITY_DESCRIPTOR: Final = qname(NS_MD, "EntityDescriptor")
_MD_IDP_SSO_DESCRIPTOR: Final = qname(NS_MD, "IDPSSODescriptor")
_MD_KEY_DESCRIPTOR: Final = qname(NS_MD, "KeyDescriptor")
_MD_SINGLE_LOGOUT_SERVICE: Final = qname(NS_MD, "SingleLogoutService")
_MD_NAME_ID_FORMAT: Final = qname(NS_MD, "NameIDFormat")
_MD_SINGLE_SIGN_ON_SERVICE: Final = qname(NS_MD, "SingleSignOnService")
_DS_KEY_INFO: Final = qname(NS_DS, "KeyInfo")
_DS_X509_DATA: Final = qname(NS_DS, "X509Data")
_DS_X509_CERTIFICATE: Final = qname(NS_DS, "X509Certificate")


def idp_metadata_xml(
    entity_id: str,
    certificates: Sequence[x509.Certificate | TestKey],
    *,
    sso_url: str,
    slo_url: str | None = None,
    want_authn_requests_signed: bool = False,
    valid_until: datetime | None = None,
    use: str | None = "signing",
    name_id_formats: Sequence[str] = (),
) -> bytes:
    """Render SAML 2.0 metadata for a TEST IdP.

    The document is one ``md:EntityDescriptor`` holding one ``md:IDPSSODescriptor``
    (``protocolSupportEnumeration`` SAML 2.0) with, in schema order: one ``md:KeyDescriptor`` per
    certificate (``ds:KeyInfo/ds:X509Data/ds:X509Certificate``, base64 DER), an optional
    ``md:SingleLogoutService`` (HTTP-Redirect and HTTP-POST), any ``md:NameIDFormat``, and ``md:SingleSignOnService``
    for HTTP-Redirect and HTTP-POST. It is not signed.

    Args:
        entity_id: the IdP's ``entityID``.
        certificates: certificates (or :class:`TestKey` objects, whose certificate is used) to publish;
            pass several to model key rollover.
        sso_url: ``Location`` of both SingleSignOnService endpoints.
        slo_url: ``Location`` of a SingleLogoutService endpoint, if any.
        want_authn_requests_signed: the ``WantAuthnRequestsSigned`` attribute.
        valid_until: optional ``validUntil`` on the EntityDescriptor (aware datetime).
        use: KeyDescriptor ``use`` (``"signing"``, ``"encryption"``); ``None`` leaves it out, which
            means "both" in SAML metadata.
        name_id_formats: ``md:NameIDFormat`` values to advertise.

    Returns:
        The metadata as UTF-8 bytes with an XML declaration.
    """
    root = etree.Element(_MD_ENTITY_DESCRIPTOR, nsmap={"md": NS_MD, "ds": NS_DS})
    root.set("entityID", entity_id)
    if valid_until is not None:
        root.set("validUntil", format_instant(valid_until))

    descriptor = etree.SubElement(root, _MD_IDP_SSO_DESCRIPTOR)
    descriptor.set("WantAuthnRequestsSigned", "true" if want_authn_requests_signed else "false")
    descriptor.set("protocolSupportEnumeration", PROTOCOL_SAML2)

    for item in certificates:
        certificate = item.certificate if isinstance(item, TestKey) else item
        key_descriptor = etree.SubElement(descriptor, _MD_KEY_DESCRIPTOR)
        if use is not None:
            key_descriptor.set("use", use)
        key_info = etree.SubElement(key_descriptor, _DS_KEY_INFO)
        x509_data = etree.SubElement(key_info, _DS_X509_DATA)
        x509_certificate = etree.SubElement(x509_data, _DS_X509_CERTIFICATE)
        der = certificate.public_bytes(serialization.Encoding.DER)
        x509_certificate.text = base64.b64encode(der).decode("ascii")

    if slo_url is not None:
        for binding in (BINDING_HTTP_REDIRECT, BINDING_HTTP_POST):
            slo = etree.SubElement(descriptor, _MD_SINGLE_LOGOUT_SERVICE)
            slo.set("Binding", binding)
            slo.set("Location", slo_url)
    for name_id_format in name_id_formats:
        etree.SubElement(descriptor, _MD_NAME_ID_FORMAT).text = name_id_format
    for binding in (BINDING_HTTP_REDIRECT, BINDING_HTTP_POST):
        sso = etree.SubElement(descriptor, _MD_SINGLE_SIGN_ON_SERVICE)
        sso.set("Binding", binding)
        sso.set("Location", sso_url)

    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
