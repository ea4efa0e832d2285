"""Flask adapter over the framework-neutral :mod:`fedlib.web` (which decides what the routes do).

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
``POST /acs``       the AssertionConsumerService: validate, run the ``on_login`` hook, redirect (a POST
                    without ``SAMLResponse`` is a 400)
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

import binascii
import io
import logging
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from flask import Blueprint, Flask, Request, Response, abort, current_app, redirect, request, session, url_for
from markupsafe import Markup
from werkzeug.exceptions import BadRequest, ClientDisconnected, HTTPException, RequestEntityTooLarge
from werkzeug.http import dump_cookie, http_date
from werkzeug.wrappers import Request as WerkzeugRequest
from werkzeug.wrappers import Response as BaseResponse
from werkzeug.wsgi import get_content_length

from fedlib.binding import BindingCookie
from fedlib.clock import SystemClock
from fedlib.errors import ConfigurationError
from fedlib.sp import LoginResult, ServiceProvider
from fedlib.web import (
    CSRF_FIELD,
    CSRF_SESSION_KEY,
    PARTIAL,
    SESSION_KEY,
    LoginOptions,
    LogoutEvent,
    PageRenderer,
    SamlRoutes,
    WebOutcome,
    WebRequest,
    begin_session,
    default_render_page,
    end_expired_session,
    too_many_form_fields,
)
from fedlib.web import csrf_token as _csrf_token

log = logging.getLogger("fedlib.flask")

_IN_APP_CODE = "fedlib.in_app_code"
"""WSGI environ flag: set while the application's own hook runs (its exceptions are not fedlib's)."""

LoginHook = Callable[[LoginResult], Any]
LogoutHook = Callable[[LogoutEvent], Any]
TenantLookup = Callable[[str], ServiceProvider]


def default_login_hook(result: LoginResult) -> None:
    """Keep the identity in the session: ``session["fedlib"]`` = name_id (with its format and qualifiers),
    issuer, session index, attributes. An IdP LogoutRequest must name exactly this NameID and session. The
    session becomes the new principal's first (``fedlib.web.begin_session``: another principal's session is
    emptied; the logout CSRF token is always renewed)."""
    begin_session(session, result)


def default_logout_hook(event: LogoutEvent) -> None:
    """Drop fedlib's identity from the Flask session (fedlib does it after every hook anyway). Replace it
    with ``@saml.on_logout`` to end the application's own session too, e.g. ``flask_login.logout_user()``."""
    if event.kind != "idp-response":
        session.pop(SESSION_KEY, None)


def csrf_token() -> str:
    """This browser session's logout CSRF token (created on first use): 32 random bytes, URL-safe."""
    return _csrf_token(session)


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


_URLENCODED = "application/x-www-form-urlencoded"

DEFAULT_MAX_BODY_BYTES = 2 * 1024 * 1024
"""``FedLib(max_body_bytes=...)``'s default: a SAMLResponse is at most 256 KiB of XML (~350 KB in base64)."""


