"""The framework-neutral web layer: what the SAML routes decide, without any web framework.

An adapter (``fedlib.integrations.flask``, ``fedlib.integrations.starlette``) turns its framework's request
into a frozen :class:`WebRequest`, hands it with the app's session (a mutable mapping: the adapter's own
session object) to a :class:`SamlRoutes` method, and turns the :class:`WebOutcome` back into a response:
status, body, headers, redirect location, :class:`~fedlib.binding.BindingCookie` values to set or clear,
or the value the application's own hook returned (``app_response``, sent as the framework's response).

The routes (see ``fedlib.integrations.flask`` for the full contract, which this module implements):
``metadata``, ``login`` (``?next=``, ``?idp=``, ``?authn=``), ``acs`` (POST; 400 without ``SAMLResponse``),
``logout`` (local POST with CSRF token and same-origin checks, the IdP's LogoutRequest and LogoutResponse,
the GET page with the form). A rejected message is a 403 page with the stable code and the operator hint,
a store outage a 503, any other fedlib error a 400. Pages are rendered by ``render_page`` (a
:class:`Page` -> HTML callable): pass your own to :class:`SamlRoutes` to restyle or replace them.

Sans-I/O apart from the ``ServiceProvider``'s own store calls; no framework import (the layering test).
Application hooks are called as given: their exceptions propagate (they are the application's).
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import logging
import secrets
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime
from json.encoder import encode_basestring_ascii as _json_string
from typing import Any, Final, Literal
from urllib.parse import urlsplit

from fedlib.binding import BindingCookie, cookie_reaches_the_acs, cookies_to_clear
from fedlib.constants import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, NAMEID_UNSPECIFIED
from fedlib.discovery import DISCOVERY_CSP, render_discovery_page
from fedlib.errors import ConfigurationError, FedlibError, ResponseRejected, StoreError
from fedlib.protocol.authn_request import RequestedAuthnContext
from fedlib.sp import LoginResult, LogoutResult, OutgoingLogout, ServiceProvider, safe_relay_state
from fedlib.validation.logout import LogoutRequestResult, LogoutSession

log = logging.getLogger("fedlib.web")

SESSION_KEY: Final = "fedlib"
"""Where the default login hook keeps the verified identity in the app's session."""

CSRF_SESSION_KEY: Final = "fedlib_csrf"
"""Where the per-session logout CSRF token lives in the app's session."""

PRINCIPAL_SESSION_KEY: Final = "fedlib_principal"
"""Where :func:`begin_session` keeps a digest of the principal last signed in (no name in the clear): left in
place at sign-out, so the next login by someone else starts an empty session."""

CSRF_FIELD: Final = "csrf_token"
"""The form field that carries the CSRF token in ``POST /logout``."""

PARTIAL: Final = "partial"
"""What an ``on_logout`` hook returns for an IdP LogoutRequest when it could not end every session of the
user: the LogoutResponse then carries the second-level status PartialLogout."""

Session = MutableMapping[str, Any]

MAX_FORM_FIELDS: Final = 64
"""The most fields a POST to a fedlib route may carry (a 413 past it, before the form is parsed). A SAML POST
binding sends two to four (SAMLResponse or SAMLRequest, RelayState, SigAlg, Signature), the logout form one
or two; the cap keeps a body of a million one-byte fields (2 MiB) from costing a second of parsing."""


def too_many_form_fields(body: bytes) -> bool:
    """Whether an urlencoded ``body`` holds more than :data:`MAX_FORM_FIELDS` fields: it has at least as many
    separators (``&``, and ``;`` which some parsers also split on). A field's name and value carry these
    characters only percent-encoded, so a genuine form is never counted high.

    Counted with ``find`` (memchr), at most ``MAX_FORM_FIELDS`` steps in all: ``bytes.count`` of one byte
    reads the body a byte at a time, ~4.4 µs per count on an IdP's ~10 KB POST (two per login), where a
    genuine form's few separators take two or three memchr scans (~0.5 µs in all); a body full of separators
    stops at the cap (tests/unit/web/test_web.py holds it to the counts)."""
    seen = 0
    for separator in (b"&", b";"):
        at = body.find(separator)
        while at != -1:
            seen += 1
            if seen >= MAX_FORM_FIELDS:
                return True
            at = body.find(separator, at + 1)
    return False


