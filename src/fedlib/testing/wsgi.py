"""A WSGI app around a :class:`~fedlib.testing.TestIdP`: what a browser sees of a test IdP (TEST USE ONLY).

Routes (relative to the app's mount point, which should be the IdP's ``base_url`` path):

``GET  /metadata``      the IdP metadata
``GET  /sso``           HTTP-Redirect AuthnRequest -> a login page with a user picker
``POST /sso``           HTTP-POST AuthnRequest -> the same page
``POST /sso/login``     the picked user -> an auto-posting form to the SP's ACS
``GET  /``              IdP-initiated launcher: one button per registered SP and user
``POST /idp-initiated`` -> an auto-posting unsolicited Response
``GET  /slo``           an SP's LogoutRequest (HTTP-Redirect, signature checked) -> a redirect with the
                        signed LogoutResponse (Success) to the SP's ``slo_url``; or an SP's LogoutResponse
                        to a logout this IdP started -> a page with its status (``#logout-status``)
``POST /logout-initiated`` -> a redirect with a signed LogoutRequest (IdP-initiated logout) to the SP

Plain WSGI and the standard library only, so it runs under any server (``wsgiref`` in ``make demo``), any
test client, and next to any framework. Pending requests live in memory, keyed by a random token.
"""

from __future__ import annotations

import html
import secrets
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

from fedlib.errors import FedlibError
from fedlib.testing.idp import AuthnRequestInfo, IdPRefused, TestIdP

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
_MAX_BODY = 512 * 1024
_PAGE = (
    "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>"
    "<style>body{{font-family:system-ui,sans-serif;margin:2rem}}button{{margin:.2rem}}</style></head>"
    "<body><h1>{title}</h1>{body}</body></html>"
)


