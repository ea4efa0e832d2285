"""fedlib.integrations.flask through Flask's test client, with the test IdP on the other side."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, session

from fedlib.constants import BINDING_HTTP_POST
from fedlib.errors import ConfigurationError, StoreError
from fedlib.integrations.flask import CSRF_SESSION_KEY, SESSION_KEY, FedLib
from fedlib.sp import LoginResult, ServiceProvider
from fedlib.testing.idp import TestIdP


def make_app(sp: ServiceProvider, **kwargs: Any) -> Flask:
    app = Flask(__name__)
    app.secret_key = "test-only"

    @app.get("/")
    def home() -> str:
        user = session.get(SESSION_KEY)
        return f"user={user['name_id'] if user else None}"

    @app.get("/dashboard")
    def dashboard() -> str:
        user = session.get(SESSION_KEY)
        return f"dashboard {user['name_id']} {user['attributes']['groups']}" if user else "anonymous"

    FedLib(app, service_provider=sp, **kwargs)
    return app


def test_metadata(saml_sp: ServiceProvider) -> None:
    response = make_app(saml_sp).test_client().get("/saml/metadata")
    assert response.status_code == 200
    assert response.mimetype == "application/samlmetadata+xml"
    assert saml_sp.config.acs_url.encode() in response.data


def test_sp_initiated_login_lands_on_next(saml_sp: ServiceProvider, saml_idp: TestIdP, saml_login: Any) -> None:
    client = make_app(saml_sp).test_client()
    response = saml_login(client, login_path="/saml/login?next=/dashboard")
    assert response.status_code == 303
    assert response.headers["Location"] == "/dashboard"
    assert client.get("/dashboard").get_data(as_text=True) == "dashboard ada@example.org ['admins', 'staff']"


def test_open_redirect_in_next_is_dropped(saml_sp: ServiceProvider, saml_login: Any) -> None:
    client = make_app(saml_sp).test_client()
    response = saml_login(client, login_path="/saml/login?next=https://evil.example/")
    assert response.headers["Location"] == "/"


def test_rejection_is_a_403_page_with_code_and_hint(saml_sp: ServiceProvider, saml_login: Any) -> None:
    client = make_app(saml_sp).test_client()
    response = saml_login(client, signing="assertion")
    page = response.get_data(as_text=True)
    assert response.status_code == 403
    assert "<code id='error-code'>assertion-only-signature</code>" in page
    assert "Signing Option" in page
    assert client.get("/").get_data(as_text=True) == "user=None"


def test_replayed_post_is_refused(saml_sp: ServiceProvider, saml_idp: TestIdP) -> None:
    client = make_app(saml_sp).test_client()
    location = client.get("/saml/login").headers["Location"]
    form = saml_idp.respond(saml_idp.receive_redirect(location))
    assert client.post("/saml/acs", data=dict(form.fields)).status_code == 303
    again = client.post("/saml/acs", data=dict(form.fields))
    assert again.status_code == 403
    assert "unknown-request" in again.get_data(as_text=True)


def test_garbage_post_is_a_403_not_a_500(saml_sp: ServiceProvider) -> None:
    client = make_app(saml_sp).test_client()
    assert client.post("/saml/acs", data={}).status_code == 400  # not a SAML message at all (issue #12)
    for data in ({"SAMLResponse": "%%%"}, {"SAMLResponse": "PHg+"}):
        response = client.post("/saml/acs", data=data)
        assert response.status_code == 403
        assert "malformed-xml" in response.get_data(as_text=True)


def test_idp_initiated(saml_idp: TestIdP, saml_sp_factory: Callable[..., ServiceProvider]) -> None:
    sp = saml_sp_factory(saml_idp, allow_unsolicited=True)
    client = make_app(sp).test_client()
    form = saml_idp.initiate(sp.config.entity_id, sp.config.acs_url, relay_state="/dashboard")
    response = client.post("/saml/acs", data=dict(form.fields))
    assert response.headers["Location"] == "/dashboard"
    assert client.get("/").get_data(as_text=True) == "user=ada@example.org"


def test_login_hook_replaces_the_session_default(saml_sp: ServiceProvider, saml_login: Any) -> None:
    app = make_app(saml_sp)
    seen: list[LoginResult] = []

    @app.extensions["fedlib"].on_login
    def hook(result: LoginResult) -> str:
        seen.append(result)
        return "custom"

    client = app.test_client()
    assert saml_login(client).get_data(as_text=True) == "custom"
    assert seen[0].authn.name_id == "ada@example.org"
    assert client.get("/").get_data(as_text=True) == "user=None"


def test_post_binding_login_page(saml_sp: ServiceProvider, saml_idp: TestIdP) -> None:
    client = make_app(saml_sp, binding=BINDING_HTTP_POST).test_client()
    page = client.get("/saml/login").get_data(as_text=True)
    fields = {unescape(n): unescape(v) for n, v in re.findall(r'name="([^"]+)" value="([^"]*)"', page)}
    info = saml_idp.receive_post(fields["SAMLRequest"], fields.get("RelayState"))
    response = client.post("/saml/acs", data=dict(saml_idp.respond(info).fields))
    assert response.status_code == 303


def test_tenants(saml_idp: TestIdP, saml_sp_factory: Callable[..., ServiceProvider]) -> None:
    sps = {
        "a": saml_sp_factory(saml_idp, entity_id="https://a.test/saml/metadata", acs_url="https://a.test/saml/a/acs"),
        "b": saml_sp_factory(saml_idp, entity_id="https://b.test/saml/metadata", acs_url="https://b.test/saml/b/acs"),
    }

    def lookup(tenant: str) -> ServiceProvider:
        if tenant not in sps:
            raise ConfigurationError("unknown tenant")
        return sps[tenant]

    app = Flask(__name__)
    app.secret_key = "test-only"
    FedLib(app, tenants=lookup)
    client = app.test_client()
    assert b"https://a.test/saml/metadata" in client.get("/saml/a/metadata").data
    assert client.get("/saml/zzz/metadata").status_code == 404
    location = client.get("/saml/a/login").headers["Location"]
    form = dict(saml_idp.respond(saml_idp.receive_redirect(location)).fields)
    assert client.post("/saml/b/acs", data=form).status_code == 403  # a's response at b's ACS
    assert client.post("/saml/a/acs", data=form).status_code == 303


def test_exactly_one_source_of_service_providers(saml_sp: ServiceProvider) -> None:
    with pytest.raises(ConfigurationError, match="FEDLIB_SETTINGS"):
        FedLib(Flask(__name__))
    with pytest.raises(ConfigurationError):
        FedLib(Flask(__name__), service_provider=saml_sp, tenants=lambda t: saml_sp)


class _DownStore:
    """A store whose backend is unreachable (as RedisStore behaves when Redis is down)."""

    def add(self, key: str, **kwargs: Any) -> bool:
        raise StoreError("store down")

    def consume(self, key: str, **kwargs: Any) -> str | None:
        raise StoreError("store down")

    def close(self) -> None:
        pass


def test_store_outage_is_a_503_never_an_accept(saml_idp: TestIdP, saml_sp: ServiceProvider) -> None:
    down = ServiceProvider(saml_sp.config, next(iter(saml_sp.idps.values())), _DownStore(), clock=saml_sp.clock)  # type: ignore[arg-type]
    client = make_app(down).test_client()
    assert client.get("/saml/login").status_code == 503
    # A Response to a request made while the store was up: the outage still refuses it.
    location = make_app(saml_sp).test_client().get("/saml/login").headers["Location"]
    form = dict(saml_idp.respond(saml_idp.receive_redirect(location)).fields)
    response = client.post("/saml/acs", data=form)
    assert response.status_code == 503
    assert client.get("/").get_data(as_text=True) == "user=None"
    unsolicited = dict(saml_idp.initiate(saml_sp.config.entity_id, saml_sp.config.acs_url).fields)
    assert client.post("/saml/acs", data=unsolicited).status_code in (403, 503)


def test_configured_from_app_config(tmp_path: Path, saml_idp: TestIdP, saml_login: Any) -> None:
    (tmp_path / "idp.xml").write_bytes(saml_idp.metadata_xml())
    (tmp_path / "fedlib.toml").write_text(
        'store = "sqlite:///./fedlib.db"\n'
        "[sp]\n"
        'entity_id = "https://app.example.test/saml/metadata"\n'
        'acs_url = "https://app.example.test/saml/acs"\n'
        "[[idps]]\n"
        'metadata_file = "idp.xml"\n'
    )
    saml_idp.register_sp("https://app.example.test/saml/metadata", "https://app.example.test/saml/acs")
    app = Flask(__name__)
    app.secret_key = "test-only"
    app.config["FEDLIB_SETTINGS"] = str(tmp_path / "fedlib.toml")
    FedLib(app)
    client = app.test_client()
    assert saml_login(client).status_code == 303
    assert (tmp_path / "fedlib.db").exists()
    app.extensions["fedlib.registry"].close()


def test_session_ends_at_the_idps_session_not_on_or_after(saml_sp: ServiceProvider, saml_login: Any) -> None:
    """Issue #8 §6: SessionNotOnOrAfter is exposed on the result and the adapter ends the session then."""
    from datetime import timedelta

    from fedlib.clock import FixedClock

    client = make_app(saml_sp).test_client()
    saml_login(client, login_path="/saml/login?next=/")
    with client.session_transaction() as flask_session:
        until = datetime.fromisoformat(flask_session[SESSION_KEY]["session_not_on_or_after"])
    assert client.get("/").get_data(as_text=True) == "user=ada@example.org"
    started = saml_sp.clock
    try:
        saml_sp.clock = FixedClock(until - timedelta(seconds=1))
        assert client.get("/").get_data(as_text=True) == "user=ada@example.org"
        saml_sp.clock = FixedClock(until)
        assert client.get("/").get_data(as_text=True) == "user=None"
    finally:
        saml_sp.clock = started