@dataclass(frozen=True, slots=True)
class WebRequest:
    """The request fields the routes read. ``query_string``: the raw query (latin-1 decoded: the IdP's
    Redirect-binding signature is verified over it exactly as received). ``host_url``: the URL of this
    host as the app sees it (``https://sp.example/``), for the logout's same-origin check."""

    method: str
    path: str
    query_string: str = ""
    query: Mapping[str, str] = field(default_factory=dict)
    form: Mapping[str, str] = field(default_factory=dict)
    cookies: Mapping[str, str] = field(default_factory=dict)
    origin: str | None = None
    sec_fetch_site: str | None = None
    host_url: str = ""


@dataclass(frozen=True, slots=True)
class Page:
    """A page fedlib shows: ``body_html`` is already escaped HTML; ``code`` / ``hint`` are set on error
    pages of a refused message (the stable ``ErrorCode`` value and fedlib's operator message)."""

    status: int
    title: str
    body_html: str
    code: str | None = None
    hint: str | None = None


@dataclass(frozen=True, slots=True)
class WebOutcome:
    """What the adapter sends. ``app_response`` (when not None): what the application's hook returned,
    to be sent as the framework's response (with ``cookies`` still applied); otherwise a ``location``
    redirect with ``status`` or a ``body`` page."""

    status: int = 200
    body: str | bytes = ""
    content_type: str = "text/html; charset=utf-8"
    location: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    cookies: tuple[BindingCookie, ...] = ()
    app_response: Any = None


_PAGE = (
    "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{title}</title></head>"
    "<body><h1>{title}</h1>{body}</body></html>"
)


def default_render_page(page: Page) -> str:
    """fedlib's minimal HTML page."""
    return _PAGE.format(title=html.escape(page.title), body=page.body_html)


PageRenderer = Callable[[Page], str]


@dataclass(frozen=True, slots=True, kw_only=True)
class LoginOptions:
    """How ``/login?authn=<name>`` starts a login: the AuthnRequest options the app allows under ``name``.

    The query string only *selects* an entry of the adapter's ``login_options={...}``; nothing in it reaches
    the AuthnRequest as text. ``requested_authn_context`` is enforced at the ACS too (see
    ``ServiceProvider.start_login``).
    """

    requested_authn_context: RequestedAuthnContext | str | None = None
    force_authn: bool = False
    is_passive: bool = False


@dataclass(frozen=True, slots=True)
class LogoutEvent:
    """What the ``on_logout`` hook is told.

    ``kind``:

    - ``"local"``: the user pressed this site's Sign out (CSRF-checked); end the app's own session.
      Single Logout at the IdP starts right after the hook, when possible.
    - ``"idp-request"``: the IdP's LogoutRequest was verified and names this browser's session
      (``request``); end the app's own session; return ``PARTIAL`` if some of it could not end.
    - ``"idp-response"``: the IdP answered this site's LogoutRequest. The local session ended when the
      logout started; ``result.response.status`` says whether the IdP ended its own (``success``,
      ``partial``, ``failure``), ``error`` says why the answer was refused. Return a response to show
      your own page, or None for the redirect to the ``next`` of the sign-out form (or ``/``).

    ``identity``: the fedlib session data (``session["fedlib"]``) being ended, for ``local`` and
    ``idp-request``; fedlib removes it from the session after the hook.
    """

    kind: Literal["local", "idp-request", "idp-response"]
    identity: Mapping[str, Any] | None = None
    request: LogoutRequestResult | None = None
    result: LogoutResult | None = None
    error: ResponseRejected | None = None


