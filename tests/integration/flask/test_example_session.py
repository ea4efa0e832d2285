"""The example app's session (examples/flask_app/app.py: ``JSONSessionInterface``, ``create_app(secret_key=)``):
Flask's signed cookie with plain JSON inside and the signer built once per key. Every check of Flask's own
session cookie must still hold: a tampered, foreign-key or expired cookie is an empty session, a changed key
takes effect at once, ``SECRET_KEY_FALLBACKS`` still verify, and workers that share the key share sessions."""

from __future__ import annotations

import json
import time
import warnings
from datetime import UTC, datetime, timedelta
from typing import Any

import examples.flask_app.app as example_app
import pytest
from examples.flask_app.app import ExampleResponse, JSONSessionInterface, _SessionSerializer, create_app
from flask import Flask, request, session
from flask.sessions import SecureCookieSessionInterface
from hypothesis import given, settings
from hypothesis import strategies as st
from itsdangerous.encoding import base64_encode
from werkzeug.datastructures import Headers
from werkzeug.test import Client, EnvironBuilder

from fedlib.sp import ServiceProvider


def _session_cookie(client: Client) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def _logged_in(saml_sp: ServiceProvider, saml_login: Any, **kwargs: Any) -> tuple[Flask, Client]:
    app = create_app(saml_sp, **kwargs)
    client = app.test_client()
    response = saml_login(client, login_path="/saml/login?next=/protected")
    assert response.status_code == 303
    return app, client


def _signed_in(client: Client) -> bool:
    response = client.get("/protected")
    return response.status_code == 200 and "ada@example.org" in response.get_data(as_text=True)


def test_login_is_kept_in_a_signed_json_cookie(saml_sp: ServiceProvider, saml_login: Any) -> None:
    app, client = _logged_in(saml_sp, saml_login, secret_key="example-key")
    assert _signed_in(client)
    signer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    data = signer.loads(_session_cookie(client))
    assert data["fedlib"]["name_id"] == "ada@example.org"
    json.dumps(data)  # plain JSON: nothing tagged


def test_workers_with_the_same_secret_key_share_sessions(saml_sp: ServiceProvider, saml_login: Any) -> None:
    _, first = _logged_in(saml_sp, saml_login, secret_key="shared-key")
    second = create_app(saml_sp, secret_key="shared-key").test_client()
    second.set_cookie("session", _session_cookie(first))
    assert _signed_in(second)
    other = create_app(saml_sp).test_client()  # a random key: another worker's cookie is no session here
    other.set_cookie("session", _session_cookie(first))
    assert not _signed_in(other)


def test_tampered_cookie_is_an_empty_session(saml_sp: ServiceProvider, saml_login: Any) -> None:
    _, client = _logged_in(saml_sp, saml_login, secret_key="example-key")
    value = _session_cookie(client)
    payload, rest = value[:20], value[20:]
    flipped = payload[:-1] + ("A" if payload[-1] != "A" else "B")
    client.set_cookie("session", flipped + rest)
    assert not _signed_in(client)


def test_a_changed_key_takes_effect_at_once_and_fallbacks_still_verify(
    saml_sp: ServiceProvider, saml_login: Any
) -> None:
    app, client = _logged_in(saml_sp, saml_login, secret_key="old-key")
    assert _signed_in(client)  # the signer for "old-key" is cached now
    cookie = _session_cookie(client)
    app.secret_key = "new-key"
    assert not _signed_in(client)
    client.set_cookie("session", cookie)
    app.config["SECRET_KEY_FALLBACKS"] = ["old-key"]
    assert _signed_in(client)
    client.set_cookie("session", cookie)
    app.config["SECRET_KEY_FALLBACKS"] = []
    assert not _signed_in(client)