def _plain_urlencoded(body: bytes) -> dict[str, str] | None:
    """The fields of an urlencoded ``body`` exactly as werkzeug's ``request.form.to_dict()`` has them (the first
    value of each name), for the plain case only: ASCII, every ``%`` followed by two hex digits, no ``=`` in a
    value, no CR or LF, UTF-8 once decoded. Anything else is None, and the caller lets werkzeug parse it.

    Why: an IdP's POST is a ~10 KB base64 value with hundreds of ``%2B``/``%2F``/``%3D``, which
    ``urllib.parse.unquote`` decodes in a Python loop. Here each ``%`` becomes ``=`` and ``binascii.a2b_qp``
    (quoted-printable, whose ``=XX`` is the same escape) decodes the part in one C pass: a 10 KB IdP POST
    parses in ~16 µs (~21 with ``bytes.split``) where the ``unicode_escape`` codec fedlib used before took ~28
    (werkzeug ~140), ~10 µs less per login inside the example ACS (in-process, alternating blocks of requests).
    Quoted-printable differs from percent-decoding in three places, each kept out: a literal ``=`` would be read
    as an escape (such a part is declined), CR and LF are line breaks to it (declined), and an ``=`` not followed
    by two hex digits is kept, or dropped at the very end, where ``unquote`` keeps the ``%``: then the output is
    not exactly two bytes shorter per ``%`` (declined). tests/integration/flask/test_flask_acs_form.py compares
    both parsers."""
    if not body.isascii():
        return None
    fields: dict[str, str] = {}
    # The pairs found with find (memchr) rather than body.split(b"&"), which reads the body a byte at a time
    # (~4.7 µs on a 10 KB POST; the form has two to four pairs, and _cap_body has capped their number).
    start, end = 0, len(body)
    try:
        while start < end:
            stop = body.find(b"&", start)
            if stop == -1:
                stop = end
            if stop > start:  # empty pairs are skipped
                equals = body.find(b"=", start, stop)  # the name ends at the first "=" (none: an empty value)
                key: str | None
                text: str | None
                if equals == -1:
                    key, text = _unquote_plus(body[start:stop]), ""
                else:
                    key, text = _unquote_plus(body[start:equals]), _unquote_plus(body[equals + 1 : stop])
                if key is None or text is None:
                    return None
                fields.setdefault(key, text)
            start = stop + 1
    except UnicodeError:  # not UTF-8 once decoded
        return None
    return fields


def _unquote_plus(part: bytes) -> str | None:
    """``urllib.parse.unquote_plus`` of one ASCII name or value (UnicodeError: not UTF-8), or None where
    ``_plain_urlencoded``'s plain case does not hold (the caller then declines the whole body)."""
    if b"%" not in part and b"+" not in part:
        return part.decode("ascii")
    if b"=" in part or b"\n" in part or b"\r" in part:
        return None
    decoded = binascii.a2b_qp(part.replace(b"+", b" ").replace(b"%", b"="))
    if len(decoded) != len(part) - 2 * part.count(b"%"):
        return None  # an escape without two hex digits after its %
    return decoded.decode("utf-8")


def _werkzeug_reads_the_cache() -> bool:
    """Whether werkzeug's ``Request`` takes its body from the ``_cached_data`` attribute, for ``get_data`` and for
    the form parser, once it is set (werkzeug 3.x's layout, not its API): only then does ``_read_body`` read
    the body itself. Asked once at import on a probe request; another layout leaves every read to werkzeug."""
    try:
        probe = WerkzeugRequest(
            {
                "REQUEST_METHOD": "POST",
                "CONTENT_TYPE": _URLENCODED,
                "CONTENT_LENGTH": "3",
                "wsgi.input": io.BytesIO(b"a=1"),
                "wsgi.input_terminated": True,
                "SERVER_NAME": "probe",
                "SERVER_PORT": "80",
                "wsgi.url_scheme": "http",
            }
        )
        probe._cached_data = b"a=2"
        return bool(probe.get_data(cache=True) == b"a=2" and probe.form.get("a") == "2")
    except Exception:  # any other layout: werkzeug reads
        return False


_CACHED_BODY: bool = _werkzeug_reads_the_cache()
"""``_werkzeug_reads_the_cache()``, asked once at import."""

_WERKZEUG_STREAM: Any = WerkzeugRequest.stream
"""werkzeug's ``Request.stream`` (the cached property): only where a request class keeps it does ``_read_body``
read the server's stream itself."""

_READ_STEP = 64 * 1024
"""The most ``_read_body`` asks of the server's stream in one read (werkzeug's own step)."""


