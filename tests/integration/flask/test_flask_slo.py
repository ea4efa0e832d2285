"""Full Single Logout through Flask's test client and the TestIdP (issue #11 section 1).

SP-initiated: Sign out (POST with the CSRF token) ends the local session and sends a signed LogoutRequest
to the IdP (Redirect, or an auto-posting form with ``binding=HTTP-POST``); the IdP's LogoutResponse comes
back to ``/saml/logout`` (GET or POST) and the app's ``on_logout`` hook is told. IdP-initiated: the hook
ends the app's session, then a signed LogoutResponse (PartialLogout when the hook says so) goes back.
"""

from __future__ import annotations

import re
from datetime import datetime
from html import unescape
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask, session
from flask.testing import FlaskClient

from fedlib.clock import FixedClock
from fedlib.config import SPConfig
from fedlib.constants import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, STATUS_SUCCESS
from fedlib.integrations.flask import CSRF_FIELD, PARTIAL, SESSION_KEY, FedLib, LogoutEvent
from fedlib.metadata.idp import parse_idp_metadata
from fedlib.protocol.logout import STATUS_PARTIAL_LOGOUT
from fedlib.sp import ServiceProvider
from fedlib.stores.memory import MemoryStore
from fedlib.testing.idp import PostForm, TestIdP
from fedlib.testing.keys import default_key

SP_ID = "https://sp.example.test/saml/metadata"
ACS = "https://sp.example.test/saml/acs"
SLO = "https://sp.example.test/saml/logout"
USER = "ada@example.org"
SP_KEY = default_key("rsa", "sp")


def make_sp(idp: TestIdP, now: datetime) -> ServiceProvider:
    idp.register_sp(SP_ID, ACS, [SP_KEY.certificate])
    config = SPConfig(
        entity_id=SP_ID,
        acs_url=ACS,
        slo_url=SLO,
        signing_key=SP_KEY.private_key,
        signing_certificates=(SP_KEY.certificate,),
    )
    metadata = parse_idp_metadata(idp.metadata_xml(), now=now)
    return ServiceProvider(config, metadata, MemoryStore(), clock=FixedClock(now))


class App:
    """A Flask app with its own session key (what Flask-Login's logout_user() would clear)."""

    def __init__(self, sp: ServiceProvider, *, binding: str | None = None, partial: bool = False) -> None:
        self.events: list[LogoutEvent] = []
        self.app = Flask(__name__)
        self.app.secret_key = "test-only"
        saml = FedLib(self.app, service_provider=sp, binding=binding)

        @self.app.get("/")
        def home() -> str:
            user = session.get(SESSION_KEY)
            return f"user={user['name_id'] if user else None} app={session.get('app_user')}"

        @self.app.get("/token")
        def token() -> str:
            from fedlib.integrations.flask import csrf_token

            session["app_user"] = "ada"  # the app's own login state
            return csrf_token()

        @saml.on_logout
        def end(event: LogoutEvent) -> Any:
            self.events.append(event)
            if event.kind != "idp-response":
                session.pop("app_user", None)  # flask_login.logout_user() in a real app
                return PARTIAL if partial else None
            return None


def form_fields(page: str) -> dict[str, str]:
    return {unescape(n): unescape(v) for n, v in re.findall(r'name="([^"]+)" value="([^"]*)"', page)}


@pytest.fixture
def sp(saml_idp: TestIdP, saml_now: datetime) -> ServiceProvider:
    return make_sp(saml_idp, saml_now)


def signed_in(app: App, saml_login: Any) -> FlaskClient:
    client = app.app.test_client()
    assert saml_login(client).status_code == 303
    client.get("/token")
    assert client.get("/").get_data(as_text=True) == f"user={USER} app=ada"
    return client


def sign_out(client: FlaskClient) -> Any:
    token = client.get("/token").get_data(as_text=True)
    return client.post("/saml/logout", data={CSRF_FIELD: token, "next": "/bye"})


def deliver(client: FlaskClient, answer: str | PostForm) -> Any:
    if isinstance(answer, PostForm):
        return client.post(urlsplit(answer.action).path, data=dict(answer.fields))
    return client.get("/saml/logout?" + urlsplit(answer).query)