def test_expired_cookie_is_an_empty_session(
    saml_sp: ServiceProvider, saml_login: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, client = _logged_in(saml_sp, saml_login, secret_key="example-key")
    app.permanent_session_lifetime = timedelta(minutes=5)
    assert _signed_in(client)
    cookie = _session_cookie(client)
    later = time.time() + 301
    monkeypatch.setattr(time, "time", lambda: later)
    client.set_cookie("session", cookie)
    assert not _signed_in(client)


def _echo_app(interface: object) -> Flask:
    app = Flask(__name__)
    app.secret_key = "echo-key"
    app.session_interface = interface  # type: ignore[assignment]

    @app.post("/set")
    def set_values() -> str:
        session.update(json.loads(request.get_data(as_text=True)))
        return "ok"

    @app.get("/get")
    def get_values() -> str:
        return json.dumps(dict(session), sort_keys=True)

    return app


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=10), _json_values, min_size=1, max_size=5))
def test_json_values_round_trip(values: dict[str, Any]) -> None:
    client = _echo_app(JSONSessionInterface()).test_client()
    assert client.post("/set", data=json.dumps(values)).status_code == 200
    assert json.loads(client.get("/get").get_data(as_text=True)) == json.loads(json.dumps(values))


def test_a_cookie_of_flasks_default_session_is_read_the_same() -> None:
    """Switching an app to it keeps its users signed in (JSON values are serialised alike)."""
    values = {"fedlib": {"name_id": "ada@example.org", "attributes": {"mail": ["ada@example.org"]}}, "n": 1}
    default = _echo_app(Flask.session_interface).test_client()
    default.post("/set", data=json.dumps(values))
    switched = _echo_app(JSONSessionInterface()).test_client()
    switched.set_cookie("session", _session_cookie(default))
    assert json.loads(switched.get("/get").get_data(as_text=True)) == values


@pytest.mark.parametrize("copies", [40, 200])
def test_a_cookie_of_this_interface_is_read_by_flasks_default_session(copies: int) -> None:
    """The other way round: its payload (plain, or over ``COMPRESS_OVER`` bytes compressed with a small zlib
    window; signed with the one-call HMAC) is Flask's format and signature, so an app can switch back
    without signing anyone out."""
    values = {"fedlib": {"name_id": "ada@example.org", "attributes": {"mail": ["ada@example.org"] * copies}}}
    ours = _echo_app(JSONSessionInterface()).test_client()
    ours.post("/set", data=json.dumps(values))
    cookie = _session_cookie(ours)
    large = len(json.dumps(values, separators=(",", ":"))) > _SessionSerializer.COMPRESS_OVER
    assert large == (copies == 200)
    # Compressed (the ``.`` prefix) only when large: the small-window stream is what Flask's loader reads.
    assert cookie.startswith(".") == large
    default = _echo_app(Flask.session_interface).test_client()
    default.set_cookie("session", cookie)
    assert json.loads(default.get("/get").get_data(as_text=True)) == values


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 400), st.sampled_from(["ada@example.org", "x", "cn=staff,ou=groups,dc=example,dc=org"]))
def test_only_a_payload_over_the_threshold_is_compressed(copies: int, value: str) -> None:
    """``COMPRESS_OVER``: a payload of up to 2 KiB of JSON is the JSON in base64 (cheaper to write and to read
    back, and the cookie stays under ~2.8 KB); a larger one is compressed when that makes it shorter, as
    Flask's serializer does. Either way, the payload reads back to the same values."""
    app = Flask(__name__)
    app.secret_key = "threshold-key"
    signer = JSONSessionInterface().get_signing_serializer(app)
    assert signer is not None
    values = {"fedlib": {"attributes": {"mail": [value] * copies}}}
    data = json.dumps(values, separators=(",", ":")).encode()
    payload = signer.dump_payload(values)
    if len(data) <= _SessionSerializer.COMPRESS_OVER:
        assert payload == base64_encode(data)
    else:
        assert payload.startswith(b".")
        assert len(payload) < len(base64_encode(data))
    assert signer.loads(signer.dumps(values)) == values