LoginHook = Callable[[LoginResult], Any]
LogoutHook = Callable[[LogoutEvent], Any]


def session_identity(result: LoginResult) -> dict[str, Any]:
    """What the default login hook stores under ``SESSION_KEY``: name_id (with its format and qualifiers),
    issuer, session index, attributes, SessionNotOnOrAfter, mapped attributes, roles (JSON-serialisable)."""
    authn = result.authn
    return {
        "name_id": authn.name_id,
        "name_id_format": authn.name_id_format,
        "name_qualifier": authn.name_qualifier,
        "sp_name_qualifier": authn.sp_name_qualifier,
        "issuer": authn.issuer,
        "session_index": authn.session_index,
        "attributes": {name: list(values) for name, values in authn.attributes.items()},
        "session_not_on_or_after": (
            authn.session_not_on_or_after.isoformat() if authn.session_not_on_or_after is not None else None
        ),
        "mapped_attributes": {name: list(values) for name, values in authn.mapped_attributes.items()},
        "roles": sorted(authn.roles),
    }


def principal_digest(identity: Mapping[str, Any]) -> str:
    """Who a stored identity (``session_identity``'s) is, as a digest: the IdP and the NameID with its format
    and qualifiers, the way SAML compares NameIDs (Core §2.2.2: a missing Format is ``unspecified``, a
    missing NameQualifier the IdP itself). Two logins are the same principal when their digests are equal;
    a missing or odd value only ever makes two principals differ."""
    issuer = identity.get("issuer")
    key = [
        issuer,
        identity.get("name_id"),
        identity.get("name_id_format") or NAMEID_UNSPECIFIED,
        identity.get("name_qualifier") or issuer,
        identity.get("sp_name_qualifier"),
    ]
    # Why: json.dumps(key, default=repr) builds a new JSONEncoder per call (default= is not the cached one),
    # once or twice per login. When every item is a str or None (what session_identity stores), its text is
    # json's own C string encoder per item (ensure_ascii, the default ", " separator) or "null": the same
    # bytes, so digests already kept in sessions still match. Anything else goes through json.dumps.
    # tests/unit/web/test_web.py compares both for every kind of value.
    parts: list[str] = []
    for value in key:
        if type(value) is str:
            parts.append(_json_string(value))
        elif value is None:
            parts.append("null")
        else:
            text = json.dumps(key, default=repr)
            break
    else:
        text = "[" + ", ".join(parts) + "]"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def begin_session(session: Session, result: LoginResult) -> None:
    """What the default login hooks do with a verified login: ``session[SESSION_KEY] = session_identity(result)``,
    after making the session the new principal's (the browser's session is now a signed-in one):

    * a session that belonged to another principal is emptied first: nothing the previous user's session
      held carries over, as with ``django.contrib.auth.login`` when another user was signed in. Who it
      belonged to is ``PRINCIPAL_SESSION_KEY`` (a digest, :func:`principal_digest`, of the last principal
      signed in here, which sign-out and the end of the IdP's session leave in place: the application's
      data they leave behind is that principal's), or the identity still stored; an identity fedlib did not
      write counts as another principal;
    * the same principal (or an anonymous session) keeps the application's own data (a cart, a language),
      but the logout CSRF token is dropped: a token from before the login (one planted with a tossed
      session cookie, or read by whoever held the anonymous session) is never the signed-in session's; a
      new one is made on first use.
    """
    identity = session_identity(result)
    principal = principal_digest(identity)
    previous = session.get(PRINCIPAL_SESSION_KEY)
    if previous is None:
        stored = session.get(SESSION_KEY)
        if stored is not None:
            previous = principal_digest(stored) if isinstance(stored, Mapping) else ""
    if previous is not None and previous != principal:
        session.clear()
    else:
        session.pop(CSRF_SESSION_KEY, None)
    session[PRINCIPAL_SESSION_KEY] = principal
    session[SESSION_KEY] = identity


