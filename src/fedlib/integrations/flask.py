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
``GET  /login``     start an SP-initiated login (``?next=/path`` where to land, ``?idp=<entityID>``)
``POST /acs``       the AssertionConsumerService: validate, run the ``on_login`` hook, redirect
``GET  /logout``    end the local session (``?next=/path``); an IdP LogoutRequest (HTTP-Redirect) is
                    accepted only when its query signature verifies with the IdP's metadata keys

A rejected Response becomes a 403 page that shows the stable error code and fedlib's operator message
(what to change at the IdP), never internals; the private detail goes to the log. A store outage is a 503.
Client input never yields a 5xx: every fedlib route has an error handler that turns a ``ResponseRejected``
into the 403 page, a ``StoreError`` into the 503, a ``ConfigurationError`` into a 400, and any other
exception raised while fedlib handles the request (a fedlib bug) into a 400 page with the code
``internal-error`` (logged with its traceback). An exception from the application's own ``on_login`` hook
is the application's and propagates as usual.
The pending request lives server-side (keyed by request ID), so the cross-site ACS POST works whatever the
browser's SameSite rules. The ACS URL is the one in the SP configuration, never rebuilt from Host headers.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, redirect, request, session
from werkzeug.exceptions import HTTPException

from fedlib.constants import BINDING_HTTP_POST
from fedlib.errors import ConfigurationError, FedlibError, ResponseRejected, StoreError
from fedlib.protocol.bindings import verify_redirect_signature
from fedlib.sp import LoginResult, ServiceProvider, safe_relay_state

log = logging.getLogger("fedlib.flask")

_IN_APP_CODE = "fedlib.in_app_code"
"""WSGI environ flag: set while the application's own hook runs (its exceptions are not fedlib's)."""

SESSION_KEY = "fedlib"
"""Where the default login hook keeps the verified identity in the Flask session."""

LoginHook = Callable[[LoginResult], Any]
TenantLookup = Callable[[str], ServiceProvider]

_PAGE = (
    "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{title}</title></head>"
    "<body><h1>{title}</h1>{body}</body></html>"
)


def default_login_hook(result: LoginResult) -> None:
    """Keep the identity in the session: ``session["fedlib"]`` = name_id, issuer, attributes, session index."""
    authn = result.authn
    session[SESSION_KEY] = {
        "name_id": authn.name_id,
        "name_id_format": authn.name_id_format,
        "issuer": authn.issuer,
        "session_index": authn.session_index,
        "attributes": {name: list(values) for name, values in authn.attributes.items()},
    }


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
    ) -> None:
        if service_provider is not None and tenants is not None:
            raise ConfigurationError("give FedLib at most one of service_provider= or tenants=")
        self.service_provider = service_provider
        self.tenants = tenants
        self.url_prefix = url_prefix.rstrip("/")
        self.binding = binding
        self.login_hook: LoginHook = default_login_hook
        if app is not None:
            self.init_app(app)

    def on_login(self, hook: LoginHook) -> LoginHook:
        """Decorator: ``hook(result)`` runs after a verified login; return a Flask response to send it, or
        None to redirect to the (safe) RelayState or ``/``. Replaces the default session hook."""
        self.login_hook = hook
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
        bp.add_url_rule("/logout", "logout", self._logout, methods=["GET"])
        bp.register_error_handler(Exception, self._error)
        app.register_blueprint(bp)
        app.extensions["fedlib"] = self

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
        try:
            if self.binding == BINDING_HTTP_POST:
                login = sp.start_login(idp, relay_state=next_url, binding=BINDING_HTTP_POST)
                return Response(login.form_html, mimetype="text/html", headers={"Cache-Control": "no-store"})
            login = sp.start_login(idp, relay_state=next_url)
        except ConfigurationError as exc:
            log.warning("fedlib: cannot start login: %s", exc)
            return self._page(400, "Sign-in is not available", f"<p>{html.escape(str(exc))}</p>")
        except StoreError as exc:
            log.error("fedlib: request store unavailable: %s (%s)", exc, exc.detail)
            return self._page(503, "Sign-in is temporarily unavailable", "<p>Please try again shortly.</p>")
        assert login.url is not None
        return redirect(login.url, code=302)

    def _acs(self, tenant: str | None = None) -> Any:
        sp = self._sp(tenant)
        try:
            result = sp.finish_login(request.form.to_dict())
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
        request.environ[_IN_APP_CODE] = True  # stays set if the hook raises: see _error
        response = self.login_hook(result)
        request.environ[_IN_APP_CODE] = False
        if response is not None:
            return response
        return redirect(result.relay_state or "/", code=303)

    def _logout(self, tenant: str | None = None) -> Any:
        sp = self._sp(tenant)
        raw_query = request.query_string.decode("latin-1")
        if "SAMLRequest=" in raw_query:
            # An IdP-initiated LogoutRequest: honoured only if signed by a key in the IdP's metadata,
            # verified over the query exactly as received (AD FS / Entra lower-case encoding included).
            for idp in sp.idps.values():
                try:
                    verify_redirect_signature(raw_query, idp.metadata.trust)
                except ResponseRejected:
                    continue
                break
            else:
                log.warning("fedlib: refused a LogoutRequest whose signature no trusted IdP key verifies")
                return self._page(403, "Sign-out refused", "<p>The logout request is not signed by a trusted IdP.</p>")
        session.pop(SESSION_KEY, None)
        next_url = safe_relay_state(request.args.get("next"), sp.relay_state_origins) or "/"
        current_app.logger.debug("fedlib: local session ended")
        return redirect(next_url, code=303)


__all__ = ["SESSION_KEY", "FedLib", "default_login_hook"]
