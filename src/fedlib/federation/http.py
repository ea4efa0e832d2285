"""The HTTP client for metadata: TLS verified, bounded in time and size, conditional, https-only redirects.

httpx is used (not urllib): it is well kept, verifies TLS by default with a configurable CA bundle, has
separate connect/read timeouts, streams responses (so the size cap is enforced while reading, not after)
and lets us ignore the environment's proxy settings (``trust_env=False``). It is an optional extra
(``pip install 'fedlib[http]'``) imported lazily, so ``import fedlib`` works without it.

Redirects are followed by hand (at most ``max_redirects``) so that every hop is checked: only https,
unless the caller explicitly allowed http (loopback test servers).

Time: the connect and read timeouts bound each network operation; ``total_timeout`` bounds the whole
fetch (every redirect hop, the headers and the body), so a server that sends its answer a byte at a time,
each within the read timeout, cannot stretch a fetch (or a login waiting on an MDQ cache miss) beyond it.
It is checked before each hop and after each piece of the body, each hop's own timeouts are capped to the
time left, and a watchdog shuts the hop's socket down at the deadline (so a read blocked while the headers
trickle in returns at once). The socket comes from httpcore's ``trace`` extension as the connection is
made; connections are therefore not kept alive between fetches (metadata fetches are minutes apart).
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urljoin, urlsplit

from fedlib.errors import ConfigurationError

if TYPE_CHECKING:  # pragma: no cover
    import httpx

DEFAULT_CONNECT_TIMEOUT: Final = 5.0
DEFAULT_READ_TIMEOUT: Final = 30.0
DEFAULT_TOTAL_TIMEOUT: Final = 300.0
DEFAULT_MAX_BYTES: Final = 128 * 1024 * 1024
DEFAULT_MAX_REDIRECTS: Final = 5
METADATA_ACCEPT: Final = "application/samlmetadata+xml, application/xml;q=0.9, text/xml;q=0.8"


class FetchError(ConfigurationError):
    """The metadata could not be fetched (network, TLS, HTTP status, size, redirect policy)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Validators:
    """What the server said identifies this version (for a conditional GET)."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True, slots=True)
class FetchResult:
    """A fetched body (``body`` None: 304 Not Modified, keep what you have) and its validators."""

    body: bytes | None
    validators: Validators
    url: str
    status: int


def _httpx() -> Any:
    try:
        import httpx
    except ImportError:
        raise ConfigurationError("fetching metadata over HTTP needs httpx: pip install 'fedlib[http]'") from None
    return httpx


class HTTPFetcher:
    """GET metadata over https.

    Args:
        connect_timeout / read_timeout: seconds, per network operation.
        total_timeout: seconds for the whole fetch, redirects and body included (a slow-drip server is
            abandoned at this deadline; see the module docstring).
        max_bytes: cap on the (decoded) body; larger bodies are abandoned while streaming.
        allow_http: accept http:// URLs (and redirects to them). For loopback tests only.
        verify: True (system CAs), False is refused, or a path to a CA bundle / an ``ssl.SSLContext``.
        proxy: an explicit proxy URL; the environment's proxy variables are never read.
        max_redirects: hops followed (each one must be https unless ``allow_http``).
    """

    def __init__(
        self,
        *,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        total_timeout: float = DEFAULT_TOTAL_TIMEOUT,
        max_bytes: int = DEFAULT_MAX_BYTES,
        allow_http: bool = False,
        verify: bool | str | ssl.SSLContext = True,
        proxy: str | None = None,
        max_redirects: int = DEFAULT_MAX_REDIRECTS,
    ) -> None:
        if verify is False:
            raise ConfigurationError("TLS verification cannot be turned off for metadata")
        if not 0 < connect_timeout <= 300 or not 0 < read_timeout <= 600:
            raise ConfigurationError("metadata timeouts must be positive (connect <= 300 s, read <= 600 s)")
        if isinstance(total_timeout, bool) or not 0 < total_timeout <= 3600:
            raise ConfigurationError("the metadata total_timeout must be positive and at most 3600 s")
        if max_bytes < 1024:
            raise ConfigurationError("max_bytes must be at least 1024")
        if isinstance(verify, str):  # a CA bundle: read now (a bad path stops start-up), as httpx wants it
            bundle = verify
            try:
                verify = ssl.create_default_context(cafile=bundle)
            except (OSError, ssl.SSLError) as exc:
                raise ConfigurationError(f"cannot use the CA bundle {bundle[:200]!r}: {exc}") from None
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.total_timeout = float(total_timeout)
        self.max_bytes = max_bytes
        self.allow_http = allow_http
        self.verify = verify
        self.proxy = proxy
        self.max_redirects = max_redirects
        self._client: httpx.Client | None = None
        self._client_lock = threading.Lock()

    def check_url(self, url: str) -> None:
        """Refuse anything but https (http only when allowed) with a host."""
        try:
            parts = urlsplit(url)
        except ValueError:  # "https://[::1", "https://[zz]/": a bracketed host that is not an IPv6 address
            raise FetchError(f"metadata URL is not a URL, got {url[:200]!r}") from None
        schemes = ("https", "http") if self.allow_http else ("https",)
        if parts.scheme not in schemes or not parts.netloc:
            raise FetchError(f"metadata URL must be an absolute https URL, got {url[:200]!r}")

    def _get_client(self) -> httpx.Client:
        with self._client_lock:
            return self._client or self._new_client()

    def _new_client(self) -> httpx.Client:
        if self._client is None:
            httpx = _httpx()
            self._client = httpx.Client(
                verify=self.verify,
                trust_env=False,  # no proxy or CA settings from the environment unless configured here
                proxy=self.proxy,
                follow_redirects=False,
                timeout=httpx.Timeout(self.read_timeout, connect=self.connect_timeout),
                limits=httpx.Limits(max_keepalive_connections=0),  # a new connection per fetch: see _Watchdog
            )
        return self._client

    def get(self, url: str, *, validators: Validators | None = None, accept: str = METADATA_ACCEPT) -> FetchResult:
        """GET ``url`` (conditionally when ``validators`` are given).

        Raises:
            FetchError: unreachable, TLS failure, timeout (an operation's, or the whole fetch past
                ``total_timeout``), an HTTP status other than 200/304, too large, or a redirect to a
                non-https URL / too many redirects.
        """
        deadline = time.monotonic() + self.total_timeout
        httpx = _httpx()
        client = self._get_client()
        headers = {"Accept": accept}
        if validators is not None:
            if validators.etag:
                headers["If-None-Match"] = validators.etag
            if validators.last_modified:
                headers["If-Modified-Since"] = validators.last_modified
        current = url
        for _hop in range(self.max_redirects + 1):
            self.check_url(current)
            left = self._time_left(deadline, url)
            timeout = httpx.Timeout(min(self.read_timeout, left), connect=min(self.connect_timeout, left))
            watchdog = _Watchdog(left)
            try:
                with client.stream(
                    "GET", current, headers=headers, timeout=timeout, extensions={"trace": watchdog.trace}
                ) as response:
                    if response.status_code in (301, 302, 303, 307, 308):
                        location = response.headers.get("Location")
                        if not location:
                            raise FetchError(f"{_short(current)} answered a redirect without Location")
                        current = urljoin(current, location)
                        continue
                    if response.status_code == 304:
                        if validators is None:
                            raise FetchError(f"{_short(current)} answered 304 to an unconditional request")
                        return FetchResult(None, validators, current, 304)
                    if response.status_code != 200:
                        raise FetchError(
                            f"{_short(current)} answered HTTP {response.status_code}", status=response.status_code
                        )
                    length = response.headers.get("Content-Length")
                    if length is not None and length.isdigit() and int(length) > self.max_bytes:
                        raise FetchError(f"{_short(current)} sent {length} bytes (cap {self.max_bytes})")
                    chunks: list[bytes] = []
                    size = 0
                    for chunk in response.iter_bytes():
                        size += len(chunk)
                        if size > self.max_bytes:
                            raise FetchError(f"{_short(current)} sent more than {self.max_bytes} bytes")
                        chunks.append(chunk)
                        self._time_left(deadline, url)
                    return FetchResult(
                        b"".join(chunks),
                        Validators(response.headers.get("ETag"), response.headers.get("Last-Modified")),
                        current,
                        200,
                    )
            except FetchError:
                raise
            except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError, ValueError, OSError) as exc:
                # network, TLS, protocol and URL errors (a Location header that is not a URL) alike
                if watchdog.fired:
                    self._time_left(deadline, url)  # raises: the deadline, not the broken read, is the cause
                raise FetchError(f"cannot fetch {_short(current)}: {type(exc).__name__}: {exc}") from None
            finally:
                watchdog.cancel()
        raise FetchError(f"{_short(url)}: more than {self.max_redirects} redirects")

    def _time_left(self, deadline: float, url: str) -> float:
        left = deadline - time.monotonic()
        if left <= 0:
            raise FetchError(f"{_short(url)}: not fetched within the deadline ({self.total_timeout:g} s in all)")
        return left

    def close(self) -> None:
        with self._client_lock:
            if self._client is not None:
                self._client.close()
                self._client = None


class _Watchdog:
    """Shuts the sockets of one request down when its time is up (a blocked read then returns at once).

    ``trace`` is httpcore's trace extension: it sees each connection's stream as it is made (TCP, then
    TLS) and keeps its socket. The timer starts with the first one."""

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._sockets: list[socket.socket] = []
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()
        self._cancelled = False
        self.fired = False

    def trace(self, event: str, info: Mapping[str, Any]) -> None:
        if not event.endswith(("connect_tcp.complete", "start_tls.complete")):
            return
        stream = info.get("return_value")
        get_extra_info = getattr(stream, "get_extra_info", None)
        sock = get_extra_info("socket") if get_extra_info is not None else None
        if not isinstance(sock, socket.socket):
            return
        with self._lock:
            self._sockets.append(sock)
            if self._timer is None and not self._cancelled:
                self._timer = threading.Timer(self._seconds, self._fire)
                self._timer.daemon = True
                self._timer.start()

    def _fire(self) -> None:
        with self._lock:
            if self._cancelled:
                return
            self.fired = True
            sockets = list(self._sockets)
        for sock in reversed(sockets):  # the TLS socket, then the TCP one (detached once wrapped: ignored)
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True
            timer = self._timer
        if timer is not None:
            timer.cancel()


def _short(url: str) -> str:
    return url if len(url) <= 200 else url[:200] + "..."


__all__ = ["FetchError", "FetchResult", "HTTPFetcher", "Validators"]