# ---- SP-initiated ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("binding", [BINDING_HTTP_REDIRECT, BINDING_HTTP_POST])
def test_sp_initiated_round_trip(sp: ServiceProvider, saml_idp: TestIdP, saml_login: Any, binding: str) -> None:
    app = App(sp)
    client = signed_in(app, saml_login)
    app.app.extensions["fedlib"].binding = binding  # FedLib(binding=...) sends logins and logouts that way
    with client.session_transaction() as s:
        index = s[SESSION_KEY]["session_index"]
    started = sign_out(client)
    # The local session (fedlib's and the app's) ends right away, before the IdP answers.
    assert client.get("/").get_data(as_text=True) == "user=None app=None"
    assert [e.kind for e in app.events] == ["local"]
    if binding == BINDING_HTTP_REDIRECT:
        assert started.status_code == 302
        info = saml_idp.receive_logout_request(started.headers["Location"])
    else:
        assert started.status_code == 200
        fields = form_fields(started.get_data(as_text=True))
        assert f'action="{saml_idp.slo_url}"' in started.get_data(as_text=True)
        info = saml_idp.receive_logout_request(form=fields)
    assert info.signed
    assert info.name_id == USER
    assert info.session_indexes == (index,)
    answered = deliver(client, saml_idp.answer_logout(info, SLO, binding=binding))
    assert answered.status_code == 303
    assert answered.headers["Location"] == "/bye"
    assert [e.kind for e in app.events] == ["local", "idp-response"]
    result = app.events[1].result
    assert result is not None
    assert result.response.status == "success"


def test_idp_error_status_still_signs_out_and_tells_the_app(
    sp: ServiceProvider, saml_idp: TestIdP, saml_login: Any
) -> None:
    app = App(sp)
    client = signed_in(app, saml_login)
    info = saml_idp.receive_logout_request(sign_out(client).headers["Location"])
    answered = deliver(client, saml_idp.answer_logout(info, SLO, status="responder"))
    assert answered.status_code == 303
    assert client.get("/").get_data(as_text=True) == "user=None app=None"
    result = app.events[-1].result
    assert result is not None
    assert result.response.status == "failure"


def test_forged_or_replayed_logout_response_is_a_403_and_the_app_is_told(
    sp: ServiceProvider, saml_idp: TestIdP, saml_login: Any
) -> None:
    app = App(sp)
    client = signed_in(app, saml_login)
    info = saml_idp.receive_logout_request(sign_out(client).headers["Location"])
    unsigned = deliver(client, saml_idp.answer_logout(info, SLO, sign=False))
    assert unsigned.status_code == 403
    assert "<code id='error-code'>unsigned-message</code>" in unsigned.get_data(as_text=True)
    error = app.events[-1].error
    assert error is not None
    replay = deliver(client, saml_idp.answer_logout(info, SLO))  # the pending logout was spent by the first
    assert replay.status_code == 403
    assert "<code id='error-code'>unknown-request</code>" in replay.get_data(as_text=True)


def test_a_logout_response_ends_no_session(sp: ServiceProvider, saml_idp: TestIdP, saml_login: Any) -> None:
    """The IdP's answer is not bound to a browser: delivered to another signed-in browser it ends nothing."""
    app = App(sp)
    leaving = signed_in(app, saml_login)
    info = saml_idp.receive_logout_request(sign_out(leaving).headers["Location"])
    other = signed_in(app, saml_login)
    assert deliver(other, saml_idp.answer_logout(info, SLO)).status_code == 303
    assert other.get("/").get_data(as_text=True) == f"user={USER} app=ada"


def test_without_a_signing_key_sign_out_is_local(saml_idp: TestIdP, saml_now: datetime, saml_login: Any) -> None:
    saml_idp.register_sp(SP_ID, ACS)
    config = SPConfig(entity_id=SP_ID, acs_url=ACS, slo_url=SLO)
    sp = ServiceProvider(
        config, parse_idp_metadata(saml_idp.metadata_xml(), now=saml_now), MemoryStore(), clock=FixedClock(saml_now)
    )
    app = App(sp)
    client = signed_in(app, saml_login)
    response = sign_out(client)
    assert response.status_code == 303
    assert response.headers["Location"] == "/bye"


