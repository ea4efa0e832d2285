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

The session is Flask's signed cookie (``JSONSessionInterface``: the same cookie and signature, with plain
JSON inside, the signer built once and each login's cookie written in one step). Under a server with
several worker processes, pass the same ``secret_key`` to every worker (e.g. from the environment), or a
session signed by one worker is empty in the next.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import secrets
import zlib
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from flask import Flask, Request, redirect, session
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin
from flask.wrappers import Response
from itsdangerous import Signer, TimestampSigner, URLSafeTimedSerializer, want_bytes
from itsdangerous.encoding import base64_encode
from itsdangerous.signer import HMACAlgorithm, SigningAlgorithm
from werkzeug.datastructures import Headers
from werkzeug.http import dump_cookie
from werkzeug.urls import iri_to_uri

from fedlib.integrations.flask import SESSION_KEY, FedLib, LoginOptions, LogoutEvent, logout_form, request_cookies
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


_COMPACT = json.JSONEncoder(separators=(",", ":"))
"""``json.dumps(obj, separators=(",", ":"))``'s encoder, built once: ``json.dumps`` with any argument builds a
new ``JSONEncoder`` per call (the same settings, the same output)."""


class _CompactJSON:
    """The session payload as compact JSON (what itsdangerous's ``serializer=`` expects)."""

    @staticmethod
    def dumps(obj: Any) -> str:
        return _COMPACT.encode(obj)

    @staticmethod
    def loads(data: str | bytes) -> Any:
        return json.loads(data)


def _headers_keep_a_list() -> bool:
    """Whether werkzeug's ``Headers`` keeps its (name, value) pairs in a ``_list`` attribute, which the two
    shortcuts below append to and copy. It is werkzeug's internal layout (3.x), not its API: if a release
    changes it, both shortcuts are off and every header goes through the public ``Headers`` methods, as
    with Flask's own classes (tests/integration/flask/test_example_response.py runs both ways)."""
    probe = Headers([("X-Probe", "1")])
    pairs = getattr(probe, "_list", None)
    return type(pairs) is list and pairs == [("X-Probe", "1")] and list(probe) == pairs


_HEADERS_LIST: bool = _headers_keep_a_list()
"""``_headers_keep_a_list()``, asked once at import."""


_UNQUOTED_BYTES = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-"


def _unquoted(text: str) -> bool:
    """Whether werkzeug's ``dump_cookie`` writes ``text`` as it is: only ``[A-Za-z0-9_.-]`` (URL-safe base64 and
    ``.``, what a session cookie value is made of). ``bytes.translate`` deletes those in one C pass and leaves
    anything else: ~0.9 µs for a 1.9 KB session value where the regex ``[A-Za-z0-9_.-]*`` took ~2.8 µs (its
    character-class loop). tests/integration/flask/test_example_session.py compares the two."""
    return text.isascii() and not text.encode("ascii").translate(None, _UNQUOTED_BYTES)


class _OneCallHMAC(SigningAlgorithm):
    """itsdangerous's ``HMACAlgorithm`` for a hashlib digest known by name: ``hmac.digest`` computes the same
    MAC in one C call, where ``hmac.new`` with a digest *function* (what Flask passes) runs the HMAC
    construction in Python."""

    def __init__(self, digest_name: str) -> None:
        self.digest_name = digest_name

    def get_signature(self, key: bytes, value: bytes) -> bytes:
        return hmac.digest(key, value, self.digest_name)


