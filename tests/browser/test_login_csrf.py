"""Login CSRF in real headless Chromium: each SP-initiated login is bound to the browser that started it.

The app is on http://127.0.0.1 and the test IdPs on http://localhost, two different sites, so the IdP's
POST to the ACS is genuinely cross-site: the binding cookie only comes along because it is
``SameSite=None; Secure`` (Chromium keeps Secure cookies on plain http for loopback hosts). A Response
captured in one browser profile and posted from another (the attacker's Response in the victim's browser)
is refused with ``browser-mismatch``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from examples.flask_app.stack import HOST, IDP_HOST, Stack

from fedlib.binding import is_binding_cookie

pytestmark = pytest.mark.browser


def _wait_for(driver: Any, css: str) -> Any:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, 15).until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, css)))


def _start_login(driver: Any, stack: Stack) -> None:
    """From the app's home page, click "Sign in with Test IdP": lands on the IdP's user picker."""
    port = stack.idps["Test IdP"].base_url.rsplit(":", 1)[1]
    driver.get(stack.app_url + "/")
    _wait_for(driver, f"a.login[href*='%3A{port}%2F']").click()
    _wait_for(driver, "button[name='user']")
    assert driver.current_url.startswith(f"http://{IDP_HOST}:")


def _binding_cookies(driver: Any) -> list[dict[str, Any]]:
    cookies = driver.execute_cdp_cmd("Network.getAllCookies", {})["cookies"]
    return [c for c in cookies if is_binding_cookie(c["name"])]


def _capture_response(driver: Any, user: str) -> tuple[str, dict[str, str]]:
    """Pick ``user`` at the IdP in a browser without JavaScript: the Response form stays on screen instead
    of auto-posting. Returns its action (the ACS) and fields, as an attacker would copy them."""
    from selenium.webdriver.common.by import By

    _wait_for(driver, f"button[value='{user}']").click()
    # Wait for the Response form itself: the user picker is a POST form too, and may still be on screen.
    _wait_for(driver, "form[method='post'] input[name='SAMLResponse']")
    form = _wait_for(driver, "form[method='post']")
    fields = {i.get_attribute("name"): i.get_attribute("value") for i in form.find_elements(By.CSS_SELECTOR, "input")}
    return form.get_attribute("action"), fields


def _post_from_another_site(driver: Any, stack: Stack, action: str, fields: dict[str, str]) -> None:
    """What an attacker's page does: auto-post a form to the ACS from another site (here the IdP's host)."""
    driver.get(stack.idps["Test IdP"].base_url + "/")
    driver.execute_script(
        "const f = document.createElement('form'); f.method = 'post'; f.action = arguments[0];"
        "for (const [k, v] of Object.entries(arguments[1])) {"
        "  const i = document.createElement('input'); i.type = 'hidden'; i.name = k; i.value = v; f.appendChild(i);"
        "}"
        "document.body.appendChild(f); f.submit();",
        action,
        fields,
    )


def test_the_stack_is_cross_site(stack: Stack) -> None:
    assert stack.app_url.startswith(f"http://{HOST}:")
    assert all(idp.base_url.startswith(f"http://{IDP_HOST}:") for idp in stack.idps.values())
    assert HOST != IDP_HOST  # different hosts are different sites (the port does not count)


def test_normal_login_carries_the_binding_cookie_cross_site_and_clears_it(stack: Stack, browser: Any) -> None:
    _start_login(browser, stack)
    (cookie,) = _binding_cookies(browser)
    assert (cookie["domain"], cookie["path"]) == (HOST, "/")
    assert (cookie["httpOnly"], cookie["secure"], cookie["sameSite"]) == (True, True, "None")
    browser.find_element("css selector", "button[value='grace@example.org']").click()
    assert _wait_for(browser, "#name-id").text == "grace@example.org"
    assert browser.current_url == stack.app_url + "/protected"
    assert _binding_cookies(browser) == []  # cleared at the ACS


def test_a_response_posted_from_another_browser_is_refused(stack: Stack, chromium: Callable[..., Any]) -> None:
    """The attacker logs in with their own account in browser A and has the victim's browser B post it."""
    attacker = chromium(javascript=False)
    _start_login(attacker, stack)
    action, fields = _capture_response(attacker, "grace@example.org")
    assert action == stack.app_url + "/saml/acs"
    assert set(fields) >= {"SAMLResponse", "RelayState"}

    victim = chromium()
    _post_from_another_site(victim, stack, action, fields)
    assert _wait_for(victim, "#error-code").text == "browser-mismatch"
    assert "start the login again in this browser" in _wait_for(victim, "#error-hint").text
    victim.get(stack.app_url + "/")
    assert victim.find_elements("css selector", "#name-id") == []  # the victim is not signed in

    # Control: the same capture in the browser that started the login, posted from there, signs in.
    _start_login(attacker, stack)
    _capture_response(attacker, "ada@example.org")
    attacker.find_element("css selector", "#continue").click()  # the IdP's no-JavaScript button: cross-site
    assert _wait_for(attacker, "#name-id").text == "ada@example.org"


def test_two_tabs_with_concurrent_logins_both_complete(stack: Stack, browser: Any) -> None:
    _start_login(browser, stack)
    first_tab = browser.current_window_handle
    browser.switch_to.new_window("tab")
    _start_login(browser, stack)
    assert len(_binding_cookies(browser)) == 2  # one per pending login
    browser.find_element("css selector", "button[value='grace@example.org']").click()
    assert _wait_for(browser, "#name-id").text == "grace@example.org"
    assert len(_binding_cookies(browser)) == 1  # the other tab's login is still pending
    browser.switch_to.window(first_tab)
    browser.find_element("css selector", "button[value='ada@example.org']").click()
    assert _wait_for(browser, "#name-id").text == "ada@example.org"
    assert _binding_cookies(browser) == []
