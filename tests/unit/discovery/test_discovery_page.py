"""The discovery page renderer (issue #10 §6): names, escaping, safe next, server-side search."""

from __future__ import annotations

import base64
import hashlib
import re
from urllib.parse import parse_qs, urlsplit

from hypothesis import given
from hypothesis import strategies as st
from lxml import html as lxml_html

from fedlib.discovery import DISCOVERY_CSP, discovery_entries, render_discovery_page
from fedlib.metadata.idp import IdPMetadata
from fedlib.testing import default_key

CERT = default_key().certificate


def idp(entity_id: str, name: str | None = None) -> IdPMetadata:
    return IdPMetadata(entity_id=entity_id, signing_certificates=(CERT,), display_name=name)


IDPS = [
    idp("https://b.example.org/idp", "University of Bristol"),
    idp("https://a.example.org/idp", "Aalto University"),
    idp("https://c.example.org/idp"),
]


def links(page: str) -> list[tuple[str, dict[str, list[str]]]]:
    doc = lxml_html.fromstring(page)
    out = []
    for a in doc.xpath("//ul[@id='fedlib-idps']/li/a"):
        parts = urlsplit(a.get("href"))
        out.append((a.text_content(), parse_qs(parts.query)))
    return out


def test_lists_every_idp_by_name_sorted_entity_id_as_fallback() -> None:
    page = render_discovery_page(IDPS, login_url="/saml/login", next_url="/app")
    assert links(page) == [
        ("Aalto University", {"idp": ["https://a.example.org/idp"], "next": ["/app"]}),
        ("https://c.example.org/idp", {"idp": ["https://c.example.org/idp"], "next": ["/app"]}),
        ("University of Bristol", {"idp": ["https://b.example.org/idp"], "next": ["/app"]}),
    ]


def test_unsafe_next_is_dropped_from_links_and_form() -> None:
    for bad in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)", 42):
        page = render_discovery_page(IDPS, login_url="/saml/login", next_url=bad)
        assert all("next" not in q for _, q in links(page))
        assert "name='next'" not in page
    page = render_discovery_page(IDPS, login_url="/saml/login", next_url="/x?y=1")
    assert "<input type='hidden' name='next' value='/x?y=1'>" in page


def test_server_side_search() -> None:
    page = render_discovery_page(IDPS, login_url="/saml/login", query="  UNIVERSITY ")
    assert [name for name, _ in links(page)] == ["Aalto University", "University of Bristol"]
    page = render_discovery_page(IDPS, login_url="/saml/login", query="c.example")
    assert [name for name, _ in links(page)] == ["https://c.example.org/idp"]
    page = render_discovery_page(IDPS, login_url="/saml/login", query="nothing like it")
    assert links(page) == []
    assert "<p id='fedlib-no-match'>" in page
    assert len(discovery_entries(IDPS, query=["not", "a", "string"])) == 3  # type: ignore[arg-type]


def test_csp_hash_matches_the_inline_script_and_style() -> None:
    page = render_discovery_page(IDPS, login_url="/saml/login")
    for tag in ("script", "style"):
        body = re.search(rf"<{tag}>(.*?)</{tag}>", page, re.S)
        assert body is not None
        digest = base64.b64encode(hashlib.sha256(body.group(1).encode()).digest()).decode()
        assert f"'sha256-{digest}'" in DISCOVERY_CSP


@given(
    name=st.text(min_size=1, max_size=40),
    entity_id=st.text(min_size=1, max_size=40),
    query=st.text(max_size=20),
    next_url=st.text(max_size=20),
)
def test_anything_in_metadata_or_the_request_is_escaped(name: str, entity_id: str, query: str, next_url: str) -> None:
    page = render_discovery_page([idp(entity_id, name)], login_url="/saml/login", query=query, next_url=next_url)
    doc = lxml_html.fromstring(page)
    assert len(doc.xpath("//script")) == 1
    assert len(doc.xpath("//a")) <= 1
    assert len(doc.xpath("//input")) <= 2
    for a in doc.xpath("//a"):
        assert a.get("href").startswith("/saml/login?idp=")


def test_kept_parameters_ride_along_but_cannot_replace_idp_next_or_q() -> None:
    keep = {"authn": "mfa", "idp": "https://evil.example/idp", "next": "https://evil.example/", "q": "x"}
    page = render_discovery_page(IDPS, login_url="/saml/login", next_url="/app", keep=keep)
    for _, query in links(page):
        assert query["authn"] == ["mfa"]
        assert query["next"] == ["/app"]
        assert "evil" not in query["idp"][0]
    assert "evil" not in page
