"""The HTTP client's guarantees against a real local server (issue #10 §1, §3): TLS verification on (and
not loosened by the environment), https-only redirects from https, If-Modified-Since, connect/read
timeouts, a total deadline that a server dripping its answer cannot stretch (so an MDQ cache miss, the one
network wait a login may make, is bounded), and a refresh that hangs never delays a login."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from tests.integration.metadata.test_lifecycle import IDP, Clock, idp_document, login, sp_with
from tests.metadata_support import federation_key

from fedlib.errors import ConfigurationError
from fedlib.federation import FetchError, HTTPFetcher, MDQClient, MetadataProvider, mdq_url
from fedlib.federation.http import Validators
from fedlib.metadata.document import RefreshPolicy
from fedlib.testing import default_key

Behaviour = Callable[[BaseHTTPRequestHandler], None]


class _Server:
    """A loopback server whose paths run arbitrary behaviours (hang, drip, redirect), optionally over TLS."""

    def __init__(self, routes: dict[str, Behaviour], context: ssl.SSLContext | None = None) -> None:
        routes_ref = routes

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                behaviour = routes_ref.get(self.path)
                if behaviour is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                behaviour(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.scheme = "http"
        if context is not None:
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            self.scheme = "https"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"{self.scheme}://127.0.0.1:{self.server.server_address[1]}{path}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def _send(handler: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
    handler.send_response(status)
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.send_header("Connection", "close")
    handler.end_headers()
    handler.wfile.write(body)


def _drip(body: bytes, every: float) -> Behaviour:
    """Announce the whole body, then send it one byte at a time, each well within any read timeout."""

    def behaviour(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        try:
            for i in range(len(body)):
                handler.wfile.write(body[i : i + 1])
                handler.wfile.flush()
                time.sleep(every)
        except OSError:  # the client gave up: what the test wants
            return

    return behaviour


def _hang(seconds: float) -> Behaviour:
    def behaviour(handler: BaseHTTPRequestHandler) -> None:
        time.sleep(seconds)
        try:
            _send(handler, 500, b"too late")
        except OSError:
            return

    return behaviour


@pytest.fixture
def servers() -> Iterator[Callable[..., _Server]]:
    started: list[_Server] = []

    def start(routes: dict[str, Behaviour], context: ssl.SSLContext | None = None) -> _Server:
        server = _Server(routes, context)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, Path]:
    """A self-signed certificate for 127.0.0.1 (generated here: test material only); the server context and
    the certificate's PEM file (a CA bundle that trusts it)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fedlib test 127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    directory = tmp_path_factory.mktemp("tls")
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context, cert_file


BODY = idp_document([default_key()])


# ---- TLS -------------------------------------------------------------------------------------------------


