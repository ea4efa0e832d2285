"""The Flask routes read a POST body straight from the server's stream (``_read_body``) where werkzeug would read
it the same way (a server that terminates the stream: ``wsgi.input_terminated``), else through werkzeug's
``get_data``. Both must decide alike on every body: the same bytes, the same 413 for a body over the cap, the
same 400 for a client gone mid-body, and werkzeug's ``get_data``/``form`` reading the same body afterwards."""

from __future__ import annotations

import io
from functools import cached_property
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask, Request, request
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.exceptions import ClientDisconnected, HTTPException, RequestEntityTooLarge
from werkzeug.test import EnvironBuilder

from fedlib.integrations.flask import FedLib, _read_body
from fedlib.sp import LoginResult, ServiceProvider
from fedlib.testing.idp import TestIdP

URLENCODED = "application/x-www-form-urlencoded"
CAP = 100


class _Trickle:
    """A server stream that returns at most ``step`` bytes per read, and fails with ``error`` once ``fail_after``
    bytes were read (None: never)."""

    def __init__(self, data: bytes, step: int, fail_after: int | None = None, error: type[Exception] = OSError):
        self._data, self._pos, self._step, self._fail_after, self._error = data, 0, step, fail_after, error

    def read(self, size: int = -1) -> bytes:
        if self._fail_after is not None and self._pos >= self._fail_after:
            raise self._error("connection reset by peer")
        n = self._step if size < 0 else min(size, self._step)
        chunk = self._data[self._pos : self._pos + n]
        self._pos += len(chunk)
        return chunk


def _environ(body: bytes, declared: int | None, stream: Any, terminated: bool) -> dict[str, Any]:
    environ = EnvironBuilder(method="POST", path="/saml/acs", data=body, content_type=URLENCODED).get_environ()
    environ["wsgi.input"] = stream
    if declared is None:
        environ.pop("CONTENT_LENGTH", None)
        environ["HTTP_TRANSFER_ENCODING"] = "chunked"
    else:
        environ["CONTENT_LENGTH"] = str(declared)
    if terminated:
        environ["wsgi.input_terminated"] = True
    return environ


def _outcome(read: Any) -> tuple[str, bytes | None]:
    try:
        body = read()
    except HTTPException as exc:
        return type(exc).__name__, None
    if len(body) > CAP:  # _cap_body's own check after the read
        return RequestEntityTooLarge.__name__, None
    return "ok", body


def _streams(body: bytes, step: int, fail_after: int | None, error: type[Exception]) -> Any:
    if step == 0:
        return io.BytesIO(body)
    return _Trickle(body, step, fail_after, error)


@settings(max_examples=400, deadline=None)
@given(
    size=st.sampled_from([0, 1, 13, CAP - 1, CAP, CAP + 1, CAP + 2, 3 * CAP]),
    declared_delta=st.sampled_from([None, 0, -5, 5, 10 * CAP]),
    step=st.sampled_from([0, 1, 7, 64, 4096]),
    fail_after=st.sampled_from([None, 0, 10, CAP - 1]),
    error=st.sampled_from([OSError, ValueError]),
    terminated=st.booleans(),
)
def test_the_direct_read_decides_as_werkzeug(
    size: int, declared_delta: int | None, step: int, fail_after: int | None, error: type[Exception], terminated: bool
) -> None:
    body = (b"SAMLResponse=" + b"A" * size)[:size]
    declared = None if declared_delta is None else max(0, size + declared_delta)

    def werkzeug_read() -> bytes:
        req = Request(_environ(body, declared, _streams(body, step, fail_after, error), terminated))
        req.max_content_length = CAP + 1
        return req.get_data(cache=True)

    fast = Request(_environ(body, declared, _streams(body, step, fail_after, error), terminated))
    fast.max_content_length = CAP + 1
    assert _outcome(lambda: _read_body(fast, CAP)) == _outcome(werkzeug_read)


@pytest.mark.parametrize("step", [0, 3])
def test_werkzeug_reads_the_same_body_afterwards(step: int) -> None:
    body = b"SAMLResponse=abc%2B&RelayState=%2Fnext"
    req = Request(_environ(body, len(body), _streams(body, step, None, OSError), terminated=True))
    req.max_content_length = CAP + 1  # as _cap_body sets it
    assert _read_body(req, CAP) == body
    assert "stream" not in req.__dict__  # read straight from the server's stream, not through werkzeug's
    assert req.get_data() == body
    assert req.form.to_dict() == {"SAMLResponse": "abc+", "RelayState": "/next"}


