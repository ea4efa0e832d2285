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
