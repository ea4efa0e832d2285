"""Headless Chromium logs in to the example app (http://127.0.0.1) through a real IdP product on
http://localhost (another site): SimpleSAMLphp on Debian 12, pysaml2's IdP where its venv exists; each test
runs once per IdP this machine has and the terminal summary names them (``-m realidp`` runs these and
tests/realidp alone). The IdPs are configured by :mod:`fedlib.testing.realidp`; users ``ada`` (MFA,
admin) and ``grace`` (password, reader). Ready for the MFA, attribute-map and logout slices."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from examples.flask_app.stack import Stack, build_stack
from tests.browser.test_chromium import _click, _login_link, _wait_for
from tests.conftest import note_real_idp, require_real_idp

from fedlib.testing.realidp import EDUPERSON_OIDS, KINDS, USERS, IdPUser

pytestmark = [pytest.mark.browser, pytest.mark.realidp]


@pytest.fixture(scope="module", params=KINDS)
def real_stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The demo stack plus one real IdP (module-scoped: one IdP start per kind)."""
    kind = request.param
    require_real_idp(kind)
    running = build_stack(tmp_path_factory.mktemp(f"demo-{kind}"), real_idp=kind)
    assert running.real_idp is not None
    note_real_idp(kind, running.real_idp.product)
    running.start()
    try:
        yield running
    finally:
        running.stop()


def _fill_login_form(driver: object, user: IdPUser) -> None:
    """The IdP's own login page (SimpleSAMLphp's loginuserpass, or pysaml2 front's form)."""
    from selenium.webdriver.common.keys import Keys

    _wait_for(driver, "input[name='username']").send_keys(user.username)  # type: ignore[attr-defined]
    password = _wait_for(driver, "input[name='password']")
    password.send_keys(user.password + Keys.ENTER)  # type: ignore[attr-defined]


def _assert_protected_page_shows(driver: object, stack: Stack, user: IdPUser) -> None:
    table = _wait_for(driver, "#attributes")  # the IdP's auto-posted form lands on the protected page
    text = table.text  # type: ignore[attr-defined]
    for name, values in user.attributes.items():
        assert EDUPERSON_OIDS[name] in text
        for value in values:
            assert value in text
    assert stack.real_idp is not None
    assert f"(from {stack.real_idp.entity_id})" in driver.page_source  # type: ignore[attr-defined]


@pytest.mark.parametrize("user", USERS, ids=[u.username for u in USERS])
def test_sp_initiated_login(real_stack: Stack, browser: object, user: IdPUser) -> None:
    driver: object = browser
    assert real_stack.real_idp is not None
    driver.get(real_stack.app_url + "/")  # type: ignore[attr-defined]
    _click(driver, _login_link(real_stack.real_idp.base_url))
    _fill_login_form(driver, user)
    _assert_protected_page_shows(driver, real_stack, user)
    assert driver.current_url == real_stack.app_url + "/protected"  # type: ignore[attr-defined]


def test_idp_initiated_login(real_stack: Stack, browser: object) -> None:
    driver: object = browser
    idp = real_stack.real_idp
    assert idp is not None
    driver.get(idp.idp_initiated_url(real_stack.sp.config.entity_id))  # type: ignore[attr-defined]
    _fill_login_form(driver, USERS[1])
    _wait_for(driver, "#name-id")  # signed in (no RelayState: the app's home page)
    driver.get(real_stack.app_url + "/protected")  # type: ignore[attr-defined]
    _assert_protected_page_shows(driver, real_stack, USERS[1])


def _sign_in(driver: object, stack: Stack, user: IdPUser, *, mfa: bool = False) -> None:
    """Home page -> the real IdP's button (``mfa``: the "(with MFA)" one, ``?authn=mfa``) -> its login form."""
    assert stack.real_idp is not None
    driver.get(stack.app_url + "/")  # type: ignore[attr-defined]
    link = _login_link(stack.real_idp.base_url)
    _click(driver, link.replace("a.login", "a.login-mfa") if mfa else link)
    _fill_login_form(driver, user)