def test_without_a_terminated_stream_werkzeug_reads() -> None:
    body = b"SAMLResponse=abc"
    req = Request(_environ(body, len(body), io.BytesIO(body), terminated=False))
    req.max_content_length = CAP + 1
    assert _read_body(req, CAP) == body
    assert "stream" in req.__dict__  # werkzeug's bounded stream: it knows where the body ends


@pytest.mark.parametrize("first", ["get_data", "form", "stream"])
def test_a_body_the_app_read_first_reads_as_with_werkzeug(first: str) -> None:
    """The app read the body before the route (``get_data``: cached; the form or the stream: consumed)."""
    body = b"SAMLResponse=abc&RelayState=x"

    def read_first(req: Request) -> None:
        if first == "get_data":
            assert req.get_data(cache=True) == body
        elif first == "form":
            assert req.form["SAMLResponse"] == "abc"
        else:
            assert req.stream.read(5) == body[:5]

    reference = Request(_environ(body, len(body), io.BytesIO(body), terminated=True))
    reference.max_content_length = CAP + 1
    read_first(reference)
    expected = reference.get_data(cache=True)
    req = Request(_environ(body, len(body), io.BytesIO(body), terminated=True))
    req.max_content_length = CAP + 1
    read_first(req)
    assert _read_body(req, CAP) == expected
    assert req.get_data() == expected


def test_a_login_through_a_terminated_stream(saml_sp: ServiceProvider, saml_idp: TestIdP) -> None:
    """The ACS end to end on a server's terminated stream (gunicorn's case): the login is accepted, and a login
    hook that reads ``request.form`` sees the posted fields."""
    app = Flask(__name__)
    app.secret_key = "test-only"
    seen: dict[str, str] = {}
    fedlib = FedLib(app, service_provider=saml_sp)

    @fedlib.on_login
    def remember(result: LoginResult) -> None:
        seen.update(request.form.to_dict())
        assert result.authn.name_id

    started = app.test_client().get("/saml/login?next=/landed")
    form = dict(saml_idp.respond(saml_idp.receive_redirect(started.headers["Location"])).fields)
    body = urlencode(form).encode("ascii")
    environ = EnvironBuilder(method="POST", path="/saml/acs", data=body, content_type=URLENCODED).get_environ()
    environ["wsgi.input_terminated"] = True
    environ["wsgi.input"] = _Trickle(body, 4096)
    # The browser-binding cookie /saml/login set, as the browser sends it back.
    environ["HTTP_COOKIE"] = "; ".join(h.split(";", 1)[0] for h in started.headers.getlist("Set-Cookie"))
    status: list[str] = []
    headers: dict[str, str] = {}

    def start_response(s: str, h: list[tuple[str, str]], exc_info: Any = None) -> None:
        status.append(s)
        headers.update(h)

    b"".join(app.wsgi_app(environ, start_response))  # type: ignore[arg-type]
    assert status[0].startswith("303"), status
    assert headers["Location"] == "/landed"
    assert seen == form


def test_a_client_gone_mid_body_is_a_400(saml_sp: ServiceProvider) -> None:
    app = Flask(__name__)
    app.secret_key = "test-only"
    FedLib(app, service_provider=saml_sp)
    body = b"SAMLResponse=" + b"A" * 500
    environ = _environ(body, len(body), _Trickle(body, 64, fail_after=128), terminated=True)
    status: list[str] = []
    app.wsgi_app(environ, lambda s, h, exc_info=None: status.append(s))  # type: ignore[arg-type]
    assert status[0].startswith("400"), status
    assert ClientDisconnected.code == 400


def test_a_shallow_request_is_not_read() -> None:
    """A request made with ``shallow=True`` must not touch its input (werkzeug raises): nor does the direct read."""
    body = b"SAMLResponse=abc"
    req = Request(_environ(body, len(body), io.BytesIO(body), terminated=True), shallow=True)
    with pytest.raises(RuntimeError):
        _read_body(req, CAP)


class _GunzipRequest(Request):
    """An app's request class whose ``stream`` decodes a gzip body (found in review: the direct read bypassed it)."""

    @cached_property
    def stream(self) -> Any:
        import gzip

        return io.BytesIO(gzip.decompress(self.environ["wsgi.input"].read()))


class _NoLengthRequest(Request):
    """An app's request class that hides ``content_length`` (werkzeug's stream reads the header itself)."""

    @property
    def content_length(self) -> int | None:
        return None


def test_a_request_class_with_its_own_stream_is_read_through_it() -> None:
    import gzip

    body = b"SAMLResponse=abc&RelayState=x"
    zipped = gzip.compress(body)
    req = _GunzipRequest(_environ(zipped, len(zipped), io.BytesIO(zipped), terminated=True))
    req.max_content_length = CAP + 1
    assert _read_body(req, CAP) == body
    assert req.form["SAMLResponse"] == "abc"