def _read_body(req: Request, cap: int) -> bytes:
    """``req.get_data(cache=True)`` with ``req.max_content_length = cap + 1`` (a 413 for a declared length over
    it, and for more than ``cap + 1`` bytes streamed), read straight from the server's stream in the usual case.

    Why: werkzeug wraps the stream in a ``LimitedStream`` and reads it through ``io.RawIOBase`` into a bytearray,
    then copies it: ~14 µs for an IdP's 10 KB POST where this takes ~5.5 (in-process; about twice both inside
    gunicorn's workers), on every login. The usual case is the one werkzeug reads the same way: a server that
    terminates the stream at the body's end (``wsgi.input_terminated``, as gunicorn and waitress set it),
    werkzeug's own ``get_data``, ``stream`` and form parser with the limit set (an app's request class that
    reads otherwise, a gzip-decoding stream say, is read its way), a body nothing has read through werkzeug yet
    (the app's earlier read leaves werkzeug's bounded stream to decide, used up at the limit: a 413), and
    werkzeug's ``_cached_data`` layout (``_CACHED_BODY``). Then the stream is read in werkzeug's 64 KiB steps
    until it ends or holds more than ``cap`` bytes, the declared length is the header's (``get_content_length``),
    a read that fails is a client gone (400), and the bytes are put where werkzeug keeps them, so
    ``request.get_data()`` and ``request.form`` read them afterwards as before. One case is stricter than
    werkzeug: a stream werkzeug left unbounded (the app touched it before any limit was set) is read to
    ``cap + 1`` bytes, not whole; and a ``read`` answering None (against WSGI) ends the body instead of a 500.
    Anything else is werkzeug's ``get_data``. tests/integration/flask/test_flask_body_read.py compares the two
    (and holds each case found in review)."""
    environ = req.environ
    stream: Any = environ.get("wsgi.input")
    if (
        not _CACHED_BODY
        or "wsgi.input_terminated" not in environ
        or stream is None
        or req.shallow
        or type(req).get_data is not WerkzeugRequest.get_data
        or type(req)._get_stream_for_parsing is not WerkzeugRequest._get_stream_for_parsing
        or getattr(type(req), "stream", None) is not _WERKZEUG_STREAM  # the app's own reading (a decoding stream)
        or req.max_content_length != cap + 1  # the app's own limit property
        or "_cached_data" in req.__dict__  # read already: get_data returns it
        # werkzeug's bounded stream exists (the app read the body first, a form parse or a read of its own): its
        # state decides (used up at the limit: a 413). Only a stream werkzeug left unbounded (made before any
        # limit was set) is read here, bounded.
        or req.__dict__.get("stream", stream) is not stream
    ):
        return req.get_data(cache=True)
    length = get_content_length(environ)  # the header, as werkzeug's stream reads it
    if length is not None and length > cap + 1:
        raise RequestEntityTooLarge()  # declared over the limit: refused unread, as werkzeug does
    chunks: list[bytes] = []
    total = 0
    while total <= cap:
        try:
            # In steps, as werkzeug reads: a server's stream may allocate what it is asked for.
            chunk = stream.read(min(_READ_STEP, cap + 1 - total))
        except (OSError, ValueError) as exc:  # the client went away mid-body: a 400, as werkzeug's stream says
            raise ClientDisconnected() from exc
        if not chunk:  # the end (None, from a stream that breaks WSGI's rules, too: a short body, not a 500)
            break
        chunks.append(bytes(chunk))
        total += len(chunk)
    if total > cap:
        raise RequestEntityTooLarge()  # over the cap: _cap_body's 413 for werkzeug's cap + 1 bytes, decided here
    body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    req._cached_data = body
    return body


def _acs_form(req: Request) -> dict[str, str]:
    """The ACS's form: the plain case parsed by ``_plain_urlencoded`` from the body (read with Flask's own
    limits: ``MAX_CONTENT_LENGTH`` is a 413 as before), anything else by werkzeug (``request.form``). The
    usual ``Content-Type`` (exactly ``application/x-www-form-urlencoded``) is recognised without parsing it;
    any other spelling goes through ``mimetype`` as before."""
    if req.environ.get("CONTENT_TYPE") == _URLENCODED or req.mimetype == _URLENCODED:
        fields = _plain_urlencoded(req.get_data(cache=True))
        if fields is not None:
            return fields
    return req.form.to_dict()  # parses the cached body


_PLAIN_COOKIE_HEADER = re.compile(
    r"[!#-:<>-~]+=[!#-:<-~]*(?:; [!#-:<>-~]+=[!#-:<-~]*)*",
    re.ASCII,
)
"""A ``Cookie`` header as browsers write it for plain cookies: ``name=value`` pairs joined by ``"; "``, printable
ASCII only, no ``"`` (werkzeug unquotes quoted values), no ``;`` or space inside a pair, no ``=`` in a name."""


