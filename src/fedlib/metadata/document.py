"""Metadata documents as a whole (sans-I/O): parse and verify once, index the IdPs, compute the refresh schedule.

This is the pure half of the metadata lifecycle (the fetching, backing files and refresh thread live in
the ``fedlib.federation`` adapter). Everything here takes bytes and an explicit ``now`` and returns frozen
values or raises ``ConfigurationError``.

Trust rules (docs/metadata.md):

* a signature on the document element is required whenever a signer certificate is configured, and
  always for an aggregate (``md:EntitiesDescriptor``) unless the caller explicitly allows unsigned ones
  (only ``parse_idp_metadata`` on a local file does, for backward compatibility); it is verified by
  fedlib's own verifier under the same strict profile as Responses;
* an aggregate must carry ``validUntil`` (``require_valid_until``); expired metadata is never used: the
  document's, an ancestor's, the entity's or the IDPSSODescriptor's ``validUntil`` whichever is earliest;
* ``cacheDuration`` (the document's and the selected entities') shortens the refresh interval.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Final, Literal

from cryptography import x509
from lxml import etree

from fedlib._xml.ids import IdIndex, id_index_of_value
from fedlib._xml.limits import METADATA_XML_LIMITS, LargeDocumentScan, XMLLimits, check_large_document
from fedlib._xml.parse import parse_xml
from fedlib.clock import ensure_aware, parse_instant
from fedlib.constants import DS_SIGNATURE, NS_MD, NS_MDATTR, NS_MDRPI, NS_SAML, qname
from fedlib.errors import ConfigurationError, ResponseRejected
from fedlib.metadata.idp import (
    _MD_ENTITIES,
    _MD_ENTITY,
    _MD_SLO,
    _MD_SSO,
    DEFAULT_MAX_METADATA_BYTES,
    IdPMetadata,
    _display_name,
    _earliest_valid_until,
    _endpoints,
    _has_idp_role,
    _idp_descriptor,
    _signing_certificates,
    _verify_aggregate,
)

# Shibboleth SP's reloadable-resource defaults (minRefreshDelay 600 s, maxRefreshDelay 14400 s) and the
# factor its documentation uses for refreshDelayFactor (0.75).
DEFAULT_MIN_REFRESH: Final = timedelta(seconds=600)
DEFAULT_MAX_REFRESH: Final = timedelta(seconds=14400)
DEFAULT_REFRESH_FACTOR: Final = 0.75
#: The first retry after a failed refresh; each further failure doubles it, up to the minimum delay.
FIRST_RETRY: Final = timedelta(seconds=30)

#: REFEDS Research and Scholarship, an entity category (``http://macedir.org/entity-category``).
REFEDS_RS: Final = "http://refeds.org/category/research-and-scholarship"
#: SIRTFI, an assurance certification (``urn:oasis:names:tc:SAML:attribute:assurance-certification``).
SIRTFI: Final = "https://refeds.org/sirtfi"
ENTITY_CATEGORY: Final = "http://macedir.org/entity-category"
ASSURANCE_CERTIFICATION: Final = "urn:oasis:names:tc:SAML:attribute:assurance-certification"

_MD_EXTENSIONS = qname(NS_MD, "Extensions")
_MDATTR_ENTITY_ATTRIBUTES = qname(NS_MDATTR, "EntityAttributes")
_MDRPI_REGISTRATION_INFO = qname(NS_MDRPI, "RegistrationInfo")
_SAML_ATTRIBUTE = qname(NS_SAML, "Attribute")
_SAML_ATTRIBUTE_VALUE = qname(NS_SAML, "AttributeValue")

_DURATION = re.compile(
    r"P(?!$)(?:(?P<y>\d+)Y)?(?:(?P<mo>\d+)M)?(?:(?P<d>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<h>\d+)H)?(?:(?P<mi>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?"
)
_MAX_DURATION: Final = timedelta(days=365 * 100)


def parse_duration(value: str) -> timedelta:
    """An ``xs:duration`` (``cacheDuration``) as a timedelta; a year counts 365 days, a month 30.

    Raises:
        ConfigurationError: not a non-negative xs:duration (negative durations make no sense as a cache
            lifetime and are refused), or an absurdly long one (over 100 years).
    """
    text = value.strip()
    match = _DURATION.fullmatch(text)
    if match is None or text.endswith("T"):
        raise ConfigurationError(f"the metadata has an unreadable cacheDuration {value[:40]!r}")
    parts = {k: float(v) if v else 0.0 for k, v in match.groupdict().items()}
    days = parts["y"] * 365 + parts["mo"] * 30 + parts["d"]
    seconds = days * 86400 + parts["h"] * 3600 + parts["mi"] * 60 + parts["s"]
    if seconds > _MAX_DURATION.total_seconds():
        raise ConfigurationError(f"the metadata's cacheDuration {value[:40]!r} is over 100 years")
    return timedelta(seconds=seconds)


@dataclass(frozen=True, slots=True, kw_only=True)
class RefreshPolicy:
    """When to fetch metadata again: ``clamp(factor * min(cacheDuration, validUntil - now), min, max)``."""

    min_delay: timedelta = DEFAULT_MIN_REFRESH
    max_delay: timedelta = DEFAULT_MAX_REFRESH
    factor: float = DEFAULT_REFRESH_FACTOR

    def __post_init__(self) -> None:
        if not isinstance(self.min_delay, timedelta) or not isinstance(self.max_delay, timedelta):
            raise ConfigurationError("refresh delays must be timedeltas")
        if self.min_delay <= timedelta(0) or self.max_delay < self.min_delay:
            raise ConfigurationError("refresh delays need 0 < min_delay <= max_delay")
        if not 0.0 < self.factor < 1.0:
            raise ConfigurationError("the refresh factor must be strictly between 0 and 1")

    def next_delay(self, *, now: datetime, valid_until: datetime | None, cache_duration: timedelta | None) -> timedelta:
        """How long to wait before the next fetch after a good one."""
        candidates: list[timedelta] = []
        if cache_duration is not None:
            candidates.append(cache_duration)
        if valid_until is not None:
            candidates.append(ensure_aware(valid_until) - ensure_aware(now))
        if not candidates:
            return self.max_delay
        delay = min(candidates) * self.factor
        return max(self.min_delay, min(self.max_delay, delay))

    def retry_delay(self, failures: int) -> timedelta:
        """How long to wait after ``failures`` consecutive failed fetches (>= 1): doubling from 30 s,
        never more than ``min_delay``."""
        exponent = max(0, min(failures - 1, 20))
        backoff: timedelta = FIRST_RETRY * (2**exponent)
        return min(self.min_delay, backoff)


def _str_set(value: object, what: str) -> frozenset[str]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise ConfigurationError(f"{what} must be a list of URIs, not {type(value).__name__}")
    items = frozenset(value)
    if not all(isinstance(v, str) and v.strip() for v in items):
        raise ConfigurationError(f"{what} must be non-empty strings")
    return items


@dataclass(frozen=True, slots=True, kw_only=True, init=False)
class EntityFilter:
    """Which IdPs of an aggregate to trust, by what the federation registered about them.

    Each non-empty criterion must hold (AND); within one, any listed value is enough (OR). An empty
    filter takes every IdP. Values are compared exactly, as URIs.

    * ``entity_categories``: values of the ``http://macedir.org/entity-category`` entity attribute
      (``mdattr:EntityAttributes``), e.g. :data:`REFEDS_RS`;
    * ``assurance_certifications``: values of ``urn:oasis:names:tc:SAML:attribute:assurance-certification``,
      e.g. :data:`SIRTFI`;
    * ``registration_authorities``: ``mdrpi:RegistrationInfo/@registrationAuthority``;
    * ``entity_attributes``: any ``mdattr:EntityAttributes`` attribute, ``{name: [values]}``: each name
      listed must carry one of its values (the two criteria above are shortcuts for two such names).

    Entity attributes and RegistrationInfo on an enclosing ``md:EntitiesDescriptor`` apply to the entities
    in it (the entity's own RegistrationInfo wins). Everything is read from the verified document only.
    """

    entity_categories: frozenset[str]
    assurance_certifications: frozenset[str]
    registration_authorities: frozenset[str]
    entity_attributes: tuple[tuple[str, frozenset[str]], ...]
    """``(name, values)`` pairs sorted by name (hashable); build with a mapping."""

    def __init__(
        self,
        *,
        entity_categories: Iterable[str] = (),
        assurance_certifications: Iterable[str] = (),
        registration_authorities: Iterable[str] = (),
        entity_attributes: Mapping[str, Iterable[str]] | None = None,
    ) -> None:
        object.__setattr__(self, "entity_categories", _str_set(entity_categories, "entity_categories"))
        object.__setattr__(
            self, "assurance_certifications", _str_set(assurance_certifications, "assurance_certifications")
        )
        object.__setattr__(
            self, "registration_authorities", _str_set(registration_authorities, "registration_authorities")
        )
        object.__setattr__(self, "entity_attributes", _attribute_criteria(entity_attributes))

    def __bool__(self) -> bool:
        return bool(
            self.entity_categories
            or self.assurance_certifications
            or self.registration_authorities
            or self.entity_attributes
        )

    def _attribute_criteria(self) -> list[tuple[str, frozenset[str]]]:
        criteria = list(self.entity_attributes)
        if self.entity_categories:
            criteria.append((ENTITY_CATEGORY, self.entity_categories))
        if self.assurance_certifications:
            criteria.append((ASSURANCE_CERTIFICATION, self.assurance_certifications))
        return criteria

    def matches(self, entity: etree._Element) -> bool:
        """Whether the md:EntityDescriptor ``entity`` (from a verified document) passes the filter."""
        criteria = self._attribute_criteria()
        if criteria:
            attributes = _entity_attributes(entity)
            if any(not accepted & attributes.get(name, set()) for name, accepted in criteria):
                return False
        if self.registration_authorities:
            return _registration_authority(entity) in self.registration_authorities
        return True


def _attribute_criteria(value: object) -> tuple[tuple[str, frozenset[str]], ...]:
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        raise ConfigurationError(
            f"entity_attributes must map attribute names to lists of values, not {type(value).__name__}"
        )
    criteria: list[tuple[str, frozenset[str]]] = []
    for name, values in value.items():
        if not isinstance(name, str) or not name.strip():
            raise ConfigurationError("entity_attributes: attribute names must be non-empty strings")
        accepted = _str_set(values, f"entity_attributes[{name[:100]!r}]")
        if not accepted:
            raise ConfigurationError(f"entity_attributes[{name[:100]!r}] lists no value")
        criteria.append((name, accepted))
    return tuple(sorted(criteria, key=lambda item: item[0]))


def _extensions(element: etree._Element, tag: str) -> Iterable[etree._Element]:
    for ext in element.iterchildren(_MD_EXTENSIONS):
        yield from ext.iterchildren(tag)


def _entity_attributes(entity: etree._Element) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for element in (entity, *entity.iterancestors()):
        for attrs in _extensions(element, _MDATTR_ENTITY_ATTRIBUTES):
            for attribute in attrs.iterchildren(_SAML_ATTRIBUTE):
                values = out.setdefault(attribute.get("Name") or "", set())
                values.update((v.text or "").strip() for v in attribute.iterchildren(_SAML_ATTRIBUTE_VALUE))
    return out


def _registration_authority(entity: etree._Element) -> str | None:
    for element in (entity, *entity.iterancestors()):
        for info in _extensions(element, _MDRPI_REGISTRATION_INFO):
            return info.get("registrationAuthority")
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class MetadataDocument:
    """A parsed, verified metadata document with its IdP entities indexed by entityID.

    Build with :func:`load_metadata_document`; ``idp(entity_id, now=...)`` turns one entity into an
    :class:`IdPMetadata` (certificates are only loaded for the entities asked for).
    """

    kind: Literal["entity", "aggregate"]
    signed: bool
    valid_until: datetime | None
    """The document element's validUntil (entities may carry earlier ones)."""
    cache_duration: timedelta | None
    """The document element's cacheDuration."""
    _entities: Mapping[str, etree._Element] = field(repr=False, compare=False)
    _duplicates: frozenset[str] = field(repr=False, compare=False)
    _idp_ids: list[tuple[str, ...]] = field(default_factory=list, repr=False, compare=False)

    @property
    def idp_entity_ids(self) -> tuple[str, ...]:
        """Every entity with a SAML 2.0 IDPSSODescriptor, in document order (duplicates left out).
        Computed on first use: taking named IdPs from an aggregate never walks every entity's roles."""
        if not self._idp_ids:
            self._idp_ids.append(
                tuple(e for e, el in self._entities.items() if e and e not in self._duplicates and _has_idp_role(el))
            )
        return self._idp_ids[0]

    def idp_entity_ids_matching(self, entity_filter: EntityFilter) -> tuple[str, ...]:
        """The IdPs of :attr:`idp_entity_ids` that pass ``entity_filter``, in document order."""
        if not entity_filter:
            return self.idp_entity_ids
        return tuple(e for e in self.idp_entity_ids if entity_filter.matches(self._entities[e]))

    def idp(self, entity_id: str | None = None, *, now: datetime) -> IdPMetadata:
        """The IdP ``entity_id`` (default: the only IdP of the document), checked for expiry at ``now``.

        Raises:
            ConfigurationError: unknown, listed twice, not an IdP, unusable or expired.
        """
        now = ensure_aware(now)
        if entity_id is None:
            if len(self.idp_entity_ids) != 1:
                raise ConfigurationError(
                    f"the metadata holds {len(self.idp_entity_ids)} SAML 2.0 IdPs; name the one to use by its entityID"
                )
            entity_id = self.idp_entity_ids[0]
        if entity_id in self._duplicates:
            raise ConfigurationError(f"the metadata lists entity {entity_id!r} more than once")
        entity = self._entities.get(entity_id)
        if entity is None:
            raise ConfigurationError(f"the metadata has no entity {entity_id!r}")
        return _idp_from_entity(entity, now)

    def cache_duration_for(self, entity_ids: Iterable[str]) -> timedelta | None:
        """The shortest cacheDuration on the document, the named entities and their ancestors."""
        values: list[timedelta] = []
        for entity_id in entity_ids:
            entity = self._entities.get(entity_id)
            if entity is None:
                continue
            for element in (entity, *entity.iterancestors()):
                raw = element.get("cacheDuration")
                if raw is not None:
                    values.append(parse_duration(raw))
        if self.cache_duration is not None:
            values.append(self.cache_duration)
        return min(values) if values else None


def load_metadata_document(
    xml: bytes,
    *,
    now: datetime,
    signed_by: Sequence[x509.Certificate] | None = None,
    require_signature: bool = False,
    allow_unsigned_aggregate: bool = False,
    require_valid_until: bool = True,
    max_bytes: int = DEFAULT_MAX_METADATA_BYTES,
) -> MetadataDocument:
    """Parse and verify one metadata document under the trust rules of the module docstring.

    Args:
        xml: an md:EntityDescriptor or md:EntitiesDescriptor document.
        now: the current time.
        signed_by: the signer's certificates (a federation operator's, an MDQ service's, an IdP's own
            metadata-signing certificate). When given, the document element must be signed by one of them.
        require_signature: a signature is required (MDQ): then ``signed_by`` must be given.
        allow_unsigned_aggregate: accept an unsigned aggregate when no signer is configured (local files only).
        require_valid_until: an aggregate must carry validUntil on its document element.
        max_bytes: size cap on the document.

    Raises:
        ConfigurationError: malformed, unsigned or badly signed when a signature is required, without a
            required validUntil, or expired.
    """
    now = ensure_aware(now)
    if require_signature and not signed_by:
        raise ConfigurationError("a signature is required on this metadata: configure the signer's certificate")
    # One structural pass (check_large_document: the metadata limits in fewer passes than check_structure)
    # that also collects the entities and the attributes equal to the root's ID, so that neither the entity
    # index nor the ID check walks the tree again.
    scans: list[LargeDocumentScan] = []

    def structure(untrusted_root: etree._Element, untrusted_xml: bytes, limits: XMLLimits) -> None:
        own_id = untrusted_root.get("ID") if signed_by else None
        collect = _MD_ENTITY if untrusted_root.tag == _MD_ENTITIES else None
        scans.append(
            check_large_document(untrusted_root, untrusted_xml, limits, collect=collect, attribute_value=own_id)
        )

    try:
        root = parse_xml(xml, max_bytes=max_bytes, limits=METADATA_XML_LIMITS, structure=structure)
    except ResponseRejected as exc:
        raise ConfigurationError(f"IdP metadata is not usable XML: {exc.message}", detail=exc.detail) from None
    (scan,) = scans
    if root.tag not in (_MD_ENTITY, _MD_ENTITIES):
        raise ConfigurationError(
            f"metadata must be an md:EntityDescriptor or md:EntitiesDescriptor, not {etree.QName(root).localname}"
        )
    kind: Literal["entity", "aggregate"] = "entity" if root.tag == _MD_ENTITY else "aggregate"
    signed = False
    candidates: Sequence[etree._Element] = [root] if kind == "entity" else scan.collected
    if signed_by:
        own_id = root.get("ID")
        ids = id_index_of_value(scan.attributes_equal, own_id) if own_id is not None else IdIndex(holders={})
        # Entities inside the document's own Signature are not covered by it (it is detached, then the
        # rest is digested): the index never holds them, as a walk after verification would not.
        unsigned = {e for child in root.iterchildren(DS_SIGNATURE) for e in child.iter(_MD_ENTITY)}
        root = _verify_aggregate(root, signed_by, ids=ids)
        signed = True
        if unsigned:
            candidates = [e for e in candidates if e not in unsigned]
    elif kind == "aggregate" and not allow_unsigned_aggregate:
        raise ConfigurationError(
            "a metadata aggregate must be signed: configure the federation's metadata signing certificate"
        )
    valid_until = _instant(root.get("validUntil"))
    if valid_until is None and kind == "aggregate" and require_valid_until:
        raise ConfigurationError("the metadata aggregate carries no validUntil (required for aggregates)")
    if valid_until is not None and valid_until <= now:
        what = f"IdP metadata for {root.get('entityID')!r}" if kind == "entity" else "the metadata aggregate"
        raise ConfigurationError(f"{what} expired at {valid_until.isoformat()}; fetch a fresh copy")
    raw_duration = root.get("cacheDuration")
    cache_duration = parse_duration(raw_duration) if raw_duration is not None else None
    entities: dict[str, etree._Element] = {}
    duplicates: set[str] = set()
    for entity in candidates:
        entity_id = entity.get("entityID") or ""
        if entity_id in entities:
            duplicates.add(entity_id)
            continue
        entities[entity_id] = entity
    return MetadataDocument(
        kind=kind,
        signed=signed,
        valid_until=valid_until,
        cache_duration=cache_duration,
        _entities=MappingProxyType(entities),
        _duplicates=frozenset(duplicates),
    )


def _instant(raw: str | None) -> datetime | None:
    if raw is None:
        return None
    try:
        return parse_instant(raw)
    except (ValueError, OverflowError):
        raise ConfigurationError(f"the metadata has an unreadable validUntil {raw[:40]!r}") from None


def _idp_from_entity(entity: etree._Element, now: datetime) -> IdPMetadata:
    entity_id = entity.get("entityID") or ""
    descriptor = _idp_descriptor(entity)
    valid_until = _earliest_valid_until(entity, descriptor)
    if valid_until is not None and valid_until <= now:
        raise ConfigurationError(
            f"IdP metadata for {entity_id!r} expired at {valid_until.isoformat()}; fetch a fresh copy"
        )
    return IdPMetadata(
        entity_id=entity_id,
        signing_certificates=_signing_certificates(descriptor, entity_id),
        sso_endpoints=_endpoints(descriptor, _MD_SSO),
        slo_endpoints=_endpoints(descriptor, _MD_SLO),
        want_authn_requests_signed=(descriptor.get("WantAuthnRequestsSigned") or "").strip() in ("true", "1"),
        valid_until=valid_until,
        display_name=_display_name(entity, descriptor),
    )


def certificate_subject(certificate: x509.Certificate) -> str:
    """The subject as an RFC 4514 string, or a placeholder when it cannot be decoded (it is only shown)."""
    try:
        return certificate.subject.rfc4514_string()
    except ValueError:
        return "<undecodable subject>"


def certificates_expiring(
    idp: IdPMetadata, *, now: datetime, within: timedelta
) -> list[tuple[x509.Certificate, datetime, bool]]:
    """The IdP's signing certificates whose notAfter is before ``now + within``: (cert, notAfter, expired).

    fedlib trusts a listed certificate whatever its dates (trust is the metadata listing it); an expired or
    soon-expiring certificate is reported so that operators can chase the rotation."""
    now = ensure_aware(now)
    out: list[tuple[x509.Certificate, datetime, bool]] = []
    for certificate in idp.signing_certificates:
        not_after = certificate.not_valid_after_utc
        if not_after <= now + within:
            out.append((certificate, not_after, not_after <= now))
    return out


__all__ = [
    "DEFAULT_MAX_REFRESH",
    "DEFAULT_MIN_REFRESH",
    "DEFAULT_REFRESH_FACTOR",
    "REFEDS_RS",
    "SIRTFI",
    "EntityFilter",
    "MetadataDocument",
    "RefreshPolicy",
    "certificate_subject",
    "certificates_expiring",
    "load_metadata_document",
    "parse_duration",
]