def test_the_declared_length_is_the_headers_whatever_the_request_class_says() -> None:
    body = b"SAMLResponse=" + b"A" * 40
    req = _NoLengthRequest(_environ(body, 5000, io.BytesIO(body), terminated=True))
    req.max_content_length = CAP + 1
    with pytest.raises(RequestEntityTooLarge):
        _read_body(req, CAP)


@pytest.mark.parametrize("first", ["form", "stream", "get_data_uncached"])
def test_a_body_at_the_app_limit_read_first_is_still_a_413(first: str) -> None:
    """The app read the body before the route, and the body is exactly its MAX_CONTENT_LENGTH (found in review):
    werkzeug's bounded stream, used up, refuses the next read with a 413; so does the route."""
    body = b"SAMLResponse=" + b"A" * (CAP + 1 - len(b"SAMLResponse="))
    assert len(body) == CAP + 1
    req = Request(_environ(body, len(body), io.BytesIO(body), terminated=True))
    req.max_content_length = CAP + 1
    if first == "form":
        req.form.to_dict()
    elif first == "stream":
        req.stream.read()
    else:
        req.get_data(cache=False)
    with pytest.raises(RequestEntityTooLarge):
        _read_body(req, CAP)


class _Recording:
    """A server stream that records the sizes it is asked for."""

    def __init__(self, data: bytes) -> None:
        self._data, self.sizes = io.BytesIO(data), []

    def read(self, size: int = -1) -> bytes:
        self.sizes.append(size)
        return self._data.read(size)


def test_the_stream_is_read_in_bounded_steps() -> None:
    """Never one read of the whole cap (found in review: a server stream may allocate what it is asked for, 2 MiB
    per request for a 3-byte body); werkzeug reads 64 KiB at a time."""
    cap = 2 * 1024 * 1024
    for size in (3, 10_000, 200_000):
        body = b"x" * size
        stream = _Recording(body)
        req = Request(_environ(body, size, stream, terminated=True))
        req.max_content_length = cap + 1
        assert _read_body(req, cap) == body
        assert 0 < max(stream.sizes) <= 64 * 1024


def test_a_stream_werkzeug_left_unbounded_is_read_bounded() -> None:
    """The app touched ``request.stream`` before any limit was set (no MAX_CONTENT_LENGTH): werkzeug made it the
    server's stream itself, and its get_data would read all of it. The route reads at most ``cap + 1`` bytes."""
    body = b"SAMLResponse=" + b"A" * (5 * CAP)
    stream = _Recording(body)
    req = Request(_environ(body, len(body), stream, terminated=True))
    assert req.stream is stream  # werkzeug's choice: no limit yet, a terminated stream as it is
    req.max_content_length = CAP + 1
    with pytest.raises(RequestEntityTooLarge):
        _read_body(req, CAP)
    assert sum(stream.sizes) <= CAP + 1


def test_a_stream_that_answers_none_is_a_short_body_not_an_error() -> None:
    class _NoneStream:
        def read(self, size: int = -1) -> None:
            return None

    req = Request(_environ(b"SAMLResponse=x", 14, _NoneStream(), terminated=True))
    req.max_content_length = CAP + 1
    assert _read_body(req, CAP) == b""


class _ServerParseError(Exception):
    """What a server raises for a body it cannot parse (gunicorn: ``InvalidChunkSize``, a ``ParseException``)."""


@pytest.mark.parametrize("terminated", [True, False])
@pytest.mark.parametrize("path", ["/saml/acs", "/saml/logout"])
def test_a_body_the_server_cannot_read_is_the_clients_400(
    saml_sp: ServiceProvider, caplog: pytest.LogCaptureFixture, terminated: bool, path: str
) -> None:
    """A malformed chunked body (gunicorn raises its own parse error from ``wsgi.input.read``) is the client's
    400, logged as such: not fedlib's ``internal-error`` page with an ERROR traceback (found against a real
    gunicorn: ``zz`` as a chunk size)."""
    app = Flask(__name__)
    app.secret_key = "test-only"
    FedLib(app, service_provider=saml_sp)
    body = b"SAMLResponse=" + b"A" * 500
    environ = _environ(body, len(body), _Trickle(body, 64, fail_after=128, error=_ServerParseError), terminated)
    environ["PATH_INFO"] = path
    status: list[str] = []
    with caplog.at_level("INFO"):
        app.wsgi_app(environ, lambda s, h, exc_info=None: status.append(s))  # type: ignore[arg-type]
    assert status[0].startswith("400"), status
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]
