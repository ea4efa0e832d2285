"""``MetadataProvider``: IdP metadata from a source, verified, refreshed in the background, swapped atomically.

Lifecycle (docs/metadata.md):

* start-up: fetch; if the source fails, load the backing file (same trust rules); if neither yields valid
  metadata, ``ConfigurationError`` (bad configuration stops start-up);
* after every good fetch the backing file is rewritten atomically;
* the next refresh is ``RefreshPolicy.next_delay`` (cacheDuration/validUntil, clamped); a failure keeps the
  last good metadata (logged, visible in :meth:`status`) and retries with backoff up to the minimum delay;
* a good refresh swaps trust in every attached ``ServiceProvider`` at once (``update_idps``); logins in
  flight keep their snapshot; refresh never runs on the login path (``start()`` runs a daemon thread);
* expired metadata is never used: :meth:`current` raises, and the ServiceProvider refuses logins for an
  IdP whose ``valid_until`` passed (``idp-metadata-expired``).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal

from cryptography import x509

from fedlib.clock import Clock, SystemClock
from fedlib.errors import ConfigurationError
from fedlib.federation.http import HTTPFetcher, Validators
from fedlib.federation.sources import Source, source_for, write_atomically
from fedlib.metadata.document import (
    EntityFilter,
    MetadataDocument,
    RefreshPolicy,
    certificate_subject,
    certificates_expiring,
    load_metadata_document,
)
from fedlib.metadata.idp import DEFAULT_MAX_METADATA_BYTES, IdPMetadata

if TYPE_CHECKING:  # pragma: no cover
    from fedlib.sp import IdPConfig, ServiceProvider

log = logging.getLogger("fedlib.federation")

DEFAULT_WARN_WITHIN = timedelta(days=30)


@dataclass(frozen=True, slots=True, kw_only=True)
class MetadataSnapshot:
    """One verified version of the metadata and the IdPs taken from it."""

    document: MetadataDocument
    idps: Mapping[str, IdPMetadata]
    loaded_at: datetime
    origin: Literal["source", "backing-file"]
    valid_until: datetime | None
    """The earliest validUntil among the document and the selected IdPs (the refresh is scheduled before it).
    After the document's own validUntil nothing here is used; after one IdP's own, that IdP is not (the
    ServiceProvider refuses it: ``idp-metadata-expired``; :meth:`MetadataProvider.idps` leaves it out) while
    the others stay in service, until every IdP has expired."""
    warnings: tuple[str, ...] = ()
    """Entities skipped, then signing certificates expired or expiring within ``warn_within``, as of the
    last refresh (each refresh re-evaluates the certificates, 304 answers included)."""
    skipped: tuple[str, ...] = ()
    """The entities of the document that could not be used (the first part of ``warnings``)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderStatus:
    """What an operator (or a health check) needs to know about one provider."""

    source: str
    usable: bool
    """Valid metadata is being served now."""
    origin: Literal["source", "backing-file"] | None
    entity_ids: tuple[str, ...]
    loaded_at: datetime | None
    valid_until: datetime | None
    last_attempt: datetime | None
    last_error: str | None
    consecutive_failures: int
    next_refresh: datetime | None
    warnings: tuple[str, ...] = field(default=())


def _signers(signer: x509.Certificate | Sequence[x509.Certificate] | None) -> tuple[x509.Certificate, ...]:
    if signer is None:
        return ()
    if isinstance(signer, x509.Certificate):
        return (signer,)
    return tuple(signer)