_WERKZEUG_COOKIES: Any = WerkzeugRequest.cookies
"""werkzeug's ``Request.cookies`` (the cached property): only where a request class keeps it does
``request_cookies`` read the header itself."""


def request_cookies(req: Request) -> dict[str, str]:
    """``req.cookies.to_dict()`` (each cookie's first value), without werkzeug's parse in the plain case.

    Why: werkzeug finds the ``Cookie`` header by walking every key of the WSGI environ (rebuilding each
    header's name) and runs its cookie regex per pair; every request of an app that reads its session
    cookie pays for it. A header that ``_PLAIN_COOKIE_HEADER`` matches whole has one reading: split at
    ``"; "``, name before the first ``=``, value after it, as werkzeug's parser reads it too. Anything else
    (quoted values, other separators or spacing, non-ASCII, a pair without ``=``) is werkzeug's.
    The header is ``HTTP_COOKIE``, where WSGI servers put it (werkzeug would also join keys that differ
    from it in case only, which no server writes). tests/integration/flask/test_flask_cookies.py compares
    both parsers."""
    if getattr(type(req), "cookies", None) is not _WERKZEUG_COOKIES:
        unwrap = getattr(req, "_get_current_object", None)  # flask.request (a LocalProxy): its request
        if unwrap is not None:
            req = unwrap()
        if getattr(type(req), "cookies", None) is not _WERKZEUG_COOKIES:  # the app's own reading (a filter)
            return req.cookies.to_dict()
    header = req.environ.get("HTTP_COOKIE")
    if header is None:
        return {}
    if "cookies" in req.__dict__ or _PLAIN_COOKIE_HEADER.fullmatch(header) is None:
        return req.cookies.to_dict()  # werkzeug's parse, done already (cached) or needed
    cookies: dict[str, str] = {}
    for pair in header.split("; "):
        name, _, value = pair.partition("=")
        cookies.setdefault(name, value)
    return cookies


def _acs_request(req: Request) -> WebRequest:
    """What ``SamlRoutes.acs`` reads (the form and the cookies), nothing else: the ACS is the login's hot path,
    and the query, the headers and ``host_url`` (a URL rebuilt from the Host header) cost time per login."""
    return WebRequest(
        method=req.method,
        path=req.path,
        form=_acs_form(req),
        cookies=request_cookies(req),
    )


def _current_request() -> Request:
    """The request object behind ``flask.request`` (each attribute read through the proxy looks it up)."""
    return request._get_current_object()  # type: ignore[attr-defined,no-any-return]


def _web_request() -> WebRequest:
    return WebRequest(
        method=request.method,
        path=request.path,
        query_string=request.query_string.decode("latin-1"),
        query=request.args.to_dict(),
        form=request.form.to_dict() if request.method == "POST" else {},
        cookies=request_cookies(_current_request()),
        origin=request.headers.get("Origin"),
        sec_fetch_site=request.headers.get("Sec-Fetch-Site"),
        host_url=request.host_url,
    )


_PLAIN_COOKIE_TEXT = re.compile(r"[A-Za-z0-9_-]*")
"""A binding cookie's name or value that werkzeug's ``dump_cookie`` writes as it is (fedlib's names and secrets)."""

_cookie_tail: tuple[tuple[object, ...], str] | None = None
"""The last attributes written by ``_cookie_header`` (key: the cookie's attributes and the second) and their text."""


