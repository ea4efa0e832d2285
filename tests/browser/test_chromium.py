"""Headless Chromium (Debian's chromium + chromium-driver, driven by Selenium) clicks through the example
app (http://127.0.0.1) and the test IdPs (http://localhost: another site, so the ACS POST is cross-site), all
real HTTP servers on the loopback interface. The flows that are the same in the Flask and the FastAPI example
(uvicorn) run against both (``app_stack``). Fixtures in conftest.py; login CSRF in test_login_csrf.py."""

from __future__ import annotations

import pytest
from examples.flask_app.stack import Stack

pytestmark = pytest.mark.browser


def _wait_for(driver: object, css: str) -> object:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, 15).until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, css)))


def _login_link(idp_base_url: str) -> str:
    """The home page's link for an IdP (its entity ID is URL-encoded in the href: match on the port)."""
    port = idp_base_url.rsplit(":", 1)[1]
    return f"a.login[href*='%3A{port}%2F']"


def _click(driver: object, css: str) -> None:
    element = _wait_for(driver, css)
    element.click()  # type: ignore[attr-defined]


def test_sp_initiated_login_shows_the_attributes(app_stack: Stack, browser: object) -> None:
    driver: object = browser
    driver.get(app_stack.app_url + "/")  # type: ignore[attr-defined]
    _click(driver, _login_link(app_stack.idps["Test IdP"].base_url))
    _click(driver, "button[value='grace@example.org']")  # the IdP's user picker
    table = _wait_for(driver, "#attributes")  # the auto-posted form lands on the protected page
    assert "staff" in table.text  # type: ignore[attr-defined]
    assert _wait_for(driver, "#name-id").text == "grace@example.org"  # type: ignore[attr-defined]
    assert driver.current_url == app_stack.app_url + "/protected"  # type: ignore[attr-defined]


def test_idp_initiated_login(app_stack: Stack, browser: object) -> None:
    driver: object = browser
    driver.get(app_stack.idps["Test IdP"].base_url + "/")  # type: ignore[attr-defined]
    _click(driver, "form[action='idp-initiated'] button")
    assert _wait_for(driver, "#name-id").text == "ada@example.org"  # type: ignore[attr-defined]


def test_assertion_only_idp_gets_the_403_page(app_stack: Stack, browser: object) -> None:
    driver: object = browser
    entra = app_stack.idps["Test IdP as Entra ID (defaults)"]
    driver.get(app_stack.app_url + "/")  # type: ignore[attr-defined]
    _click(driver, _login_link(entra.base_url))
    _click(driver, "button[value='ada@example.org']")
    code = _wait_for(driver, "#error-code")
    assert code.text == "assertion-only-signature"  # type: ignore[attr-defined]
    assert "Sign SAML response and assertion" in _wait_for(driver, "#error-hint").text  # type: ignore[attr-defined]


def _sign_in(driver: object, stack: Stack, who: str = "grace@example.org") -> None:
    driver.get(stack.app_url + "/")  # type: ignore[attr-defined]
    _click(driver, _login_link(stack.idps["Test IdP"].base_url))
    _click(driver, f"button[value='{who}']")
    assert _wait_for(driver, "#name-id").text == who  # type: ignore[attr-defined]


def _signed_out(driver: object, stack: Stack) -> bool:
    driver.get(stack.app_url + "/")  # type: ignore[attr-defined]
    return "This is the public page." in driver.page_source  # type: ignore[attr-defined]


def test_sign_out_is_a_post_form(app_stack: Stack, browser: object) -> None:
    driver: object = browser
    _sign_in(driver, app_stack)
    _click(driver, "form.fedlib-logout button")
    _wait_for(driver, "a.login")
    assert driver.current_url == app_stack.app_url + "/"  # type: ignore[attr-defined]
    assert _signed_out(driver, app_stack)


