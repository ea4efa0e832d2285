"""The test IdP's WSGI app, driven with Werkzeug's test client as a browser would drive it."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import urlsplit

from werkzeug.test import Client

from fedlib.config import SecurityPolicy, SPConfig
from fedlib.metadata.idp import parse_idp_metadata
from fedlib.sp import ServiceProvider
from fedlib.stores.memory import MemoryStore
from fedlib.testing.idp import TestIdP
from fedlib.testing.wsgi import TestIdPApp

SP = "https://sp.example.test/saml/metadata"
ACS = "https://sp.example.test/saml/acs"


def _fields(page: str) -> dict[str, str]:
    return {unescape(n): unescape(v) for n, v in re.findall(r'name="([^"]+)" value="([^"]*)"', page)}


def _setup() -> tuple[TestIdP, Client, ServiceProvider]:
    idp = TestIdP("https://idp.example.test/saml")
    idp.register_sp(SP, ACS)
    from datetime import UTC, datetime

    md = parse_idp_metadata(idp.metadata_xml(), now=datetime.now(UTC))
    sp = ServiceProvider(
        SPConfig(entity_id=SP, acs_url=ACS, policy=SecurityPolicy(allow_unsolicited=True)), md, MemoryStore()
    )
    return idp, Client(TestIdPApp(idp)), sp


def test_metadata() -> None:
    idp, client, _ = _setup()
    response = client.get("/metadata")
    assert response.status_code == 200
    assert response.data == idp.metadata_xml()


def test_sp_initiated_login_through_the_pages() -> None:
    _, client, sp = _setup()
    login = sp.start_login(relay_state="/dashboard")
    assert login.url is not None
    page = client.get("/sso?" + urlsplit(login.url).query)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Grace Hopper" in text
    token = re.search(r"name='token' value='([^']+)'", text)
    assert token is not None
    posted = client.post("/sso/login", data={"token": token.group(1), "user": "grace@example.org"})
    form = posted.get_data(as_text=True)
    assert f'action="{ACS}"' in form
    result = sp.finish_login(_fields(form), browser_binding=login.browser_binding)
    assert result.authn.name_id == "grace@example.org"
    assert result.relay_state == "/dashboard"
    again = client.post("/sso/login", data={"token": token.group(1), "user": "grace@example.org"})
    assert again.status_code == 400


def test_idp_initiated_launcher() -> None:
    _, client, sp = _setup()
    launcher = client.get("/").get_data(as_text=True)
    assert "Log in to" in launcher
    posted = client.post("/idp-initiated", data={"sp": SP, "user": "ada@example.org", "relay": "/home"})
    result = sp.finish_login(_fields(posted.get_data(as_text=True)))
    assert result.authn.name_id == "ada@example.org"
    assert result.relay_state == "/home"


def test_bad_requests_get_a_page_not_a_crash() -> None:
    _, client, _ = _setup()
    assert client.get("/sso?SAMLRequest=%%%").status_code == 400
    assert client.get("/sso").status_code == 400
    assert client.post("/sso", data={"SAMLRequest": "bm90IHhtbA=="}).status_code == 400
    assert client.get("/nope").status_code == 404
    html = client.post("/idp-initiated", data={"sp": "<script>x</script>"}).get_data(as_text=True)
    assert "<script>x" not in html
