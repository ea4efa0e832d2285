"""Flask adapter: routes in, ``ServiceProvider`` calls out. No SAML logic lives here.

::

    from flask import Flask
    from fedlib.integrations.flask import FedLib

    app = Flask(__name__)
    app.secret_key = ...
    saml = FedLib(app, service_provider=sp)          # or FedLib(app, tenants=registry.get)

    @saml.on_login
    def remember(result):                            # map the verified AuthnResult to your user
        flask_login.login_user(User.from_saml(result.authn))

Routes (under ``url_prefix``, default ``/saml``; with ``tenants`` under ``/saml/<tenant>``):

``GET  /metadata``  the SP metadata
``GET  /login``     start an SP-initiated login (``?next=/path`` where to land, ``?idp=<entityID>``,
                    ``?authn=<name>``: one of the app's ``login_options``, e.g. ``mfa``; never free text)
``POST /acs``       the AssertionConsumerService: validate, run the ``on_login`` hook, redirect
``POST /logout``    end the local session: needs the per-session CSRF token (``csrf_token`` field; render
                    the form with ``logout_form()`` or the ``fedlib_logout_form()`` Jinja global) and, when
                    the browser sends them, a same-origin ``Origin`` / ``Sec-Fetch-Site``; ``next`` field
                    (a relative path or an allowed origin) says where to land. Anything else: 403, session
                    untouched.
                    Then, when the SP has a signing key and the IdP an SLO endpoint, Single Logout: a
                    signed LogoutRequest to the IdP (redirect or auto-posting form; ``single_logout=False``
                    turns it off). The ``on_logout`` hook runs first (end your own session there)
``GET  /logout?SAMLResponse=...`` / ``POST /logout`` with ``SAMLResponse``: the IdP's answer to it
                    (``ServiceProvider.finish_logout``); ends nothing (the session ended when the logout
                    started), tells the ``on_logout`` hook, then a redirect to ``next`` (or ``/``); a refused
                    answer is a 403 page with the code. See docs/logout.md
``GET  /logout``    ends nothing: a small page with that POST form (old "Sign out" links keep working,
                    with one click; the page cannot be framed)
``GET  /logout?SAMLRequest=...&SigAlg=...&Signature=...`` (HTTP-Redirect) and ``POST /logout`` with a
                    ``SAMLRequest`` field (HTTP-POST): an IdP LogoutRequest; the session ends only when
                    ``ServiceProvider.handle_logout_request`` accepts it for *this browser's* session (signed
                    by the session's IdP, Destination = ``SPConfig.slo_url``, fresh, unused, same NameID and
                    SessionIndex); otherwise a 403 page with the code and the session untouched. Then a
                    signed LogoutResponse to the IdP (PartialLogout when the ``on_logout`` hook returns
                    ``PARTIAL``); without a signing key or an IdP SLO endpoint, a redirect to the
                    RelayState if it is a safe path, else ``/``. A cross-site POST carries no
                    ``SameSite=Lax`` session cookie, so
                    over HTTP-POST only sessions whose cookie is ``SameSite=None`` can be found and ended.
                    The session matched is the one ``default_login_hook`` stores; with your own ``on_login``
                    hook, IdP LogoutRequests are validated but end nothing of yours

A rejected Response becomes a 403 page that shows the stable error code and fedlib's operator message
(what to change at the IdP), never internals; the private detail goes to the log. A store outage is a 503.
Client input never yields a 5xx: every fedlib route has an error handler that turns a ``ResponseRejected``
into the 403 page, a ``StoreError`` into the 503, a ``ConfigurationError`` into a 400, and any other
exception raised while fedlib handles the request (a fedlib bug) into a 400 page with the code
``internal-error`` (logged with its traceback). An exception from the application's own ``on_login`` hook
is the application's and propagates as usual.
A refused logout is a 403 page with the code (or the CSRF reason); nothing about it is ever a 500.
The pending request lives server-side (keyed by request ID). Each login is bound to the browser that
started it (login CSRF): ``/login`` sets one HttpOnly cookie per pending request
(``__Host-fedlib-login-<hash>`` over https; ``Secure; SameSite=None`` so the cross-site ACS POST carries it;
``Max-Age`` = the request lifetime), ``/acs`` passes the cookies to ``finish_login`` and clears the spent
one; a Response posted from another browser is a 403 ``browser-mismatch`` (see :mod:`fedlib.binding`).
The ACS URL is the one in the SP configuration, never rebuilt from Host headers; its scheme decides the
cookie's name.
"""

