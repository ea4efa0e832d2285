"""The FastAPI example app: fedlib's routes mounted at ``/saml`` (``fedlib.integrations.starlette``).

Sessions: Starlette's ``SessionMiddleware`` (a signed cookie; ``https_only`` in production). ``/`` is public
and offers the sign-in buttons, ``/protected`` needs a session.
"""

from __future__ import annotations

import html
import secrets
from collections.abc import Mapping
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.middleware.sessions import SessionMiddleware

from fedlib.integrations.starlette import FedLibRouter, logout_form
from fedlib.sp import ServiceProvider

_PAGE = (
    "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{title}</title></head>"
    "<body><h1>{title}</h1>{body}</body></html>"
)


def create_app(
    sp: ServiceProvider, *, idp_labels: Mapping[str, str] | None = None, https_only: bool = False
) -> FastAPI:
    """The example app. ``idp_labels``: IdP entity ID -> button label on the home page."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(SessionMiddleware, secret_key=secrets.token_hex(32), same_site="lax", https_only=https_only)
    saml = FedLibRouter(service_provider=sp)
    app.mount("/saml", saml)
    labels = dict(idp_labels or {idp: idp for idp in sp.idps})

    @app.get("/", response_class=HTMLResponse)
    def home(request: Request) -> str:
        user = saml.identity(request)
        if user:
            body = (
                f"<p>Signed in as <strong id='name-id'>{html.escape(user['name_id'])}</strong>.</p>"
                "<p><a href='/protected'>Protected page</a></p>" + logout_form(request, next="/")
            )
        else:
            buttons = "".join(
                f"<p><a class='login' href='/saml/login?idp={quote(entity, safe='')}&amp;next=/protected'>"
                f"Sign in with {html.escape(label)}</a></p>"
                for entity, label in labels.items()
            )
            body = "<p>This is the public page.</p>" + buttons
        return _PAGE.format(title="fedlib FastAPI example", body=body)

    @app.get("/protected", response_model=None)
    def protected(request: Request) -> HTMLResponse | RedirectResponse:
        user = saml.identity(request)
        if not user:
            return RedirectResponse("/", status_code=303)
        rows = "".join(
            f"<tr><th>{html.escape(name)}</th><td>{html.escape(', '.join(values))}</td></tr>"
            for name, values in sorted(user["attributes"].items())
        )
        body = (
            f"<p>Welcome, <strong id='name-id'>{html.escape(user['name_id'])}</strong> "
            f"(from {html.escape(user['issuer'])}).</p><table id='attributes'>{rows}</table>"
            + logout_form(request, next="/")
        )
        return HTMLResponse(_PAGE.format(title="Protected page", body=body))

    return app


__all__ = ["create_app"]