def test_tls_is_verified_and_the_environment_cannot_loosen_it(
    servers: Callable[..., _Server], tls: tuple[ssl.SSLContext, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    context, ca_file = tls
    server = servers({"/idp.xml": lambda h: _send(h, 200, BODY)}, context)
    url = server.url("/idp.xml")
    with pytest.raises(FetchError, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
        HTTPFetcher().get(url)
    # SSL_CERT_FILE / REQUESTS_CA_BUNDLE naming the test CA are not read (trust_env=False)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca_file))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(ca_file))
    with pytest.raises(FetchError, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
        HTTPFetcher().get(url)
    # configured explicitly, the CA is trusted
    assert HTTPFetcher(verify=str(ca_file)).get(url).body == BODY
    assert HTTPFetcher(verify=ssl.create_default_context(cafile=str(ca_file))).get(url).body == BODY
    # the provider refuses at start-up, typed
    with pytest.raises(ConfigurationError, match="no valid metadata"):
        MetadataProvider(url, clock=Clock())


def test_a_ca_bundle_path_is_read_at_configuration(tmp_path: Path, tls: tuple[ssl.SSLContext, Path]) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # httpx deprecates verify=<str>: the fetcher hands it a context
        HTTPFetcher(verify=str(tls[1]))._get_client()
    with pytest.raises(ConfigurationError, match="CA bundle"):
        HTTPFetcher(verify=str(tmp_path / "missing.pem"))
    (tmp_path / "garbage.pem").write_text("not a certificate")
    with pytest.raises(ConfigurationError, match="CA bundle"):
        HTTPFetcher(verify=str(tmp_path / "garbage.pem"))


def test_a_redirect_from_https_to_http_is_refused(
    servers: Callable[..., _Server], tls: tuple[ssl.SSLContext, Path]
) -> None:
    context, ca_file = tls
    plain = servers({"/idp.xml": lambda h: _send(h, 200, BODY)})
    secure = servers(
        {
            "/down": lambda h: _send(h, 302, b"", {"Location": plain.url("/idp.xml")}),
            "/up": lambda h: _send(h, 302, b"", {"Location": "/idp.xml"}),
            "/idp.xml": lambda h: _send(h, 200, BODY),
        },
        context,
    )
    fetcher = HTTPFetcher(verify=str(ca_file))
    with pytest.raises(FetchError, match="https"):
        fetcher.get(secure.url("/down"))
    assert fetcher.get(secure.url("/up")).body == BODY  # https to https is followed


# ---- conditional GET: If-Modified-Since --------------------------------------------------------------------


def test_if_modified_since_is_sent_and_a_304_keeps_the_snapshot(servers: Callable[..., _Server]) -> None:
    stamp = "Sun, 06 Dec 2026 10:00:00 GMT"
    seen: list[str | None] = []

    def behaviour(handler: BaseHTTPRequestHandler) -> None:
        seen.append(handler.headers.get("If-Modified-Since"))
        if handler.headers.get("If-Modified-Since") == stamp:
            handler.send_response(304)
            handler.send_header("Connection", "close")
            handler.end_headers()
            return
        _send(handler, 200, BODY, {"Last-Modified": stamp})

    server = servers({"/idp.xml": behaviour})
    clock = Clock()
    fetcher = HTTPFetcher(allow_http=True, read_timeout=2.0)
    provider = MetadataProvider(server.url("/idp.xml"), fetcher=fetcher, clock=clock)
    first = provider.current()
    assert provider.refresh_now()
    assert seen == [None, stamp]
    assert provider.current() is first
    assert fetcher.get(server.url("/idp.xml"), validators=Validators(last_modified=stamp)).body is None


# ---- timeouts -----------------------------------------------------------------------------------------------


def test_a_server_that_does_not_answer_is_abandoned_after_the_read_timeout(servers: Callable[..., _Server]) -> None:
    server = servers({"/idp.xml": _hang(5.0)})
    started = time.monotonic()
    with pytest.raises(FetchError, match="ReadTimeout"):
        HTTPFetcher(allow_http=True, read_timeout=0.3).get(server.url("/idp.xml"))
    assert time.monotonic() - started < 2.0


def test_an_unroutable_host_is_abandoned_after_the_connect_timeout() -> None:
    started = time.monotonic()
    # 10.255.255.1 is not routed here: the TCP handshake never completes (or fails at once, also fine)
    with pytest.raises(FetchError):
        HTTPFetcher(allow_http=True, connect_timeout=0.3).get("http://10.255.255.1:9/idp.xml")
    assert time.monotonic() - started < 2.0


def test_a_dripping_server_cannot_stretch_a_fetch_past_the_total_deadline(servers: Callable[..., _Server]) -> None:
    """Every byte arrives well within the read timeout, so only a deadline on the whole fetch ends it."""
    server = servers({"/idp.xml": _drip(BODY, 0.02)})  # len(BODY) x 20 ms: far more than the deadline
    started = time.monotonic()
    with pytest.raises(FetchError, match="deadline"):
        HTTPFetcher(allow_http=True, read_timeout=1.0, total_timeout=0.5).get(server.url("/idp.xml"))
    assert time.monotonic() - started < 2.0


def _drip_headers(every: float, count: int) -> Behaviour:
    """A status line, then header lines one byte at a time: no response object exists yet to give up on."""

    def behaviour(handler: BaseHTTPRequestHandler) -> None:
        wire = b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-Pad-%d: y\r\n" % i for i in range(count))
        try:
            for i in range(len(wire)):
                handler.wfile.write(wire[i : i + 1])
                handler.wfile.flush()
                time.sleep(every)
        except OSError:
            return

    return behaviour


@pytest.mark.parametrize("over_tls", [False, True])
def test_a_server_dripping_its_headers_is_cut_off_at_the_deadline(
    servers: Callable[..., _Server], tls: tuple[ssl.SSLContext, Path], over_tls: bool
) -> None:
    """Every header byte within the read timeout: only a deadline on the whole fetch, enforced while the
    client still waits for the headers, ends it (h11 alone would accept 16 KiB of them)."""
    context, ca_file = tls
    # ~500 bytes x 20 ms: far more than the deadline
    server = servers({"/idp.xml": _drip_headers(0.02, 40)}, context if over_tls else None)
    verify = ssl.create_default_context(cafile=str(ca_file))
    fetcher = HTTPFetcher(allow_http=True, read_timeout=1.0, total_timeout=0.5, verify=verify)
    for _ in range(2):  # a second fetch on the same client is bounded the same way
        started = time.monotonic()
        with pytest.raises(FetchError, match="deadline"):
            fetcher.get(server.url("/idp.xml"))
        assert time.monotonic() - started < 1.5


def test_the_deadline_covers_every_redirect_hop(servers: Callable[..., _Server]) -> None:
    def slow_hop(handler: BaseHTTPRequestHandler) -> None:
        time.sleep(0.2)
        _send(handler, 302, b"", {"Location": "/hop"})

    server = servers({"/hop": slow_hop})
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"deadline|redirects|Timeout"):
        HTTPFetcher(allow_http=True, read_timeout=1.0, total_timeout=0.5, max_redirects=20).get(server.url("/hop"))
    assert time.monotonic() - started < 1.5


@pytest.mark.parametrize("kwargs", [{"total_timeout": 0}, {"total_timeout": -1.0}, {"total_timeout": 3601}])
def test_the_total_deadline_is_validated(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError, match="timeout"):
        HTTPFetcher(**kwargs)


def test_the_default_fetchers_have_a_total_deadline() -> None:
    assert HTTPFetcher().total_timeout is not None
    mdq = MDQClient("https://mdq.example.org", signer=federation_key().certificate)
    assert mdq.fetcher.total_timeout is not None
    assert mdq.fetcher.total_timeout <= 10.0  # a login may wait on it


def test_an_mdq_cache_miss_is_bounded_even_against_a_dripping_service(servers: Callable[..., _Server]) -> None:
    from tests.metadata_support import signed

    fed = federation_key()
    answer = signed(idp_document([default_key()]), fed)
    server = servers({mdq_url("", IDP): _drip(answer, 0.02)})
    base = server.url("")
    mdq = MDQClient(
        base,
        signer=fed.certificate,
        fetcher=HTTPFetcher(allow_http=True, read_timeout=1.0, total_timeout=0.5),
        clock=Clock(),
    )
    started = time.monotonic()
    with pytest.raises(ConfigurationError, match="deadline"):
        mdq.lookup(IDP)
    assert time.monotonic() - started < 2.0


# ---- refresh off the login path ------------------------------------------------------------------------------


def test_a_hanging_refresh_does_not_delay_logins(servers: Callable[..., _Server]) -> None:
    """The refresher thread is stuck in a fetch to a server that does not answer; logins meanwhile read the
    current snapshot and finish at once."""
    key = default_key()
    body = idp_document([key])
    hanging = threading.Event()

    def behaviour(handler: BaseHTTPRequestHandler) -> None:
        if hanging.is_set():
            time.sleep(2.0)
            return
        _send(handler, 200, body)

    server = servers({"/idp.xml": behaviour})
    clock = Clock()
    provider = MetadataProvider(
        server.url("/idp.xml"),
        fetcher=HTTPFetcher(allow_http=True, read_timeout=5.0),
        refresh=RefreshPolicy(min_delay=timedelta_ms(10), max_delay=timedelta_ms(20)),
        clock=clock,
    )
    sp = sp_with(provider, clock)
    hanging.set()
    provider.start()
    try:
        time.sleep(0.3)  # the refresher is now waiting on the server
        started = time.monotonic()
        for _ in range(3):
            assert login(sp, key, clock).authn.issuer == IDP
        assert time.monotonic() - started < 1.5
    finally:
        provider._stop.set()
        provider.close()


def timedelta_ms(ms: int) -> dt.timedelta:
    return dt.timedelta(milliseconds=ms)


def test_a_configured_proxy_is_used(servers: Callable[..., _Server]) -> None:
    """Environment proxies are ignored (test_lifecycle); one passed as ``proxy=`` carries the request."""
    target = "http://md.example.test/idp.xml"
    seen: list[str] = []

    def as_proxy(handler: BaseHTTPRequestHandler) -> None:
        seen.append(handler.path)
        _send(handler, 200, BODY)

    proxy = servers({target: as_proxy})
    fetcher = HTTPFetcher(allow_http=True, read_timeout=2.0, proxy=proxy.url(""))
    assert fetcher.get(target).body == BODY
    assert seen == [target]  # an absolute-form request: it went through the proxy
