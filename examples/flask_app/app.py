"""The example application: a public home page, a protected page, SAML login through fedlib.

Everything SAML is in ``FedLib(app, service_provider=sp)``; the application only decides what a logged-in
user may see. The protected page shows the verified attributes and the roles the SP's attribute map grants;
each IdP has a second button, "with MFA", which selects the ``mfa`` login option (``?authn=mfa``: the
AuthnRequest asks for the REFEDS MFA profile, and the ACS refuses a login that does not prove it with
``authn-context-not-satisfied``). The ``on_logout`` hook records each sign-out in
``app.config["LOGOUT_EVENTS"]`` and, once the IdP answered the Sign out, the home page reports its answer.

"Sign out" is a POST form with a CSRF token (``logout_form()``), never a link: a link (a GET)
could be triggered by any other site. ``create_app`` takes a ready ``ServiceProvider`` so the same app runs
in the demo, in tests and behind a real IdP.

The session is Flask's signed cookie (``JSONSessionInterface``: the same cookie, with plain JSON inside and
the signer built once). Under a server with several worker processes, pass the same ``secret_key`` to every
worker (e.g. from the environment), or a session signed by one worker is empty in the next.
"""

from __future__ import annotations

import html
import json
import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from flask import Flask, redirect, session
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer

from fedlib.integrations.flask import SESSION_KEY, FedLib, LoginOptions, LogoutEvent, logout_form
from fedlib.protocol.authn_request import RequestedAuthnContext
from fedlib.sp import ServiceProvider

MFA = "https://refeds.org/profile/mfa"
"""The REFEDS MFA profile: what the ``mfa`` login option requires (``minimum``: MFA or stronger)."""
LOGIN_OPTIONS = {"mfa": LoginOptions(requested_authn_context=RequestedAuthnContext((MFA,), "minimum"))}
_SIGNED_OUT = "example_signed_out"

_PAGE = (
    "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>"
    "<style>body{{font-family:system-ui,sans-serif;margin:2rem}}td,th{{padding:.2rem .6rem;text-align:left}}"
    "</style></head><body><h1>{title}</h1>{body}</body></html>"
)


class _CompactJSON:
    """The session payload as compact JSON (what itsdangerous's ``serializer=`` expects)."""

    @staticmethod
    def dumps(obj: Any) -> str:
        return json.dumps(obj, separators=(",", ":"))

    @staticmethod
    def loads(data: str | bytes) -> Any:
        return json.loads(data)


class JSONSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session (same signature: HMAC-SHA1 derived key, salt, timestamp, key
    fallbacks; same cookie settings), with two costs of the default removed from every request that saves
    the session, such as each login:

    * the payload is plain JSON: the default serializer walks every value to tag tuples, bytes, datetimes
      and Markup so that they round-trip, while fedlib's session identity and this app's values are
      JSON already (~40 µs of walking per login with 12 attributes). Store only JSON values (str, int,
      float, bool, None, lists, dicts with str keys) in a session that uses it: a tuple comes back a list;
    * the signing serializer is built once per secret key (and ``SECRET_KEY_FALLBACKS``) instead of twice per
      request; a changed key or fallback list takes effect on the next request, as with the default.
    """

    serializer = _CompactJSON()  # type: ignore[assignment]  # what itsdangerous calls: dumps, loads
    _signer: tuple[tuple[object, ...], URLSafeTimedSerializer | None] | None = None

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        keys = (app.secret_key, *(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        cached = self._signer
        if cached is not None and cached[0] == keys:
            return cached[1]
        signer = super().get_signing_serializer(app)
        self._signer = (keys, signer)
        return signer


def create_app(
    sp: ServiceProvider, *, idp_labels: Mapping[str, str] | None = None, secret_key: str | None = None
) -> Flask:
    """The example app. ``idp_labels``: IdP entity ID -> button label on the home page. ``secret_key``: the
    session signing key (default: a random one, valid in this process only)."""
    app = Flask(__name__)
    app.secret_key = secret_key or secrets.token_hex(32)
    app.session_interface = JSONSessionInterface()
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax")
    app.config["LOGOUT_EVENTS"] = events = []
    saml = FedLib(app, service_provider=sp, login_options=LOGIN_OPTIONS)

    @saml.on_logout
    def signed_out(event: LogoutEvent) -> None:
        """Record every sign-out; after the IdP's LogoutResponse, have the home page say how it went."""
        name_id = str(event.identity["name_id"]) if event.identity else None
        events.append((event.kind, name_id))
        if event.kind == "idp-response":
            if event.error is not None:
                session[_SIGNED_OUT] = f"refused ({event.error.code.value})"
            elif event.result is not None:
                session[_SIGNED_OUT] = event.result.response.status

    labels = dict(idp_labels or {idp: idp for idp in sp.idps})

    @app.get("/")
    def home() -> str:
        user = session.get(SESSION_KEY)
        notice = session.pop(_SIGNED_OUT, None)
        said = (
            f"<p>Signed out. The IdP reports: <strong id='signed-out'>{html.escape(str(notice))}</strong>.</p>"
            if notice is not None
            else ""
        )
        if user:
            body = (
                f"<p>Signed in as <strong id='name-id'>{html.escape(user['name_id'])}</strong>.</p>"
                "<p><a href='/protected'>Protected page</a></p>" + str(logout_form(next="/"))
            )
        else:
            buttons = "".join(
                f"<p><a class='login' href='/saml/login?idp={quote(entity, safe='')}&amp;next=/protected'>"
                f"Sign in with {html.escape(label)}</a> "
                f"<a class='login-mfa' href='/saml/login?idp={quote(entity, safe='')}&amp;authn=mfa&amp;"
                "next=/protected'>(with MFA)</a></p>"
                for entity, label in labels.items()
            )
            body = said + "<p>This is the public page.</p>" + buttons
        return _PAGE.format(title="fedlib example", body=body)

    @app.get("/protected")
    def protected() -> object:
        user = session.get(SESSION_KEY)
        if not user:
            return redirect("/", code=303)
        rows = "".join(
            f"<tr><th>{html.escape(name)}</th><td>{html.escape(', '.join(values))}</td></tr>"
            for name, values in sorted(user["attributes"].items())
        )
        roles = ", ".join(user.get("roles", ())) or "none"
        body = (
            f"<p>Welcome, <strong id='name-id'>{html.escape(user['name_id'])}</strong> "
            f"(from {html.escape(user['issuer'])}).</p>"
            f"<p>Roles: <strong id='roles'>{html.escape(roles)}</strong></p><table id='attributes'>{rows}</table>"
            + str(logout_form(next="/"))
        )
        return _PAGE.format(title="Protected page", body=body)

    return app


__all__ = ["JSONSessionInterface", "create_app"]
