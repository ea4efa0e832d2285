"""The Flask adapter never answers 5xx to client input (issue #8 §5): 4xx with the code, 503 only for a
store outage. Each request here answered 500 before the fix."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from fedlib.errors import StoreError
from fedlib.integrations.flask import CSRF_FIELD, CSRF_SESSION_KEY, FedLib
from fedlib.sp import ServiceProvider
from fedlib.testing.idp import TestIdP

HOSTILE_NEXT = [
    "https://[x",
    "https://[::1/",
    "https://a\u2100b/",  # NFKC: "a/c"
    "https://app.example\uff03@evil.example/",  # NFKC: '#'
    "https://\uff41pp.example/",
    "http://x:99999999/",
    "javascript:alert(1)",
    "//evil.example/",
]


def make_app(sp: ServiceProvider) -> Flask:
    app = Flask(__name__)
    app.secret_key = "test-only"
    FedLib(app, service_provider=sp)
    return app


@pytest.mark.parametrize("next_url", HOSTILE_NEXT)
def test_login_next_never_a_500(saml_sp: ServiceProvider, next_url: str) -> None:
    response = make_app(saml_sp).test_client().get("/saml/login", query_string={"next": next_url})
    assert response.status_code == 302  # the login starts; the bad next is dropped


@pytest.mark.parametrize("next_url", HOSTILE_NEXT)
def test_logout_next_never_a_500(saml_sp: ServiceProvider, next_url: str) -> None:
    client = make_app(saml_sp).test_client()
    # GET only offers the POST form (it ends nothing); the unsafe next is not carried into it.
    page = client.get("/saml/logout", query_string={"next": next_url})
    assert page.status_code == 200
    assert 'name="next"' not in page.get_data(as_text=True)
    with client.session_transaction() as flask_session:
        flask_session[CSRF_SESSION_KEY] = "t" * 43
    response = client.post("/saml/logout", data={CSRF_FIELD: "t" * 43, "next": next_url})
    assert response.status_code == 303
    assert response.headers["Location"] == "/"


def test_raw_query_with_invalid_utf8_is_not_a_500(saml_sp: ServiceProvider) -> None:
    """Werkzeug reads invalid UTF-8 (an encoded lone surrogate too) as U+FFFD: nothing reaches fedlib that
    it cannot encode; the core tests cover str values with surrogates (tests/unit/robustness)."""
    client = make_app(saml_sp).test_client()
    for path in ("/saml/login?next=%ff%fe", "/saml/logout?next=%ED%A0%80", "/saml/logout?SAMLRequest=%ff&x"):
        assert client.get(path).status_code < 500, path
    assert 'name="next" value="/ok' in client.get("/saml/logout?next=/ok%ED%A0%80").get_data(as_text=True)


@pytest.mark.parametrize("relay_state", [*HOSTILE_NEXT, "x" * 5000, "/\r\nSet-Cookie: a=b"])
def test_acs_with_hostile_relay_state_logs_in(
    saml_idp: TestIdP, saml_sp_factory: Callable[..., ServiceProvider], relay_state: str
) -> None:
    sp = saml_sp_factory(saml_idp, allow_unsolicited=True)
    client = make_app(sp).test_client()
    form = dict(saml_idp.initiate(sp.config.entity_id, sp.config.acs_url).fields)
    form["RelayState"] = relay_state
    response = client.post("/saml/acs", data=form)
    assert response.status_code == 303
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize(
    "data",
    [
        {"SAMLResponse": ""},
        {"SAMLResponse": "\ufffd"},
        {"SAMLResponse": "PHg+\u00e9"},
        {"SAMLResponse": "<samlp:Response xmlns:samlp='urn:oasis:names:tc:SAML:2.0:protocol' InResponseTo='x'/>"},
    ],
)
def test_acs_junk_form_is_a_403(saml_sp: ServiceProvider, data: dict[str, str]) -> None:
    response = make_app(saml_sp).test_client().post("/saml/acs", data=data)
    assert response.status_code == 403


@pytest.mark.parametrize("data", [{}, {"RelayState": "/x"}, {"samlresponse": "PHg+"}])
def test_acs_without_saml_response_is_a_400(saml_sp: ServiceProvider, data: dict[str, str]) -> None:
    """Not a SAML message at all: a 400 (issue #12; it was a 403 ``malformed-xml``), never a 5xx."""
    response = make_app(saml_sp).test_client().post("/saml/acs", data=data)
    assert response.status_code == 400
    assert "no SAMLResponse" in response.get_data(as_text=True)


def test_acs_body_not_utf8_is_a_4xx(saml_sp: ServiceProvider) -> None:
    client = make_app(saml_sp).test_client()
    response = client.post(
        "/saml/acs",
        data=b"SAMLResponse=%ff%fe%ED%A0%80&RelayState=\xff",
        content_type="application/x-www-form-urlencoded",
    )
    assert 400 <= response.status_code < 500


def test_unexpected_error_in_fedlib_is_a_400_not_a_500(
    saml_sp: ServiceProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: Any, **kwargs: Any) -> None:
        raise OverflowError("date value out of range")

    monkeypatch.setattr(ServiceProvider, "finish_login", boom)
    response = make_app(saml_sp).test_client().post("/saml/acs", data={"SAMLResponse": "PHg+"})
    assert response.status_code == 400
    assert "<code id='error-code'>internal-error</code>" in response.get_data(as_text=True)
    assert "OverflowError" not in response.get_data(as_text=True)


def test_typed_errors_from_any_route_are_mapped(saml_sp: ServiceProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    def down(*args: Any, **kwargs: Any) -> None:
        raise StoreError("store down")

    monkeypatch.setattr(ServiceProvider, "metadata_xml", down)
    assert make_app(saml_sp).test_client().get("/saml/metadata").status_code == 503


def test_the_applications_own_hook_errors_stay_the_applications(
    saml_idp: TestIdP, saml_sp_factory: Callable[..., ServiceProvider]
) -> None:
    sp = saml_sp_factory(saml_idp, allow_unsolicited=True)
    app = make_app(sp)

    @app.extensions["fedlib"].on_login
    def hook(result: Any) -> None:
        raise RuntimeError("the application's bug")

    app.testing = True  # exceptions propagate to the test
    form = dict(saml_idp.initiate(sp.config.entity_id, sp.config.acs_url).fields)
    with pytest.raises(RuntimeError, match="application's bug"):
        app.test_client().post("/saml/acs", data=form)


def test_unknown_routes_and_methods_keep_their_status(saml_sp: ServiceProvider) -> None:
    client = make_app(saml_sp).test_client()
    assert client.get("/saml/acs").status_code == 405
    assert client.get("/saml/nope").status_code == 404