def csrf_token(session: Session) -> str:
    """This browser session's logout CSRF token (created on first use): 32 random bytes, URL-safe."""
    token = session.get(CSRF_SESSION_KEY)
    if not isinstance(token, str) or len(token) < 32:
        token = secrets.token_urlsafe(32)
        session[CSRF_SESSION_KEY] = token
    return token


def logout_form_html(action: str, token: str, *, label: str = "Sign out", next: str | None = None) -> str:
    """The ``POST /logout`` form (a button) with the CSRF ``token``, as HTML (every value escaped)."""
    fields = f'<input type="hidden" name="{CSRF_FIELD}" value="{html.escape(token)}">'
    if next is not None:
        fields += f'<input type="hidden" name="next" value="{html.escape(next)}">'
    return (
        f'<form method="post" action="{html.escape(action)}" class="fedlib-logout">{fields}'
        f'<button type="submit">{html.escape(label)}</button></form>'
    )


def end_expired_session(session: Session, now: datetime) -> bool:
    """Drop the fedlib identity once the IdP's SessionNotOnOrAfter (kept by the default login hook) has
    passed (or is unreadable). True if it was dropped. Adapters call it before every request."""
    identity = session.get(SESSION_KEY)
    until = identity.get("session_not_on_or_after") if isinstance(identity, dict) else None
    if not isinstance(until, str):
        return False
    try:
        deadline: datetime | None = datetime.fromisoformat(until)
    except ValueError:
        deadline = None  # not written by us: treat the session as ended
    if deadline is None or deadline.tzinfo is None or now >= deadline:
        session.pop(SESSION_KEY, None)
        log.info("fedlib: the IdP session lifetime (SessionNotOnOrAfter) ended; signed out locally")
        return True
    return False


def logout_session(user: object) -> LogoutSession | None:
    """The session the default login hook stored, as the validator wants it; None if there is none."""
    if not isinstance(user, dict):
        return None
    issuer, name_id = user.get("issuer"), user.get("name_id")
    if not isinstance(issuer, str) or not isinstance(name_id, str):
        return None

    def text(key: str) -> str | None:
        value = user.get(key)
        return value if isinstance(value, str) else None

    return LogoutSession(
        idp_entity_id=issuer,
        name_id=name_id,
        name_id_format=text("name_id_format"),
        name_qualifier=text("name_qualifier"),
        sp_name_qualifier=text("sp_name_qualifier"),
        session_index=text("session_index"),
    )