_COOKIE_SETTINGS = st.fixed_dictionaries(
    {
        "SESSION_COOKIE_NAME": st.sampled_from(["session", "app_session", "__Host-s", "séssion", "s会", "s.x"]),
        "SESSION_COOKIE_DOMAIN": st.sampled_from([None, False, "example.org", ".example.org"]),
        "SESSION_COOKIE_PATH": st.sampled_from([None, "/", "/app", "/a b"]),
        "SESSION_COOKIE_SECURE": st.booleans(),
        "SESSION_COOKIE_HTTPONLY": st.booleans(),
        "SESSION_COOKIE_SAMESITE": st.sampled_from([None, "Lax", "Strict", "None"]),
        "SESSION_COOKIE_PARTITIONED": st.booleans(),
        "APPLICATION_ROOT": st.sampled_from(["/", "/root"]),
    }
)


@settings(max_examples=120, deadline=None)
@given(
    _COOKIE_SETTINGS,
    st.booleans(),
    st.sampled_from([0, 4093, 300]),
    st.sampled_from([(), ("Accept-Encoding",), ("Cookie",), ("cookie",), ("Origin", "Accept-Language")]),
    st.booleans(),
)
def test_the_session_header_is_the_one_flask_writes(
    config: dict[str, Any], permanent: bool, max_cookie_size: int, vary: tuple[str, ...], shortcut: bool
) -> None:
    """``save_session``'s one-step header (kept cookie attributes, the signed value in front) is byte for byte
    what Flask's own ``save_session`` writes with the same serializer, for every cookie setting, permanent
    sessions and the cookie size limit (over it, Flask's code runs and werkzeug warns) included; and so is
    its ``Vary`` (written directly only when the response had none: merged with an existing one otherwise)."""
    app = Flask(__name__)
    app.secret_key = "header-key"
    app.config.update(config, MAX_COOKIE_SIZE=max_cookie_size)
    ours = JSONSessionInterface()
    values = {"fedlib": {"name_id": "ada@example.org", "attributes": {"mail": ["ada@example.org"] * 3}}}
    headers = []
    with (
        app.test_request_context(),
        pytest.MonkeyPatch.context() as patch,
        warnings.catch_warnings(record=True) as warned,
    ):
        warnings.simplefilter("always")
        patch.setattr(time, "time", lambda: 1_800_000_000.0)  # the same timestamp in both signatures
        # with and without the Headers._list shortcut (off if a werkzeug release lays Headers out otherwise)
        patch.setattr(example_app, "_HEADERS_LIST", shortcut)
        # and the same Expires for a permanent session (Flask reads datetime.now: two calls can straddle a second)
        expires = datetime(2027, 1, 15, 8, 0, tzinfo=UTC)
        patch.setattr(ours, "get_expiration_time", lambda app, session: expires if session.permanent else None)
        for save in (ours.save_session, super(JSONSessionInterface, ours).save_session):
            session = ours.session_class(values)
            session.permanent = permanent
            session.modified = True
            response = app.response_class(headers=[("Vary", value) for value in vary])
            save(app, session, response)
            headers.append((response.headers.getlist("Set-Cookie"), response.headers.getlist("Vary")))
    assert headers[0] == headers[1]
    assert headers[0][0]
    assert "Cookie" in ", ".join(headers[0][1]) or "cookie" in vary
    size_warnings = [w for w in warned if "cookie" in str(w.message).lower()]
    assert len(size_warnings) in (0, 2)  # both or neither warned about the size