def test_a_session_without_session_not_on_or_after_stays(saml_sp: ServiceProvider, saml_login: Any) -> None:
    client = make_app(saml_sp).test_client()
    saml_login(client, login_path="/saml/login?next=/")
    with client.session_transaction() as flask_session:
        identity = dict(flask_session[SESSION_KEY])
        identity["session_not_on_or_after"] = None
        flask_session[SESSION_KEY] = identity
    assert client.get("/").get_data(as_text=True) == "user=ada@example.org"


def test_login_rotates_the_csrf_token_and_keeps_anonymous_session_data(
    saml_sp: ServiceProvider, saml_login: Any
) -> None:
    """A logout CSRF token from before the login (one an attacker may have planted or read with the session
    cookie) is not the signed-in session's; the application's own anonymous data stays (Django's login
    keeps it too)."""
    client = make_app(saml_sp).test_client()
    with client.session_transaction() as before:
        before[CSRF_SESSION_KEY] = "planted-" + "x" * 40
        before["cart"] = ["book"]
    assert saml_login(client).status_code == 303
    with client.session_transaction() as after:
        assert after[SESSION_KEY]["name_id"] == "ada@example.org"
        assert after.get(CSRF_SESSION_KEY) != "planted-" + "x" * 40
        assert after["cart"] == ["book"]


