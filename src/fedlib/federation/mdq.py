"""``MDQClient``: per-entity metadata from a Metadata Query (MDQ) service, signed, cached.

Requests follow the Metadata Query Protocol and its SAML profile (draft-young-md-query,
draft-young-md-query-saml): ``GET <base>/entities/<id>`` with ``Accept: application/samlmetadata+xml``,
where ``<id>`` is the percent-encoded entityID (the default here; every MDQ responder must support it)
or the transformed identifier ``{sha1}<hex of SHA-1(entityID)>`` (``form="sha1"``).

Trust: the response must be signed by the configured signer (always: an MDQ answer arrives over the
network one entity at a time, so its signature is the only thing tying it to the federation), must be
exactly the entity asked for, and is refused once expired. Answers are cached until
``RefreshPolicy.next_delay`` (cacheDuration/validUntil, clamped), never past their validUntil; a 404 is
remembered for ``negative_ttl``. A cache miss is the only network wait a login may make, bounded by the
fetcher's timeouts (by default 5 s to connect, 5 s per read and 10 s for the whole fetch); a failed
re-fetch keeps serving the cached copy while it is still valid.

Wiring: ``ensure(sp, entity_id)`` before ``sp.start_login(entity_id)``; ``ensure_for_response(sp, form)``
before ``sp.finish_login(form)`` for IdP-initiated logins (the ServiceProvider itself never does I/O).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal
from urllib.parse import quote

from cryptography import x509

from fedlib._xml.parse import decode_message, parse_xml
from fedlib.clock import Clock, SystemClock
from fedlib.constants import SAML_ISSUER, SAMLP_RESPONSE
from fedlib.errors import ConfigurationError, ResponseRejected
from fedlib.federation.http import FetchError, HTTPFetcher
from fedlib.metadata.document import RefreshPolicy, load_metadata_document
from fedlib.metadata.idp import IdPMetadata

if TYPE_CHECKING:  # pragma: no cover
    from fedlib.sp import IdPConfig, ServiceProvider

log = logging.getLogger("fedlib.federation")

DEFAULT_NEGATIVE_TTL = timedelta(minutes=1)
DEFAULT_MDQ_MAX_BYTES = 1024 * 1024  # one entity's metadata is a few KB
DEFAULT_MDQ_TOTAL_TIMEOUT = 10.0  # a login may wait on a cache miss: the whole fetch, however the server paces it
MDQ_ACCEPT = "application/samlmetadata+xml"
DEFAULT_MDQ_MAX_ENTRIES = 10_000
MAX_ENTITY_ID_LENGTH = 1024  # SAML core §8.3.6: an entity identifier is at most 1024 characters


@dataclass(frozen=True, slots=True)
class _Entry:
    metadata: IdPMetadata | None  # None: the service said 404
    fresh_until: datetime


def mdq_url(base_url: str, entity_id: str, form: Literal["entity-id", "sha1"] = "entity-id") -> str:
    """The MDQ request URL for ``entity_id``."""
    if form == "sha1":
        identifier = quote("{sha1}", safe="") + hashlib.sha1(entity_id.encode("utf-8")).hexdigest()  # noqa: S324
    else:
        identifier = quote(entity_id, safe="")
    return f"{base_url.rstrip('/')}/entities/{identifier}"


class MDQClient:
    """Looks IdPs up in an MDQ service.

    Args:
        base_url: the service's base URL (``https://mdq.example.org``); requests go to ``<base>/entities/...``.
        signer: the MDQ service's signing certificate(s); required.
        form: ``"entity-id"`` (percent-encoded, default) or ``"sha1"``.
        fetcher: the HTTP client (its timeouts bound a login's wait on a cache miss).
        refresh: cache bounds (``next_delay`` of cacheDuration / validUntil).
        negative_ttl: how long a 404 is remembered.
        clock: the time source.
        max_entries: the most entities (404s included) the cache holds; the least recently used goes
            first. Lookups are keyed by the unverified Issuer of posted Responses (``ensure_for_response``),
            which anyone can choose: the cache must not grow with them.
    """

    def __init__(
        self,
        base_url: str,
        *,
        signer: x509.Certificate | Sequence[x509.Certificate],
        form: Literal["entity-id", "sha1"] = "entity-id",
        fetcher: HTTPFetcher | None = None,
        refresh: RefreshPolicy | None = None,
        negative_ttl: timedelta = DEFAULT_NEGATIVE_TTL,
        clock: Clock | None = None,
        max_entries: int = DEFAULT_MDQ_MAX_ENTRIES,
    ) -> None:
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1:
            raise ConfigurationError("MDQ max_entries must be a positive integer")
        self.signers = (signer,) if isinstance(signer, x509.Certificate) else tuple(signer)
        if not self.signers:
            raise ConfigurationError("an MDQ service needs its signing certificate: MDQ answers are always verified")
        if form not in ("entity-id", "sha1"):
            raise ConfigurationError(f"MDQ form must be 'entity-id' or 'sha1', not {form!r}")
        self.fetcher = fetcher or HTTPFetcher(
            max_bytes=DEFAULT_MDQ_MAX_BYTES, read_timeout=5.0, total_timeout=DEFAULT_MDQ_TOTAL_TIMEOUT
        )
        self.fetcher.check_url(base_url)
        self.base_url = base_url
        self.form = form
        self.refresh_policy = refresh or RefreshPolicy()
        self.negative_ttl = negative_ttl
        self.clock = clock or SystemClock()
        self.max_entries = max_entries
        self._cache: OrderedDict[str, _Entry] = OrderedDict()  # least recently used first
        self._lock = threading.Lock()

    def lookup(self, entity_id: str) -> IdPMetadata | None:
        """The verified metadata of ``entity_id``, or None if the service does not know it (404) or no
        entity can have that identifier (empty, or longer than 1024 characters: never sent to the service).

        Raises:
            ConfigurationError: the service failed or answered something unusable, and no still-valid
                cached copy exists.
        """
        if not entity_id or len(entity_id) > MAX_ENTITY_ID_LENGTH:
            return None
        now = self.clock.now()
        with self._lock:
            entry = self._cache.get(entity_id)
            if entry is not None:
                self._cache.move_to_end(entity_id)
        if entry is not None and now < entry.fresh_until and (entry.metadata is None or _valid(entry.metadata, now)):
            return entry.metadata
        try:
            metadata, cache_duration = self._fetch(entity_id, now)
        except ConfigurationError as exc:
            if entry is not None and entry.metadata is not None and _valid(entry.metadata, now):
                log.warning("fedlib: MDQ lookup of %r failed (%s); keeping the cached copy", entity_id, exc.message)
                return entry.metadata
            raise
        if metadata is None:
            fresh_until = now + self.negative_ttl
        else:
            fresh_until = now + self.refresh_policy.next_delay(
                now=now, valid_until=metadata.valid_until, cache_duration=cache_duration
            )
            if metadata.valid_until is not None:
                fresh_until = min(fresh_until, metadata.valid_until)
        with self._lock:
            self._cache[entity_id] = _Entry(metadata, fresh_until)
            self._cache.move_to_end(entity_id)
            while len(self._cache) > self.max_entries:
                self._cache.popitem(last=False)
        return metadata

    def ensure(self, sp: ServiceProvider, entity_id: str) -> IdPConfig:
        """Look ``entity_id`` up and make ``sp`` trust the current copy (before ``start_login``, or before
        ``finish_login`` of an unsolicited Response whose Issuer names it: a lookup hint, verification decides).

        Raises:
            ConfigurationError: unknown to the service, or the service failed.
        """
        metadata = self.lookup(entity_id)
        if metadata is None:
            raise ConfigurationError(f"the MDQ service knows no entity {entity_id!r}")
        current = sp.idps.get(entity_id)
        if current is None or current.metadata is not metadata:
            sp.update_idps([metadata])
        return sp.idps[entity_id]

    def ensure_for_response(self, sp: ServiceProvider, form: Mapping[str, str]) -> IdPConfig | None:
        """Before ``sp.finish_login(form)``: make ``sp`` trust the IdP the posted Response's Issuer names, if
        the MDQ service knows it. The Issuer is read from the unverified message only as a lookup key (as
        KeyInfo selects a certificate): ``finish_login`` then proves it with the keys fetched here.

        Returns the IdP now trusted, or None (no readable Issuer, or unknown to the service: ``finish_login``
        then refuses the Response as from an untrusted IdP). A cached, still-fresh entry costs no request.

        Raises:
            ConfigurationError: the service failed and holds no still-valid copy.
        """
        issuer = untrusted_issuer(form.get("SAMLResponse") or "", sp.config.policy.max_message_bytes)
        if issuer is None:
            return None
        metadata = self.lookup(issuer)
        if metadata is None:
            return None
        current = sp.idps.get(issuer)
        if current is None or current.metadata is not metadata:
            sp.update_idps([metadata])
        return sp.idps[issuer]

    def _fetch(self, entity_id: str, now: datetime) -> tuple[IdPMetadata | None, timedelta | None]:
        url = mdq_url(self.base_url, entity_id, self.form)
        try:
            result = self.fetcher.get(url, accept=MDQ_ACCEPT)
        except FetchError as exc:
            if exc.status == 404:
                return None, None
            raise
        assert result.body is not None
        document = load_metadata_document(
            result.body, now=now, signed_by=self.signers, require_signature=True, max_bytes=self.fetcher.max_bytes
        )
        return document.idp(entity_id, now=now), document.cache_duration_for([entity_id])

    def close(self) -> None:
        self.fetcher.close()


def untrusted_issuer(message: str, max_bytes: int) -> str | None:
    """The Issuer of a posted (base64) Response, unverified: a lookup key only. None if unreadable."""
    if not message:
        return None
    try:
        root = parse_xml(decode_message(message, max_bytes=max_bytes), max_bytes=max_bytes)
    except ResponseRejected:
        return None
    if root.tag != SAMLP_RESPONSE:
        return None
    issuer = root.find(SAML_ISSUER)
    text = (issuer.text or "").strip() if issuer is not None else ""
    return text or None


def _valid(metadata: IdPMetadata, now: datetime) -> bool:
    return metadata.valid_until is None or metadata.valid_until > now


__all__ = ["MDQClient", "mdq_url"]