def test_old_sign_out_link_only_shows_the_form(app_stack: Stack, browser: object) -> None:
    driver: object = browser
    _sign_in(driver, app_stack)
    driver.get(app_stack.app_url + "/saml/logout")  # type: ignore[attr-defined]
    _wait_for(driver, "form.fedlib-logout button")
    driver.get(app_stack.app_url + "/")  # type: ignore[attr-defined]
    assert _wait_for(driver, "#name-id").text == "grace@example.org"  # type: ignore[attr-defined]  # still signed in
    driver.get(app_stack.app_url + "/saml/logout")  # type: ignore[attr-defined]
    _click(driver, "form.fedlib-logout button")
    _wait_for(driver, "a.login")
    assert _signed_out(driver, app_stack)


def test_forged_logout_post_from_another_origin_is_refused(app_stack: Stack, browser: object) -> None:
    driver: object = browser
    _sign_in(driver, app_stack)
    # A page of another origin (the IdP's port) posts a sign-out form to the app: no token, cross-origin.
    driver.get(app_stack.idps["Test IdP"].base_url + "/")  # type: ignore[attr-defined]
    driver.execute_script(  # type: ignore[attr-defined]
        "const f = document.createElement('form'); f.method = 'post'; f.action = arguments[0];"
        "document.body.appendChild(f); f.submit();",
        app_stack.app_url + "/saml/logout",
    )
    _wait_for(driver, "#error-hint")
    assert "Sign-out refused" in driver.page_source  # type: ignore[attr-defined]
    driver.get(app_stack.app_url + "/")  # type: ignore[attr-defined]
    assert _wait_for(driver, "#name-id").text == "grace@example.org"  # type: ignore[attr-defined]


def test_idp_logout_request_over_redirect_ends_the_session(app_stack: Stack, browser: object) -> None:
    driver: object = browser
    _sign_in(driver, app_stack)
    idp = app_stack.idps["Test IdP"]
    slo_url = app_stack.sp.config.slo_url
    assert slo_url is not None
    driver.get(idp.logout_request_url(slo_url, "ada@example.org"))  # type: ignore[attr-defined]  # another user
    assert _wait_for(driver, "#error-code").text == "logout-session-mismatch"  # type: ignore[attr-defined]
    driver.get(idp.logout_request_url(slo_url, "grace@example.org"))  # type: ignore[attr-defined]
    # The app answers with its signed LogoutResponse, which the test IdP verifies and shows.
    assert _wait_for(driver, "#logout-status").text == "Success"  # type: ignore[attr-defined]
    assert _signed_out(driver, app_stack)


def test_sign_out_is_single_logout_through_the_idp(app_stack: Stack, browser: object) -> None:
    """SP-initiated SLO: Sign out ends the local session, the signed LogoutRequest goes to the test IdP (which
    checks the SP's signature), and its signed LogoutResponse comes back and is accepted."""
    driver: object = browser
    _sign_in(driver, app_stack)
    idp = app_stack.idps["Test IdP"]
    seen: list[str] = []
    original = idp.receive_logout_request

    def spy(*args: object, **kwargs: object) -> object:
        info = original(*args, **kwargs)  # type: ignore[arg-type]
        seen.append(f"{info.name_id} signed={info.signed}")
        return info

    idp.receive_logout_request = spy  # type: ignore[method-assign]
    try:
        _click(driver, "form.fedlib-logout button")
        _wait_for(driver, "a.login")
    finally:
        del idp.receive_logout_request
    assert seen == ["grace@example.org signed=True"]
    assert driver.current_url == app_stack.app_url + "/"  # type: ignore[attr-defined]
    assert _signed_out(driver, app_stack)


def test_idp_initiated_logout_ends_the_sp_session(app_stack: Stack, browser: object) -> None:
    """IdP-initiated SLO: the IdP's signed LogoutRequest (HTTP-Redirect) ends the app's session, and the app's
    signed LogoutResponse (Success) comes back to the IdP."""
    driver: object = browser
    _sign_in(driver, app_stack, "ada@example.org")
    driver.get(app_stack.idps["Test IdP"].base_url + "/")  # type: ignore[attr-defined]
    _click(driver, "form[action='logout-initiated'] input[value='ada@example.org'] ~ button")
    assert _wait_for(driver, "#logout-status").text == "Success"  # type: ignore[attr-defined]
    assert _signed_out(driver, app_stack)