from __future__ import annotations

import hmac
import html
import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, abort, current_app, redirect, request, session, url_for
from markupsafe import Markup
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from fedlib.binding import BindingCookie, cookie_reaches_the_acs, cookies_to_clear
from fedlib.clock import SystemClock
from fedlib.constants import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from fedlib.discovery import DISCOVERY_CSP, render_discovery_page
from fedlib.errors import ConfigurationError, FedlibError, ResponseRejected, StoreError
from fedlib.protocol.authn_request import RequestedAuthnContext
from fedlib.sp import LoginResult, LogoutResult, OutgoingLogout, ServiceProvider, safe_relay_state
from fedlib.validation.logout import LogoutRequestResult, LogoutSession

log = logging.getLogger("fedlib.flask")

_IN_APP_CODE = "fedlib.in_app_code"
"""WSGI environ flag: set while the application's own hook runs (its exceptions are not fedlib's)."""

SESSION_KEY = "fedlib"
"""Where the default login hook keeps the verified identity in the Flask session."""

CSRF_SESSION_KEY = "fedlib_csrf"
"""Where the per-session logout CSRF token lives in the Flask session."""

CSRF_FIELD = "csrf_token"
"""The form field that carries the CSRF token in ``POST /logout``."""

LoginHook = Callable[[LoginResult], Any]

PARTIAL: Final = "partial"
"""What an ``on_logout`` hook returns for an IdP LogoutRequest when it could not end every session of the
user: the LogoutResponse then carries the second-level status PartialLogout."""


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
      ``partial``, ``failure``), ``error`` says why the answer was refused. Return a Flask response to show
      your own page, or None for the redirect to the ``next`` of the sign-out form (or ``/``).

    ``identity``: the fedlib session data (``session["fedlib"]``) being ended, for ``local`` and
    ``idp-request``; fedlib removes it from the session after the hook.
    """

    kind: Literal["local", "idp-request", "idp-response"]
    identity: Mapping[str, Any] | None = None
    request: LogoutRequestResult | None = None
    result: LogoutResult | None = None
    error: ResponseRejected | None = None


LogoutHook = Callable[[LogoutEvent], Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class LoginOptions:
    """How ``/login?authn=<name>`` starts a login: the AuthnRequest options the app allows under ``name``.

    The query string only *selects* an entry of ``FedLib(login_options={...})``; nothing in it reaches the
    AuthnRequest as text. ``requested_authn_context`` is enforced at the ACS too (see
    ``ServiceProvider.start_login``).
    """

    requested_authn_context: RequestedAuthnContext | str | None = None
    force_authn: bool = False
    is_passive: bool = False


TenantLookup = Callable[[str], ServiceProvider]

_PAGE = (
    "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{title}</title></head>"
    "<body><h1>{title}</h1>{body}</body></html>"
)


def default_login_hook(result: LoginResult) -> None:
    """Keep the identity in the session: ``session["fedlib"]`` = name_id (with its format and qualifiers),
    issuer, session index, attributes. An IdP LogoutRequest must name exactly this NameID and session."""
    authn = result.authn
    session[SESSION_KEY] = {
        "name_id": authn.name_id,
        "name_id_format": authn.name_id_format,
        "name_qualifier": authn.name_qualifier,
        "sp_name_qualifier": authn.sp_name_qualifier,
        "issuer": authn.issuer,
        "session_index": authn.session_index,
        "attributes": {name: list(values) for name, values in authn.attributes.items()},
        # The IdP's SessionNotOnOrAfter: FedLib ends this session then (``FedLib._end_expired_session``).
        "session_not_on_or_after": (
            authn.session_not_on_or_after.isoformat() if authn.session_not_on_or_after is not None else None
        ),
        "mapped_attributes": {name: list(values) for name, values in authn.mapped_attributes.items()},
        "roles": sorted(authn.roles),
    }


def default_logout_hook(event: LogoutEvent) -> None:
    """Drop fedlib's identity from the Flask session (fedlib does it after every hook anyway). Replace it
    with ``@saml.on_logout`` to end the application's own session too, e.g. ``flask_login.logout_user()``."""
    if event.kind != "idp-response":
        session.pop(SESSION_KEY, None)


