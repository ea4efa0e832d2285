"""pysaml2's IdP (``saml2.server.Server``, xmlsec1 backend) behind a minimal WSGI front on 127.0.0.1.

Run by :mod:`fedlib.testing.realidp.pysaml2_idp` in pysaml2's own interpreter, as a script::

    python _pysaml2_server.py CONFIG.json

It imports only the standard library and pysaml2 (never fedlib). Endpoints, under the base URL:

* ``/idp/metadata``: the IdP's metadata (pysaml2's own rendering);
* ``/sso/redirect``: SingleSignOnService, HTTP-Redirect (an AuthnRequest in, the login form or, with an
  SSO session, the Response form out);
* ``/sso/initiate?sp=<entity ID>``: IdP-initiated login;
* ``/login``: the login form's POST (``username``, ``password``, ``key``);
* ``/slo/redirect``: SingleLogoutService, HTTP-Redirect: a LogoutRequest from an SP ends the IdP session
  and is answered with a signed LogoutResponse; ``/slo/initiate`` (GET) logs the browser out at the IdP
  and sends a signed LogoutRequest to every SP it logged into (HTTP-Redirect); the SP's LogoutResponse to
  it comes back to ``/slo/redirect`` and, once accepted, the browser goes to ``/slo/done`` ("Logged out.").
  Logout messages from the SP must carry a valid query signature by a signing certificate of the SP's
  metadata (pysaml2 checks them only together with AuthnRequest signatures, so the front does it), and a
  LogoutResponse must answer the LogoutRequest sent, with status Success; anything else is a 403.
"""

from __future__ import annotations

import html
import json
import re
import secrets
import sys
from collections.abc import Callable, Iterable
from http.cookies import SimpleCookie
from socketserver import ThreadingMixIn
from threading import Lock
from typing import Any
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.config import IdPConfig
from saml2.metadata import entity_descriptor
from saml2.s_utils import decode_base64_and_inflate
from saml2.saml import NAME_FORMAT_URI, NAMEID_FORMAT_TRANSIENT, NameID
from saml2.samlp import STATUS_SUCCESS, logout_response_from_string
from saml2.server import Server
from saml2.sigver import verify_redirect_signature
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

StartResponse = Callable[..., Any]
COOKIE = "pysaml2_idp_session"