def _shows_no_user(driver: object, stack: Stack) -> None:
    """The protected page has no user any more: it sends the browser to the public home page."""
    driver.get(stack.app_url + "/protected")  # type: ignore[attr-defined]
    _wait_for(driver, "a.login")
    assert driver.current_url == stack.app_url + "/"  # type: ignore[attr-defined]
    assert "name-id" not in driver.page_source  # type: ignore[attr-defined]


def test_mfa_login_option_refuses_a_password_only_login(real_stack: Stack, browser: object) -> None:
    """``?authn=mfa`` asks for the REFEDS MFA profile; the real IdP logs ``grace`` in with a password only
    (it ignores the request, as IdPs may), and the ACS refuses that: the 403 page with the code."""
    driver: object = browser
    _sign_in(driver, real_stack, USERS[1], mfa=True)
    assert _wait_for(driver, "#error-code").text == "authn-context-not-satisfied"  # type: ignore[attr-defined]
    assert driver.current_url == real_stack.app_url + "/saml/acs"  # type: ignore[attr-defined]
    _shows_no_user(driver, real_stack)


@pytest.mark.parametrize(
    ("user", "mfa", "roles"), [(USERS[0], True, "admin"), (USERS[1], False, "reader")], ids=["ada-mfa", "grace"]
)
def test_attribute_map_grants_roles_from_entitlements(
    real_stack: Stack, browser: object, user: IdPUser, mfa: bool, roles: str
) -> None:
    """The SP's ``eduperson`` map with role rules on eduPersonEntitlement: the protected page shows the role.
    ``ada`` signs in with the MFA option, which her MFA login satisfies."""
    driver: object = browser
    _sign_in(driver, real_stack, user, mfa=mfa)
    _assert_protected_page_shows(driver, real_stack, user)
    assert _wait_for(driver, "#roles").text == roles  # type: ignore[attr-defined]


def test_sign_out_is_single_logout_at_the_real_idp(real_stack: Stack, browser: object) -> None:
    """SP-initiated SLO: Sign out -> signed LogoutRequest to the real IdP -> its signed LogoutResponse back
    to /saml/logout (verified by fedlib) -> the home page reports the IdP's answer; the session is gone at
    the app and at the IdP (the next login asks for the password again)."""
    driver: object = browser
    assert real_stack.app is not None
    assert real_stack.real_idp is not None
    events: list[tuple[str, str | None]] = real_stack.app.config["LOGOUT_EVENTS"]
    _sign_in(driver, real_stack, USERS[0])
    name_id = _wait_for(driver, "#name-id").text  # type: ignore[attr-defined]
    seen = len(events)
    _click(driver, "form.fedlib-logout button")
    assert _wait_for(driver, "#signed-out").text == "success"  # type: ignore[attr-defined]
    assert driver.current_url == real_stack.app_url + "/"  # type: ignore[attr-defined]
    assert events[seen:] == [("local", name_id), ("idp-response", None)]
    _shows_no_user(driver, real_stack)
    _click(driver, _login_link(real_stack.real_idp.base_url))  # the IdP's session ended too
    _wait_for(driver, "input[name='password']")


def test_logout_at_the_idp_ends_the_app_session(real_stack: Stack, browser: object) -> None:
    """IdP-initiated SLO: logging out at the real IdP sends a signed LogoutRequest to /saml/logout
    (HTTP-Redirect); fedlib matches it to this browser's session, ends it, runs the on_logout hook and
    answers with a signed LogoutResponse, which the IdP verifies before it sends the browser on (ReturnTo)."""
    driver: object = browser
    idp = real_stack.real_idp
    assert real_stack.app is not None
    assert idp is not None
    events: list[tuple[str, str | None]] = real_stack.app.config["LOGOUT_EVENTS"]
    _sign_in(driver, real_stack, USERS[1])
    name_id = _wait_for(driver, "#name-id").text  # type: ignore[attr-defined]
    seen = len(events)
    driver.get(idp.logout_url)  # type: ignore[attr-defined]  # returns once the redirects have ended
    # The IdP verified the app's signed LogoutResponse and sent the browser on to its logged-out page.
    assert driver.current_url.split("?")[0] == idp.logged_out_url  # type: ignore[attr-defined]
    assert events[seen:] == [("idp-request", name_id)]
    _shows_no_user(driver, real_stack)