class _SessionSigner(TimestampSigner):
    """itsdangerous's timestamp signer, with the signing key derived once per secret key instead of once per
    signature (the derivation is a fixed function of secret key and salt: same keys, same signatures), and
    its HMAC computed in one call when the digest is one of hashlib's named ones (Flask's SHA-1)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._derived: dict[bytes, bytes] = {}
        if type(self.algorithm) is HMACAlgorithm:
            name = getattr(self.digest_method(), "name", None)
            if isinstance(name, str) and name in hashlib.algorithms_guaranteed:
                self.algorithm = _OneCallHMAC(name)

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        key = self.secret_keys[-1] if secret_key is None else want_bytes(secret_key)
        derived = self._derived.get(key)
        if derived is None:
            derived = self._derived[key] = super().derive_key(key)
        return derived


class _SessionSerializer(URLSafeTimedSerializer):
    """Flask's session serializer (URL-safe, timed, the same payload format) with its per-cookie costs cut:

    * one signer per salt, kept (itsdangerous builds a new one for every ``dumps`` and ``loads``);
    * only a large payload is compressed (more than ``COMPRESS_OVER`` bytes of JSON), where Flask's
      serializer compresses every payload that shrinks. Compressing costs each login ~13 µs, and each later
      request that reads the session ~7 µs more (decompressing) than reading and verifying the longer
      cookie costs; what it saves is size: the bench's 1.4 KB identity is a 544-byte payload compressed and
      a ~1.9 KB one not. A cookie of up to ~2.8 KB (2 KiB of JSON in base64, with its signature) is well
      within the ~4 KB a browser keeps per cookie, so below that, speed wins; above it (long group lists),
      the payload is compressed as before, which keeps identities up to ~3x larger under the limit;
    * then with a 2 KiB window and small state (``wbits=11, memLevel=4``, ~16 KiB) instead of
      ``zlib.compress``'s 32 KiB window and ~256 KiB of state set up for each cookie: a session cookie
      holds at most a few KB, so the output is as short. Any zlib decompressor reads it
      (``zlib.decompress``'s default window is the largest), and Flask's loader reads both forms (the ``.``
      prefix marks the compressed one), so Flask's own session interface and this one read each other's
      cookies. As before, the compressed form is used only when it is shorter.
    """

    COMPRESS_OVER = 2048
    """The JSON payload size (bytes) over which the session payload is compressed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._signers: dict[str | bytes | None, Signer] = {}

    def make_signer(self, salt: str | bytes | None = None) -> Signer:
        signer = self._signers.get(salt)
        if signer is None:
            signer = self._signers[salt] = super().make_signer(salt)
        return signer

    def dump_payload(self, obj: Any) -> bytes:
        data = want_bytes(self.serializer.dumps(obj, **self.serializer_kwargs))
        if len(data) <= self.COMPRESS_OVER:
            return base64_encode(data)
        packer = zlib.compressobj(6, zlib.DEFLATED, 11, 4)
        compressed = packer.compress(data) + packer.flush()
        if len(compressed) < len(data) - 1:
            return b"." + base64_encode(compressed)
        return base64_encode(data)


class JSONSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session (same signature: HMAC-SHA1 derived key, salt, timestamp, key
    fallbacks; same cookie settings and format), with costs of the default removed from every request that
    saves the session, such as each login:

    * the payload is plain JSON: the default serializer walks every value to tag tuples, bytes, datetimes
      and Markup so that they round-trip, while fedlib's session identity and this app's values are
      JSON already (~40 µs of walking per login with 12 attributes). Store only JSON values (str, int,
      float, bool, None, lists, dicts with str keys) in a session that uses it: a tuple comes back a list;
    * the signing serializer is built once per secret key (and ``SECRET_KEY_FALLBACKS``) instead of twice per
      request; a changed key or fallback list takes effect on the next request, as with the default;
    * its signer is kept, with the key derived once (not per cookie), and only a large payload is compressed,
      with a small zlib window (``_SessionSerializer``: a typical identity's cookie is cheaper to write and
      read as it is, and a cookie-sized input does not need 256 KiB of zlib state);
    * ``Vary: Cookie`` is added directly when the response has no ``Vary`` yet, and a request without the
      session cookie is an empty session without werkzeug's cookie parse (``open_session``).
    """

    serializer = _CompactJSON()  # type: ignore[assignment]  # what itsdangerous calls: dumps, loads
    _signer: tuple[tuple[object, ...], URLSafeTimedSerializer | None] | None = None
    _cookie_tail: tuple[tuple[object, ...], str] | None = None

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        fallbacks = app.config.get("SECRET_KEY_FALLBACKS") or ()
        keys = (app.secret_key, *fallbacks)
        cached = self._signer
        if cached is not None and cached[0] == keys:
            return cached[1]
        signer: URLSafeTimedSerializer | None = None
        if app.secret_key:
            # As Flask's SecureCookieSessionInterface.get_signing_serializer: fallbacks first, the current
            # key last (itsdangerous signs with the last one).
            signer = _SessionSerializer(
                [*fallbacks, app.secret_key],
                salt=self.salt,
                serializer=self.serializer,
                signer=_SessionSigner,
                signer_kwargs={"key_derivation": self.key_derivation, "digest_method": self.digest_method},
            )
        self._signer = (keys, signer)
        return signer

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        """Flask's ``open_session``; a request without the session cookie (the IdP's cross-site POST to the ACS,
        which carries the login's binding cookie but not a ``SameSite=Lax`` session cookie) is an empty
        session found without werkzeug's cookie parse (``request_cookies``: the same cookies)."""
        if self.get_signing_serializer(app) is not None and self.get_cookie_name(app) not in request_cookies(request):
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        """Flask's ``save_session``, with the usual case (a changed, non-permanent session) writing its header in
        one step: the cookie's attributes (``; HttpOnly; Path=/; SameSite=Lax``, as werkzeug's ``dump_cookie``
        writes them for the app's settings) are kept while the settings stay the same, and the signed value,
        URL-safe base64 that ``dump_cookie`` never quotes, goes in front. Anything else (an emptied, a
        permanent or an unchanged session, a value that would need quoting, a cookie over the browser's size
        limit, which werkzeug warns about) is Flask's own code."""
        signer = self.get_signing_serializer(app)
        if signer is None or not session or not session.modified or session.permanent:
            super().save_session(app, session, response)
            return
        name = self.get_cookie_name(app)
        attributes = (
            name,
            self.get_cookie_domain(app),
            self.get_cookie_path(app),
            self.get_cookie_secure(app),
            self.get_cookie_partitioned(app),
            self.get_cookie_samesite(app),
            self.get_cookie_httponly(app),
        )
        cached = self._cookie_tail
        if cached is None or cached[0] != attributes:
            _, domain, path, secure, partitioned, samesite, httponly = attributes
            empty = dump_cookie(
                name,
                "",
                domain=domain,
                path=path,
                secure=secure,
                partitioned=partitioned,
                samesite=samesite,
                httponly=httponly,
                max_size=0,
            )
            cached = self._cookie_tail = (attributes, empty[len(name) + 1 :])
        value = signer.dumps(dict(session))
        header = f"{name}={value}{cached[1]}"
        limit = response.max_cookie_size
        # The name as werkzeug writes it only when it is a plain token (a non-ASCII name is written in another
        # form, and its length would not cut the cached tail right): anything else is Flask's own code.
        if not _unquoted(value) or not _unquoted(name) or (limit and len(header) > limit):
            super().save_session(app, session, response)
            return
        headers = response.headers
        if _HEADERS_LIST and type(headers) is Headers and "\n" not in cached[1] and "\r" not in cached[1]:
            # werkzeug's Headers.add, without its newline check's regex search over the whole ~2 KB header (~9 µs
            # per login): the name and the value passed _unquoted (no newline), and the attributes are
            # checked here (dump_cookie writes a configured Domain as it is). Another Headers class, or a
            # newline, goes through add (which refuses it, as Flask's own save_session does).
            headers._list.append(("Set-Cookie", header))
        else:
            headers.add("Set-Cookie", header)
        # What ``response.vary.add("Cookie")`` writes when the response has no Vary yet (the usual case): one
        # ``Vary: Cookie`` header. werkzeug's HeaderSet parses, re-quotes and re-sets the header for it; with
        # a Vary already there (to merge with, or several lines to fold), werkzeug does it as before.
        if "Vary" in response.headers:
            response.vary.add("Cookie")
        else:
            response.headers.add("Vary", "Cookie")


class ExampleResponse(Response):
    """Flask's ``Response`` with werkzeug's ``get_wsgi_headers`` (the headers sent) written without its
    second validation of every header in the usual case, such as each login's 303.

    Why: werkzeug sends a copy of the headers, and copying them adds each one again, which runs the
    newline check on every value a second time (the ~2 KB session cookie included). Every value in
    ``response.headers`` passed that check when it was added or set (werkzeug's ``Headers`` checks on every
    write), so the copy here takes the list as it is. The usual case only: a plain ``Headers``, a status
    with a body (not 1xx, 204 or 304), a body of known chunks, no ``Content-Length`` or ``Content-Location``
    yet, at most one ``Location``, no ``autocorrect_location_header``. Then, as werkzeug does, the
    ``Location`` goes through ``iri_to_uri`` and ``Content-Length`` is set (both through the checking
    ``Headers`` API). Anything else is werkzeug's own method. tests/integration/flask/test_example_response.py
    compares both on generated responses.
    """

    def get_wsgi_headers(self, environ: Any) -> Headers:
        headers = self.headers
        status = self.status_code
        if (
            _HEADERS_LIST
            and type(headers) is Headers
            and status >= 200
            and status not in (204, 304)
            and not self.autocorrect_location_header
            and self.automatically_set_content_length
            and self.is_sequence
        ):
            location: str | None = None
            for name, value in headers:
                lowered = name.lower()
                if lowered == "location" and location is None:
                    location = value
                elif lowered in ("location", "content-length", "content-location"):
                    break  # a second Location, or a length or location werkzeug handles: its method
            else:
                sent = Headers()
                sent._list = list(headers._list)  # every value already checked when it was written
                if location is not None:
                    sent["Location"] = iri_to_uri(location)
                sent["Content-Length"] = str(sum(len(chunk) for chunk in self.iter_encoded()))
                return sent
        return super().get_wsgi_headers(environ)


def create_app(
    sp: ServiceProvider, *, idp_labels: Mapping[str, str] | None = None, secret_key: str | None = None
) -> Flask:
    """The example app. ``idp_labels``: IdP entity ID -> button label on the home page. ``secret_key``: the
    session signing key (default: a random one, valid in this process only)."""
    app = Flask(__name__)
    app.secret_key = secret_key or secrets.token_hex(32)
    app.response_class = ExampleResponse
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


__all__ = ["ExampleResponse", "JSONSessionInterface", "create_app"]