def test_single_logout_can_be_switched_off(sp: ServiceProvider, saml_login: Any) -> None:
    app = App(sp)
    app.app.extensions["fedlib"].single_logout = False
    client = signed_in(app, saml_login)
    assert sign_out(client).headers["Location"] == "/bye"


# ---- IdP-initiated -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("binding", [BINDING_HTTP_REDIRECT, BINDING_HTTP_POST])
@pytest.mark.parametrize("partial", [False, True])
def test_idp_initiated_logout_is_answered(
    sp: ServiceProvider, saml_idp: TestIdP, saml_login: Any, binding: str, partial: bool
) -> None:
    app = App(sp, partial=partial)
    client = signed_in(app, saml_login)
    if binding == BINDING_HTTP_REDIRECT:
        url = saml_idp.logout_request_url(SLO, USER, relay_state="idp-state")
        response = client.get("/saml/logout?" + urlsplit(url).query)
        assert response.status_code == 302
        info = saml_idp.receive_logout_response(response.headers["Location"])
    else:
        form = saml_idp.logout_request_post(SLO, USER, relay_state="idp-state")
        response = client.post("/saml/logout", data=dict(form.fields))
        assert response.status_code == 200
        info = saml_idp.receive_logout_response(form=form_fields(response.get_data(as_text=True)))
    assert client.get("/").get_data(as_text=True) == "user=None app=None"
    assert [e.kind for e in app.events] == ["idp-request"]
    assert info.relay_state == "idp-state"
    assert info.issuer == SP_ID
    assert info.destination == saml_idp.slo_url
    assert info.status_codes == ((STATUS_SUCCESS, STATUS_PARTIAL_LOGOUT) if partial else (STATUS_SUCCESS,))


def test_idp_initiated_request_for_another_user_ends_nothing_and_is_refused(
    sp: ServiceProvider, saml_idp: TestIdP, saml_login: Any
) -> None:
    app = App(sp)
    client = signed_in(app, saml_login)
    url = saml_idp.logout_request_url(SLO, "mallory@example.org")
    assert client.get("/saml/logout?" + urlsplit(url).query).status_code == 403
    assert client.get("/").get_data(as_text=True) == f"user={USER} app=ada"
    assert app.events == []


def test_sp_metadata_lists_exactly_the_served_slo_bindings(sp: ServiceProvider) -> None:
    app = App(sp)
    xml = app.app.test_client().get("/saml/metadata").get_data(as_text=True)
    services = re.findall(r'<md:SingleLogoutService Binding="([^"]+)" Location="([^"]+)"', xml)
    assert sorted(services) == sorted([(BINDING_HTTP_REDIRECT, SLO), (BINDING_HTTP_POST, SLO)])


@pytest.mark.parametrize(
    "fields",
    [{"SAMLResponse": ""}, {"SAMLResponse": "%%%"}, {"SAMLResponse": "PHg+PC94Pg=="}, {"SAMLResponse": "a" * 9}],
)
def test_junk_logout_responses_are_4xx_and_end_nothing(
    sp: ServiceProvider, saml_login: Any, fields: dict[str, str]
) -> None:
    app = App(sp)
    client = signed_in(app, saml_login)
    assert client.post("/saml/logout", data=fields).status_code == 403
    assert client.get("/saml/logout", query_string=fields).status_code == 403
    assert client.get("/").get_data(as_text=True) == f"user={USER} app=ada"


def test_a_hook_response_replaces_the_redirect_after_the_idp_answers(
    sp: ServiceProvider, saml_idp: TestIdP, saml_login: Any
) -> None:
    app = App(sp)
    saml = app.app.extensions["fedlib"]

    @saml.on_logout
    def end(event: LogoutEvent) -> Any:
        if event.kind == "idp-response":
            assert event.result is not None
            return f"goodbye ({event.result.response.status})"
        return PARTIAL  # ignored for a local logout, and for an answer

    client = signed_in(app, saml_login)
    info = saml_idp.receive_logout_request(sign_out(client).headers["Location"])
    page = deliver(client, saml_idp.answer_logout(info, SLO, partial=True))
    assert page.status_code == 200
    assert page.get_data(as_text=True) == "goodbye (partial)"
