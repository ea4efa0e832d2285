"""``ServiceProvider``: the safe facade. Start a login, finish it, publish metadata.

It adds to :func:`fedlib.validation.validate_response` what a web application must otherwise get right
by itself:

* **pending requests, server-side and once**: ``start_login`` records the AuthnRequest (its ID, the IdP,
  the tenant, the RelayState, an expiry) in the store; ``finish_login`` consumes it atomically before
  anything else, so a Response answers exactly one request, once, on any worker sharing the store. An
  unknown, expired or already-used request is ``unknown-request``. No cookie is involved, so the ACS POST
  works whatever the browser's SameSite rules.
* **IdP selection without trusting the message**: the pending request names its IdP; for an unsolicited
  Response the untrusted Issuer only selects which IdP's keys to verify with (as KeyInfo only selects a
  certificate), and ``validate_response`` then proves it.
* **RelayState is never an open redirect**: for SP-initiated logins the RelayState that comes back is
  ignored and the stored one is used; for IdP-initiated ones only a relative path or an allow-listed
  absolute URL survives (:func:`safe_relay_state`); anything else is dropped and logged.

Sans-I/O like the core: it takes form values and ``now`` and returns values; the web framework adapter
does the HTTP.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Final
from urllib.parse import urlsplit

from lxml import etree

from fedlib._xml.parse import decode_message, parse_xml
from fedlib.clock import Clock, SystemClock, ensure_aware
from fedlib.config import SecurityPolicy, SPConfig
from fedlib.constants import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, SAML_ISSUER, SAMLP_RESPONSE
from fedlib.errors import ConfigurationError, ErrorCode, reject
from fedlib.metadata.idp import IdPMetadata
from fedlib.protocol.authn_request import NameIDPolicy, RequestedAuthnContext, build_authn_request
from fedlib.protocol.models import AuthnResult
from fedlib.stores.base import Store
from fedlib.stores.prefixed import PrefixedStore
from fedlib.validation.pipeline import validate_parsed_response

log = logging.getLogger("fedlib")

DEFAULT_REQUEST_LIFETIME: Final = timedelta(minutes=10)
_MAX_RELAY_STATE: Final = 80  # SAML Bindings §3.4.3 / §3.5.3: at most 80 bytes


@dataclass(frozen=True, slots=True)
class LoginRequest:
    """What ``start_login`` produced: send the browser to ``url`` (HTTP-Redirect) or return ``form_html``
    (HTTP-POST, an auto-submitting page that also works without JavaScript)."""

    request_id: str
    idp_entity_id: str
    binding: str
    url: str | None = None
    form_html: str | None = None


@dataclass(frozen=True, slots=True)
class LoginResult:
    """A finished login: the verified claims and where to send the user next (already made safe)."""

    authn: AuthnResult
    relay_state: str | None
    idp_entity_id: str
    solicited: bool


def safe_relay_state(value: str | None, allowed_origins: Iterable[str] = ()) -> str | None:
    """``value`` if it is a safe place to send the user after login, else None (and a log line).

    Safe: a relative path (``/x``, not ``//host`` nor ``/\\host``, no control characters), or an absolute
    https/http URL whose origin (scheme://host[:port]) is in ``allowed_origins``. Anything else (other
    hosts, ``javascript:``, protocol-relative URLs) is dropped: RelayState is never an open redirect.
    """
    if value is None or value == "":
        return None
    if len(value.encode("utf-8")) > _MAX_RELAY_STATE * 4 or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        log.warning("fedlib: dropped an unsafe RelayState (length or control characters)")
        return None
    if value.startswith("/") and not value.startswith(("//", "/\\")) and "\\" not in value:
        return value
    parts = urlsplit(value)
    origin = f"{parts.scheme}://{parts.netloc}".lower()
    if (
        parts.scheme in ("https", "http")
        and parts.netloc
        and origin in {o.lower().rstrip("/") for o in allowed_origins}
    ):
        return value
    log.warning("fedlib: dropped a RelayState that is not a relative path or an allowed origin")
    return None


@dataclass(frozen=True, slots=True)
class IdPConfig:
    """One trusted IdP and the policy for its Responses (``None``: the SP's policy)."""

    metadata: IdPMetadata
    policy: SecurityPolicy | None = None

    @property
    def entity_id(self) -> str:
        return self.metadata.entity_id


class ServiceProvider:
    """One SP (one tenant) and the IdPs it trusts.

    Args:
        config: the SP's configuration (entity ID, ACS URL, policy, keys).
        idps: the trusted IdPs (metadata objects or ``IdPConfig`` for a per-IdP policy).
        store: request-ID and replay store (shared by every worker that serves this SP).
        tenant: namespace of this SP's keys in the store; one per tenant when several share a store.
        clock: the time source when a call passes no ``now``.
        request_lifetime: how long a pending login request stays valid.
        relay_state_origins: absolute origins an IdP-initiated RelayState may point to.
    """

    def __init__(
        self,
        config: SPConfig,
        idps: IdPMetadata | IdPConfig | Iterable[IdPMetadata | IdPConfig],
        store: Store,
        *,
        tenant: str = "default",
        clock: Clock | None = None,
        request_lifetime: timedelta = DEFAULT_REQUEST_LIFETIME,
        relay_state_origins: Iterable[str] = (),
    ) -> None:
        items = [idps] if isinstance(idps, IdPMetadata | IdPConfig) else list(idps)
        initial: dict[str, IdPConfig] = {}
        for item in items:
            idp = item if isinstance(item, IdPConfig) else IdPConfig(item)
            if idp.entity_id in initial:
                raise ConfigurationError(f"IdP {idp.entity_id!r} is configured twice")
            initial[idp.entity_id] = idp
        if not initial:
            raise ConfigurationError("a ServiceProvider needs at least one IdP")
        # Trust is one immutable mapping replaced as a whole (update_idps): a login verifies with one
        # IdPConfig (metadata + policy) taken from one version of it, never a mix of old and new keys.
        self._idps: Mapping[str, IdPConfig] = MappingProxyType(initial)
        self._idps_lock = threading.Lock()
        if request_lifetime <= timedelta(0):
            raise ConfigurationError("request_lifetime must be positive")
        self.config = config
        self.tenant = tenant
        self.store: Store = PrefixedStore(store, f"tenant:{tenant}")
        self.clock = clock or SystemClock()
        self.request_lifetime = request_lifetime
        self.relay_state_origins = tuple(relay_state_origins)

    @property
    def idps(self) -> Mapping[str, IdPConfig]:
        """The trusted IdPs by entity ID: a read-only snapshot (a later ``update_idps`` replaces it)."""
        return self._idps

    def update_idps(self, idps: Iterable[IdPMetadata | IdPConfig] = (), *, remove: Iterable[str] = ()) -> None:
        """Swap trust atomically, without a restart (metadata refresh, certificate rotation).

        Each given IdP replaces the one with the same entity ID (given bare metadata, it keeps every other
        per-IdP setting of that one: its policy and the rest of its ``IdPConfig``) or is added; the entity
        IDs in ``remove`` are dropped. Logins in flight keep the snapshot they started with; the next call
        sees the new one. Thread-safe.
        """
        with self._idps_lock:
            new = dict(self._idps)
            for entity_id in remove:
                new.pop(entity_id, None)
            for item in idps:
                if isinstance(item, IdPConfig):
                    new[item.entity_id] = item
                else:  # new metadata, same per-IdP settings (policy and whatever else IdPConfig carries)
                    previous = new.get(item.entity_id)
                    new[item.entity_id] = (
                        dataclasses.replace(previous, metadata=item) if previous is not None else IdPConfig(item)
                    )
            self._idps = MappingProxyType(new)

    # ---- metadata ---------------------------------------------------------------------------------

    def metadata_xml(self, **kwargs: object) -> bytes:
        """This SP's metadata (see ``fedlib.metadata.sp.render_sp_metadata`` for the options)."""
        from fedlib.metadata.sp import render_sp_metadata

        return render_sp_metadata(self.config, **kwargs)  # type: ignore[arg-type]

    # ---- SP-initiated -------------------------------------------------------------------------------

    def idp(self, entity_id: str | None = None) -> IdPConfig:
        """The IdP called ``entity_id`` (default: the only one)."""
        if entity_id is None:
            if len(self.idps) != 1:
                raise ConfigurationError("several IdPs are configured: name the one to log in with")
            return next(iter(self.idps.values()))
        try:
            return self.idps[entity_id]
        except KeyError:
            raise ConfigurationError(f"unknown IdP {entity_id!r}") from None

    def start_login(
        self,
        idp: str | None = None,
        *,
        relay_state: str | None = None,
        force_authn: bool = False,
        is_passive: bool = False,
        name_id_policy: NameIDPolicy | str | None = None,
        requested_authn_context: RequestedAuthnContext | str | None = None,
        binding: str = BINDING_HTTP_REDIRECT,
        now: datetime | None = None,
    ) -> LoginRequest:
        """Build an AuthnRequest for ``idp``, remember it, and say how to send it.

        ``relay_state`` (where to go after login) is kept server-side with the request; it must be a
        relative path or an allowed origin (``ConfigurationError`` otherwise, since it is the app's own
        value). Only an opaque reference goes to the IdP.
        """
        now = ensure_aware(now) if now is not None else self.clock.now()
        target = self.idp(idp)
        if target.metadata.valid_until is not None and target.metadata.valid_until <= now:
            raise ConfigurationError(
                f"the metadata of IdP {target.entity_id!r} expired; logins with it wait for a fresh copy "
                "(check the metadata source and the refresher's status)"
            )
        if relay_state is not None and safe_relay_state(relay_state, self.relay_state_origins) is None:
            raise ConfigurationError("relay_state must be a relative path or an allowed origin")
        if binding not in (BINDING_HTTP_REDIRECT, BINDING_HTTP_POST):
            raise ConfigurationError(f"unsupported binding {binding!r}")
        endpoint = target.metadata.sso_endpoint(binding)
        if endpoint is None:
            raise ConfigurationError(f"IdP {target.entity_id!r} has no SingleSignOnService for {binding}")
        request = build_authn_request(
            self.config,
            endpoint.location,
            now=now,
            force_authn=force_authn,
            is_passive=is_passive,
            name_id_policy=name_id_policy,
            requested_authn_context=requested_authn_context,
        )
        pending = json.dumps(
            {"idp": target.entity_id, "relay_state": relay_state, "acs_url": request.acs_url}, separators=(",", ":")
        )
        if not self.store.add(_request_key(request.id), expires_at=now + self.request_lifetime, now=now, value=pending):
            raise ConfigurationError("request ID collision: the id source is not random")  # pragma: no cover
        # The IdP echoes RelayState; send the request ID (opaque) rather than the app's URL.
        echoed = request.id
        signer = self.config.signer
        if binding == BINDING_HTTP_REDIRECT:
            url = request.redirect_url(relay_state=echoed, signer=signer)
            return LoginRequest(request.id, target.entity_id, binding, url=url)
        form = request.post_form(relay_state=echoed, signer=signer)
        return LoginRequest(request.id, target.entity_id, binding, form_html=form)

    # ---- ACS ----------------------------------------------------------------------------------------

    def finish_login(self, form: Mapping[str, str], *, now: datetime | None = None) -> LoginResult:
        """Validate the Response posted to the ACS (``form``: the POSTed fields) and consume its request.

        Raises:
            ResponseRejected: with a stable code; ``unknown-request`` when the Response answers no pending
                request of this SP (unknown, expired, already used, or another tenant's).
            StoreError: the store failed (nothing is accepted meanwhile).
        """
        now = ensure_aware(now) if now is not None else self.clock.now()
        untrusted_message = form.get("SAMLResponse")
        if not untrusted_message:
            raise reject(ErrorCode.MALFORMED_XML, "the POST carries no SAMLResponse")
        untrusted_root = _parse(untrusted_message, self.config.policy.max_message_bytes)
        untrusted_irt, untrusted_issuer = _routing_hints(untrusted_root)
        if untrusted_irt is not None:
            # Consumed before validation: whatever happens next, this request cannot be answered twice.
            stored = self.store.consume(_request_key(untrusted_irt), now=now)
            if stored is None:
                raise reject(
                    ErrorCode.UNKNOWN_REQUEST,
                    "the Response answers no pending login request of this site (it expired, was already used, "
                    "or was never sent from here); start the login again",
                    detail=f"InResponseTo {untrusted_irt[:100]!r}",
                )
            pending = json.loads(stored)
            idp = self.idps.get(pending["idp"])
            if idp is None:  # the IdP was removed from the configuration since
                raise reject(ErrorCode.WRONG_ISSUER, "the IdP of this login request is no longer trusted")
            config = self._config_for(idp, pending.get("acs_url"))
            authn = validate_parsed_response(
                untrusted_root, sp=config, idp=idp.metadata, now=now, store=self.store, request_id=untrusted_irt
            )
            return LoginResult(authn, pending.get("relay_state"), idp.entity_id, solicited=True)

        idp = self.idps.get(untrusted_issuer or "")
        if idp is None:
            if len(self.idps) != 1:
                raise reject(ErrorCode.WRONG_ISSUER, "the Response comes from no IdP this site trusts")
            idp = next(iter(self.idps.values()))
        config = self._config_for(idp, None)
        authn = validate_parsed_response(untrusted_root, sp=config, idp=idp.metadata, now=now, store=self.store)
        relay = safe_relay_state(form.get("RelayState"), self.relay_state_origins)
        return LoginResult(authn, relay, idp.entity_id, solicited=False)

    def _config_for(self, idp: IdPConfig, acs_url: str | None) -> SPConfig:
        config = self.config
        if idp.policy is not None:
            config = dataclasses.replace(config, policy=idp.policy)
        if acs_url is not None and acs_url != config.acs_url:
            if acs_url not in config.acs_urls:
                raise reject(ErrorCode.WRONG_DESTINATION, "the login request named an ACS URL this SP no longer has")
            config = dataclasses.replace(config, acs_url=acs_url, additional_acs_urls=())
        return config


def _request_key(request_id: str) -> str:
    return f"request:{request_id}"


def _parse(untrusted_message: str, max_bytes: int) -> etree._Element:
    return parse_xml(decode_message(untrusted_message, max_bytes=max_bytes), max_bytes=max_bytes)


def _routing_hints(untrusted_root: etree._Element) -> tuple[str | None, str | None]:
    """InResponseTo and Issuer of the raw Response: lookup hints only (which pending request, which IdP's
    keys), never claims. ``validate_parsed_response`` proves both on the verified tree."""
    if untrusted_root.tag != SAMLP_RESPONSE:
        return None, None
    issuer = untrusted_root.find(SAML_ISSUER)
    return untrusted_root.get("InResponseTo"), (issuer.text or "").strip() if issuer is not None else None


__all__ = [
    "DEFAULT_REQUEST_LIFETIME",
    "IdPConfig",
    "LoginRequest",
    "LoginResult",
    "ServiceProvider",
    "safe_relay_state",
]
