"""Issue #10 §6 in Chromium: the example app trusts two IdPs, so /saml/login without ?idp= is the discovery
page; the search box filters as you type (its inline script runs under the page's CSP hash), and without
JavaScript the ?q= search does; clicking a name logs in through that IdP."""

from __future__ import annotations

from typing import Any

import pytest
from examples.flask_app.stack import Stack

pytestmark = pytest.mark.browser


def _wait(driver: Any, css: str) -> Any:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, 15).until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, css)))


def _visible_names(driver: Any) -> list[str]:
    from selenium.webdriver.common.by import By

    return [a.text for a in driver.find_elements(By.CSS_SELECTOR, "#fedlib-idps li a") if a.is_displayed()]


def test_discovery_page_filters_as_you_type_and_logs_in(stack: Stack, chromium: Any) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    driver = chromium()
    driver.get(stack.app_url + "/saml/login?next=/protected")
    box = _wait(driver, "#fedlib-idp-q")
    assert len(_visible_names(driver)) == 2
    entra = stack.idps["Test IdP as Entra ID (defaults)"]
    generic = stack.idps["Test IdP"]
    box.send_keys(generic.base_url.rsplit(":", 1)[1])  # the port: only in the generic IdP's entityID
    WebDriverWait(driver, 5).until(lambda d: len(_visible_names(d)) == 1)
    assert _visible_names(driver) == [generic.entity_id]  # no mdui in the test IdPs' metadata: the entityID
    assert entra.entity_id not in _visible_names(driver)
    driver.find_element("link text", generic.entity_id).click()
    _wait(driver, "button[value='grace@example.org']").click()
    assert _wait(driver, "#name-id").text == "grace@example.org"
    assert driver.current_url == stack.app_url + "/protected"


def test_discovery_page_search_without_javascript(stack: Stack, chromium: Any) -> None:
    driver = chromium(javascript=False)
    driver.get(stack.app_url + "/saml/login")
    box = _wait(driver, "#fedlib-idp-q")
    box.send_keys(stack.idps["Test IdP as Entra ID (defaults)"].base_url.rsplit(":", 1)[1])
    box.submit()
    _wait(driver, "#fedlib-idps")
    assert "q=" in driver.current_url
    assert _visible_names(driver) == [stack.idps["Test IdP as Entra ID (defaults)"].entity_id]