def test_an_emptied_session_deletes_the_cookie_and_an_unchanged_one_writes_nothing() -> None:
    client = _echo_app(JSONSessionInterface()).test_client()
    client.post("/set", data=json.dumps({"a": 1}))
    assert client.get_cookie("session") is not None
    unchanged = client.get("/get")
    assert "Set-Cookie" not in unchanged.headers
    app = _echo_app(JSONSessionInterface())

    @app.post("/clear")
    def clear() -> str:
        session.clear()
        return "ok"

    clearing = app.test_client()
    clearing.post("/set", data=json.dumps({"a": 1}))
    assert "Max-Age=0" in clearing.post("/clear").headers["Set-Cookie"]
    assert clearing.get_cookie("session") is None


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.sampled_from(["session={v}", 'session="{v}"', "session =  {v}", "other=1", "a=b;session={v}", "session="]),
        max_size=3,
    ).map("; ".join)
)
def test_open_session_finds_the_same_session_as_flask(template: str) -> None:
    """``open_session`` skips werkzeug's cookie parse only when the plain reading proves the session cookie
    absent; whatever the ``Cookie`` header, it opens the session Flask's own ``open_session`` opens."""
    app = _echo_app(JSONSessionInterface())
    client = app.test_client()
    client.post("/set", data=json.dumps({"user": "ada"}))
    header = template.format(v=_session_cookie(client))
    opened = []
    for interface in (app.session_interface, super(JSONSessionInterface, app.session_interface)):
        with app.test_request_context(headers={"Cookie": header}):
            found = interface.open_session(app, request)
            opened.append(None if found is None else dict(found))
    assert opened[0] == opened[1]
    if header.split("; ")[0] == f"session={_session_cookie(client)}":
        assert opened[0] == {"user": "ada"}


@pytest.mark.parametrize("domain", ["a\nb.example", "a\rb.example"])
@pytest.mark.parametrize("interface", [JSONSessionInterface, SecureCookieSessionInterface])
def test_a_session_cookie_with_a_newline_is_refused_as_by_flask(domain: str, interface: type[Any]) -> None:
    """A configured ``SESSION_COOKIE_DOMAIN`` with a newline reaches the cookie as it is (``dump_cookie`` does not
    quote a Domain): werkzeug's newline check refuses the header, for Flask's session as for ours, whose usual
    case writes the header without that check (it checks the attributes itself). With the example's
    ``ExampleResponse``, which does not check the values again when it sends them, as in the example app."""
    app = _echo_app(interface())
    app.response_class = ExampleResponse
    app.config["SESSION_COOKIE_DOMAIN"] = domain
    app.testing = True  # the error propagates instead of becoming a 500 page

    @app.post("/login")
    def login() -> Any:  # as the ACS answers: a 303 without a body (no Content-Length yet)
        session["a"] = 1
        return ExampleResponse(status=303, headers=(("Location", "/"),))

    # As a WSGI server gets it (werkzeug's test client would check the headers once more itself).
    environ = EnvironBuilder(method="POST", path="/login").get_environ()
    sent: list[tuple[str, str]] = []
    with pytest.raises(ValueError, match="newline"):
        list(app(environ, lambda status, headers, exc_info=None: sent.extend(headers)))
    assert not sent


def test_another_headers_class_gets_the_cookie_through_its_add() -> None:
    """Only werkzeug's own ``Headers`` gets the direct write; another class's ``add`` (its own checks) runs."""
    added: list[str] = []

    class Recording(Headers):
        def add(self, key: str, value: Any, /, **kwargs: Any) -> None:
            added.append(key)
            super().add(key, value, **kwargs)

    app = _echo_app(JSONSessionInterface())
    session_ = JSONSessionInterface().session_class({"a": 1})
    session_.modified = True
    response = app.response_class()
    response.headers = Recording(response.headers)
    added.clear()
    with app.app_context():
        app.session_interface.save_session(app, session_, response)
    assert "Set-Cookie" in added


@settings(max_examples=400)
@given(
    st.one_of(
        st.text(alphabet="AZaz09_.-=+/ \"';,\n\té€\x00\x7f", max_size=60),
        st.text(max_size=40),
    )
)
def test_unquoted_is_the_character_class_werkzeug_writes_as_it_is(text: str) -> None:
    """The session header's fast path takes a name or value only when it has nothing but ``[A-Za-z0-9_.-]``."""
    import re

    assert example_app._unquoted(text) is (re.fullmatch(r"[A-Za-z0-9_.-]*", text, re.ASCII) is not None)
