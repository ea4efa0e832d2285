"""The Flask routes read a POST body straight from the server's stream (``_read_body``) where werkzeug would read
it the same way (a server that terminates the stream: ``wsgi.input_terminated``), else through werkzeug's
``get_data``. Both must decide alike on every body: the same bytes, the same 413 for a body over the cap, the
same 400 for a client gone mid-body, and werkzeug's ``get_data``/``form`` reading the same body afterwards."""

from __future__ import annotations

import io
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
    assert _read_body(req, CAP) == body
    assert "stream" not in req.__dict__  # read straight from the server's stream, not through werkzeug's
    assert req.get_data() == body
    assert req.form.to_dict() == {"SAMLResponse": "abc+", "RelayState": "/next"}


def test_without_a_terminated_stream_werkzeug_reads() -> None:
    body = b"SAMLResponse=abc"
    req = Request(_environ(body, len(body), io.BytesIO(body), terminated=False))
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
