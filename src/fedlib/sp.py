"""``ServiceProvider``: the safe facade. Start a login, finish it, publish metadata.

It adds to :func:`fedlib.validation.validate_response` what a web application must otherwise get right
by itself:

* **pending requests, server-side and once**: ``start_login`` records the AuthnRequest (its ID, the IdP,
  the tenant, the RelayState, an expiry) in the store; ``finish_login`` validates the Response, then
  consumes the request and records the assertion in one atomic store operation, so a Response answers
  exactly one request, once, on any worker sharing the store; a refused Response consumes the request it
  names all the same. An unknown, expired or already-used request is ``unknown-request``.
* **bound to the browser that started it** (login CSRF): ``start_login`` returns a per-request secret
  (``LoginRequest.browser_binding``, and ``binding_cookie`` for the adapter to set) and stores only its
  SHA-256; ``finish_login(form, browser_binding=...)`` takes the request's cookies (or the secret) and
  refuses a Response whose request was started in another browser: ``browser-mismatch``
  (see :mod:`fedlib.binding`). IdP-initiated Responses cannot be bound (no request): ``allow_unsolicited``.
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
import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any, Final, NamedTuple
from urllib.parse import urlsplit

from lxml import etree

from fedlib import binding as _binding
from fedlib._frozen import fast_builder
from fedlib._xml.parse import decode_message, parse_xml
from fedlib.attributes import AttributeMap
from fedlib.authn_context import (
    DEFAULT_AUTHN_CONTEXT_ORDER,
    AuthnContextOrder,
    AuthnContextRequirement,
    check_authn_context,
)
from fedlib.clock import Clock, SystemClock, ensure_aware
from fedlib.config import SecurityPolicy, SPConfig
from fedlib.constants import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, SAML_ISSUER, SAMLP_RESPONSE
from fedlib.errors import ConfigurationError, ErrorCode, ResponseRejected, StoreError, reject
from fedlib.metadata.idp import Endpoint, IdPMetadata
from fedlib.protocol.authn_request import AuthnRequest, NameIDPolicy, RequestedAuthnContext, request_xml
from fedlib.protocol.bindings import MAX_RELAY_STATE_BYTES, encode_post_form, encode_redirect
from fedlib.protocol.logout import SAMLP_LOGOUT_RESPONSE, LogoutMessage, build_logout_request, build_logout_response
from fedlib.protocol.models import AuthnResult
from fedlib.stores.base import Store, consume_and_add
from fedlib.stores.prefixed import PrefixedStore, base_and_prefix
from fedlib.validation.logout import (
    LogoutRequestResult,
    LogoutResponseResult,
    LogoutSession,
    ReceivedLogoutRequest,
    ReceivedLogoutResponse,
    read_post_logout_request,
    read_post_logout_response,
    read_redirect_logout_request,
    read_redirect_logout_response,
    validate_logout_request,
    validate_logout_response,
)
from fedlib.validation.pipeline import ReplayEntry, replayed, validate_parsed_response
from fedlib.xmldsig.sign import Signer

log = logging.getLogger("fedlib")

DEFAULT_REQUEST_LIFETIME: Final = timedelta(minutes=10)
_MAX_RELAY_STATE: Final = 80  # SAML Bindings §3.4.3 / §3.5.3: at most 80 bytes


@dataclass(frozen=True, slots=True)
class LoginRequest:
    """What ``start_login`` produced: send the browser to ``url`` (HTTP-Redirect) or return ``form_html``
    (HTTP-POST, an auto-submitting page that also works without JavaScript), and set ``binding_cookie``
    in that same response: ``browser_binding`` is the secret that ``finish_login`` needs back from this
    browser (a web adapter keeps it in that cookie; never send it to the IdP or log it)."""

    request_id: str
    idp_entity_id: str
    binding: str
    url: str | None = None
    form_html: str | None = None
    browser_binding: str = ""
    binding_cookie: _binding.BindingCookie | None = None


@dataclass(frozen=True, slots=True)
class LoginResult:
    """A finished login: the verified claims and where to send the user next (already made safe)."""

    authn: AuthnResult
    relay_state: str | None
    idp_entity_id: str
    solicited: bool
    clear_cookie: _binding.BindingCookie | None = None
    """For a solicited login: the spent binding cookie, to clear (``Max-Age=0``) in the ACS response."""


_new_login_request: Final = fast_builder(LoginRequest)
"""``LoginRequest(...)`` (same parameters, same object) without the frozen dataclass ``__init__`` (fedlib._frozen)."""
_new_login_result: Final = fast_builder(LoginResult)
"""``LoginResult(...)`` (same parameters, same object) without the frozen dataclass ``__init__`` (fedlib._frozen)."""


@dataclass(frozen=True, slots=True)
class OutgoingLogout:
    """A signed logout message to send: redirect the browser to ``url`` (HTTP-Redirect) or return
    ``form_html`` (HTTP-POST, an auto-submitting page that also works without JavaScript)."""

    message_id: str
    """The LogoutRequest's ID (``start_logout``) or the LogoutResponse's (``answer_logout_request``)."""
    idp_entity_id: str
    binding: str
    destination: str
    url: str | None = None
    form_html: str | None = None


@dataclass(frozen=True, slots=True)
class LogoutResult:
    """The IdP's verified answer to this SP's LogoutRequest (``finish_logout``).

    The local session ends whatever the status says (start_logout's caller should already have ended it);
    ``response.status`` tells whether the IdP ended its session too (``success``), only partly
    (``partial``), or not (``failure``, with ``response.status_codes``).
    """

    response: LogoutResponseResult
    relay_state: str | None
    """Where the app wanted the user to land (the value given to ``start_logout``, kept server-side)."""
    idp_entity_id: str


def safe_relay_state(value: object, allowed_origins: Iterable[str] = ()) -> str | None:
    """``value`` if it is a safe place to send the user after login, else None (and a log line).

    Safe: a relative path (``/x``, not ``//host`` nor ``/\\host``, no control characters), or an absolute
    https/http URL whose origin (scheme://host[:port]) is in ``allowed_origins``. Anything else (other
    hosts, ``javascript:``, protocol-relative URLs) is dropped: RelayState is never an open redirect.

    Never raises, whatever ``value`` is: a value that is not a ``str``, holds a lone surrogate, is not a
    URL ``urllib`` can split (``https://[x``, a host that changes under NFKC normalisation), or has a
    non-ASCII or otherwise unusual host is dropped like any other unsafe value. A RelayState problem must
    never cost the user a login whose request was already consumed.
    """
    if value is None or value == "":
        return None
    try:
        safe = _relay_state_if_safe(value, allowed_origins)
    except (ValueError, TypeError, UnicodeError):  # belt and braces: a bad value is never a crash
        safe = None
    if safe is None:
        log.warning("fedlib: dropped a RelayState that is not a relative path or an allowed origin")
    return safe


def _relay_state_if_safe(value: object, allowed_origins: Iterable[str]) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:  # a lone surrogate
        return None
    if size > _MAX_RELAY_STATE * 4 or any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in value):
        return None
    if value.startswith("/") and not value.startswith(("//", "/\\")) and "\\" not in value:
        return value
    if not value.isascii():
        # An absolute URL's host must be plain ASCII (IDNs in their xn-- form): a host that browsers
        # normalise (NFKC, full-width dots...) is not the host that was compared.
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return None
    _ = parts.port  # ValueError for a port that is not a number in range: dropped by the caller
    origin = f"{parts.scheme}://{parts.netloc}".lower()
    if "@" in parts.netloc or origin not in {o.lower().rstrip("/") for o in allowed_origins}:
        return None
    return value


@dataclass(frozen=True, slots=True)
class IdPConfig:
    """One trusted IdP and the policy for its Responses (``None``: the SP's policy)."""

    metadata: IdPMetadata
    policy: SecurityPolicy | None = None
    require_mfa: bool = False
    """Every login from this IdP must prove multi-factor authentication (``authn-context-not-satisfied``
    otherwise), solicited or not; see :mod:`fedlib.authn_context`."""
    mfa_from_authn_methods_references: bool = False
    """Entra ID: accept ``http://schemas.microsoft.com/claims/multipleauthn`` in the
    ``authnmethodsreferences`` claim as proof of MFA (Entra keeps the AuthnContextClassRef of the first
    factor). Turn on only for an Entra ID (or AD FS) IdP, which alone can issue that claim."""

    @property
    def entity_id(self) -> str:
        return self.metadata.entity_id


class ServiceProvider:
    """One SP (one tenant) and the IdPs it trusts.

    Args:
        config: the SP's configuration (entity ID, ACS URL, policy, keys).
        idps: the trusted IdPs (metadata objects or ``IdPConfig`` for a per-IdP policy).
        store: request-ID and replay store (shared by every worker that serves this SP).
        tenant: namespace of this SP's pending requests in the store; one per tenant when several share a
            store. Replay entries are keyed by SP entity ID outside it (shared by tenants with that ID).
        clock: the time source when a call passes no ``now``.
        request_lifetime: how long a pending login request stays valid.
        relay_state_origins: absolute origins an IdP-initiated RelayState may point to.
        require_mfa: every login must prove multi-factor authentication (per IdP: ``IdPConfig.require_mfa``).
        authn_context_order: the strength order of authentication context classes (``minimum``,
            ``better``, ``maximum`` and MFA); default :data:`fedlib.authn_context.DEFAULT_AUTHN_CONTEXT_ORDER`.
        attribute_map: renames verified attributes to the application's, grants roles, and requires
            attributes (``AuthnResult.mapped_attributes`` / ``roles``; see :mod:`fedlib.attributes`).
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
        require_mfa: bool = False,
        authn_context_order: AuthnContextOrder = DEFAULT_AUTHN_CONTEXT_ORDER,
        attribute_map: AttributeMap | None = None,
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
        self.require_mfa = require_mfa
        """Every login of this application must prove MFA, from whichever IdP."""
        self.authn_context_order = authn_context_order
        self.attribute_map = attribute_map

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
        browser_binding: str | None = None,
        now: datetime | None = None,
    ) -> LoginRequest:
        """Build an AuthnRequest for ``idp``, remember it, and say how to send it.

        ``relay_state`` (where to go after login) is kept server-side with the request; it must be a
        relative path or an allowed origin (``ConfigurationError`` otherwise, since it is the app's own
        value). Only an opaque reference goes to the IdP.

        ``requested_authn_context`` (a ``RequestedAuthnContext``, or one class URI for ``exact``) is sent
        to the IdP *and* stored with the request: ``finish_login`` refuses a Response whose verified
        AuthnContextClassRef does not satisfy it (SAML Core §3.3.2.2.1, with ``authn_context_order``) as
        ``authn-context-not-satisfied``.

        ``browser_binding``: the browser secret to bind this request to (default: a fresh
        ``secrets.token_urlsafe(32)``, which is what web adapters want); only its SHA-256 is stored. It is
        returned in ``LoginRequest.browser_binding`` (and ``binding_cookie``) and must come back to
        ``finish_login`` from the same browser.
        """
        # The usual arguments are decided here without the helpers' calls (each distinct Python function costs
        # a login microseconds: issue #9); what is decided, and in which order, is what the helpers decide
        # (tests/unit/sp/test_start_fast_path.py holds it to the previous code).
        if now is None:
            now = self.clock.now()
        elif type(now) is not datetime or now.tzinfo is not UTC:  # an aware UTC datetime is its own ensure_aware
            now = ensure_aware(now)
        if browser_binding is None:
            browser_binding = _binding.new_secret()
        elif not _binding.is_valid_secret(browser_binding):
            raise ConfigurationError("browser_binding must be 32 to 128 URL-safe characters (secrets.token_urlsafe)")
        idps = self._idps  # self.idp(idp), its common cases inline
        if idp is None and len(idps) == 1:
            target = next(iter(idps.values()))
        else:
            found = idps.get(idp) if idp is not None else None
            target = found if found is not None else self.idp(idp)
        if isinstance(requested_authn_context, str):
            requested_authn_context = RequestedAuthnContext((requested_authn_context,))
        if requested_authn_context is not None and not isinstance(requested_authn_context, RequestedAuthnContext):
            raise ConfigurationError("requested_authn_context must be a RequestedAuthnContext or a class URI")
        metadata = target.metadata
        if metadata.valid_until is not None and metadata.valid_until <= now:
            raise ConfigurationError(
                f"the metadata of IdP {metadata.entity_id!r} expired; logins with it wait for a fresh copy "
                "(check the metadata source and the refresher's status)"
            )
        if relay_state is not None and safe_relay_state(relay_state, self.relay_state_origins) is None:
            raise ConfigurationError("relay_state must be a relative path or an allowed origin")
        if binding not in (BINDING_HTTP_REDIRECT, BINDING_HTTP_POST):
            raise ConfigurationError(f"unsupported binding {binding!r}")
        for endpoint in metadata.sso_endpoints:  # metadata.sso_endpoint(binding): the first with the binding
            if endpoint.binding == binding:
                break
        else:
            raise ConfigurationError(f"IdP {metadata.entity_id!r} has no SingleSignOnService for {binding}")
        # build_authn_request(config, endpoint.location, now=now, ...) without the checks its arguments need
        # only when they come from elsewhere (the ID is fresh, the ACS URL is the SP's, ``now`` aware UTC).
        config = self.config
        acs_url = config.acs_url
        if isinstance(name_id_policy, str):
            name_id_policy = NameIDPolicy(format=name_id_policy)
        request_id = "_" + os.urandom(16).hex()  # new_request_id()
        xml = request_xml(
            (
                config.entity_id,
                endpoint.location,
                acs_url,
                force_authn,
                is_passive,
                name_id_policy,
                requested_authn_context,
            ),
            request_id,
            now.replace(microsecond=0),
        )
        pending = _pending_json(
            metadata.entity_id,
            relay_state,
            acs_url,
            hashlib.sha256(browser_binding.encode("utf-8")).hexdigest(),  # _binding.secret_hash(browser_binding)
            requested_authn_context,
        )
        store = self.store
        key = _REQUEST_KEY_PREFIX + request_id
        expires_at = now + self.request_lifetime
        if type(store) is PrefixedStore:  # the tenant's view: its add, inline
            added = store.inner.add(store.prefix + key, expires_at=expires_at, now=now, value=pending)
        else:  # pragma: no cover - self.store is always the tenant's view
            added = store.add(key, expires_at=expires_at, now=now, value=pending)
        if not added:
            raise ConfigurationError("request ID collision: the id source is not random")  # pragma: no cover
        cookie = _binding.binding_cookie(
            acs_url, request_id, browser_binding, int(self.request_lifetime.total_seconds())
        )
        # The IdP echoes RelayState; send the request ID (opaque) rather than the app's URL.
        if config.signing_key is not None:  # config.signer is not None: the bindings sign
            request = AuthnRequest(
                id=request_id,
                xml=xml,
                issue_instant=now.replace(microsecond=0),
                destination=endpoint.location,
                acs_url=acs_url,
            )
            if binding == BINDING_HTTP_REDIRECT:
                url: str | None = request.redirect_url(relay_state=request_id, signer=config.signer)
                form_html = None
            else:
                url, form_html = None, request.post_form(relay_state=request_id, signer=config.signer)
        elif binding == BINDING_HTTP_REDIRECT:  # AuthnRequest.redirect_url / post_form without a signer
            url, form_html = encode_redirect(endpoint.location, xml, relay_state=request_id), None
        else:
            url, form_html = None, encode_post_form(endpoint.location, xml, relay_state=request_id)
        return _new_login_request(
            request_id,
            metadata.entity_id,
            binding,
            url=url,
            form_html=form_html,
            browser_binding=browser_binding,
            binding_cookie=cookie,
        )

    # ---- ACS ----------------------------------------------------------------------------------------

    def finish_login(
        self,
        form: Mapping[str, str],
        *,
        browser_binding: str | Mapping[str, str] | None = None,
        now: datetime | None = None,
    ) -> LoginResult:
        """Validate the Response posted to the ACS (``form``: the POSTed fields) and consume its request.

        ``browser_binding``: what the posting browser presents for the login it started, either the
        request's cookies (a mapping; fedlib picks the binding cookie of the request being answered) or
        the secret itself (``LoginRequest.browser_binding``, for callers that keep it by their own means,
        e.g. in a server-side session). There is no opt-out: a caller that binds logins to the browser
        in another way keeps the secret alongside its own binding and passes it back. Unsolicited
        (IdP-initiated) Responses ignore it: they answer no request and cannot be bound.

        Raises:
            ResponseRejected: with a stable code; ``unknown-request`` when the Response answers no pending
                request of this SP (unknown, expired, already used, or another tenant's);
                ``browser-mismatch`` when the request was not started by this browser (login CSRF, or
                the cookie was lost).
            StoreError: the store failed (nothing is accepted meanwhile).
        """
        if now is None:
            now = self.clock.now()
        elif type(now) is not datetime or now.tzinfo is not UTC:  # an aware UTC datetime is its own ensure_aware
            now = ensure_aware(now)
        untrusted_message = form.get("SAMLResponse")
        if not untrusted_message:
            raise reject(ErrorCode.MALFORMED_XML, "the POST carries no SAMLResponse")
        max_bytes = self.config.policy.max_message_bytes
        # (decode_message decodes the usual form value, a canonical base64 str, with pybase64 in one step)
        raw = decode_message(untrusted_message, max_bytes=max_bytes)
        untrusted_root = parse_xml(raw, max_bytes=max_bytes)
        # _routing_hints(untrusted_root), inline: InResponseTo and Issuer of the raw Response, lookup hints
        # only (which pending request, which IdP's keys), never claims.
        untrusted_irt = untrusted_issuer = None
        if untrusted_root.tag == SAMLP_RESPONSE:
            first = untrusted_root[0] if len(untrusted_root) else None  # Issuer comes first in a Response
            issuer = first if first is not None and first.tag == SAML_ISSUER else untrusted_root.find(SAML_ISSUER)
            untrusted_irt = untrusted_root.get("InResponseTo")
            untrusted_issuer = (issuer.text or "").strip() if issuer is not None else None
        if untrusted_irt is None:
            return self._finish_unsolicited(form, untrusted_root, untrusted_issuer, now)
        # _unsolicited_idp and _in_response_to_quirk, inline, on one snapshot of the IdPs (update_idps
        # replaces it): the IdP the untrusted Issuer names, or the only one.
        idps = self._idps
        idp = idps.get(untrusted_issuer or "")
        if idp is None and len(idps) == 1:
            idp = next(iter(idps.values()))
        if idp is not None:
            # An InResponseTo that matches no pending request may be routed as unsolicited only when the IdP
            # it would be verified against allows unsolicited Responses *with* InResponseTo (Rippling).
            policy = idp.policy or self.config.policy
            if policy.allow_unsolicited and policy.allow_in_response_to_on_unsolicited:
                return self._finish_consuming_first(
                    form, untrusted_root, untrusted_irt, untrusted_issuer, browser_binding, now
                )
        return self._finish_solicited(untrusted_root, untrusted_irt, untrusted_issuer, idp, browser_binding, now)

    def _finish_solicited(
        self,
        untrusted_root: etree._Element,
        untrusted_irt: str,
        untrusted_issuer: str | None,
        idp: IdPConfig | None,
        browser_binding: str | Mapping[str, str] | None,
        now: datetime,
    ) -> LoginResult:
        """A Response that names a request (``idp``: the one its untrusted Issuer selects, or None): validate
        it, then consume the request and record the assertion in one atomic store operation
        (``consume_and_add``), then check the consumed request's IdP, ACS URL and browser binding.

        Why validating *before* consuming weakens nothing (the order before issue #9 was: consume, validate,
        record the assertion, check the binding):

        * The request's data is not needed to validate: the IdP whose keys verify is the one the untrusted
          Issuer names (as for an unsolicited Response; the signature then proves it) and the ACS URL is the
          untrusted Destination if it is one of this SP's (else the main one, which then refuses it). Both
          are hints only: once consumed, the request must name that same IdP (``wrong-issuer``) and ACS URL
          (``wrong-destination``) or the login is refused, so a login is accepted exactly when validating
          against the request's own IdP and ACS URL accepts it.
        * Two concurrent posts of one Response (or of two Responses answering one request): each
          ``consume_and_add`` is atomic, so exactly one receives the pending request; the other finds none
          (``unknown-request``) and records nothing. A Response whose request was already consumed (or
          expired, or never existed) is refused the same way, and a valid assertion is recorded once: a
          second use, even answering another request, is ``replayed`` (that request is consumed too).
        * A forged or invalid post (validation fails, whatever the reason) consumes the request it names
          before its refusal is returned, exactly as the consume-first order did: the request cannot be
          answered after that, by anyone. The only difference is that it is consumed when the refusal is
          decided rather than when the post arrives, one validation later; during that time the request was
          equally open to a genuine Response arriving a moment earlier, and the forged post learns nothing
          from it. It cannot steal the request: the pending entry, with the browser binding, is only read
          from the store by the post that consumes it, after its own Response was accepted.
        * The browser binding is checked against the SHA-256 stored with the request this very call consumed
          (``consume_and_add`` returns it), so a Response is only ever accepted for the browser that started
          the request it answers. As before, a Response posted from the wrong browser has consumed the
          request and recorded its assertion (a valid assertion is never accepted twice).
        """
        request_key = _REQUEST_KEY_PREFIX + untrusted_irt  # _request_key(untrusted_irt)
        try:
            if idp is None:
                raise reject(ErrorCode.WRONG_ISSUER, "the Response comes from no IdP this site trusts")
            # The usual case of _config_for(idp, _acs_url_hint(...)) without their calls: no per-IdP policy and
            # the Response's Destination is the main ACS URL, whose config is this SP's own.
            if idp.policy is None and untrusted_root.get("Destination") == self.config.acs_url:
                config = self.config
            else:
                config = self._config_for(idp, _acs_url_hint(untrusted_root, self.config))
            deferred: list[ReplayEntry] = []
            authn = validate_parsed_response(
                untrusted_root,
                sp=config,
                idp=idp.metadata,
                now=now,
                store=self.store,
                request_id=untrusted_irt,
                defer_replay=deferred,
            )
        except Exception:
            # Refused: the request it names is consumed all the same (a forged post burns it, as before);
            # a request that was no longer pending is reported as such, as the consume-first order did.
            if self.store.consume(request_key, now=now) is None:
                raise self._unknown_request(untrusted_irt, untrusted_issuer) from None
            raise
        (entry,) = deferred
        store = self.store
        # base_and_prefix and stores.base.consume_and_add without their calls in the usual case: the tenant's
        # view over a store that is not a view, and a store with the atomic method (every fedlib backend).
        if type(store) is PrefixedStore and not isinstance(store.inner, PrefixedStore):
            base, prefix = store.inner, store.prefix
        else:
            base, prefix = base_and_prefix(store)
        atomic = getattr(base, "consume_and_add", None)
        if atomic is not None:
            stored, recorded = atomic(prefix + request_key, entry.key, expires_at=entry.expires_at, now=now)
        else:
            stored, recorded = consume_and_add(
                base, prefix + request_key, entry.key, expires_at=entry.expires_at, now=now
            )
        if stored is None:
            raise self._unknown_request(untrusted_irt, untrusted_issuer)
        pending = _PendingLogin.decode(stored)
        if not recorded:
            raise replayed(authn.assertion_id)
        if pending.idp != idp.metadata.entity_id:
            raise reject(
                ErrorCode.WRONG_ISSUER,
                "the Response comes from another IdP than the one its login request was sent to",
                detail=f"InResponseTo {untrusted_irt[:100]!r}",
            )
        if (pending.acs_url if pending.acs_url is not None else self.config.acs_url) != config.acs_url:
            raise reject(
                ErrorCode.WRONG_DESTINATION,
                "the Response was sent to another ACS URL than the one its login request asked for",
                detail=f"InResponseTo {untrusted_irt[:100]!r}",
            )
        return self._solicited_result(idp, config, pending, authn, untrusted_irt, browser_binding)

    def _finish_consuming_first(
        self,
        form: Mapping[str, str],
        untrusted_root: etree._Element,
        untrusted_irt: str,
        untrusted_issuer: str | None,
        browser_binding: str | Mapping[str, str] | None,
        now: datetime,
    ) -> LoginResult:
        """The consume-first order (two store operations), for a Response whose IdP allows unsolicited
        Responses *with* an InResponseTo (Rippling): whether it answers a pending request decides how it is
        validated, so the request is consumed first; none pending, it is validated as unsolicited (no weaker
        than an allowed IdP-initiated login)."""
        stored = self.store.consume(_request_key(untrusted_irt), now=now)
        if stored is None:
            return self._finish_unsolicited(form, untrusted_root, untrusted_issuer, now)
        pending = _PendingLogin.decode(stored)
        idp = self.idps.get(pending.idp)
        if idp is None:  # the IdP was removed from the configuration since
            raise reject(ErrorCode.WRONG_ISSUER, "the IdP of this login request is no longer trusted")
        config = self._config_for(idp, pending.acs_url)
        authn = validate_parsed_response(
            untrusted_root, sp=config, idp=idp.metadata, now=now, store=self.store, request_id=untrusted_irt
        )
        return self._solicited_result(idp, config, pending, authn, untrusted_irt, browser_binding)

    def _solicited_result(
        self,
        idp: IdPConfig,
        config: SPConfig,
        pending: _PendingLogin,
        authn: AuthnResult,
        request_id: str,
        browser_binding: str | Mapping[str, str] | None,
    ) -> LoginResult:
        """After validation of a Response to ``pending`` (consumed): the browser binding (login CSRF; after
        validation so that an IdP misconfiguration is still named by its own code), then authorisation."""
        bound, presented, name = _binding.check_presented(pending.browser, config.acs_url, request_id, browser_binding)
        if not bound:
            raise reject(
                ErrorCode.BROWSER_MISMATCH,
                "this login was not started in this browser (or the browser dropped its sign-in cookie); "
                "start the login again in this browser",
                detail=f"InResponseTo {request_id[:100]!r}: {'no' if presented is None else 'a wrong'} binding",
            )
        # _authorize has nothing to do when no context is requested or required and there is no attribute
        # map (its own first test): skipped (tests/unit/sp/test_finish_fast_path.py).
        if pending.authn_context is not None or self.require_mfa or idp.require_mfa or self.attribute_map is not None:
            authn = self._authorize(idp, authn, pending.authn_context)
        return _new_login_result(
            authn,
            pending.relay_state,
            idp.metadata.entity_id,
            solicited=True,
            clear_cookie=_binding.expired_cookie(name),
        )

    def _unknown_request(self, untrusted_irt: str, untrusted_issuer: str | None) -> ResponseRejected:
        return reject(
            ErrorCode.UNKNOWN_REQUEST,
            "the Response answers no pending login request of this site (it expired, was already used, "
            "or was never sent from here); start the login again" + self._unknown_request_hint(untrusted_issuer),
            detail=f"InResponseTo {untrusted_irt[:100]!r}",
        )

    def _unsolicited_idp(self, untrusted_issuer: str | None) -> IdPConfig | None:
        """The IdP whose keys verify an unsolicited Response: the one its untrusted Issuer names, or the only
        one (validation then proves the Issuer)."""
        idps = self.idps  # one snapshot (update_idps replaces it)
        idp = idps.get(untrusted_issuer or "")
        if idp is None and len(idps) == 1:
            idp = next(iter(idps.values()))
        return idp

    def _unknown_request_hint(self, untrusted_issuer: str | None) -> str:
        idp = self._unsolicited_idp(untrusted_issuer)
        if idp is not None and (idp.policy or self.config.policy).allow_unsolicited:
            return (
                ". If this IdP puts an InResponseTo on the logins it starts itself (Rippling does), set "
                "allow_in_response_to_on_unsolicited = true for it"
            )
        return ""

    def _finish_unsolicited(
        self, form: Mapping[str, str], untrusted_root: etree._Element, untrusted_issuer: str | None, now: datetime
    ) -> LoginResult:
        idp = self._unsolicited_idp(untrusted_issuer)
        if idp is None:
            raise reject(ErrorCode.WRONG_ISSUER, "the Response comes from no IdP this site trusts")
        config = self._config_for(idp, None)
        authn = validate_parsed_response(untrusted_root, sp=config, idp=idp.metadata, now=now, store=self.store)
        authn = self._authorize(idp, authn, None)
        relay = safe_relay_state(form.get("RelayState"), self.relay_state_origins)
        return LoginResult(authn, relay, idp.entity_id, solicited=False)

    def _authorize(self, idp: IdPConfig, authn: AuthnResult, requested: AuthnContextRequirement | None) -> AuthnResult:
        """After validation: the requested/required authentication context, then the attribute map."""
        require_mfa = self.require_mfa or idp.require_mfa
        if requested is not None or require_mfa:
            requirement = requested or AuthnContextRequirement()
            if require_mfa:
                requirement = dataclasses.replace(requirement, require_mfa=True)
            check_authn_context(
                authn,
                requirement,
                order=self.authn_context_order,
                mfa_from_authn_methods_references=idp.mfa_from_authn_methods_references,
            )
        if self.attribute_map is None:
            return authn
        mapped = self.attribute_map.apply(authn)
        return dataclasses.replace(authn, mapped_attributes=mapped.values, roles=mapped.roles)

    def _config_for(self, idp: IdPConfig, acs_url: str | None) -> SPConfig:
        config = self.config
        if idp.policy is not None:
            config = dataclasses.replace(config, policy=idp.policy)
        if acs_url is not None and acs_url != config.acs_url:
            if acs_url not in config.acs_urls:
                raise reject(ErrorCode.WRONG_DESTINATION, "the login request named an ACS URL this SP no longer has")
            config = dataclasses.replace(config, acs_url=acs_url, additional_acs_urls=())
        return config

    # ---- single logout (IdP-initiated LogoutRequest) --------------------------------------------------

    def handle_logout_request(
        self,
        *,
        query_string: str | None = None,
        form: Mapping[str, str] | None = None,
        session: LogoutSession | None,
        now: datetime | None = None,
    ) -> LogoutRequestResult:
        """Validate an IdP's LogoutRequest against the browser's ``session`` before anything is ended.

        Give exactly one of ``query_string`` (HTTP-Redirect: the raw query string as received, never
        re-encoded) or ``form`` (HTTP-POST: the posted fields, ``SAMLRequest`` and ``RelayState``). The
        request must be signed by the session's IdP, addressed to ``config.slo_url``, fresh, unused, and
        name exactly the session's NameID (and SessionIndex when it lists any); see
        ``fedlib.validation.logout``. End the session only when this returns. With ``session=None`` (no
        session in this browser) the request is still fully validated (the IdP is picked by its untrusted
        Issuer among the configured ones, whose signature then proves it) and there is nothing to end.

        Answer the IdP with ``answer_logout_request(result)`` (the signed LogoutResponse) once the
        application's session has ended.

        Raises:
            ResponseRejected: with a stable code (``logout-session-mismatch`` when it names another
                user or session than this browser's).
            StoreError: the replay store failed (nothing is ended meanwhile).
            ConfigurationError: neither or both of ``query_string`` / ``form``.
        """
        now = ensure_aware(now) if now is not None else self.clock.now()
        received = self._read_logout_message(query_string, form, "SAMLRequest")
        assert isinstance(received, ReceivedLogoutRequest)
        if session is not None:
            idp = self.idps.get(session.idp_entity_id)
            if idp is None:
                raise reject(
                    ErrorCode.WRONG_ISSUER, "the IdP this session logged in with is no longer trusted by this site"
                )
        else:
            idp = self.idps.get(received.untrusted_issuer or "")
            if idp is None:
                if len(self.idps) != 1:
                    raise reject(ErrorCode.WRONG_ISSUER, "the LogoutRequest comes from no IdP this site trusts")
                idp = next(iter(self.idps.values()))
        config = self._config_for(idp, None)
        return validate_logout_request(
            received, sp=config, idp=idp.metadata, session=session, now=now, store=self.store
        )

    # ---- single logout (SP-initiated, and the answer to an IdP-initiated one) -------------------------------

    def start_logout(
        self,
        session: LogoutSession,
        *,
        binding: str = BINDING_HTTP_REDIRECT,
        relay_state: str | None = None,
        now: datetime | None = None,
    ) -> OutgoingLogout | None:
        """Build a signed LogoutRequest for ``session`` (its NameID with qualifiers and format, and its
        SessionIndex, as received at login) to the session's IdP, and remember it (once, for
        ``request_lifetime``) under its ID for ``finish_logout``.

        ``binding``: the preferred binding; when the IdP's metadata lists no SingleLogoutService for it,
        the other one (HTTP-Redirect or HTTP-POST) is used. Returns None when the IdP publishes no SLO
        endpoint at all (or is no longer configured, or its metadata has expired): then only the local
        session can end. End the local session before sending the request (whatever the IdP answers, the
        user asked to leave).

        ``relay_state``: where to land afterwards (a relative path or an allowed origin), kept
        server-side and returned by ``finish_logout``; the IdP sees no RelayState.

        Raises:
            ConfigurationError: this SP has no signing key (IdPs require a signed LogoutRequest, and SAML
                requires one over the front channel: Profiles §4.4.4.1), no ``slo_url`` to receive the
                answer at, an unsupported binding, or an unsafe ``relay_state``.
            StoreError: the store failed.
        """
        now = ensure_aware(now) if now is not None else self.clock.now()
        signer = self._logout_signer()
        if relay_state is not None and safe_relay_state(relay_state, self.relay_state_origins) is None:
            raise ConfigurationError("relay_state must be a relative path or an allowed origin")
        idp = self.idps.get(session.idp_entity_id)
        if idp is None:
            log.warning("fedlib: the session's IdP is no longer configured; local logout only")
            return None
        valid_until = idp.metadata.valid_until
        if valid_until is not None and valid_until <= now:
            # Its endpoints are no longer trusted (as its keys are not): the NameID and SessionIndex are not
            # sent there (an IdP whose own validUntil passed inside a still-valid aggregate stays configured).
            log.warning("fedlib: the session's IdP metadata has expired; local logout only")
            return None
        endpoint = _slo_endpoint(idp, binding)
        if endpoint is None:
            return None
        request = build_logout_request(
            self.config,
            endpoint.location,
            name_id=session.name_id,
            name_id_format=session.name_id_format,
            name_qualifier=session.name_qualifier,
            sp_name_qualifier=session.sp_name_qualifier,
            session_index=session.session_index,
            now=now,
        )
        pending = json.dumps({"idp": idp.entity_id, "relay_state": relay_state}, separators=(",", ":"))
        if not self.store.add(
            _logout_request_key(request.id), expires_at=now + self.request_lifetime, now=now, value=pending
        ):
            raise ConfigurationError("request ID collision: the id source is not random")  # pragma: no cover
        return _outgoing(request, idp.entity_id, endpoint.binding, signer, relay_state=None)

    def finish_logout(
        self,
        *,
        query_string: str | None = None,
        form: Mapping[str, str] | None = None,
        now: datetime | None = None,
    ) -> LogoutResult:
        """Validate the IdP's LogoutResponse to a LogoutRequest of ``start_logout`` and consume it.

        Give exactly one of ``query_string`` (HTTP-Redirect: the raw query string as received) or ``form``
        (HTTP-POST: the posted fields). The pending logout its InResponseTo names is consumed first (once,
        whatever happens next); then the response must be signed by that IdP (query signature or enveloped),
        addressed to ``config.slo_url``, fresh, and answer exactly that request
        (``fedlib.validation.logout.validate_logout_response``). An IdP status other than Success is not an
        error: it is ``result.response.status``. Either way the local session stays ended.

        Raises:
            ResponseRejected: ``unknown-request`` (no pending logout: unknown, expired, already answered,
                or another tenant's), or a validation code.
            StoreError: the store failed.
            ConfigurationError: neither or both of ``query_string`` / ``form``.
        """
        now = ensure_aware(now) if now is not None else self.clock.now()
        received = self._read_logout_message(query_string, form, "SAMLResponse")
        assert isinstance(received, ReceivedLogoutResponse)
        if received.untrusted_root.tag != SAMLP_LOGOUT_RESPONSE:  # before anything is consumed
            raise reject(ErrorCode.MALFORMED_XML, "the message is not a SAML 2.0 <samlp:LogoutResponse>")
        untrusted_irt = received.untrusted_in_response_to
        stored = self.store.consume(_logout_request_key(untrusted_irt), now=now) if untrusted_irt else None
        if untrusted_irt is None or stored is None:
            raise reject(
                ErrorCode.UNKNOWN_REQUEST,
                "the LogoutResponse answers no pending logout of this site (it expired, was already used, or "
                "was never sent from here); you are signed out here all the same",
                detail=f"InResponseTo {(untrusted_irt or '')[:100]!r}",
            )
        pending = _pending_entry(stored)
        idp = self.idps.get(pending["idp"])
        if idp is None:
            raise reject(ErrorCode.WRONG_ISSUER, "the IdP of this logout is no longer trusted")
        response = validate_logout_response(
            received, sp=self._config_for(idp, None), idp=idp.metadata, request_id=untrusted_irt, now=now
        )
        relay_state = pending.get("relay_state")
        return LogoutResult(response, relay_state if isinstance(relay_state, str) else None, idp.entity_id)

    def answer_logout_request(
        self,
        result: LogoutRequestResult,
        *,
        partial: bool = False,
        binding: str | None = None,
        now: datetime | None = None,
    ) -> OutgoingLogout | None:
        """The signed LogoutResponse to an IdP's LogoutRequest that ``handle_logout_request`` accepted.

        Status ``Success``, with the second-level ``PartialLogout`` when ``partial`` (the application could
        not end every session). It goes to the IdP's SingleLogoutService ``ResponseLocation`` (else
        ``Location``) for ``binding`` (default: the binding the request came over; the other one when the
        IdP lists none for it), with the request's RelayState echoed unchanged (Bindings §3.4.3, §3.5.3).
        Returns None when the IdP publishes no SLO endpoint.

        Raises:
            ConfigurationError: this SP has no signing key, the IdP is no longer configured, or an
                unsupported binding.
        """
        now = ensure_aware(now) if now is not None else self.clock.now()
        signer = self._logout_signer()
        idp = self.idps.get(result.idp_entity_id)
        if idp is None:
            raise ConfigurationError(f"unknown IdP {result.idp_entity_id!r}")
        endpoint = _slo_endpoint(idp, binding or result.binding)
        if endpoint is None:
            return None
        response = build_logout_response(
            self.config,
            endpoint.response_location or endpoint.location,
            in_response_to=result.request_id,
            now=now,
            partial=partial,
        )
        relay_state = result.relay_state
        if relay_state is not None and len(relay_state.encode("utf-8", "replace")) > MAX_RELAY_STATE_BYTES:
            relay_state = None  # not a RelayState the binding allows: not echoed
        return _outgoing(response, idp.entity_id, endpoint.binding, signer, relay_state=relay_state)

    def _read_logout_message(
        self, query_string: str | None, form: Mapping[str, str] | None, parameter: str
    ) -> ReceivedLogoutRequest | ReceivedLogoutResponse:
        """Read (not verify) a LogoutRequest (``SAMLRequest``) or LogoutResponse (``SAMLResponse``) from exactly
        one of the raw Redirect query or the POST form."""
        if (query_string is None) == (form is None):
            raise ConfigurationError("give exactly one of query_string= (HTTP-Redirect) or form= (HTTP-POST)")
        max_bytes = self.config.policy.max_message_bytes
        is_request = parameter == "SAMLRequest"
        if query_string is not None:
            if is_request:
                return read_redirect_logout_request(query_string, max_bytes=max_bytes)
            return read_redirect_logout_response(query_string, max_bytes=max_bytes)
        assert form is not None
        untrusted_message = form.get(parameter)
        if not untrusted_message:
            raise reject(ErrorCode.MALFORMED_XML, f"the POST carries no {parameter}")
        read = read_post_logout_request if is_request else read_post_logout_response
        return read(untrusted_message, form.get("RelayState"), max_bytes=max_bytes)

    def _logout_signer(self) -> Signer:
        signer = self.config.signer
        if signer is None:
            raise ConfigurationError(
                "Single Logout needs this SP's signing key (SPConfig.signing_key): logout messages over the "
                "browser are signed (SAML Profiles §4.4.4.1); without one only the local session can end"
            )
        if self.config.slo_url is None:
            raise ConfigurationError("Single Logout needs SPConfig.slo_url, where the IdP sends its answers")
        return signer


def _slo_endpoint(idp: IdPConfig, binding: str) -> Endpoint | None:
    """The IdP's SLO endpoint for ``binding``, else for the other front-channel binding, else None."""
    if binding not in (BINDING_HTTP_REDIRECT, BINDING_HTTP_POST):
        raise ConfigurationError(f"unsupported binding {binding!r}")
    other = BINDING_HTTP_POST if binding == BINDING_HTTP_REDIRECT else BINDING_HTTP_REDIRECT
    return idp.metadata.slo_endpoint(binding) or idp.metadata.slo_endpoint(other)


def _outgoing(
    message: LogoutMessage, idp_entity_id: str, binding: str, signer: Signer, *, relay_state: str | None
) -> OutgoingLogout:
    if binding == BINDING_HTTP_REDIRECT:
        url = message.redirect_url(relay_state=relay_state, signer=signer)
        return OutgoingLogout(message.id, idp_entity_id, binding, message.destination, url=url)
    form = message.post_form(relay_state=relay_state, signer=signer)
    return OutgoingLogout(message.id, idp_entity_id, binding, message.destination, form_html=form)


def _logout_request_key(request_id: str) -> str:
    return f"logout-request:{request_id}"


def _pending_entry(stored: str) -> dict[str, Any]:
    """The pending-request record ``start_login`` wrote. Anything else in its place is store corruption (or
    a store shared with something else): fail closed with ``StoreError``, never a crash, never an accept."""
    try:
        pending = json.loads(stored)
    except ValueError:
        pending = None
    if not isinstance(pending, dict) or not isinstance(pending.get("idp"), str):
        raise StoreError("the pending login request in the store is unreadable (corrupt or foreign entry)")
    return pending


class _PendingLogin(NamedTuple):
    """What ``start_login`` stores with a pending request, and ``finish_login`` reads back when it consumes it.

    Stored as a compact JSON array, ``["l1", idp, relay_state, acs_url, browser, authn_context]``
    (``authn_context``: null or ``[comparison, class, ...]``; ``acs_url`` null: the main ACS URL): one
    C-level ``json`` call each way. The JSON object fedlib stored before issue #9 is still read, so the
    requests started before an upgrade finish after it. Anything else in its place is store corruption
    (or a store shared with something else): ``StoreError``, never a crash, never an accept.
    """

    idp: str
    relay_state: str | None
    acs_url: str | None
    browser: str
    authn_context: AuthnContextRequirement | None

    def encode(self) -> str:
        return _pending_json(self.idp, self.relay_state, self.acs_url, self.browser, self.authn_context)

    @classmethod
    def decode(cls, stored: str) -> _PendingLogin:
        try:
            # json.loads without its two Python-level calls for what encode wrote (a compact array): the C
            # scanner reads the whole string from 0; else (whitespace, BOM, another shape) json.loads decides.
            value = _SCAN_NOTHING
            if type(stored) is str and stored[:1] == "[":
                try:
                    scanned, end = _PENDING_SCANNER(stored, 0)
                except StopIteration:
                    pass  # not JSON: json.loads raises
                else:
                    if end == len(stored):
                        value = scanned
            if value is _SCAN_NOTHING:
                value = json.loads(stored)
            if isinstance(value, dict):
                value = _legacy_pending(value)
            if (
                isinstance(value, list)
                and len(value) == 6
                and value[0] == _PENDING_VERSION
                and isinstance(value[1], str)
                and isinstance(value[2], _OPTIONAL_STR)
                and isinstance(value[3], _OPTIONAL_STR)
                and isinstance(value[4], str)
            ):
                context = value[5]
                if context is None:  # cls(...) without the Python-level __new__ a NamedTuple gets (this call)
                    return tuple.__new__(cls, (value[1], value[2], value[3], value[4], None))
                if isinstance(context, list) and len(context) >= 2 and all(isinstance(c, str) for c in context):
                    requirement = AuthnContextRequirement(tuple(context[1:]), context[0])
                    return cls(value[1], value[2], value[3], value[4], requirement)
        except (ValueError, RecursionError, ConfigurationError):  # not JSON, too deep, an unknown comparison
            pass
        raise StoreError("the pending login request in the store is unreadable (corrupt or foreign entry)")


_PENDING_VERSION: Final = "l1"  # a plain ASCII token: written as it is


def _pending_json(
    idp: str,
    relay_state: str | None,
    acs_url: str | None,
    browser: str,
    authn_context: AuthnContextRequirement | RequestedAuthnContext | None,
) -> str:
    """``_PendingLogin(...).encode()``: the compact JSON array, written by json's C string encoder alone.

    Exactly ``json.JSONEncoder(separators=(",", ":")).encode([...])`` (ASCII output, every string by
    ``encode_basestring_ascii``, which is what that encoder calls for each one) without its two Python-level
    calls (tests/unit/sp/test_start_fast_path.py holds it to the encoder)."""
    text = _json_string
    context = (
        "null"
        if authn_context is None
        else "[" + ",".join([text(authn_context.comparison), *map(text, authn_context.class_refs)]) + "]"
    )
    return (
        f'["{_PENDING_VERSION}",{text(idp)},{"null" if relay_state is None else text(relay_state)},'
        f"{'null' if acs_url is None else text(acs_url)},{text(browser)},{context}]"
    )


_json_string: Final[Callable[[str], str]] = json.encoder.encode_basestring_ascii
"""json's C encoder of one string (quotes included, ASCII output), as ``json.dumps`` uses it."""
_PENDING_SCANNER: Final[Callable[[str, int], tuple[Any, int]]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
"""json.loads's own scanner (json.decoder's default options): ``(value, end)`` of the JSON value at an index."""
_SCAN_NOTHING: Final = object()
_OPTIONAL_STR: Final = (str, type(None))
"""``isinstance(x, _OPTIONAL_STR)`` is ``isinstance(x, str | None)`` without building the union per call."""


def _legacy_pending(value: dict[str, Any]) -> list[object] | None:
    """The pending request as the JSON object fedlib stored before issue #9, in the array form (None if
    it is not one)."""
    context = value.get("authn_context")
    requirement = AuthnContextRequirement.from_json(context)
    if context is not None and requirement is None:
        return None
    browser = value.get("browser")
    return [
        _PENDING_VERSION,
        value.get("idp"),
        value.get("relay_state"),
        value.get("acs_url"),
        browser if browser is not None else "",
        None if requirement is None else [requirement.comparison, *requirement.class_refs],
    ]


def _acs_url_hint(untrusted_root: etree._Element, config: SPConfig) -> str | None:
    """The untrusted Destination if it is one of this SP's ACS URLs (the one to validate against; the
    consumed request must then name it), else None (the main ACS URL, which refuses it)."""
    destination = untrusted_root.get("Destination")
    return destination if destination is not None and destination in config.acs_urls else None


_REQUEST_KEY_PREFIX: Final = "request:"


def _request_key(request_id: str) -> str:
    return _REQUEST_KEY_PREFIX + request_id


__all__ = [
    "DEFAULT_REQUEST_LIFETIME",
    "IdPConfig",
    "LoginRequest",
    "LoginResult",
    "LogoutResult",
    "OutgoingLogout",
    "ServiceProvider",
    "safe_relay_state",
]
