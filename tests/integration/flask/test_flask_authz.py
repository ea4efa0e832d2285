"""Issue #11 §2 and §4 through Flask: allow-listed login options (AuthnContext, ForceAuthn, IsPassive) and
the Rippling-style IdP-initiated Response accepted end to end."""

from __future__ import annotations

import base64
import zlib
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask, session

from fedlib.authn_context import REFEDS_MFA
from fedlib.config import SecurityPolicy, SPConfig
from fedlib.errors import ConfigurationError
from fedlib.integrations.flask import SESSION_KEY, FedLib, LoginOptions
from fedlib.metadata.idp import parse_idp_metadata
from fedlib.protocol.authn_request import RequestedAuthnContext
from fedlib.sp import IdPConfig, ServiceProvider
from fedlib.stores.memory import MemoryStore
from fedlib.testing.idp import TestIdP
from fedlib.testing.pytest_plugin import SP_ACS_URL, SP_ENTITY_ID

MFA = LoginOptions(requested_authn_context=RequestedAuthnContext((REFEDS_MFA,), "minimum"), force_authn=True)


def make_app(sp: ServiceProvider, **kwargs: Any) -> Flask:
    app = Flask(__name__)
    app.secret_key = "test-only"

    @app.get("/")
    def home() -> str:
        user = session.get(SESSION_KEY)
        return f"user={user['name_id'] if user else None} roles={user['roles'] if user else None}"

    FedLib(app, service_provider=sp, **kwargs)
    return app


def authn_request_xml(location: str) -> bytes:
    value = parse_qs(urlsplit(location).query)["SAMLRequest"][0]
    return zlib.decompress(base64.b64decode(value), -15)


def test_login_option_is_sent_and_enforced(saml_idp_factory: Callable[..., TestIdP], saml_sp_factory: Any) -> None:
    weak = saml_idp_factory()  # PasswordProtectedTransport
    client = make_app(saml_sp_factory(weak), login_options={"mfa": MFA}).test_client()
    started = client.get("/saml/login?authn=mfa")
    assert started.status_code == 302
    xml = authn_request_xml(started.headers["Location"])
    assert REFEDS_MFA.encode() in xml
    assert b'Comparison="minimum"' in xml
    request = weak.receive_redirect(started.headers["Location"])
    assert request.force_authn
    assert not request.is_passive
    form = weak.respond(request)
    refused = client.post(urlsplit(form.action).path, data=dict(form.fields))
    assert refused.status_code == 403
    page = refused.get_data(as_text=True)
    assert "authn-context-not-satisfied" in page
    assert "Conditional Access" in page


def test_login_option_satisfied_by_an_mfa_login(
    saml_idp_factory: Callable[..., TestIdP], saml_sp_factory: Any, saml_login: Any
) -> None:
    strong = saml_idp_factory(authn_context_class_ref=REFEDS_MFA)
    client = make_app(saml_sp_factory(strong), login_options={"mfa": MFA}).test_client()
    assert saml_login(client, login_path="/saml/login?authn=mfa", idp=strong).status_code == 303
    assert client.get("/").get_data(as_text=True).startswith("user=ada@example.org")


@pytest.mark.parametrize("query", ["authn=urn:oasis:names:tc:SAML:2.0:ac:classes:X509", "authn=", "authn=MFA"])
def test_free_text_authn_is_refused(saml_sp: ServiceProvider, query: str) -> None:
    client = make_app(saml_sp, login_options={"mfa": MFA}).test_client()
    response = client.get(f"/saml/login?{query}")
    assert response.status_code == 400
    assert "Location" not in response.headers


def test_query_string_cannot_force_authn_or_passive(saml_sp: ServiceProvider, saml_idp: TestIdP) -> None:
    client = make_app(saml_sp).test_client()
    started = client.get("/saml/login?force_authn=true&is_passive=true&ForceAuthn=true")
    request = saml_idp.receive_redirect(started.headers["Location"])
    assert not request.force_authn
    assert not request.is_passive
    assert b"RequestedAuthnContext" not in authn_request_xml(started.headers["Location"])


def test_login_options_must_be_login_options(saml_sp: ServiceProvider) -> None:
    with pytest.raises(ConfigurationError):
        FedLib(Flask(__name__), service_provider=saml_sp, login_options={"mfa": {"force_authn": True}})  # type: ignore[dict-item]


def rippling_sp(idp: TestIdP, now: datetime, **policy: bool) -> ServiceProvider:
    idp.register_sp(SP_ENTITY_ID, SP_ACS_URL)
    metadata = parse_idp_metadata(idp.metadata_xml(), now=now)
    return ServiceProvider(
        SPConfig(entity_id=SP_ENTITY_ID, acs_url=SP_ACS_URL),
        IdPConfig(metadata, SecurityPolicy(**policy)),
        MemoryStore(),
    )


def test_rippling_idp_initiated_login_through_flask(saml_idp_factory: Callable[..., TestIdP]) -> None:
    idp = saml_idp_factory(profile="rippling")
    now = idp.clock()
    sp = rippling_sp(idp, now, allow_unsolicited=True, allow_in_response_to_on_unsolicited=True)
    client = make_app(sp).test_client()
    form = idp.initiate(SP_ENTITY_ID, SP_ACS_URL, relay_state="/", now=now)
    assert b"InResponseTo=" in form.xml
    response = client.post("/saml/acs", data=dict(form.fields))
    assert response.status_code == 303, response.get_data(as_text=True)
    assert client.get("/").get_data(as_text=True).startswith("user=ada@example.org")


def test_rippling_without_the_setting_is_refused_through_flask(saml_idp_factory: Callable[..., TestIdP]) -> None:
    idp = saml_idp_factory(profile="rippling")
    now = idp.clock()
    client = make_app(rippling_sp(idp, now, allow_unsolicited=True)).test_client()
    response = client.post("/saml/acs", data=dict(idp.initiate(SP_ENTITY_ID, SP_ACS_URL, now=now).fields))
    assert response.status_code == 403
    page = response.get_data(as_text=True)
    assert "unknown-request" in page
    assert "allow_in_response_to_on_unsolicited" in page
