"""Issue #10 §6: /saml/login without ?idp= shows a discovery page when the SP trusts several IdPs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from html import unescape
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, session
from lxml import html as lxml_html

from fedlib.discovery import DISCOVERY_CSP
from fedlib.integrations.flask import SESSION_KEY, FedLib
from fedlib.metadata.idp import parse_idp_metadata
from fedlib.sp import ServiceProvider
from fedlib.testing.idp import TestIdP

SECOND = "https://second.example.test/saml"


def make_app(sp: ServiceProvider) -> Flask:
    app = Flask(__name__)
    app.secret_key = "test-only"

    @app.get("/dashboard")
    def dashboard() -> str:
        user = session.get(SESSION_KEY)
        return f"dashboard {user['issuer']}" if user else "anonymous"

    FedLib(app, service_provider=sp)
    return app


def two_idp_sp(
    saml_idp: TestIdP, saml_idp_factory: Callable[..., TestIdP], saml_sp: ServiceProvider, saml_now: datetime
) -> TestIdP:
    second = saml_idp_factory(entity_id=SECOND)
    second.register_sp(saml_sp.config.entity_id, saml_sp.config.acs_url)
    saml_sp.update_idps([parse_idp_metadata(second.metadata_xml(), now=saml_now)])
    return second


def test_several_idps_get_a_discovery_page_and_the_chosen_one_logs_in(
    saml_idp: TestIdP, saml_idp_factory: Callable[..., TestIdP], saml_sp: ServiceProvider, saml_now: datetime
) -> None:
    second = two_idp_sp(saml_idp, saml_idp_factory, saml_sp, saml_now)
    client = make_app(saml_sp).test_client()
    page = client.get("/saml/login?next=/dashboard")
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Content-Security-Policy"] == DISCOVERY_CSP
    doc = lxml_html.fromstring(page.get_data(as_text=True))
    hrefs = {a.text_content(): unescape(a.get("href")) for a in doc.xpath("//ul[@id='fedlib-idps']/li/a")}
    assert set(hrefs) == {saml_idp.entity_id, SECOND}
    chosen = hrefs[SECOND]
    assert chosen.startswith("/saml/login?idp=")
    started = client.get(chosen)
    assert started.status_code in (302, 303)
    form = second.respond(second.receive_redirect(started.headers["Location"]))
    done = client.post(urlsplit(form.action).path, data=dict(form.fields))
    assert done.status_code in (302, 303)
    assert done.headers["Location"].endswith("/dashboard")
    assert client.get("/dashboard").get_data(as_text=True) == f"dashboard {SECOND}"


def test_discovery_page_search_and_unsafe_next(
    saml_idp: TestIdP, saml_idp_factory: Callable[..., TestIdP], saml_sp: ServiceProvider, saml_now: datetime
) -> None:
    two_idp_sp(saml_idp, saml_idp_factory, saml_sp, saml_now)
    client = make_app(saml_sp).test_client()
    page = client.get("/saml/login?q=second&next=https://evil.example/")
    assert page.status_code == 200
    doc = lxml_html.fromstring(page.get_data(as_text=True))
    hrefs = [a.get("href") for a in doc.xpath("//ul[@id='fedlib-idps']/li/a")]
    assert len(hrefs) == 1
    assert "second.example.test" in hrefs[0]
    assert "evil" not in page.get_data(as_text=True)


def test_an_idp_that_is_not_trusted_is_still_refused(
    saml_idp: TestIdP, saml_idp_factory: Callable[..., TestIdP], saml_sp: ServiceProvider, saml_now: datetime
) -> None:
    two_idp_sp(saml_idp, saml_idp_factory, saml_sp, saml_now)
    response = make_app(saml_sp).test_client().get("/saml/login?idp=https://evil.example/idp")
    assert response.status_code == 400


def test_a_single_idp_still_redirects_straight_away(saml_sp: ServiceProvider, saml_login: Any) -> None:
    response = make_app(saml_sp).test_client().get("/saml/login")
    assert response.status_code in (302, 303)


def test_a_step_up_option_is_kept_through_the_discovery_page(
    saml_idp: TestIdP, saml_idp_factory: Callable[..., TestIdP], saml_sp: ServiceProvider, saml_now: datetime
) -> None:
    from fedlib.integrations.flask import LoginOptions

    two_idp_sp(saml_idp, saml_idp_factory, saml_sp, saml_now)
    app = Flask(__name__)
    app.secret_key = "test-only"
    FedLib(app, service_provider=saml_sp, login_options={"mfa": LoginOptions(force_authn=True)})
    client = app.test_client()
    page = client.get("/saml/login?authn=mfa&next=/admin")
    assert page.status_code == 200
    doc = lxml_html.fromstring(page.get_data(as_text=True))
    for a in doc.xpath("//ul[@id='fedlib-idps']/li/a"):
        assert "authn=mfa" in a.get("href")
    assert doc.xpath("//form//input[@name='authn']/@value") == ["mfa"]
    assert client.get("/saml/login?authn=nope").status_code == 400  # unknown option: refused, not listed