def _cookie_header(cookie: BindingCookie, max_size: int) -> str | None:
    """``cookie``'s ``Set-Cookie`` header exactly as werkzeug's ``response.set_cookie`` writes it, or None
    (then the caller lets werkzeug write it): the attributes (``; Expires=<now + max_age>; Max-Age=...;
    Secure; HttpOnly; Path=/; SameSite=None``) depend only on the cookie's fixed fields and the current
    second, so ``dump_cookie`` writes them once per second and attributes, and the name and value go in
    front. Only for a name and value that ``dump_cookie`` would not quote (fedlib's: ``[A-Za-z0-9_-]``),
    and a header within ``max_size`` (over it werkzeug warns). The expiry is computed as werkzeug does
    (``http_date(now + max_age)``), from the same clock."""
    global _cookie_tail
    if not (_PLAIN_COOKIE_TEXT.fullmatch(cookie.name) and _PLAIN_COOKIE_TEXT.fullmatch(cookie.value)):
        return None
    now = time.time()
    key = (cookie.max_age, cookie.path, cookie.secure, cookie.http_only, cookie.same_site, int(now))
    cached = _cookie_tail
    if cached is None or cached[0] != key:
        attributes = dump_cookie(
            "c",
            "",
            max_age=cookie.max_age,
            expires=http_date(now + cookie.max_age),
            path=cookie.path,
            secure=cookie.secure,
            httponly=cookie.http_only,
            samesite=cookie.same_site,
            max_size=0,
        )
        cached = _cookie_tail = (key, attributes[2:])
    header = f"{cookie.name}={cookie.value}{cached[1]}"
    if max_size and len(header) > max_size:
        return None
    return header


