"""The Flask adapter binds each login to the browser (test client) that started it: login CSRF refused."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, session
from flask.testing import FlaskClient

from fedlib import binding
from fedlib.constants import BINDING_HTTP_POST
from fedlib.integrations.flask import SESSION_KEY, FedLib
from fedlib.sp import LoginResult, ServiceProvider
from fedlib.testing.idp import TestIdP


def make_app(sp: ServiceProvider, **kwargs: Any) -> Flask:
    app = Flask(__name__)
    app.secret_key = "test-only"

    @app.get("/")
    def home() -> str:
        user = session.get(SESSION_KEY)
        return f"user={user['name_id'] if user else None}"

    FedLib(app, service_provider=sp, **kwargs)
    return app


def start(client: FlaskClient, idp: TestIdP, user: str | None = None) -> dict[str, str]:
    """Start a login in ``client`` and return the form the IdP posts back (not posted yet)."""
    location = client.get("/saml/login").headers["Location"]
    return dict(idp.respond(idp.receive_redirect(location), user).fields)


def binding_cookies(client: FlaskClient) -> dict[str, str]:
    return {c.key: c.value for c in client._cookies.values() if binding.is_binding_cookie(c.key)}


def set_cookie_headers(response: Any) -> list[str]:
    return [v for k, v in response.headers.items() if k.lower() == "set-cookie"]


def test_login_sets_a_host_prefixed_http_only_cross_site_cookie(saml_sp: ServiceProvider) -> None:
    response = make_app(saml_sp).test_client().get("/saml/login")
    assert response.status_code == 302
    assert response.headers["Cache-Control"] == "no-store"
    (header,) = [h for h in set_cookie_headers(response) if h.startswith(binding.COOKIE_PREFIX_HTTPS)]
    attributes = {part.strip().split("=")[0].lower() for part in header.split(";")[1:]}
    assert {"httponly", "secure", "samesite", "path", "max-age"} <= attributes
    assert "domain" not in attributes  # __Host- forbids Domain
    assert "SameSite=None" in header
    assert "Path=/;" in header + ";"
    assert "Max-Age=600" in header


def test_post_binding_login_sets_the_cookie_too(saml_sp: ServiceProvider) -> None:
    response = make_app(saml_sp, binding=BINDING_HTTP_POST).test_client().get("/saml/login")
    assert response.status_code == 200
    assert b'name="SAMLRequest"' in response.data
    assert any(h.startswith(binding.COOKIE_PREFIX_HTTPS) for h in set_cookie_headers(response))


def test_the_starting_browser_logs_in_and_the_cookie_is_cleared(saml_sp: ServiceProvider, saml_idp: TestIdP) -> None:
    client = make_app(saml_sp).test_client()
    form = start(client, saml_idp)
    assert len(binding_cookies(client)) == 1
    response = client.post("/saml/acs", data=form)
    assert response.status_code == 303
    cleared = [h for h in set_cookie_headers(response) if h.startswith(binding.COOKIE_PREFIX_HTTPS)]
    assert len(cleared) == 1
    assert "Max-Age=0" in cleared[0]
    assert "Secure" in cleared[0]
    assert "Path=/" in cleared[0]
    assert binding_cookies(client) == {}
    assert client.get("/").get_data(as_text=True) == "user=ada@example.org"


def test_a_response_posted_from_another_browser_is_a_403(saml_sp: ServiceProvider, saml_idp: TestIdP) -> None:
    """Login CSRF: the attacker's Response, posted from a victim's browser without (or with its own) cookie."""
    app = make_app(saml_sp)
    attacker, victim = app.test_client(), app.test_client()
    form = start(attacker, saml_idp, "grace@example.org")
    response = victim.post("/saml/acs", data=form)
    page = response.get_data(as_text=True)
    assert response.status_code == 403
    assert "<code id='error-code'>browser-mismatch</code>" in page
    assert "start the login again in this browser" in page
    assert victim.get("/").get_data(as_text=True) == "user=None"


def test_a_wrong_cookie_is_a_403(saml_sp: ServiceProvider, saml_idp: TestIdP) -> None:
    """The victim has a pending login of its own; its cookie does not unlock the attacker's request, even
    under the attacker's request's cookie name."""
    app = make_app(saml_sp)
    attacker, victim = app.test_client(), app.test_client()
    start(victim, saml_idp)
    form = start(attacker, saml_idp, "grace@example.org")
    for name in binding_cookies(attacker):
        victim.set_cookie(name, binding.new_secret())
    response = victim.post("/saml/acs", data=form)
    assert response.status_code == 403
    assert b"browser-mismatch" in response.data
    assert victim.get("/").get_data(as_text=True) == "user=None"


def test_two_tabs_log_in_concurrently(saml_sp: ServiceProvider, saml_idp: TestIdP) -> None:
    client = make_app(saml_sp).test_client()
    first, second = start(client, saml_idp, "ada@example.org"), start(client, saml_idp, "grace@example.org")
    assert len(binding_cookies(client)) == 2
    assert client.post("/saml/acs", data=second).status_code == 303
    assert len(binding_cookies(client)) == 1  # only the spent one is cleared
    assert client.post("/saml/acs", data=first).status_code == 303
    assert binding_cookies(client) == {}
    assert client.get("/").get_data(as_text=True) == "user=ada@example.org"


def test_too_many_pending_logins_clear_the_older_cookies(saml_sp: ServiceProvider, saml_idp: TestIdP) -> None:
    client = make_app(saml_sp).test_client()
    forms = [start(client, saml_idp) for _ in range(binding.MAX_PENDING_COOKIES)]
    assert len(binding_cookies(client)) == binding.MAX_PENDING_COOKIES
    last = start(client, saml_idp)
    assert len(binding_cookies(client)) == 1  # the browser's Cookie header stays bounded
    assert client.post("/saml/acs", data=forms[0]).status_code == 403
    assert client.post("/saml/acs", data=last).status_code == 303


def test_the_cookie_is_cleared_when_the_login_hook_answers(saml_sp: ServiceProvider, saml_idp: TestIdP) -> None:
    app = make_app(saml_sp)
    saml: FedLib = app.extensions["fedlib"]
    saml.on_login(lambda result: f"hello {result.authn.name_id}")
    client = app.test_client()
    response = client.post("/saml/acs", data=start(client, saml_idp))
    assert response.get_data(as_text=True) == "hello ada@example.org"
    assert binding_cookies(client) == {}


def test_idp_initiated_logins_are_unaffected(
    saml_idp: TestIdP, saml_sp_factory: Callable[..., ServiceProvider]
) -> None:
    sp = saml_sp_factory(saml_idp, allow_unsolicited=True)
    seen: list[LoginResult] = []
    app = make_app(sp)
    app.extensions["fedlib"].on_login(seen.append)
    form = saml_idp.initiate(sp.config.entity_id, sp.config.acs_url)
    response = app.test_client().post("/saml/acs", data=dict(form.fields))
    assert response.status_code == 303
    assert not seen[0].solicited
    assert set_cookie_headers(response) == [] or all(
        not binding.is_binding_cookie(h.split("=")[0]) for h in set_cookie_headers(response)
    )


def test_a_plain_http_acs_off_loopback_is_logged(
    saml_idp: TestIdP, saml_sp_factory: Callable[..., ServiceProvider], caplog: Any
) -> None:
    """Browsers drop the Secure cookie there, so every login would be browser-mismatch: say so in the log."""
    plain = saml_sp_factory(saml_idp, entity_id="http://app.example.test/md", acs_url="http://app.example.test/acs")
    loopback = saml_sp_factory(saml_idp, entity_id="http://127.0.0.1:5000/md", acs_url="http://127.0.0.1:5000/acs")
    with caplog.at_level("WARNING", logger="fedlib.flask"):
        make_app(loopback).test_client().get("/saml/login")
        assert "plain http" not in caplog.text
        make_app(plain).test_client().get("/saml/login")
    assert "plain http" in caplog.text
