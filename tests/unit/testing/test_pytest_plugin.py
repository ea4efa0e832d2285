"""The pytest plugin loads in a fresh project (via the pytest11 entry point) and its fixtures work."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

ENTRA_TEST = """
import pytest
from fedlib import ResponseRejected

def test_entra_default_is_refused(saml_idp_factory, saml_sp_factory):
    idp = saml_idp_factory(profile="entra")
    sp = saml_sp_factory(idp)
    login = sp.start_login()
    form = idp.respond(idp.receive_redirect(login.url))
    with pytest.raises(ResponseRejected) as refused:
        sp.finish_login(form.fields)
    assert refused.value.code == "assertion-only-signature"
    assert "Sign SAML response and assertion" in refused.value.message
"""

FIXTURES_TEST = """
import pytest
from fedlib import ResponseRejected

def test_login_round_trip(saml_idp, saml_sp):
    login = saml_sp.start_login(relay_state="/after")
    form = saml_idp.respond(saml_idp.receive_redirect(login.url), "grace@example.org")
    result = saml_sp.finish_login(form.fields, browser_binding=login.browser_binding)
    assert result.authn.name_id == "grace@example.org"
    assert result.relay_state == "/after"
    with pytest.raises(ResponseRejected) as again:
        saml_sp.finish_login(form.fields, browser_binding=login.browser_binding)
    assert again.value.code == "unknown-request"

def test_another_browser_cannot_finish_the_login(saml_idp, saml_sp):
    login = saml_sp.start_login()
    form = saml_idp.respond(saml_idp.receive_redirect(login.url))
    with pytest.raises(ResponseRejected) as refused:
        saml_sp.finish_login(form.fields)
    assert refused.value.code == "browser-mismatch"

def test_saml_response_is_unsolicited_by_default(saml_sp, saml_response):
    with pytest.raises(ResponseRejected) as refused:
        saml_sp.finish_login({"SAMLResponse": saml_response()})
    assert refused.value.code == "unsolicited-not-allowed"

def test_knobs_reach_the_idp(saml_sp_factory, saml_idp, saml_now):
    sp = saml_sp_factory(saml_idp, allow_unsolicited=True)
    form = saml_idp.initiate(sp.config.entity_id, sp.config.acs_url, key_info="none")
    with pytest.raises(ResponseRejected) as refused:
        sp.finish_login(form.fields)
    assert refused.value.code == "missing-certificate"
    ok = sp.finish_login(saml_idp.initiate(sp.config.entity_id, sp.config.acs_url).fields)
    assert ok.authn.not_on_or_after > saml_now
"""


FLASK_LOGIN_TEST = """
import flask
from fedlib import ResponseRejected

def make_app(sp):
    app = flask.Flask(__name__)

    @app.get("/saml/login")
    def login():
        started = sp.start_login(relay_state="/home")
        response = flask.redirect(started.url)
        cookie = started.binding_cookie
        response.set_cookie(cookie.name, cookie.value, max_age=cookie.max_age, path=cookie.path,
                            secure=cookie.secure, httponly=cookie.http_only, samesite=cookie.same_site)
        return response

    @app.post("/saml/acs")
    def acs():
        try:
            result = sp.finish_login(flask.request.form, browser_binding=flask.request.cookies)
        except ResponseRejected as exc:
            return exc.code, 403
        return f"{result.authn.name_id} -> {result.relay_state}"

    return app

def test_full_login_through_the_test_client(saml_sp, saml_login):
    response = saml_login(make_app(saml_sp).test_client(), user="grace@example.org")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "grace@example.org -> /home"

def test_knobs_through_the_test_client(saml_sp, saml_login):
    response = saml_login(make_app(saml_sp).test_client(), signing="assertion")
    assert response.status_code == 403
    assert response.get_data(as_text=True) == "assertion-only-signature"
"""


@pytest.mark.parametrize(
    "source", [ENTRA_TEST, FIXTURES_TEST, FLASK_LOGIN_TEST], ids=["entra-10-lines", "fixtures", "flask-client"]
)
def test_plugin_in_a_fresh_project(pytester: pytest.Pytester, source: str) -> None:
    pytester.makepyfile(test_user_project=source)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0, result.stdout.str()
    assert outcomes["passed"] == source.count("def test_")