class FedLib:
    """The Flask extension. Give it one ``service_provider`` or a ``tenants`` lookup (tenant -> SP).
    ``render_page``: your own renderer of fedlib's pages (a ``fedlib.web.Page`` -> HTML), e.g. the 403."""

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
        render_page: PageRenderer = default_render_page,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        if service_provider is not None and tenants is not None:
            raise ConfigurationError("give FedLib at most one of service_provider= or tenants=")
        if isinstance(max_body_bytes, bool) or not isinstance(max_body_bytes, int) or max_body_bytes < 1:
            raise ConfigurationError("max_body_bytes must be a positive number of bytes")
        self.max_body_bytes = max_body_bytes
        """The most a POST to a fedlib route may carry (a 413 past it, declared or streamed), unless the app's
        ``MAX_CONTENT_LENGTH`` is smaller; as the Starlette and Django adapters."""
        self.routes = SamlRoutes(
            binding=binding, login_options=login_options, single_logout=single_logout, render_page=render_page
        )
        """The framework-neutral behaviour of the routes (:class:`fedlib.web.SamlRoutes`)."""
        self.service_provider = service_provider
        self.tenants = tenants
        self.url_prefix = url_prefix.rstrip("/")
        self.login_hook: LoginHook = default_login_hook
        self.logout_hook: LogoutHook = default_logout_hook
        if app is not None:
            self.init_app(app)

    @property
    def login_options(self) -> dict[str, LoginOptions]:
        """``/login?authn=<name>`` -> the options of that login (an allow-list; unknown names are a 400)."""
        return self.routes.login_options

    @property
    def binding(self) -> str | None:
        return self.routes.binding

    @binding.setter
    def binding(self, value: str | None) -> None:
        self.routes.binding = value

    @property
    def single_logout(self) -> bool:
        """Sign out at the IdP too (SP-initiated Single Logout) when the SP can sign and the IdP has an SLO
        endpoint; False: Sign out ends the local session only."""
        return self.routes.single_logout

    @single_logout.setter
    def single_logout(self, value: bool) -> None:
        self.routes.single_logout = value

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
        if not isinstance(session.get(SESSION_KEY), dict):
            return
        clock = self.service_provider.clock if self.service_provider is not None else SystemClock()
        end_expired_session(session, clock.now())

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
    def _set_cookies(response: BaseResponse, cookies: tuple[BindingCookie, ...]) -> BaseResponse:
        """The binding cookies' ``Set-Cookie`` headers, as werkzeug's ``set_cookie`` writes them
        (``_cookie_header``: the same text, with its attributes written once per second)."""
        for cookie in cookies:
            header = _cookie_header(cookie, response.max_cookie_size)
            if header is not None:
                response.headers.add("Set-Cookie", header)
                continue
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

    @classmethod
    def _respond(cls, outcome: WebOutcome) -> BaseResponse:
        """The Flask response of a :class:`WebOutcome`. A redirect is the status and ``Location`` only (no
        "Redirecting..." page: a browser follows a 302/303 without showing it), unless the application
        overrides ``Flask.redirect``, which then makes it as for ``flask.redirect``."""
        if outcome.app_response is not None:
            response: BaseResponse = current_app.make_response(outcome.app_response)
        elif outcome.location is not None:
            app = current_app._get_current_object()  # type: ignore[attr-defined]
            if type(app).redirect is Flask.redirect:
                response = app.response_class(status=outcome.status, headers=(("Location", outcome.location),))
            else:
                response = redirect(outcome.location, code=outcome.status)
        else:
            response = Response(outcome.body, status=outcome.status, content_type=outcome.content_type)
        for name, value in outcome.headers:
            response.headers[name] = value
        return cls._set_cookies(response, outcome.cookies)

    def _app_hook(self, hook: Callable[[Any], Any]) -> Callable[[Any], Any]:
        """The application's hook, flagged so that its exceptions stay the application's (see _error)."""

        def run(value: Any) -> Any:
            request.environ[_IN_APP_CODE] = True  # stays set if the hook raises
            outcome = hook(value)
            request.environ[_IN_APP_CODE] = False
            return outcome

        return run

    def _error(self, exc: Exception) -> Any:
        """Error handler of the fedlib routes: client input never becomes a 5xx (see the module doc)."""
        if isinstance(exc, HTTPException):
            return exc
        if request.environ.get(_IN_APP_CODE):
            raise exc  # the application's own hook failed: its error, its error handling
        return self._respond(self.routes.error_outcome(exc, request.method, request.path))

    # ---- views -------------------------------------------------------------------------------------

    def _metadata(self, tenant: str | None = None) -> Response:
        return Response(self._sp(tenant).metadata_xml(), mimetype="application/samlmetadata+xml")

    def _login(self, tenant: str | None = None) -> Any:
        return self._respond(self.routes.login(_web_request(), self._sp(tenant)))

    def _cap_body(self, req: Request | None = None) -> None:
        """Before a fedlib route reads a POST body: a 413 for a body with more than ``fedlib.web.MAX_FORM_FIELDS``
        fields (parsing a million tiny fields takes seconds), and for a body over the cap, whether its Content-Length
        says so (werkzeug refuses it unread) or it streams past it (no Content-Length: werkzeug reads at most
        ``cap + 1`` bytes, so one byte too many proves it); never more than that read into memory. A body the
        server cannot read (its own parse error, a malformed chunk size under gunicorn) is the client's 400, as
        in the Django adapter. The body is cached, and every later read (the form) uses the cache. ``req``: the
        current request (default: ``flask.request``)."""
        if req is None:
            req = _current_request()
        app_limit = current_app.config.get("MAX_CONTENT_LENGTH")
        cap = self.max_body_bytes if app_limit is None else min(int(app_limit), self.max_body_bytes)
        req.max_content_length = cap + 1
        if req.method == "POST":
            try:
                body = _read_body(req, cap)
            except HTTPException:
                raise  # 413, or werkzeug's 400 for a client gone mid-body
            except Exception as exc:
                # The server could not read the body the client sent (gunicorn raises its own parse errors from
                # wsgi.input, a malformed chunk size say): the client's 400, not an error of fedlib's.
                log.info("fedlib: the request body could not be read: %s: %s", type(exc).__name__, exc)
                raise BadRequest("the request body could not be read") from exc
            # Over the size cap, or over fedlib.web.MAX_FORM_FIELDS fields: refused before anything parses it.
            if len(body) > cap or too_many_form_fields(body):
                raise RequestEntityTooLarge()

    def _acs(self, tenant: str | None = None) -> Any:
        req = _current_request()  # the ACS reads it a dozen times: once through the context-local proxy
        self._cap_body(req)
        sp = self._sp(tenant)
        return self._respond(self.routes.acs(_acs_request(req), sp, self._app_hook(self.login_hook)))

    def _logout(self, tenant: str | None = None) -> Any:
        """``/logout``: an IdP LogoutRequest (Redirect or POST binding), a local logout (POST with the CSRF
        token), or (GET) the page with the logout form. See the module docstring."""
        self._cap_body()
        sp = self._sp(tenant)
        action = url_for("fedlib.logout", tenant=tenant) if tenant is not None else url_for("fedlib.logout")
        outcome = self.routes.logout(
            _web_request(), sp, session, self._app_hook(self.logout_hook), logout_action=action
        )
        return self._respond(outcome)


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
    "request_cookies",
]