class TestIdPApp:
    """WSGI application serving ``idp`` (TEST USE ONLY)."""

    __test__ = False

    def __init__(self, idp: TestIdP) -> None:
        self.idp = idp
        self.pending: dict[str, AuthnRequestInfo] = {}

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "/") or "/"
        try:
            if path == "/metadata" and method == "GET":
                return _reply(start_response, "200 OK", self.idp.metadata_xml(), "application/samlmetadata+xml")
            if path == "/sso" and method == "GET":
                request = self.idp.receive_redirect(environ.get("QUERY_STRING", ""))
                return self._login_page(start_response, request)
            form = _form(environ) if method == "POST" else {}
            if path == "/sso" and method == "POST":
                request = self.idp.receive_post(form.get("SAMLRequest", ""), form.get("RelayState"))
                return self._login_page(start_response, request)
            if path == "/sso/login" and method == "POST":
                pending = self.pending.pop(form.get("token", ""), None)
                if pending is None:
                    raise IdPRefused("unknown or already used login token")
                posted = self.idp.respond(pending, form.get("user"))
                return _reply(start_response, "200 OK", posted.html().encode(), "text/html; charset=utf-8")
            if path == "/" and method == "GET":
                return self._launcher(start_response)
            if path == "/slo" and method == "GET":
                return self._slo(start_response, environ.get("QUERY_STRING", ""))
            if path == "/logout-initiated" and method == "POST":
                sp = self.idp.sps.get(form.get("sp", ""))
                if sp is None or sp.slo_url is None:
                    raise IdPRefused("unknown SP, or it has no SingleLogoutService")
                url = self.idp.logout_request_url(sp.slo_url, form.get("user", ""), relay_state="idp-logout")
                return _redirect(start_response, url)
            if path == "/idp-initiated" and method == "POST":
                posted = self.idp.initiate(form.get("sp", ""), user=form.get("user"), relay_state=form.get("relay"))
                return _reply(start_response, "200 OK", posted.html().encode(), "text/html; charset=utf-8")
        except (IdPRefused, FedlibError, ValueError) as exc:
            body = _PAGE.format(title="Test IdP: request refused", body=f"<p id='error'>{html.escape(str(exc))}</p>")
            return _reply(start_response, "400 Bad Request", body.encode(), "text/html; charset=utf-8")
        return _reply(start_response, "404 Not Found", b"not found", "text/plain; charset=utf-8")

    def _slo(self, start_response: StartResponse, query: str) -> Iterable[bytes]:
        if "SAMLResponse=" in query:
            answer = self.idp.receive_logout_response(query)
            status = " / ".join(code.rsplit(":", 1)[-1] for code in answer.status_codes)
            body = f"<p>{html.escape(answer.issuer)} signed out: <strong id='logout-status'>{status}</strong></p>"
            page = _PAGE.format(title="Test IdP: signed out", body=body)
            return _reply(start_response, "200 OK", page.encode(), "text/html; charset=utf-8")
        request = self.idp.receive_logout_request(query)
        sp = self.idp.sps.get(request.issuer)
        if sp is None or sp.slo_url is None:
            raise IdPRefused("unknown SP, or it has no SingleLogoutService")
        answer_url = self.idp.answer_logout(request, sp.slo_url)
        assert isinstance(answer_url, str)
        return _redirect(start_response, answer_url)

    def _login_page(self, start_response: StartResponse, request: AuthnRequestInfo) -> Iterable[bytes]:
        token = secrets.token_urlsafe(16)
        self.pending[token] = request
        buttons = "".join(
            f"<button type='submit' name='user' value='{html.escape(u.name_id)}'>"
            f"{html.escape(u.display_name or u.name_id)}</button>"
            for u in self.idp.users.values()
        )
        body = (
            f"<p>{html.escape(request.issuer)} asks you to sign in.</p>"
            f"<form method='post' action='sso/login'><input type='hidden' name='token' value='{token}'>"
            f"{buttons}</form>"
        )
        page = _PAGE.format(title=f"Test IdP ({html.escape(self.idp.profile.display_name)})", body=body)
        return _reply(start_response, "200 OK", page.encode(), "text/html; charset=utf-8")

    def _launcher(self, start_response: StartResponse) -> Iterable[bytes]:
        forms = []
        for sp in self.idp.sps.values():
            for user in self.idp.users.values():
                forms.append(
                    "<form method='post' action='idp-initiated'>"
                    f"<input type='hidden' name='sp' value='{html.escape(sp.entity_id)}'>"
                    f"<input type='hidden' name='user' value='{html.escape(user.name_id)}'>"
                    f"<button type='submit'>Log in to {html.escape(sp.entity_id)} as "
                    f"{html.escape(user.display_name or user.name_id)}</button></form>"
                )
                if sp.slo_url is not None:
                    forms.append(
                        "<form method='post' action='logout-initiated'>"
                        f"<input type='hidden' name='sp' value='{html.escape(sp.entity_id)}'>"
                        f"<input type='hidden' name='user' value='{html.escape(user.name_id)}'>"
                        f"<button type='submit' class='logout'>Log out of {html.escape(sp.entity_id)} as "
                        f"{html.escape(user.display_name or user.name_id)}</button></form>"
                    )
        body = "".join(forms) or "<p>No service provider is registered.</p>"
        page = _PAGE.format(title="Test IdP: IdP-initiated login", body=body)
        return _reply(start_response, "200 OK", page.encode(), "text/html; charset=utf-8")


def _form(environ: dict[str, Any]) -> dict[str, str]:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise IdPRefused("bad Content-Length") from None
    if length < 0 or length > _MAX_BODY:
        raise IdPRefused("request body too large")
    raw = environ["wsgi.input"].read(length).decode("utf-8", errors="replace")
    return {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}


def _redirect(start_response: StartResponse, url: str) -> list[bytes]:
    start_response("302 Found", [("Location", url), ("Content-Length", "0"), ("Cache-Control", "no-store")])
    return []


def _reply(start_response: StartResponse, status: str, body: bytes, content_type: str) -> list[bytes]:
    start_response(
        status,
        [("Content-Type", content_type), ("Content-Length", str(len(body))), ("Cache-Control", "no-store")],
    )
    return [body]


__all__ = ["TestIdPApp"]
