"""The example app's session (examples/flask_app/app.py: ``JSONSessionInterface``, ``create_app(secret_key=)``):
Flask's signed cookie with plain JSON inside and the signer built once per key. Every check of Flask's own
session cookie must still hold: a tampered, foreign-key or expired cookie is an empty session, a changed key
takes effect at once, ``SECRET_KEY_FALLBACKS`` still verify, and workers that share the key share sessions."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import pytest
from examples.flask_app.app import JSONSessionInterface, create_app
from flask import Flask, request, session
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.test import Client

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