def test_login_of_another_principal_starts_an_empty_session(saml_sp: ServiceProvider, saml_login: Any) -> None:
    """The browser still holds another user's session (no logout): nothing of it carries over to the new
    user, as with Django's login when another user was signed in."""
    client = make_app(saml_sp).test_client()
    with client.session_transaction() as before:
        before[SESSION_KEY] = {"name_id": "mallory@example.org", "issuer": saml_sp.idp().metadata.entity_id}
        before["private"] = "mallory's notes"
    assert saml_login(client).status_code == 303
    with client.session_transaction() as after:
        assert after[SESSION_KEY]["name_id"] == "ada@example.org"
        assert "private" not in after


def _note_app(sp: ServiceProvider) -> Flask:
    app = make_app(sp)

    @app.post("/note")
    def note() -> str:  # the application keeps the user's own data in the session (a draft, a cart)
        session["private"] = f"notes of {session[SESSION_KEY]['name_id']}"
        return "ok"

    @app.get("/private")
    def private() -> str:
        return str(session.get("private"))

    return app


def _local_logout(client: Any) -> None:
    page = client.get("/saml/logout").get_data(as_text=True)
    token = {unescape(n): unescape(v) for n, v in re.findall(r'name="([^"]+)" value="([^"]*)"', page)}["csrf_token"]
    assert client.post("/saml/logout", data={"csrf_token": token}).status_code in (302, 303)
    assert client.get("/").get_data(as_text=True) == "user=None"


@pytest.mark.parametrize("ended_by", ["sign-out", "the IdP's session end"])
def test_the_next_user_after_a_sign_out_gets_none_of_the_previous_users_data(
    saml_sp: ServiceProvider, saml_login: Any, ended_by: str
) -> None:
    """Sign-out and the end of the IdP's session remove fedlib's identity, not the application's data: the
    data stays the previous principal's (PRINCIPAL_SESSION_KEY), and another user's login empties it; the
    same user signing in again finds it."""
    client = _note_app(saml_sp).test_client()
    for user, expected in (("ada@example.org", "None"), ("ada@example.org", "notes of ada@example.org")):
        assert saml_login(client, user=user).status_code == 303
        assert client.get("/private").get_data(as_text=True) == expected
        client.post("/note")
        if ended_by == "sign-out":
            _local_logout(client)
        else:
            with client.session_transaction() as s:
                s[SESSION_KEY] = {**s[SESSION_KEY], "session_not_on_or_after": "2000-01-01T00:00:00+00:00"}
            assert client.get("/").get_data(as_text=True) == "user=None"
    assert saml_login(client, user="grace@example.org").status_code == 303
    assert client.get("/private").get_data(as_text=True) == "None"


@pytest.mark.parametrize(
    "change",
    [
        {"name_qualifier": "https://home-idp-b.example/"},  # an IdP proxy's user of another home IdP
        {"sp_name_qualifier": "https://other-sp.example/"},
        {"name_id_format": "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"},
    ],
)
def test_a_nameid_with_other_qualifiers_is_another_principal(
    saml_sp: ServiceProvider, saml_login: Any, change: dict[str, str]
) -> None:
    client = _note_app(saml_sp).test_client()
    assert saml_login(client).status_code == 303
    with client.session_transaction() as s:
        s.pop("fedlib_principal")  # a session from before the marker: judged by the stored identity
        s[SESSION_KEY] = {**s[SESSION_KEY], **change}
        s["private"] = "notes of the other principal"
    assert saml_login(client).status_code == 303
    assert client.get("/private").get_data(as_text=True) == "None"
