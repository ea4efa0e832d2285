"""``/saml/logout`` through Flask's test client: a logout that cannot be forged (issue #8 section 4).

Local logout is a POST with the session's CSRF token (and same-origin headers when present); a plain GET
ends nothing; an IdP LogoutRequest ends the session only when it is valid and names this browser's session.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from html import unescape
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask, render_template_string, session
from flask.testing import FlaskClient

from fedlib.clock import FixedClock
from fedlib.config import SPConfig
from fedlib.errors import ConfigurationError, StoreError
from fedlib.integrations.flask import CSRF_FIELD, CSRF_SESSION_KEY, SESSION_KEY, FedLib
from fedlib.metadata.idp import parse_idp_metadata
from fedlib.sp import ServiceProvider
from fedlib.stores.base import Store
from fedlib.stores.memory import MemoryStore
from fedlib.testing.idp import TestIdP

SP_ID = "https://sp.example.test/saml/metadata"
ACS = "https://sp.example.test/saml/acs"
SLO = "https://sp.example.test/saml/logout"
USER = "ada@example.org"


@pytest.fixture
def sp(saml_idp: TestIdP, saml_now: datetime) -> ServiceProvider:
    return make_sp(saml_idp, saml_now, MemoryStore())


def make_sp(idp: TestIdP, now: datetime, store: Store) -> ServiceProvider:
    idp.register_sp(SP_ID, ACS)
    config = SPConfig(entity_id=SP_ID, acs_url=ACS, slo_url=SLO)
    return ServiceProvider(config, parse_idp_metadata(idp.metadata_xml(), now=now), store, clock=FixedClock(now))


def make_app(sp: ServiceProvider) -> Flask:
    app = Flask(__name__)
    app.secret_key = "test-only"

    @app.get("/")
    def home() -> str:
        user = session.get(SESSION_KEY)
        return f"user={user['name_id'] if user else None}"

    @app.get("/template")
    def template() -> str:
        return render_template_string("{{ fedlib_logout_form(next='/bye') }}|{{ fedlib_csrf_token() }}")

    FedLib(app, service_provider=sp)
    return app


@pytest.fixture
def client(sp: ServiceProvider, saml_login: Any) -> FlaskClient:
    """A browser signed in as ada."""
    c = make_app(sp).test_client()
    assert saml_login(c).status_code == 303
    assert user(c) == USER
    return c


def user(client: FlaskClient) -> str:
    return client.get("/").get_data(as_text=True).removeprefix("user=")


def session_index(client: FlaskClient) -> str:
    with client.session_transaction() as s:
        index = s[SESSION_KEY]["session_index"]
    assert isinstance(index, str)
    return index


def form_fields(page: str) -> dict[str, str]:
    return {unescape(n): unescape(v) for n, v in re.findall(r'name="([^"]+)" value="([^"]*)"', page)}


def token(client: FlaskClient) -> str:
    page = client.get("/saml/logout").get_data(as_text=True)
    return form_fields(page)[CSRF_FIELD]


def query(url: str) -> str:
    return "/saml/logout?" + urlsplit(url).query


def refused(response: Any, code: str | None = None) -> None:
    assert response.status_code == 403, response.status_code
    if code is not None:
        assert f"<code id='error-code'>{code}</code>" in response.get_data(as_text=True)


# ---- local logout --------------------------------------------------------------------------------------------


def test_get_ends_nothing_and_offers_the_post_form(client: FlaskClient) -> None:
    response = client.get("/saml/logout?next=/bye")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert '<form method="post" action="/saml/logout"' in page
    assert form_fields(page)["next"] == "/bye"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert user(client) == USER


def test_get_page_drops_an_unsafe_next(client: FlaskClient) -> None:
    page = client.get("/saml/logout?next=https://evil.example/").get_data(as_text=True)
    assert "next" not in form_fields(page)


def test_post_with_the_token_ends_the_session(client: FlaskClient) -> None:
    response = client.post("/saml/logout", data={CSRF_FIELD: token(client), "next": "/bye"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/bye"
    assert user(client) == "None"
    with client.session_transaction() as s:
        assert CSRF_SESSION_KEY not in s  # the token is not reused after logout


def test_forged_cross_site_post_without_token_is_refused(client: FlaskClient) -> None:
    token(client)  # the session has a token; the attacker's page does not know it
    refused(client.post("/saml/logout", data={"next": "/"}))
    refused(client.post("/saml/logout"))
    assert user(client) == USER


def test_wrong_token_is_refused(client: FlaskClient, sp: ServiceProvider, saml_login: Any) -> None:
    real = token(client)
    for wrong in ("", "x", real[:-1], real + "x", real.upper() if real.upper() != real else real.lower(), "é" * 43):
        refused(client.post("/saml/logout", data={CSRF_FIELD: wrong}))
    other = make_app(sp).test_client()
    saml_login(other)
    refused(client.post("/saml/logout", data={CSRF_FIELD: token(other)}))  # another session's token
    assert user(client) == USER


def test_post_before_any_token_exists_is_refused(client: FlaskClient) -> None:
    refused(client.post("/saml/logout", data={CSRF_FIELD: "A" * 43}))
    assert user(client) == USER


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "http://localhost", "Sec-Fetch-Site": "cross-site"},
    ],
)
def test_cross_origin_headers_are_refused_even_with_the_token(client: FlaskClient, headers: dict[str, str]) -> None:
    refused(client.post("/saml/logout", data={CSRF_FIELD: token(client)}, headers=headers))
    assert user(client) == USER


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"},
        {"Origin": "https://sp.example.test"},  # the configured public origin, behind a proxy
    ],
)
def test_same_origin_headers_pass(client: FlaskClient, headers: dict[str, str]) -> None:
    response = client.post("/saml/logout", data={CSRF_FIELD: token(client)}, headers=headers)
    assert response.status_code == 303
    assert user(client) == "None"


def test_unsafe_next_after_logout_lands_on_home(client: FlaskClient) -> None:
    response = client.post("/saml/logout", data={CSRF_FIELD: token(client), "next": "//evil.example/"})
    assert response.headers["Location"] == "/"


def test_form_helper_and_jinja_globals(client: FlaskClient) -> None:
    form, csrf = client.get("/template").get_data(as_text=True).split("|")
    fields = form_fields(form)
    assert fields == {CSRF_FIELD: csrf, "next": "/bye"}
    assert form.startswith('<form method="post" action="/saml/logout"')
    assert client.post("/saml/logout", data=fields).status_code == 303


# ---- IdP LogoutRequest, HTTP-Redirect ----------------------------------------------------------------------------


@pytest.mark.parametrize("lowercase", [False, True])
def test_matching_redirect_logout_request_ends_the_session(
    sp: ServiceProvider, saml_idp_factory: Callable[..., TestIdP], saml_login: Any, lowercase: bool
) -> None:
    idp = saml_idp_factory(lowercase_percent_encoding=lowercase)  # same cached TEST key and entity ID
    client = make_app(sp).test_client()
    saml_login(client)
    url = idp.logout_request_url(SLO, USER, session_index=session_index(client), relay_state="/bye")
    response = client.get(query(url))
    assert response.status_code == 303
    assert response.headers["Location"] == "/bye"
    assert user(client) == "None"


def test_redirect_logout_request_without_session_index_ends_the_session(client: FlaskClient, saml_idp: TestIdP) -> None:
    assert client.get(query(saml_idp.logout_request_url(SLO, USER))).status_code == 303
    assert user(client) == "None"


def test_unsafe_relay_state_of_a_logout_request_is_dropped(client: FlaskClient, saml_idp: TestIdP) -> None:
    url = saml_idp.logout_request_url(SLO, USER, relay_state="https://evil.example/")
    assert client.get(query(url)).headers["Location"] == "/"


def test_unsigned_and_tampered_redirect_requests_are_refused(client: FlaskClient, saml_idp: TestIdP) -> None:
    refused(client.get(query(saml_idp.logout_request_url(SLO, USER, sign=False))), "unsigned-message")
    genuine = saml_idp.logout_request_url(SLO, "grace@example.org")
    forged = saml_idp.logout_request_url(SLO, USER, sign=False) + genuine[genuine.index("&SigAlg=") :]
    refused(client.get(query(forged)), "invalid-signature")
    assert user(client) == USER


def test_genuine_request_for_another_user_is_refused(client: FlaskClient, saml_idp: TestIdP) -> None:
    refused(client.get(query(saml_idp.logout_request_url(SLO, "grace@example.org"))), "logout-session-mismatch")
    assert user(client) == USER


def test_genuine_request_for_another_session_is_refused(client: FlaskClient, saml_idp: TestIdP) -> None:
    url = saml_idp.logout_request_url(SLO, USER, session_index="_another-session")
    refused(client.get(query(url)), "logout-session-mismatch")
    assert user(client) == USER


def test_genuine_request_for_another_sp_is_refused(client: FlaskClient, saml_idp: TestIdP) -> None:
    url = saml_idp.logout_request_url("https://other-sp.example.test/saml/logout", USER)
    refused(client.get(query(url)), "wrong-destination")
    assert user(client) == USER


def test_request_from_another_idp_is_refused(client: FlaskClient, saml_idp_factory: Callable[..., TestIdP]) -> None:
    from fedlib.testing.keys import default_key

    impostor = saml_idp_factory(key=default_key("rsa", "impostor"))
    refused(client.get(query(impostor.logout_request_url(SLO, USER))), "invalid-signature")
    renamed = saml_idp_factory(entity_id="https://other-idp.example.test/saml")  # the trusted key, another name
    refused(client.get(query(renamed.logout_request_url(SLO, USER))), "wrong-issuer")
    assert user(client) == USER


def test_old_and_future_requests_are_refused(client: FlaskClient, saml_idp: TestIdP, saml_now: datetime) -> None:
    old = saml_idp.logout_request_url(SLO, USER, now=saml_now - timedelta(hours=1))
    refused(client.get(query(old)), "expired")
    future = saml_idp.logout_request_url(SLO, USER, now=saml_now + timedelta(hours=1))
    refused(client.get(query(future)), "not-yet-valid")
    assert user(client) == USER


def test_replayed_logout_url_is_refused(client: FlaskClient, saml_idp: TestIdP, saml_login: Any) -> None:
    url = query(saml_idp.logout_request_url(SLO, USER))
    assert client.get(url).status_code == 303
    saml_login(client)  # signed in again: the old logout URL must not end the new session
    assert user(client) == USER
    refused(client.get(url), "replayed")
    assert user(client) == USER


def test_garbage_logout_requests_are_4xx(client: FlaskClient) -> None:
    for q in ("SAMLRequest=", "SAMLRequest=%%%", "SAMLRequest=abc&SAMLRequest=def", "SAMLRequest=%FF%FE"):
        response = client.get("/saml/logout?" + q)
        assert response.status_code == 403, q
    for data in ({"SAMLRequest": ""}, {"SAMLRequest": "%%%"}, {"SAMLRequest": "PHg+"}):
        assert client.post("/saml/logout", data=data).status_code == 403
    assert user(client) == USER


def test_without_a_session_a_valid_request_ends_nothing(sp: ServiceProvider, saml_idp: TestIdP) -> None:
    client = make_app(sp).test_client()
    response = client.get(query(saml_idp.logout_request_url(SLO, USER)))
    assert response.status_code == 303
    refused(client.get(query(saml_idp.logout_request_url(SLO, USER, sign=False))), "unsigned-message")


# ---- IdP LogoutRequest, HTTP-POST ---------------------------------------------------------------------------------


def test_matching_post_logout_request_ends_the_session(client: FlaskClient, saml_idp: TestIdP) -> None:
    form = saml_idp.logout_request_post(SLO, USER, session_index=session_index(client), relay_state="/bye")
    response = client.post("/saml/logout", data=dict(form.fields), headers={"Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 303  # no CSRF token: the IdP's signature authenticates it
    assert response.headers["Location"] == "/bye"
    assert user(client) == "None"


def test_post_logout_requests_are_validated(client: FlaskClient, saml_idp: TestIdP) -> None:
    unsigned = saml_idp.logout_request_post(SLO, USER, sign=False)
    refused(client.post("/saml/logout", data=dict(unsigned.fields)), "unsigned-message")
    other_user = saml_idp.logout_request_post(SLO, "grace@example.org")
    refused(client.post("/saml/logout", data=dict(other_user.fields)), "logout-session-mismatch")
    other_sp = saml_idp.logout_request_post("https://other-sp.example.test/saml/logout", USER)
    refused(client.post("/saml/logout", data=dict(other_sp.fields)), "wrong-destination")
    assert user(client) == USER
    genuine = saml_idp.logout_request_post(SLO, USER)
    assert client.post("/saml/logout", data=dict(genuine.fields)).status_code == 303
    assert user(client) != USER
    # Again: this browser has no session left, so the request ends (and spends) nothing; a replay against a
    # session is refused (test_replayed_logout_url_is_refused).
    assert client.post("/saml/logout", data=dict(genuine.fields)).status_code == 303


# ---- outages, configuration ---------------------------------------------------------------------------------------


class _DownStore:
    def add(self, key: str, **kwargs: Any) -> bool:
        raise StoreError("store down")

    def consume(self, key: str, **kwargs: Any) -> str | None:
        raise StoreError("store down")

    def close(self) -> None:
        pass


def test_store_outage_is_a_503_and_ends_nothing(client: FlaskClient, saml_idp: TestIdP, saml_now: datetime) -> None:
    down = make_app(make_sp(saml_idp, saml_now, _DownStore())).test_client()  # type: ignore[arg-type]
    with client.session_transaction() as s:
        stored = dict(s)
    with down.session_transaction() as s:
        s.update(stored)
    response = down.get(query(saml_idp.logout_request_url(SLO, USER)))
    assert response.status_code == 503
    assert user(down) == USER


def test_sp_without_slo_url_refuses_logout_requests(
    saml_idp: TestIdP, saml_sp: ServiceProvider, saml_login: Any
) -> None:
    assert saml_sp.config.slo_url is None
    client = make_app(saml_sp).test_client()
    saml_login(client)
    refused(client.get(query(saml_idp.logout_request_url(SLO, USER))), "wrong-destination")
    assert user(client) == USER


def test_tenants_get_their_own_logout_form(saml_idp: TestIdP, saml_now: datetime) -> None:
    sps = {"a": make_sp(saml_idp, saml_now, MemoryStore())}

    def lookup(tenant: str) -> ServiceProvider:
        if tenant not in sps:
            raise ConfigurationError("unknown tenant")
        return sps[tenant]

    app = Flask(__name__)
    app.secret_key = "test-only"
    FedLib(app, tenants=lookup)
    client = app.test_client()
    page = client.get("/saml/a/logout").get_data(as_text=True)
    assert '<form method="post" action="/saml/a/logout"' in page
    assert client.post("/saml/a/logout", data=form_fields(page)).status_code == 303
    assert client.get("/saml/zzz/logout").status_code == 404


def test_session_data_it_cannot_match_is_never_ended_by_a_logout_request(
    sp: ServiceProvider, saml_idp: TestIdP
) -> None:
    client = make_app(sp).test_client()
    with client.session_transaction() as s:
        s[SESSION_KEY] = {"name_id": USER}  # written by the app itself, without the IdP: nothing to match on
    assert client.get(query(saml_idp.logout_request_url(SLO, USER))).status_code == 303
    assert user(client) == USER


def test_default_login_hook_keeps_what_a_logout_request_is_matched_on(client: FlaskClient) -> None:
    with client.session_transaction() as s:
        stored = s[SESSION_KEY]
    assert {"issuer", "name_id", "name_id_format", "name_qualifier", "sp_name_qualifier", "session_index"} <= set(
        stored
    )
