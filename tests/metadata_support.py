"""Signed IdP metadata and federation aggregates for the metadata-lifecycle tests (TEST keys only)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from lxml import etree

from fedlib.clock import format_instant
from fedlib.testing import TestKey, default_key, idp_metadata_xml
from fedlib.testing.responses import sign_element

MD = "urn:oasis:names:tc:SAML:2.0:metadata"
SSO = "https://idp.example.org/sso"


def federation_key() -> TestKey:
    return default_key(label="federation")


def entity_xml(
    entity_id: str,
    keys: Sequence[TestKey],
    *,
    valid_until: datetime | None = None,
    cache_duration: str | None = None,
) -> bytes:
    xml = idp_metadata_xml(entity_id, list(keys), sso_url=SSO, valid_until=valid_until)
    if cache_duration is None:
        return xml
    root = etree.fromstring(xml)
    root.set("cacheDuration", cache_duration)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def signed(xml: bytes, signer: TestKey, *, doc_id: str = "_md1") -> bytes:
    """``xml`` with its document element signed by ``signer`` (an ID is added for the reference)."""
    root = etree.fromstring(xml)
    root.set("ID", doc_id)
    sign_element(root, signer)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def aggregate_xml(
    entities: Sequence[bytes],
    *,
    valid_until: datetime | None,
    cache_duration: str | None = None,
) -> bytes:
    root = etree.Element(f"{{{MD}}}EntitiesDescriptor", nsmap={"md": MD})
    if valid_until is not None:
        root.set("validUntil", format_instant(valid_until))
    if cache_duration is not None:
        root.set("cacheDuration", cache_duration)
    for entity in entities:
        root.append(etree.fromstring(entity))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def signed_aggregate(
    entities: Sequence[bytes],
    *,
    signer: TestKey,
    valid_until: datetime | None,
    cache_duration: str | None = None,
) -> bytes:
    return signed(aggregate_xml(entities, valid_until=valid_until, cache_duration=cache_duration), signer)


def days(n: float) -> timedelta:
    return timedelta(days=n)


def binding_kwargs(request: object) -> dict[str, str]:
    """``finish_login`` keyword arguments for the browser that made ``request`` (a ``LoginRequest``).

    Once logins are bound to the browser that started them (issue #8 §3), ``finish_login`` needs the
    request's ``browser_binding`` back; before that there is nothing to pass. Works with both."""
    binding = getattr(request, "browser_binding", None)
    return {"browser_binding": binding} if binding else {}
