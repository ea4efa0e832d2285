"""The example application: a public home page, a protected page, SAML login through fedlib.

Everything SAML is in ``FedLib(app, service_provider=sp)``; the application only decides what a logged-in
user may see. "Sign out" is a POST form with a CSRF token (``logout_form()``), never a link: a link (a GET)
could be triggered by any other site. ``create_app`` takes a ready ``ServiceProvider`` so the same app runs
in the demo, in tests and behind a real IdP.
"""

from __future__ import annotations

import html
import secrets
from collections.abc import Mapping
from urllib.parse import quote

from flask import Flask, redirect, session

from fedlib.integrations.flask import SESSION_KEY, FedLib, logout_form
from fedlib.sp import ServiceProvider

_PAGE = (
    "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>"
    "<style>body{{font-family:system-ui,sans-serif;margin:2rem}}td,th{{padding:.2rem .6rem;text-align:left}}"
    "</style></head><body><h1>{title}</h1>{body}</body></html>"
)


def create_app(sp: ServiceProvider, *, idp_labels: Mapping[str, str] | None = None) -> Flask:
    """The example app. ``idp_labels``: IdP entity ID -> button label on the home page."""
    app = Flask(__name__)
    app.secret_key = secrets.token_hex(32)
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax")
    FedLib(app, service_provider=sp)
    labels = dict(idp_labels or {idp: idp for idp in sp.idps})

    @app.get("/")
    def home() -> str:
        user = session.get(SESSION_KEY)
        if user:
            body = (
                f"<p>Signed in as <strong id='name-id'>{html.escape(user['name_id'])}</strong>.</p>"
                "<p><a href='/protected'>Protected page</a></p>" + str(logout_form(next="/"))
            )
        else:
            buttons = "".join(
                f"<p><a class='login' href='/saml/login?idp={quote(entity, safe='')}&amp;next=/protected'>"
                f"Sign in with {html.escape(label)}</a></p>"
                for entity, label in labels.items()
            )
            body = "<p>This is the public page.</p>" + buttons
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
        body = (
            f"<p>Welcome, <strong id='name-id'>{html.escape(user['name_id'])}</strong> "
            f"(from {html.escape(user['issuer'])}).</p><table id='attributes'>{rows}</table>"
            + str(logout_form(next="/"))
        )
        return _PAGE.format(title="Protected page", body=body)

    return app


__all__ = ["create_app"]
