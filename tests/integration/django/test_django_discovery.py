"""The discovery page through the Django adapter (issue #10 §6): several IdPs and /saml/login without
?idp= answer a page listing them instead of a 400; the chosen one logs in."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from html import unescape
from urllib.parse import quote

import pytest
from tests.integration.django.test_django import ACS, SP_ID, make_sp, new_client

from fedlib.discovery import DISCOVERY_CSP
from fedlib.integrations.django.site import site
from fedlib.metadata.idp import parse_idp_metadata
from fedlib.testing.idp import TestIdP

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_site() -> Iterator[None]:
    site.reset()
    yield
    site.reset()


def test_several_idps_get_a_discovery_page_and_the_chosen_one_logs_in(saml_idp: TestIdP, saml_now: datetime) -> None:
    other = TestIdP("https://other.example.test/saml")
    other.register_sp(SP_ID, ACS)
    sp = make_sp(saml_idp, saml_now)
    sp.update_idps([parse_idp_metadata(other.metadata_xml(), now=saml_now)])
    site.configure(service_provider=sp)
    client = new_client()
    page = client.get("/saml/login?next=/dashboard")
    assert page.status_code == 200
    assert page["Content-Security-Policy"] == DISCOVERY_CSP
    assert page["Cache-Control"] == "no-store"
    html = unescape(page.content.decode())
    assert "type='search'" in html  # the search box
    for idp in (saml_idp, other):
        assert f"href='/saml/login?idp={quote(idp.entity_id, safe='')}&next=%2Fdashboard'" in html
    started = client.get(f"/saml/login?idp={quote(other.entity_id, safe='')}&next=/dashboard")
    assert started.status_code == 302
    form = other.respond(other.receive_redirect(started["Location"]))
    response = client.post("/saml/acs", data=dict(form.fields))
    assert response.status_code == 303
    assert response["Location"] == "/dashboard"
    unknown = client.get("/saml/login?idp=" + quote("https://not-trusted.example/saml", safe=""))
    assert unknown.status_code == 400