class Front:
    def __init__(self, settings: dict[str, Any]) -> None:
        base = settings["base_url"]
        self.base = base
        self.users: dict[str, dict[str, Any]] = {u["username"]: u for u in settings["users"]}
        config = IdPConfig()
        config.load(
            {
                "entityid": f"{base}/idp/metadata",
                "service": {
                    "idp": {
                        "name": "pysaml2 test IdP",
                        "endpoints": {
                            "single_sign_on_service": [(f"{base}/sso/redirect", BINDING_HTTP_REDIRECT)],
                            "single_logout_service": [(f"{base}/slo/redirect", BINDING_HTTP_REDIRECT)],
                        },
                        "policy": {"default": {"lifetime": {"minutes": 15}, "name_form": NAME_FORMAT_URI}},
                        "name_id_format": [NAMEID_FORMAT_TRANSIENT],
                        "sign_response": True,
                        "sign_assertion": False,
                        "want_authn_requests_signed": False,
                    }
                },
                "key_file": settings["key_file"],
                "cert_file": settings["cert_file"],
                "metadata": {"local": [settings["sp_metadata"]]},
                "xmlsec_binary": settings["xmlsec_binary"],
                "signing_algorithm": SIG_RSA_SHA256,
                "digest_algorithm": DIGEST_SHA256,
                "allow_unknown_attributes": True,
            }
        )
        self.config = config
        self.server = Server(config=config)
        self.pending: dict[str, dict[str, Any]] = {}  # login form key -> the request being answered
        self.sessions: dict[str, dict[str, Any]] = {}  # cookie -> {"user": ..., "sps": {sp: NameID, index}}
        self.logouts: dict[str, str] = {}  # ID of a LogoutRequest sent -> the SP it went to
        self.lock = Lock()  # one request at a time inside the IdP; the server reads sockets in threads

    # ---- WSGI ----------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        with self.lock:
            return self._handle(environ, start_response)

    def _handle(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        cookie = SimpleCookie(environ.get("HTTP_COOKIE", ""))
        sid = cookie[COOKIE].value if COOKIE in cookie else None
        session = self.sessions.get(sid) if sid else None
        try:
            if path == "/idp/metadata":
                return self._reply(start_response, "200 OK", str(entity_descriptor(self.config)), "application/xml")
            if path == "/sso/redirect":
                request = self.server.parse_authn_request(query["SAMLRequest"], BINDING_HTTP_REDIRECT)
                message = request.message
                sp = message.issuer.text
                acs = message.assertion_consumer_service_url or self._acs(sp)
                return self._login(start_response, session, sp, acs, message.id, query.get("RelayState", ""))
            if path == "/sso/initiate":
                sp = query["sp"]
                return self._login(start_response, session, sp, self._acs(sp), None, query.get("RelayState", ""))
            if path == "/login" and environ["REQUEST_METHOD"] == "POST":
                size = int(environ.get("CONTENT_LENGTH") or 0)
                form = {k: v[0] for k, v in parse_qs(environ["wsgi.input"].read(size).decode()).items()}
                pending = self.pending.pop(form.get("key", ""), None)
                user = self.users.get(form.get("username", ""))
                if pending is None or user is None or user["password"] != form.get("password"):
                    return self._reply(start_response, "403 Forbidden", "<p>Wrong user name or password.</p>")
                sid = secrets.token_urlsafe(16)
                session = {"user": user["username"], "sps": {}}
                self.sessions[sid] = session
                headers = [("Set-Cookie", f"{COOKIE}={sid}; Path=/; HttpOnly")]
                return self._respond(start_response, session, pending, headers)
            if path == "/slo/redirect":
                return self._slo(start_response, query, sid)
            if path == "/slo/initiate":
                return self._logout_everywhere(start_response, sid)
            if path == "/slo/done":
                return self._reply(start_response, "200 OK", "<p id='logged-out'>Logged out.</p>")
        except Exception as exc:  # a test IdP: show what went wrong, never a traceback page
            return self._reply(start_response, "400 Bad Request", f"<p>{html.escape(repr(exc))}</p>")
        return self._reply(start_response, "404 Not Found", "<p>Not found.</p>")

    def _acs(self, sp: str) -> str:
        return str(self.server.metadata.assertion_consumer_service(sp, BINDING_HTTP_POST)[0]["location"])

    def _login(
        self,
        start_response: StartResponse,
        session: dict[str, Any] | None,
        sp: str,
        acs: str,
        in_response_to: str | None,
        relay_state: str,
    ) -> Iterable[bytes]:
        pending = {"sp": sp, "acs": acs, "in_response_to": in_response_to, "relay_state": relay_state}
        if session is not None:
            return self._respond(start_response, session, pending, [])
        key = secrets.token_urlsafe(16)
        self.pending[key] = pending
        page = (
            "<form method='post' action='/login'>"
            f"<input type='hidden' name='key' value='{key}'>"
            "<label>User name <input name='username' id='username'></label>"
            "<label>Password <input type='password' name='password' id='password' value=''></label>"
            "<button type='submit' id='submit_button'>Login</button></form>"
        )
        return self._reply(start_response, "200 OK", page)

    def _respond(
        self,
        start_response: StartResponse,
        session: dict[str, Any],
        pending: dict[str, Any],
        headers: list[tuple[str, str]],
    ) -> Iterable[bytes]:
        user = self.users[session["user"]]
        sp = pending["sp"]
        name_id = NameID(format=NAMEID_FORMAT_TRANSIENT, sp_name_qualifier=sp, text="_" + secrets.token_hex(16))
        response = self.server.create_authn_response(
            identity={k: list(v) for k, v in user["attributes"].items()},
            in_response_to=pending["in_response_to"],
            destination=pending["acs"],
            sp_entity_id=sp,
            name_id=name_id,
            authn={"class_ref": user["authn_context"], "authn_auth": self.server.config.entityid},
            sign_response=True,
            sign_assertion=False,
            sign_alg=SIG_RSA_SHA256,
            digest_alg=DIGEST_SHA256,
        )
        index = re.search(r'SessionIndex="([^"]+)"', str(response))
        session["sps"][sp] = {"name_id": name_id, "session_index": index.group(1) if index else None}
        http = self.server.apply_binding(
            BINDING_HTTP_POST, str(response), pending["acs"], pending["relay_state"], response=True
        )
        return self._reply(start_response, "200 OK", http["data"], extra=headers)

    def _slo(self, start_response: StartResponse, query: dict[str, str], sid: str | None) -> Iterable[bytes]:
        if "SAMLRequest" not in query:
            return self._logout_response(start_response, query)
        request = self.server.parse_logout_request(
            query["SAMLRequest"],
            BINDING_HTTP_REDIRECT,
            query.get("RelayState"),
            query.get("SigAlg"),
            query.get("Signature"),
        )
        if not self._signed_by(request.message.issuer.text, query):
            return self._reply(start_response, "403 Forbidden", "<p>LogoutRequest not signed by the SP.</p>")
        if sid is not None:
            self.sessions.pop(sid, None)
        response = self.server.create_logout_response(
            request.message, [BINDING_HTTP_REDIRECT], sign=False, sign_alg=SIG_RSA_SHA256, digest_alg=DIGEST_SHA256
        )
        destination = self.server.metadata.single_logout_service(
            request.message.issuer.text, BINDING_HTTP_REDIRECT, "spsso"
        )[0]["location"]
        http = self.server.apply_binding(
            BINDING_HTTP_REDIRECT,
            str(response),
            destination,
            query.get("RelayState", ""),
            response=True,
            sign=True,
            sigalg=SIG_RSA_SHA256,
        )
        location = dict(http["headers"])["Location"]
        return self._redirect(start_response, location, [("Set-Cookie", f"{COOKIE}=; Path=/; Max-Age=0")])

    def _logout_everywhere(self, start_response: StartResponse, sid: str | None) -> Iterable[bytes]:
        session = self.sessions.pop(sid, None) if sid else None
        expire = [("Set-Cookie", f"{COOKIE}=; Path=/; Max-Age=0")]
        if not session or not session["sps"]:
            return self._reply(start_response, "200 OK", "<p>Logged out.</p>", extra=expire)
        sp, held = next(iter(session["sps"].items()))  # one SP per test session: redirect there
        destination = self.server.metadata.single_logout_service(sp, BINDING_HTTP_REDIRECT, "spsso")[0]["location"]
        request_id, request = self.server.create_logout_request(
            destination,
            self.server.config.entityid,
            name_id=held["name_id"],
            session_indexes=[held["session_index"]],
            sign=False,
        )
        self.logouts[request_id] = sp
        http = self.server.apply_binding(
            BINDING_HTTP_REDIRECT, str(request), destination, "", sign=True, sigalg=SIG_RSA_SHA256
        )
        return self._redirect(start_response, dict(http["headers"])["Location"], expire)

    def _logout_response(self, start_response: StartResponse, query: dict[str, str]) -> Iterable[bytes]:
        """An SP's answer to ``/slo/initiate``'s LogoutRequest: signed by that SP, Success, then /slo/done."""
        response = logout_response_from_string(decode_base64_and_inflate(query["SAMLResponse"]))
        sp = self.logouts.get(response.in_response_to or "") if response is not None else None
        if response is None or sp is None or response.issuer is None or response.issuer.text != sp:
            return self._reply(start_response, "403 Forbidden", "<p>LogoutResponse to no LogoutRequest.</p>")
        if not self._signed_by(sp, query):  # a forged answer does not use up the LogoutRequest
            return self._reply(start_response, "403 Forbidden", "<p>LogoutResponse not signed by the SP.</p>")
        del self.logouts[response.in_response_to]
        if response.status.status_code.value != STATUS_SUCCESS:
            return self._reply(start_response, "403 Forbidden", "<p>The SP did not log out.</p>")
        return self._redirect(start_response, f"{self.base}/slo/done", [])

    def _signed_by(self, sp: str, query: dict[str, str]) -> bool:
        """Whether the HTTP-Redirect query carries a valid signature by a signing certificate of ``sp``."""
        if "Signature" not in query or "SigAlg" not in query:
            return False
        names = ("SAMLRequest", "SAMLResponse", "RelayState", "SigAlg", "Signature")
        message = {name: query[name] for name in names if name in query}
        certs = self.server.metadata.certs(sp, "spsso", "signing")
        return any(verify_redirect_signature(message, self.server.sec.sec_backend, cert) for _, cert in certs)

    @staticmethod
    def _redirect(start_response: StartResponse, location: str, extra: list[tuple[str, str]]) -> Iterable[bytes]:
        start_response("303 See Other", [("Location", location), ("Content-Length", "0"), *extra])
        return [b""]

    @staticmethod
    def _reply(
        start_response: StartResponse,
        status: str,
        body: str,
        content_type: str = "text/html; charset=utf-8",
        extra: list[tuple[str, str]] | None = None,
    ) -> Iterable[bytes]:
        data = body.encode()
        headers = [("Content-Type", content_type), ("Content-Length", str(len(data))), *(extra or [])]
        start_response(status, headers)
        return [data]


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    """A browser's idle pre-connection must not block everyone else."""

    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        sys.stderr.write("pysaml2-idp: " + (format % args) + "\n")


def main(argv: list[str]) -> int:
    with open(argv[1], encoding="utf-8") as f:
        settings = json.load(f)
    server = make_server(
        settings["host"], settings["port"], Front(settings), server_class=_ThreadingServer, handler_class=_QuietHandler
    )
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