class BodyRefused(Exception):
    """Raised by an adapter while reading a request body it will not parse (too large: 413; not a form: 400);
    the adapter answers with ``status`` and ``message`` before fedlib sees anything."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class HookFailed(Exception):
    """Carries an exception of the application's own hook past an adapter's mapping of fedlib's errors, so
    the application's errors stay the application's."""

    def __init__(self, exc: BaseException) -> None:
        super().__init__(repr(exc))
        self.exc = exc


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


_NO_STORE = (("Cache-Control", "no-store"),)


class SamlRoutes:
    """The behaviour of fedlib's routes, framework-neutral. One per adapter instance; the SP is passed per
    call (the adapter resolves tenants). ``render_page`` replaces fedlib's pages (403, 400, 503, sign-out)."""

    def __init__(
        self,
        *,
        binding: str | None = None,
        login_options: Mapping[str, LoginOptions] | None = None,
        single_logout: bool = True,
        render_page: PageRenderer = default_render_page,
    ) -> None:
        self.login_options = dict(login_options or {})
        for name, options in self.login_options.items():
            if not isinstance(name, str) or not name or not isinstance(options, LoginOptions):
                raise ConfigurationError("login_options maps non-empty names to LoginOptions values")
        self.binding = binding
        self.single_logout = single_logout
        self.render_page = render_page

    # ---- pages -------------------------------------------------------------------------------------

    def page(self, page: Page, *, headers: tuple[tuple[str, str], ...] = ()) -> WebOutcome:
        return WebOutcome(status=page.status, body=self.render_page(page), headers=_NO_STORE + headers)

    def simple_page(self, status: int, title: str, body_html: str) -> WebOutcome:
        return self.page(Page(status, title, body_html))

    def rejected_page(
        self, exc: ResponseRejected, *, title: str = "Sign-in refused", note: str | None = None
    ) -> WebOutcome:
        """The 403 page of a refused message: the stable code and fedlib's operator hint, never internals."""
        if note is None:
            note = "<p>Give the code to your administrator; see fedlib's docs/errors.md for what it means.</p>"
        body = (
            f"<p>Error code: <code id='error-code'>{html.escape(exc.code.value)}</code></p>"
            f"<p id='error-hint'>{html.escape(exc.message)}</p>" + note
        )
        return self.page(Page(403, title, body, code=exc.code.value, hint=exc.message))

    def store_down_page(self, exc: StoreError, *, title: str = "Sign-in is temporarily unavailable") -> WebOutcome:
        log.error("fedlib: request store unavailable: %s (%s)", exc, exc.detail)
        return self.simple_page(503, title, "<p>Please try again shortly.</p>")

    def error_outcome(self, exc: Exception, method: str = "", path: str = "") -> WebOutcome:
        """Any exception fedlib raised while handling a request (not the app's hook's): client input never
        becomes a 5xx. ``ResponseRejected`` -> 403 page, ``StoreError`` -> 503, other fedlib errors -> 400,
        anything else (a fedlib bug) -> 400 ``internal-error`` (logged with its traceback)."""
        if isinstance(exc, ResponseRejected):
            log.warning("fedlib: SAML login refused: %s: %s (detail: %s)", exc.code, exc.message, exc.detail)
            return self.rejected_page(exc)
        if isinstance(exc, StoreError):
            return self.store_down_page(exc)
        if isinstance(exc, FedlibError):
            log.warning("fedlib: request refused: %s (%s)", exc, exc.detail)
            return self.simple_page(400, "Sign-in is not available", f"<p>{html.escape(exc.message)}</p>")
        log.error("fedlib: unexpected error while handling %s %s (refused)", method, path, exc_info=exc)
        body = (
            "<p>Error code: <code id='error-code'>internal-error</code></p>"
            "<p>The request could not be processed. Please start again.</p>"
        )
        return self.page(Page(400, "Request refused", body, code="internal-error"))

    @staticmethod
    def redirect(
        location: str, status: int = 303, *, no_store: bool = False, cookies: tuple[BindingCookie, ...] = ()
    ) -> WebOutcome:
        return WebOutcome(status=status, location=location, headers=_NO_STORE if no_store else (), cookies=cookies)

    def send(self, outgoing: OutgoingLogout) -> WebOutcome:
        """A logout message to the IdP: the Redirect URL, or the auto-posting form page."""
        if outgoing.form_html is not None:
            return WebOutcome(body=outgoing.form_html, headers=_NO_STORE)
        assert outgoing.url is not None
        return self.redirect(outgoing.url, 302, no_store=True)

    # ---- routes ------------------------------------------------------------------------------------

    @staticmethod
    def metadata(sp: ServiceProvider) -> WebOutcome:
        return WebOutcome(body=sp.metadata_xml(), content_type="application/samlmetadata+xml")

    def login(self, req: WebRequest, sp: ServiceProvider) -> WebOutcome:
        """``GET /login``: an AuthnRequest (redirect or auto-posting form) and its browser-binding cookie."""
        next_url = safe_relay_state(req.query.get("next"), sp.relay_state_origins)
        idp = req.query.get("idp") or None
        options = LoginOptions()
        authn = req.query.get("authn")
        if authn is not None:
            chosen = self.login_options.get(authn)
            if chosen is None:
                log.warning("fedlib: /login with an authn option the app does not offer")
                return self.simple_page(400, "Sign-in is not available", "<p>Unknown sign-in option.</p>")
            options = chosen
        if idp is None and len(sp.idps) > 1:  # which IdP? ask (issue #10 §6) instead of a 400
            chooser = render_discovery_page(
                [config.metadata for config in sp.idps.values()],
                login_url=req.path,
                next_url=next_url,
                query=req.query.get("q"),
                relay_state_origins=sp.relay_state_origins,
                keep={"authn": authn} if authn is not None else None,
            )
            return WebOutcome(body=chooser, headers=(*_NO_STORE, ("Content-Security-Policy", DISCOVERY_CSP)))
        extra: dict[str, Any] = {
            "force_authn": options.force_authn,
            "is_passive": options.is_passive,
            "requested_authn_context": options.requested_authn_context,
        }
        try:
            if self.binding == BINDING_HTTP_POST:
                login = sp.start_login(idp, relay_state=next_url, binding=BINDING_HTTP_POST, **extra)
            else:
                login = sp.start_login(idp, relay_state=next_url, **extra)
        except ConfigurationError as exc:
            log.warning("fedlib: cannot start login: %s", exc)
            return self.simple_page(400, "Sign-in is not available", f"<p>{html.escape(str(exc))}</p>")
        except StoreError as exc:
            return self.store_down_page(exc)
        if not cookie_reaches_the_acs(sp.config.acs_url):
            log.warning("fedlib: the ACS URL is plain http: browsers drop the login's Secure cookie, use https")
        # One cookie per pending login (several tabs at once); too many in this browser: clear them first.
        cookies = cookies_to_clear(req.cookies.keys())
        if login.binding_cookie is not None:
            cookies.append(login.binding_cookie)
        if login.form_html is not None:
            return WebOutcome(body=login.form_html, headers=_NO_STORE, cookies=tuple(cookies))
        assert login.url is not None
        return self.redirect(login.url, 302, no_store=True, cookies=tuple(cookies))

    def acs(self, req: WebRequest, sp: ServiceProvider, on_login: LoginHook) -> WebOutcome:
        """``POST /acs``: validate, run ``on_login``, redirect to the safe RelayState (or ``/``), clear the
        spent binding cookie. A POST without ``SAMLResponse`` is a 400 (not a SAML message at all)."""
        if "SAMLResponse" not in req.form:
            log.warning("fedlib: POST to the ACS without a SAMLResponse field")
            return self.simple_page(400, "Bad request", "<p>The request carries no SAMLResponse.</p>")
        try:
            result = sp.finish_login(dict(req.form), browser_binding=dict(req.cookies))
        except ResponseRejected as exc:
            log.warning("fedlib: SAML login refused: %s: %s (detail: %s)", exc.code, exc.message, exc.detail)
            return self.rejected_page(exc)
        except StoreError as exc:
            return self.store_down_page(exc)
        spent = (result.clear_cookie,) if result.clear_cookie is not None else ()
        response = on_login(result)
        if response is None:
            return self.redirect(result.relay_state or "/", 303, cookies=spent)
        return WebOutcome(app_response=response, cookies=spent)

    def logout(
        self, req: WebRequest, sp: ServiceProvider, session: Session, on_logout: LogoutHook, *, logout_action: str
    ) -> WebOutcome:
        """``/logout``: an IdP LogoutRequest (Redirect or POST binding), the IdP's LogoutResponse, a local
        logout (POST with the CSRF token), or (GET) the page with the logout form (``logout_action``: the
        URL of this route, for that form)."""
        if req.method == "POST":
            # A SAMLRequest/SAMLResponse POST is authenticated by its signature, not by the CSRF token.
            if "SAMLRequest" in req.form:
                return self._idp_logout(sp, session, on_logout, form=dict(req.form))
            if "SAMLResponse" in req.form:
                return self._logout_answered(sp, on_logout, form=dict(req.form))
            return self._local_logout(req, sp, session, on_logout)
        if "SAMLRequest" in req.query:
            # Verified over the query exactly as received (AD FS / Entra lower-case encoding included).
            return self._idp_logout(sp, session, on_logout, query_string=req.query_string)
        if "SAMLResponse" in req.query:
            return self._logout_answered(sp, on_logout, query_string=req.query_string)
        # A plain GET ends nothing (any site can make a browser GET this URL): offer the POST form.
        next_url = safe_relay_state(req.query.get("next"), sp.relay_state_origins)
        form = logout_form_html(logout_action, csrf_token(session), next=next_url)
        return self.page(
            Page(200, "Sign out", "<p>Sign out of this site?</p>" + form),
            headers=(("X-Frame-Options", "DENY"), ("Content-Security-Policy", "frame-ancestors 'none'")),
        )

    def _logout_refused(self, reason: str) -> WebOutcome:
        log.warning("fedlib: local logout refused: %s", reason)
        return self.simple_page(
            403,
            "Sign-out refused",
            f"<p id='error-hint'>{html.escape(reason)}</p><p>Use the site's own Sign out button.</p>",
        )

    def _local_logout(
        self, req: WebRequest, sp: ServiceProvider, session: Session, on_logout: LogoutHook
    ) -> WebOutcome:
        """POST without SAMLRequest: end the local session if the request comes from this site's own form."""
        if req.sec_fetch_site is not None and req.sec_fetch_site != "same-origin":
            return self._logout_refused("the sign-out request came from another site")
        if req.origin is not None:
            allowed = {_origin(req.host_url), _origin(sp.config.acs_url)}
            if sp.config.slo_url is not None:
                allowed.add(_origin(sp.config.slo_url))
            if req.origin.lower().rstrip("/") not in allowed:
                return self._logout_refused("the sign-out request came from another site")
        expected = session.get(CSRF_SESSION_KEY)
        given = req.form.get(CSRF_FIELD, "")
        if not isinstance(expected, str) or not expected:
            return self._logout_refused("the sign-out form has expired (no token in this session)")
        if not hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8", "replace")):
            return self._logout_refused("the sign-out form carries a wrong or missing token")
        identity = session.get(SESSION_KEY)
        on_logout(LogoutEvent("local", identity if isinstance(identity, dict) else None))
        session.pop(SESSION_KEY, None)
        session.pop(CSRF_SESSION_KEY, None)
        next_url = safe_relay_state(req.form.get("next"), sp.relay_state_origins)
        log.debug("fedlib: local session ended")
        # Then Single Logout at the IdP, when the session came from one that offers it.
        ending = logout_session(identity)
        outgoing = None
        if self.single_logout and ending is not None:
            binding = BINDING_HTTP_POST if self.binding == BINDING_HTTP_POST else BINDING_HTTP_REDIRECT
            try:
                outgoing = sp.start_logout(ending, binding=binding, relay_state=next_url)
            except ConfigurationError as exc:
                log.info("fedlib: signed out locally only: %s", exc)
            except StoreError as exc:
                log.error("fedlib: request store unavailable, signed out locally only: %s (%s)", exc, exc.detail)
        if outgoing is None:
            return self.redirect(next_url or "/", 303)
        return self.send(outgoing)

    def _logout_answered(
        self,
        sp: ServiceProvider,
        on_logout: LogoutHook,
        *,
        query_string: str | None = None,
        form: dict[str, str] | None = None,
    ) -> WebOutcome:
        """The IdP's LogoutResponse to this site's LogoutRequest. The local session ended when the logout
        started (nothing here ends a session: the answer is not bound to this browser); the app is told."""
        try:
            result = sp.finish_logout(query_string=query_string, form=form)
        except ResponseRejected as exc:
            log.warning("fedlib: LogoutResponse refused: %s: %s (detail: %s)", exc.code, exc.message, exc.detail)
            outcome = on_logout(LogoutEvent("idp-response", error=exc))
            if outcome is not None and outcome != PARTIAL:
                return WebOutcome(app_response=outcome)
            note = (
                "<p>The identity provider's answer to the sign-out could not be accepted; your session at the "
                "identity provider may still be open. Give the code to your administrator.</p>"
            )
            return self.rejected_page(exc, title="Sign-out not confirmed", note=note)
        if not result.response.success:
            log.warning(
                "fedlib: the IdP reports %s logout (status %s)", result.response.status, result.response.status_codes
            )
        outcome = on_logout(LogoutEvent("idp-response", result=result))
        if outcome is not None and outcome != PARTIAL:  # PARTIAL means something only for idp-request
            return WebOutcome(app_response=outcome)
        return self.redirect(result.relay_state or "/", 303)

    def _idp_logout(
        self,
        sp: ServiceProvider,
        session: Session,
        on_logout: LogoutHook,
        *,
        query_string: str | None = None,
        form: dict[str, str] | None = None,
    ) -> WebOutcome:
        """An IdP LogoutRequest: end this browser's session only if the request is valid and names it (the
        ``on_logout`` hook runs then), and answer with a signed LogoutResponse (PartialLogout when the hook
        returns ``PARTIAL``). Without a signing key or an IdP SLO endpoint the browser lands on the (safe)
        RelayState or ``/`` instead."""
        identity = session.get(SESSION_KEY)
        try:
            result = sp.handle_logout_request(query_string=query_string, form=form, session=logout_session(identity))
        except ResponseRejected as exc:
            log.warning("fedlib: LogoutRequest refused: %s: %s (detail: %s)", exc.code, exc.message, exc.detail)
            note = (
                "<p>You are still signed in here. Give the code to your administrator; see fedlib's "
                "docs/errors.md for what it means.</p>"
            )
            return self.rejected_page(exc, title="Sign-out refused", note=note)
        except StoreError as exc:
            return self.store_down_page(exc, title="Sign-out is temporarily unavailable")
        except ConfigurationError as exc:
            log.warning("fedlib: cannot process a LogoutRequest: %s", exc)
            return self.simple_page(400, "Sign-out is not available", f"<p>{html.escape(str(exc))}</p>")
        partial = False
        if result.session_matched:
            assert isinstance(identity, dict)
            partial = on_logout(LogoutEvent("idp-request", identity, request=result)) == PARTIAL
            session.pop(SESSION_KEY, None)
            session.pop(CSRF_SESSION_KEY, None)
            log.debug("fedlib: session ended by the IdP's LogoutRequest %s", result.request_id)
        try:
            outgoing = sp.answer_logout_request(result, partial=partial)
        except ConfigurationError as exc:
            log.warning("fedlib: cannot answer the IdP's LogoutRequest: %s", exc)
            outgoing = None
        if outgoing is None:
            next_url = safe_relay_state(result.relay_state, sp.relay_state_origins) or "/"
            return self.redirect(next_url, 303)
        return self.send(outgoing)


__all__ = [
    "CSRF_FIELD",
    "CSRF_SESSION_KEY",
    "MAX_FORM_FIELDS",
    "PARTIAL",
    "PRINCIPAL_SESSION_KEY",
    "SESSION_KEY",
    "LoginOptions",
    "LogoutEvent",
    "Page",
    "SamlRoutes",
    "WebOutcome",
    "WebRequest",
    "begin_session",
    "csrf_token",
    "default_render_page",
    "end_expired_session",
    "logout_form_html",
    "logout_session",
    "principal_digest",
    "session_identity",
    "too_many_form_fields",
]