def csrf_token() -> str:
    """This browser session's logout CSRF token (created on first use): 32 random bytes, URL-safe."""
    token = session.get(CSRF_SESSION_KEY)
    if not isinstance(token, str) or len(token) < 32:
        token = secrets.token_urlsafe(32)
        session[CSRF_SESSION_KEY] = token
    return token


def logout_form(label: str = "Sign out", *, next: str | None = None, tenant: str | None = None) -> Markup:
    """The ``POST /logout`` form (a button) with this session's CSRF token, as safe HTML for a template.

    ``next``: where to land after logout (a relative path). ``tenant``: with a tenant lookup, the tenant
    (default: the current request's). Also available in Jinja as ``fedlib_logout_form()``.
    """
    if tenant is None and request.view_args:
        tenant = request.view_args.get("tenant")
    action = url_for("fedlib.logout", tenant=tenant) if tenant is not None else url_for("fedlib.logout")
    fields = Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD, csrf_token())
    if next is not None:
        fields += Markup('<input type="hidden" name="next" value="{}">').format(next)
    return Markup(
        '<form method="post" action="{}" class="fedlib-logout">{}<button type="submit">{}</button></form>'
    ).format(action, fields, label)


def _logout_session(user: object) -> LogoutSession | None:
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


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


class FedLib:
    """The Flask extension. Give it one ``service_provider`` or a ``tenants`` lookup (tenant -> SP)."""

    def __init__(
        self,
        app: Flask | None = None,
        *,
        service_provider: ServiceProvider | None = None,
        tenants: TenantLookup | None = None,
        url_prefix: str = "/saml",
        binding: str | None = None,
        login_options: Mapping[str, LoginOptions] | None = None,
        single_logout: bool = True,
    ) -> None:
        if service_provider is not None and tenants is not None:
            raise ConfigurationError("give FedLib at most one of service_provider= or tenants=")
        self.login_options = dict(login_options or {})
        """``/login?authn=<name>`` -> the options of that login (an allow-list; unknown names are a 400)."""
        for name, options in self.login_options.items():
            if not isinstance(name, str) or not name or not isinstance(options, LoginOptions):
                raise ConfigurationError("login_options maps non-empty names to LoginOptions values")
        self.service_provider = service_provider
        self.tenants = tenants
        self.url_prefix = url_prefix.rstrip("/")
        self.binding = binding
        self.login_hook: LoginHook = default_login_hook
        self.logout_hook: LogoutHook = default_logout_hook
        self.single_logout = single_logout
        """Sign out at the IdP too (SP-initiated Single Logout) when the SP can sign and the IdP has an SLO
        endpoint; False: Sign out ends the local session only."""
        if app is not None:
            self.init_app(app)

    def on_login(self, hook: LoginHook) -> LoginHook:
        """Decorator: ``hook(result)`` runs after a verified login; return a Flask response to send it, or
        None to redirect to the (safe) RelayState or ``/``. Replaces the default session hook."""
        self.login_hook = hook
        return hook

    def on_logout(self, hook: LogoutHook) -> LogoutHook:
        """Decorator: ``hook(event)`` runs on every sign-out (a ``LogoutEvent``: local, the IdP's
        LogoutRequest, the IdP's LogoutResponse). Replaces the default hook, which only drops fedlib's
        session key; fedlib drops its keys after your hook in any case. Flask-Login::

            @saml.on_logout
            def end(event):
                if event.kind != "idp-response":
                    flask_login.logout_user()
        """
        self.logout_hook = hook
        return hook

    def init_app(self, app: Flask) -> None:
        """Register the routes. Without ``service_provider``/``tenants``, read ``app.config["FEDLIB_SETTINGS"]``
        (a TOML file, see docs/configuration.md): one tenant gives one SP at ``/saml``, several give
        ``/saml/<tenant>``."""
        if self.service_provider is None and self.tenants is None:
            self._load_from_config(app)
        prefix = self.url_prefix + ("/<tenant>" if self.tenants is not None else "")
        bp = Blueprint("fedlib", __name__, url_prefix=prefix)
        bp.add_url_rule("/metadata", "metadata", self._metadata, methods=["GET"])
        bp.add_url_rule("/login", "login", self._login, methods=["GET"])
        bp.add_url_rule("/acs", "acs", self._acs, methods=["POST"])
        bp.add_url_rule("/logout", "logout", self._logout, methods=["GET", "POST"])
        bp.register_error_handler(Exception, self._error)
        app.register_blueprint(bp)
        app.before_request(self._end_expired_session)
        app.add_template_global(logout_form, "fedlib_logout_form")
        app.add_template_global(csrf_token, "fedlib_csrf_token")
        app.extensions["fedlib"] = self

    def _end_expired_session(self) -> None:
        """Before every request of the app: drop the fedlib identity once the IdP's SessionNotOnOrAfter
        (kept by the default login hook) has passed, so the app sees the user as signed out. A custom
        ``on_login`` hook that keeps its own session gets ``result.authn.session_not_on_or_after`` to honour."""
        identity = session.get(SESSION_KEY)
        until = identity.get("session_not_on_or_after") if isinstance(identity, dict) else None
        if not isinstance(until, str):
            return
        try:
            deadline = datetime.fromisoformat(until)
        except ValueError:
            deadline = None  # not written by us: treat the session as ended
        clock = self.service_provider.clock if self.service_provider is not None else SystemClock()
        if deadline is None or deadline.tzinfo is None or clock.now() >= deadline:
            session.pop(SESSION_KEY, None)
            log.info("fedlib: the IdP session lifetime (SessionNotOnOrAfter) ended; signed out locally")

    def _load_from_config(self, app: Flask) -> None:
        from datetime import UTC, datetime

        from fedlib.settings import load_settings_toml
        from fedlib.tenants import TenantRegistry

        path = app.config.get("FEDLIB_SETTINGS")
        if not path:
            raise ConfigurationError(
                "FedLib needs service_provider=, tenants= or app.config['FEDLIB_SETTINGS'] (a TOML file)"
            )
        settings = load_settings_toml(path, now=datetime.now(UTC))
        registry = TenantRegistry.from_settings(settings)
        if len(settings.tenants) == 1:
            self.service_provider = registry.get(next(iter(settings.tenants)))
        else:
            self.tenants = registry.get
        app.extensions["fedlib.registry"] = registry

    # ---- helpers ----------------------------------------------------------------------------------

    def _sp(self, tenant: str | None) -> ServiceProvider:
        if self.service_provider is not None:
            return self.service_provider
        assert self.tenants is not None
        assert tenant is not None
        try:
            return self.tenants(tenant)
        except ConfigurationError:
            abort(404)

    @staticmethod
    def _set_cookies(response: BaseResponse, cookies: list[BindingCookie]) -> BaseResponse:
        for cookie in cookies:
            response.set_cookie(
                cookie.name,
                cookie.value,
                max_age=cookie.max_age,
                path=cookie.path,
                secure=cookie.secure,
                httponly=cookie.http_only,
                samesite=cookie.same_site,
            )
        return response

    @staticmethod
    def _page(status: int, title: str, body: str) -> Response:
        return Response(
            _PAGE.format(title=html.escape(title), body=body),
            status=status,
            mimetype="text/html",
            headers={"Cache-Control": "no-store"},
        )

    @classmethod
    def _rejected_page(cls, exc: ResponseRejected) -> Response:
        log.warning("fedlib: SAML login refused: %s: %s (detail: %s)", exc.code, exc.message, exc.detail)
        body = (
            f"<p>Error code: <code id='error-code'>{html.escape(exc.code.value)}</code></p>"
            f"<p id='error-hint'>{html.escape(exc.message)}</p>"
            "<p>Give the code to your administrator; see fedlib's docs/errors.md for what it means.</p>"
        )
        return cls._page(403, "Sign-in refused", body)

    @classmethod
    def _store_down_page(cls, exc: StoreError) -> Response:
        log.error("fedlib: request store unavailable: %s (%s)", exc, exc.detail)
        return cls._page(503, "Sign-in is temporarily unavailable", "<p>Please try again shortly.</p>")

    def _error(self, exc: Exception) -> Any:
        """Error handler of the fedlib routes: client input never becomes a 5xx (see the module doc)."""
        if isinstance(exc, HTTPException):
            return exc
        if request.environ.get(_IN_APP_CODE):
            raise exc  # the application's own hook failed: its error, its error handling
        if isinstance(exc, ResponseRejected):
            return self._rejected_page(exc)
        if isinstance(exc, StoreError):
            return self._store_down_page(exc)
        if isinstance(exc, FedlibError):
            log.warning("fedlib: request refused: %s (%s)", exc, exc.detail)
            return self._page(400, "Sign-in is not available", f"<p>{html.escape(exc.message)}</p>")
        log.exception("fedlib: unexpected error while handling %s %s (refused)", request.method, request.path)
        body = (
            "<p>Error code: <code id='error-code'>internal-error</code></p>"
            "<p>The request could not be processed. Please start again.</p>"
        )
        return self._page(400, "Request refused", body)

    # ---- views -------------------------------------------------------------------------------------

    def _metadata(self, tenant: str | None = None) -> Response:
        return Response(self._sp(tenant).metadata_xml(), mimetype="application/samlmetadata+xml")

    def _login(self, tenant: str | None = None) -> Any:
        sp = self._sp(tenant)
        next_url = safe_relay_state(request.args.get("next"), sp.relay_state_origins)
        idp = request.args.get("idp") or None
        options = LoginOptions()
        authn = request.args.get("authn")
        if authn is not None:
            chosen = self.login_options.get(authn)
            if chosen is None:
                log.warning("fedlib: /login with an authn option the app does not offer")
                return self._page(400, "Sign-in is not available", "<p>Unknown sign-in option.</p>")
            options = chosen
        if idp is None and len(sp.idps) > 1:  # which IdP? ask (issue #10 §6) instead of a 400
            chooser = render_discovery_page(
                [config.metadata for config in sp.idps.values()],
                login_url=request.path,
                next_url=next_url,
                query=request.args.get("q"),
                relay_state_origins=sp.relay_state_origins,
                keep={"authn": authn} if authn is not None else None,
            )
            headers = {"Cache-Control": "no-store", "Content-Security-Policy": DISCOVERY_CSP}
            return Response(chooser, status=200, mimetype="text/html", headers=headers)
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
            return self._page(400, "Sign-in is not available", f"<p>{html.escape(str(exc))}</p>")
        except StoreError as exc:
            log.error("fedlib: request store unavailable: %s (%s)", exc, exc.detail)
            return self._page(503, "Sign-in is temporarily unavailable", "<p>Please try again shortly.</p>")
        if not cookie_reaches_the_acs(sp.config.acs_url):
            log.warning("fedlib: the ACS URL is plain http: browsers drop the login's Secure cookie, use https")
        # One cookie per pending login (several tabs at once); too many in this browser: clear them first.
        cookies = cookies_to_clear(request.cookies.keys())
        if login.binding_cookie is not None:
            cookies.append(login.binding_cookie)
        if login.form_html is not None:
            page = Response(login.form_html, mimetype="text/html", headers={"Cache-Control": "no-store"})
            return self._set_cookies(page, cookies)
        assert login.url is not None
        response = redirect(login.url, code=302)
        response.headers["Cache-Control"] = "no-store"
        return self._set_cookies(response, cookies)

    def _acs(self, tenant: str | None = None) -> Any:
        sp = self._sp(tenant)
        try:
            result = sp.finish_login(request.form.to_dict(), browser_binding=request.cookies.to_dict())
        except ResponseRejected as exc:
            log.warning("fedlib: SAML login refused: %s: %s (detail: %s)", exc.code, exc.message, exc.detail)
            body = (
                f"<p>Error code: <code id='error-code'>{html.escape(exc.code.value)}</code></p>"
                f"<p id='error-hint'>{html.escape(exc.message)}</p>"
                "<p>Give the code to your administrator; see fedlib's docs/errors.md for what it means.</p>"
            )
            return self._page(403, "Sign-in refused", body)
        except StoreError as exc:
            log.error("fedlib: request store unavailable: %s (%s)", exc, exc.detail)
            return self._page(503, "Sign-in is temporarily unavailable", "<p>Please try again shortly.</p>")
        spent = [result.clear_cookie] if result.clear_cookie is not None else []
        request.environ[_IN_APP_CODE] = True  # stays set if the hook raises: see _error
        response = self.login_hook(result)
        request.environ[_IN_APP_CODE] = False
        if response is None:
            response = redirect(result.relay_state or "/", code=303)
        return self._set_cookies(current_app.make_response(response), spent)

    def _logout(self, tenant: str | None = None) -> Any:
        """``/logout``: an IdP LogoutRequest (Redirect or POST binding), a local logout (POST with the CSRF
        token), or (GET) the page with the logout form. See the module docstring."""
        sp = self._sp(tenant)
        if request.method == "POST":
            # A SAMLRequest/SAMLResponse POST is authenticated by its signature, not by the CSRF token.
            if "SAMLRequest" in request.form:
                return self._idp_logout(sp, form=request.form.to_dict())
            if "SAMLResponse" in request.form:
                return self._logout_answered(sp, form=request.form.to_dict())
            return self._local_logout(sp)
        if "SAMLRequest" in request.args:
            # Verified over the query exactly as received (AD FS / Entra lower-case encoding included).
            return self._idp_logout(sp, query_string=request.query_string.decode("latin-1"))
        if "SAMLResponse" in request.args:
            return self._logout_answered(sp, query_string=request.query_string.decode("latin-1"))
        # A plain GET ends nothing (any site can make a browser GET this URL): offer the POST form.
        next_url = safe_relay_state(request.args.get("next"), sp.relay_state_origins)
        page = self._page(
            200, "Sign out", "<p>Sign out of this site?</p>" + str(logout_form(next=next_url, tenant=tenant))
        )
        page.headers["X-Frame-Options"] = "DENY"
        page.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
        return page

    def _logout_refused(self, reason: str) -> Response:
        log.warning("fedlib: local logout refused: %s", reason)
        return self._page(
            403,
            "Sign-out refused",
            f"<p id='error-hint'>{html.escape(reason)}</p><p>Use the site's own Sign out button.</p>",
        )

    def _local_logout(self, sp: ServiceProvider) -> Any:
        """POST without SAMLRequest: end the local session if the request comes from this site's own form."""
        fetch_site = request.headers.get("Sec-Fetch-Site")
        if fetch_site is not None and fetch_site != "same-origin":
            return self._logout_refused("the sign-out request came from another site")
        origin = request.headers.get("Origin")
        if origin is not None:
            allowed = {_origin(request.host_url), _origin(sp.config.acs_url)}
            if sp.config.slo_url is not None:
                allowed.add(_origin(sp.config.slo_url))
            if origin.lower().rstrip("/") not in allowed:
                return self._logout_refused("the sign-out request came from another site")
        expected = session.get(CSRF_SESSION_KEY)
        given = request.form.get(CSRF_FIELD, "")
        if not isinstance(expected, str) or not expected:
            return self._logout_refused("the sign-out form has expired (no token in this session)")
        if not hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8", "replace")):
            return self._logout_refused("the sign-out form carries a wrong or missing token")
        identity = session.get(SESSION_KEY)
        self._run_logout_hook(LogoutEvent("local", identity if isinstance(identity, dict) else None))
        session.pop(SESSION_KEY, None)
        session.pop(CSRF_SESSION_KEY, None)
        next_url = safe_relay_state(request.form.get("next"), sp.relay_state_origins)
        current_app.logger.debug("fedlib: local session ended")
        # Then Single Logout at the IdP, when the session came from one that offers it.
        logout_session = _logout_session(identity)
        outgoing = None
        if self.single_logout and logout_session is not None:
            binding = BINDING_HTTP_POST if self.binding == BINDING_HTTP_POST else BINDING_HTTP_REDIRECT
            try:
                outgoing = sp.start_logout(logout_session, binding=binding, relay_state=next_url)
            except ConfigurationError as exc:
                log.info("fedlib: signed out locally only: %s", exc)
            except StoreError as exc:
                log.error("fedlib: request store unavailable, signed out locally only: %s (%s)", exc, exc.detail)
        if outgoing is None:
            return redirect(next_url or "/", code=303)
        return self._send(outgoing)

    def _run_logout_hook(self, event: LogoutEvent) -> Any:
        request.environ[_IN_APP_CODE] = True  # stays set if the hook raises: see _error
        outcome = self.logout_hook(event)
        request.environ[_IN_APP_CODE] = False
        return outcome

    @staticmethod
    def _send(outgoing: OutgoingLogout) -> Response | BaseResponse:
        """A logout message to the IdP: the Redirect URL, or the auto-posting form page."""
        if outgoing.form_html is not None:
            return Response(outgoing.form_html, mimetype="text/html", headers={"Cache-Control": "no-store"})
        assert outgoing.url is not None
        response = redirect(outgoing.url, code=302)
        response.headers["Cache-Control"] = "no-store"
        return response

    def _logout_answered(
        self, sp: ServiceProvider, *, query_string: str | None = None, form: dict[str, str] | None = None
    ) -> Any:
        """The IdP's LogoutResponse to this site's LogoutRequest. The local session ended when the logout
        started (nothing here ends a session: the answer is not bound to this browser); the app is told."""
        try:
            result = sp.finish_logout(query_string=query_string, form=form)
        except ResponseRejected as exc:
            log.warning("fedlib: LogoutResponse refused: %s: %s (detail: %s)", exc.code, exc.message, exc.detail)
            outcome = self._run_logout_hook(LogoutEvent("idp-response", error=exc))
            if outcome is not None and outcome != PARTIAL:
                return outcome
            body = (
                f"<p>Error code: <code id='error-code'>{html.escape(exc.code.value)}</code></p>"
                f"<p id='error-hint'>{html.escape(exc.message)}</p>"
                "<p>The identity provider's answer to the sign-out could not be accepted; your session at the "
                "identity provider may still be open. Give the code to your administrator.</p>"
            )
            return self._page(403, "Sign-out not confirmed", body)
        if not result.response.success:
            log.warning(
                "fedlib: the IdP reports %s logout (status %s)", result.response.status, result.response.status_codes
            )
        outcome = self._run_logout_hook(LogoutEvent("idp-response", result=result))
        if outcome is not None and outcome != PARTIAL:  # PARTIAL means something only for idp-request
            return outcome
        return redirect(result.relay_state or "/", code=303)

    def _idp_logout(
        self, sp: ServiceProvider, *, query_string: str | None = None, form: dict[str, str] | None = None
    ) -> Any:
        """An IdP LogoutRequest: end this browser's session only if the request is valid and names it (the
        ``on_logout`` hook runs then), and answer with a signed LogoutResponse (PartialLogout when the hook
        returns ``PARTIAL``). Without a signing key or an IdP SLO endpoint the browser lands on the (safe)
        RelayState or ``/`` instead.
        """
        identity = session.get(SESSION_KEY)
        try:
            result = sp.handle_logout_request(query_string=query_string, form=form, session=_logout_session(identity))
        except ResponseRejected as exc:
            log.warning("fedlib: LogoutRequest refused: %s: %s (detail: %s)", exc.code, exc.message, exc.detail)
            body = (
                f"<p>Error code: <code id='error-code'>{html.escape(exc.code.value)}</code></p>"
                f"<p id='error-hint'>{html.escape(exc.message)}</p>"
                "<p>You are still signed in here. Give the code to your administrator; see fedlib's "
                "docs/errors.md for what it means.</p>"
            )
            return self._page(403, "Sign-out refused", body)
        except StoreError as exc:
            log.error("fedlib: replay store unavailable: %s (%s)", exc, exc.detail)
            return self._page(503, "Sign-out is temporarily unavailable", "<p>Please try again shortly.</p>")
        except ConfigurationError as exc:
            log.warning("fedlib: cannot process a LogoutRequest: %s", exc)
            return self._page(400, "Sign-out is not available", f"<p>{html.escape(str(exc))}</p>")
        partial = False
        if result.session_matched:
            assert isinstance(identity, dict)
            partial = self._run_logout_hook(LogoutEvent("idp-request", identity, request=result)) == PARTIAL
            session.pop(SESSION_KEY, None)
            session.pop(CSRF_SESSION_KEY, None)
            current_app.logger.debug("fedlib: session ended by the IdP's LogoutRequest %s", result.request_id)
        try:
            outgoing = sp.answer_logout_request(result, partial=partial)
        except ConfigurationError as exc:
            log.warning("fedlib: cannot answer the IdP's LogoutRequest: %s", exc)
            outgoing = None
        if outgoing is None:
            next_url = safe_relay_state(result.relay_state, sp.relay_state_origins) or "/"
            return redirect(next_url, code=303)
        return self._send(outgoing)


__all__ = [
    "CSRF_FIELD",
    "CSRF_SESSION_KEY",
    "PARTIAL",
    "SESSION_KEY",
    "FedLib",
    "LoginOptions",
    "LogoutEvent",
    "csrf_token",
    "default_login_hook",
    "default_logout_hook",
    "logout_form",
]