class MetadataProvider:
    """IdP metadata from one source (a file or an https URL), kept fresh.

    Args:
        source: a :class:`~fedlib.federation.sources.Source`, a path or an https URL.
        signer: certificate(s) that must have signed the document (required for aggregates).
        entity_ids: the IdPs to take (default: every SAML 2.0 IdP in the document; entities that are
            unusable are then skipped with a warning, while a named one that is missing fails the refresh).
        entity_filter: take only the IdPs of the document that pass this
            :class:`~fedlib.metadata.document.EntityFilter` (entity categories such as REFEDS R&S,
            assurance certifications such as SIRTFI, registration authorities); not with ``entity_ids``.
        require_valid_until: an aggregate must carry validUntil (default True).
        require_signature: the document must be signed even if it is a single entity (MDQ answers).
        backing_file: where the last good document is kept, for start-ups while the source is down.
        refresh: refresh bounds (Shibboleth SP defaults: 10 min .. 4 h, factor 0.75).
        clock: the time source (inject one in tests).
        warn_within: certificates expiring within this are reported (status warnings and the log).
        fetcher: the HTTP client for URL sources (timeouts, size cap, ``allow_http`` for loopback tests).
        load: fetch now (default); False leaves the first load to :meth:`refresh_now`.
    """

    def __init__(
        self,
        source: Source | str,
        *,
        signer: x509.Certificate | Sequence[x509.Certificate] | None = None,
        entity_ids: Sequence[str] | None = None,
        entity_filter: EntityFilter | None = None,
        require_valid_until: bool = True,
        require_signature: bool = False,
        backing_file: str | os.PathLike[str] | None = None,
        refresh: RefreshPolicy | None = None,
        clock: Clock | None = None,
        warn_within: timedelta = DEFAULT_WARN_WITHIN,
        fetcher: HTTPFetcher | None = None,
        max_bytes: int = DEFAULT_MAX_METADATA_BYTES,
        load: bool = True,
    ) -> None:
        self.source: Source = source_for(source, fetcher=fetcher) if isinstance(source, str) else source
        self.signers = _signers(signer)
        self.entity_ids = tuple(entity_ids) if entity_ids is not None else None
        if entity_filter is not None and not isinstance(entity_filter, EntityFilter):
            raise ConfigurationError("entity_filter must be an EntityFilter")
        if entity_filter is not None and entity_ids is not None:
            raise ConfigurationError("give entity_ids or entity_filter, not both")
        self.entity_filter = entity_filter or EntityFilter()
        self.require_valid_until = require_valid_until
        self.require_signature = require_signature
        if require_signature and not self.signers:
            raise ConfigurationError("a signature is required on this metadata: configure the signer's certificate")
        self.backing_file = Path(backing_file) if backing_file is not None else None
        self.refresh_policy = refresh or RefreshPolicy()
        self.clock = clock or SystemClock()
        self.warn_within = warn_within
        self.max_bytes = max_bytes
        self._snapshot: MetadataSnapshot | None = None
        self._validators: Validators | None = None
        self._last_attempt: datetime | None = None
        self._last_error: str | None = None
        self._failures = 0
        self._next_refresh: datetime | None = None
        self._attached: list[
            tuple[ServiceProvider, tuple[str, ...] | None, Callable[[IdPMetadata], IdPConfig] | None]
        ] = []
        self._lock = threading.RLock()  # serialises refreshes; readers never take it
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if load:
            self._initial_load()

    # ---- reading ----------------------------------------------------------------------------------

    def current(self) -> MetadataSnapshot:
        """The metadata being served.

        Raises:
            ConfigurationError: nothing valid was ever loaded, or the last good copy has expired.
        """
        snapshot = self._snapshot
        if snapshot is None:
            raise ConfigurationError(f"no valid metadata from {self.source.description}: {self._last_error}")
        if snapshot.valid_until is not None and snapshot.valid_until <= self.clock.now():
            expired = _expired_at(snapshot, self.clock.now())
            if expired is not None:
                raise ConfigurationError(
                    f"the metadata from {self.source.description} expired at {expired.isoformat()} and "
                    f"no fresh copy could be fetched ({self._last_error or 'no refresh yet'})"
                )
        return snapshot

    def idps(self) -> tuple[IdPMetadata, ...]:
        """The IdPs of :meth:`current` whose own validUntil has not passed."""
        now = self.clock.now()
        return tuple(i for i in self.current().idps.values() if i.valid_until is None or i.valid_until > now)

    def status(self) -> ProviderStatus:
        snapshot = self._snapshot
        now = self.clock.now()
        usable = snapshot is not None and (
            snapshot.valid_until is None or snapshot.valid_until > now or _expired_at(snapshot, now) is None
        )
        return ProviderStatus(
            source=self.source.description,
            usable=usable,
            origin=snapshot.origin if snapshot else None,
            entity_ids=tuple(snapshot.idps) if snapshot else (),
            loaded_at=snapshot.loaded_at if snapshot else None,
            valid_until=snapshot.valid_until if snapshot else None,
            last_attempt=self._last_attempt,
            last_error=self._last_error,
            consecutive_failures=self._failures,
            next_refresh=self._next_refresh,
            warnings=snapshot.warnings if snapshot else (),
        )

    # ---- attaching ----------------------------------------------------------------------------------

    def attach(
        self,
        sp: ServiceProvider,
        entity_ids: Sequence[str] | None = None,
        *,
        idp_defaults: Callable[[IdPMetadata], IdPConfig] | None = None,
    ) -> None:
        """Keep ``sp``'s trust in these IdPs (or only ``entity_ids`` of them) current: now and after every
        good refresh (atomic swaps). One provider can serve many ServiceProviders (tenants), each its own
        selection of the document's IdPs: the document is fetched, parsed and verified once for all.

        An IdP ``sp`` already trusts keeps its per-IdP settings (policy, MFA) across swaps. ``idp_defaults``
        builds the ``IdPConfig`` of an IdP that ``sp`` does not trust yet (one that joins the aggregate
        later, or passes its filter later), e.g. ``functools.partial(IdPConfig, policy=..., require_mfa=True)``;
        without it such an IdP gets ``IdPConfig(metadata)`` (the SP's policy, no per-IdP MFA).

        Raises:
            ConfigurationError: no valid metadata, or an entity of ``entity_ids`` is not served.
        """
        wanted = tuple(entity_ids) if entity_ids is not None else None
        with self._lock:
            snapshot = self.current()
            selected = _select(snapshot, wanted)
            if wanted is not None and len(selected) != len(set(wanted)):
                missing = sorted(set(wanted) - set(selected))
                raise ConfigurationError(f"the metadata from {self.source.description} serves no IdP {missing[0]!r}")
            sp.update_idps(_with_defaults(sp, selected, idp_defaults))
            self._attached.append((sp, wanted, idp_defaults))

    # ---- refreshing ---------------------------------------------------------------------------------

    def refresh_now(self) -> bool:
        """Fetch now; True if valid metadata (new or unchanged) is being served afterwards from the source.

        Never raises for a bad source: the error is logged and kept in :meth:`status`; the last good
        metadata keeps serving until it expires.
        """
        with self._lock:
            now = self.clock.now()
            self._last_attempt = now
            try:
                result = self.source.fetch(self._validators if self._snapshot is not None else None)
                if result.body is None:  # 304: what we have is still current (its own validUntil still applies)
                    snapshot = self._rewarn(self.current(), now)
                    self._validators = result.validators
                else:
                    snapshot = self._build(result.body, now, "source")
                    self._validators = result.validators
                    self._install(snapshot)
                    self._write_backing(result.body)
            except Exception as exc:  # a refresh never crashes: the last good copy keeps serving
                self._failures += 1
                self._last_error = (
                    exc.message if isinstance(exc, ConfigurationError) else f"{type(exc).__name__}: {exc}"
                )
                self._next_refresh = now + self.refresh_policy.retry_delay(self._failures)
                log.warning(
                    "fedlib: metadata refresh from %s failed (%s); %s",
                    self.source.description,
                    self._last_error,
                    "keeping the last good copy" if self._snapshot is not None else "no metadata loaded",
                )
                return False
            self._failures = 0
            self._last_error = None
            entity_ids = tuple(snapshot.idps)
            delay = self.refresh_policy.next_delay(
                now=now,
                valid_until=_next_expiry(snapshot, now),
                cache_duration=snapshot.document.cache_duration_for(entity_ids),
            )
            self._next_refresh = now + delay
            return True

    def start(self) -> None:
        """Refresh in a daemon thread at the scheduled times (never on the login path)."""
        with self._lock:
            if self._thread is not None:
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="fedlib-metadata-refresh", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the refresher thread."""
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        self._thread = None

    def close(self) -> None:
        self.stop()
        fetcher = getattr(self.source, "fetcher", None)
        if isinstance(fetcher, HTTPFetcher):
            fetcher.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            next_refresh = self._next_refresh
            wait = (next_refresh - self.clock.now()).total_seconds() if next_refresh is not None else 0.0
            if wait > 0 and self._stop.wait(wait):
                return
            try:
                self.refresh_now()
            except Exception:  # pragma: no cover - refresh_now catches what it expects; never kill the thread
                log.exception("fedlib: unexpected error refreshing metadata from %s", self.source.description)
                self._next_refresh = self.clock.now() + self.refresh_policy.retry_delay(1)

    # ---- internals ----------------------------------------------------------------------------------

    def _initial_load(self) -> None:
        if self.refresh_now():
            return
        source_error = self._last_error
        if self.backing_file is not None and self.backing_file.exists():
            now = self.clock.now()
            try:
                body = self.backing_file.read_bytes()
                snapshot = self._build(body, now, "backing-file")
            except (OSError, ConfigurationError) as exc:
                message = exc.message if isinstance(exc, ConfigurationError) else str(exc)
                raise ConfigurationError(
                    f"metadata source {self.source.description} failed ({source_error}) and the backing file "
                    f"{self.backing_file} is not usable ({message})"
                ) from None
            self._install(snapshot)
            log.warning(
                "fedlib: metadata source %s failed (%s); serving the backing file %s",
                self.source.description,
                source_error,
                self.backing_file,
            )
            return
        raise ConfigurationError(f"no valid metadata from {self.source.description}: {source_error}")

    def _build(self, body: bytes, now: datetime, origin: Literal["source", "backing-file"]) -> MetadataSnapshot:
        document = load_metadata_document(
            body,
            now=now,
            signed_by=self.signers or None,
            require_signature=self.require_signature,
            require_valid_until=self.require_valid_until,
            max_bytes=self.max_bytes,
        )
        idps: dict[str, IdPMetadata] = {}
        warnings: list[str] = []
        if self.entity_ids is not None:
            for entity_id in self.entity_ids:
                idps[entity_id] = document.idp(entity_id, now=now)
        else:
            for entity_id in document.idp_entity_ids_matching(self.entity_filter):
                try:
                    idps[entity_id] = document.idp(entity_id, now=now)
                except ConfigurationError as exc:
                    warnings.append(f"skipped {entity_id}: {exc.message}")
            if not idps:
                reason = f" ({warnings[0]})" if warnings else ""
                raise ConfigurationError(
                    f"the metadata from {self.source.description} holds no usable SAML 2.0 IdP{reason}"
                )
        skipped = tuple(warnings)
        warnings += self._certificate_warnings(idps, now)
        self._log_warnings(warnings)
        instants = [d for d in (document.valid_until, *(i.valid_until for i in idps.values())) if d is not None]
        return MetadataSnapshot(
            document=document,
            idps=MappingProxyType(idps),
            loaded_at=now,
            origin=origin,
            valid_until=min(instants) if instants else None,
            warnings=tuple(warnings),
            skipped=skipped,
        )

    def _certificate_warnings(self, idps: Mapping[str, IdPMetadata], now: datetime) -> list[str]:
        warnings: list[str] = []
        for idp in idps.values():
            for certificate, not_after, expired in certificates_expiring(idp, now=now, within=self.warn_within):
                state = "expired" if expired else "expires"
                warnings.append(
                    f"{idp.entity_id}: signing certificate {certificate_subject(certificate)} "
                    f"{state} {not_after.isoformat()}"
                )
        return warnings

    def _log_warnings(self, warnings: Sequence[str]) -> None:
        for warning in warnings:
            log.warning("fedlib: metadata from %s: %s", self.source.description, warning)

    def _rewarn(self, snapshot: MetadataSnapshot, now: datetime) -> MetadataSnapshot:
        """After a 304: the same metadata, its certificates re-evaluated at ``now`` (one may have aged into
        the warning window); logged like after a fetch with a body. The trust itself is not swapped."""
        warnings = (*snapshot.skipped, *self._certificate_warnings(snapshot.idps, now))
        self._log_warnings(warnings)
        if warnings != snapshot.warnings:
            snapshot = dataclasses.replace(snapshot, warnings=warnings)
            self._snapshot = snapshot
        return snapshot

    def _install(self, snapshot: MetadataSnapshot) -> None:
        previous = self._snapshot
        self._snapshot = snapshot  # one reference assignment: readers see the old or the new snapshot
        for sp, wanted, idp_defaults in self._attached:
            selected = _select(snapshot, wanted)
            removed = set(_select(previous, wanted)) - set(selected) if previous is not None else set()
            sp.update_idps(_with_defaults(sp, selected, idp_defaults), remove=removed)

    def _write_backing(self, body: bytes) -> None:
        if self.backing_file is None:
            return
        try:
            write_atomically(self.backing_file, body)
        except OSError as exc:
            log.warning("fedlib: cannot write the backing file %s: %s", self.backing_file, exc)


def _with_defaults(
    sp: ServiceProvider,
    selected: Mapping[str, IdPMetadata],
    idp_defaults: Callable[[IdPMetadata], IdPConfig] | None,
) -> list[IdPMetadata | IdPConfig]:
    """Bare metadata for the IdPs ``sp`` trusts already (``update_idps`` keeps their settings), and
    ``idp_defaults(metadata)`` for the others."""
    if idp_defaults is None:
        return list(selected.values())
    known = sp.idps
    return [m if entity_id in known else idp_defaults(m) for entity_id, m in selected.items()]


def _expired_at(snapshot: MetadataSnapshot, now: datetime) -> datetime | None:
    """When the snapshot as a whole stopped being usable, or None while it is: the document's own validUntil
    once passed, or the last IdP's once every IdP's has (one IdP's expiry takes only that IdP out)."""
    document_until = snapshot.document.valid_until
    if document_until is not None and document_until <= now:
        return document_until
    until = [i.valid_until for i in snapshot.idps.values()]
    if until and all(u is not None and u <= now for u in until):
        return max(u for u in until if u is not None)
    return None


def _next_expiry(snapshot: MetadataSnapshot, now: datetime) -> datetime | None:
    """The earliest validUntil still ahead (document or IdP), what the next refresh is scheduled by: an IdP
    that has already expired in an unchanged document does not make every refresh come at the minimum delay."""
    instants = [
        d for d in (snapshot.document.valid_until, *(i.valid_until for i in snapshot.idps.values())) if d is not None
    ]
    ahead = [d for d in instants if d > now]
    return min(ahead) if ahead else None


def _select(snapshot: MetadataSnapshot, wanted: tuple[str, ...] | None) -> Mapping[str, IdPMetadata]:
    if wanted is None:
        return snapshot.idps
    return {e: snapshot.idps[e] for e in wanted if e in snapshot.idps}


__all__ = ["MetadataProvider", "MetadataSnapshot", "ProviderStatus"]
