"""The Flask adapter's pages come from an overridable renderer (issue #12 §1: fedlib.web.Page)."""

from __future__ import annotations

from typing import Any

from flask import Flask

from fedlib.integrations.flask import FedLib
from fedlib.sp import ServiceProvider
from fedlib.web import Page


def test_render_page_replaces_the_403_page(saml_sp: ServiceProvider, saml_login: Any) -> None:
    pages: list[Page] = []

    def render(page: Page) -> str:
        pages.append(page)
        return f"<p>our page: {page.code}</p>"

    app = Flask(__name__)
    app.secret_key = "test-only"
    FedLib(app, service_provider=saml_sp, render_page=render)
    response = saml_login(app.test_client(), signing="assertion")
    assert response.status_code == 403
    assert response.get_data(as_text=True) == "<p>our page: assertion-only-signature</p>"
    assert pages[0].hint is not None
    assert "Signing Option" in pages[0].hint
