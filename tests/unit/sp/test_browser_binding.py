"""Browser binding (login CSRF): a Response is accepted only from the browser that started its request."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fedlib import binding
from fedlib.config import SecurityPolicy, SPConfig
from fedlib.constants import BINDING_HTTP_POST
from fedlib.errors import ConfigurationError, ErrorCode, ProtocolRejected, ResponseRejected
from fedlib.metadata.idp import parse_idp_metadata
from fedlib.sp import LoginRequest, ServiceProvider
from fedlib.stores.memory import MemoryStore
from fedlib.testing.idp import TestIdP

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
ACS = "https://app.example.test/saml/acs"


def make_sp(idp: TestIdP, acs: str = ACS, **policy: object) -> ServiceProvider:
    entity = acs.rsplit("/", 1)[0] + "/metadata"
    idp.register_sp(entity, acs)
    return ServiceProvider(
        SPConfig(entity_id=entity, acs_url=acs, policy=SecurityPolicy(**policy)),  # type: ignore[arg-type]
        parse_idp_metadata(idp.metadata_xml(), now=NOW),
        MemoryStore(),
    )


def answer(idp: TestIdP, login: LoginRequest) -> dict[str, str]:
    assert login.url is not None
    return dict(idp.respond(idp.receive_redirect(login.url), now=NOW).fields)


def refused(sp: ServiceProvider, form: dict[str, str], presented: object) -> ResponseRejected:
    with pytest.raises(ResponseRejected) as info:
        sp.finish_login(form, browser_binding=presented, now=NOW)  # type: ignore[arg-type]
    return info.value


def test_the_starting_browser_completes_its_login() -> None:
    idp = TestIdP()
    sp = make_sp(idp)
    login = sp.start_login(now=NOW)
    result = sp.finish_login(answer(idp, login), browser_binding=login.browser_binding, now=NOW)
    assert result.solicited
    assert result.authn.name_id == "ada@example.org"


def test_missing_binding_is_browser_mismatch() -> None:
    """Login CSRF: the attacker's Response posted from a victim's browser that never started a login."""
    idp = TestIdP()
    sp = make_sp(idp)
    login = sp.start_login(now=NOW)
    error = refused(sp, answer(idp, login), None)
    assert error.code == ErrorCode.BROWSER_MISMATCH == "browser-mismatch"
    assert isinstance(error, ProtocolRejected)
    assert "start the login again in this browser" in error.message
    assert login.browser_binding not in str(error)
    assert login.browser_binding not in (error.detail or "")


def test_missing_cookie_is_browser_mismatch() -> None:
    idp = TestIdP()
    sp = make_sp(idp)
    login = sp.start_login(now=NOW)
    assert refused(sp, answer(idp, login), {"session": "x"}).code == ErrorCode.BROWSER_MISMATCH
    assert refused(sp, answer(idp, sp.start_login(now=NOW)), {}).code == ErrorCode.BROWSER_MISMATCH


def test_another_browsers_secret_is_browser_mismatch() -> None:
    """The victim's browser has its own pending login: its secret does not unlock the attacker's request."""
    idp = TestIdP()
    sp = make_sp(idp)
    attackers = sp.start_login(now=NOW)
    victims = sp.start_login(now=NOW)
    assert attackers.browser_binding != victims.browser_binding
    assert refused(sp, answer(idp, attackers), victims.browser_binding).code == ErrorCode.BROWSER_MISMATCH
    # ... nor does the victim's cookie jar, which holds only the victim's request's cookie.
    assert victims.binding_cookie is not None
    jar = {victims.binding_cookie.name: victims.binding_cookie.value}
    assert refused(sp, answer(idp, sp.start_login(now=NOW)), jar).code == ErrorCode.BROWSER_MISMATCH


def test_a_refused_binding_uses_up_the_request() -> None:
    """Checked after the pending request is consumed: the right browser cannot reuse it afterwards."""
    idp = TestIdP()
    sp = make_sp(idp)
    login = sp.start_login(now=NOW)
    form = answer(idp, login)
    assert refused(sp, form, "x" * 43).code == ErrorCode.BROWSER_MISMATCH
    assert refused(sp, form, login.browser_binding).code == ErrorCode.UNKNOWN_REQUEST


def test_cookie_jar_of_the_starting_browser_is_accepted_and_the_cookie_is_cleared() -> None:
    idp = TestIdP()
    sp = make_sp(idp)
    login = sp.start_login(now=NOW)
    cookie = login.binding_cookie
    assert cookie is not None
    assert cookie.value == login.browser_binding
    jar = {"session": "other", cookie.name: cookie.value}
    result = sp.finish_login(answer(idp, login), browser_binding=jar, now=NOW)
    assert result.clear_cookie == binding.expired_cookie(cookie.name)
    assert result.clear_cookie.max_age == 0
    assert result.clear_cookie.value == ""
    assert (result.clear_cookie.secure, result.clear_cookie.path) == (True, "/")  # __Host- needs both to clear


def test_two_concurrent_logins_in_one_browser_complete_in_any_order() -> None:
    idp = TestIdP()
    sp = make_sp(idp)
    first, second = sp.start_login(now=NOW), sp.start_login(now=NOW)
    assert first.binding_cookie is not None
    assert second.binding_cookie is not None
    assert first.binding_cookie.name != second.binding_cookie.name  # tabs never overwrite each other
    jar = {c.name: c.value for c in (first.binding_cookie, second.binding_cookie)}
    form_1, form_2 = answer(idp, first), answer(idp, second)
    assert sp.finish_login(form_2, browser_binding=jar, now=NOW).solicited
    assert sp.finish_login(form_1, browser_binding=jar, now=NOW).solicited


def test_only_the_hash_of_the_secret_is_stored() -> None:
    idp = TestIdP()
    sp = make_sp(idp)
    login = sp.start_login(now=NOW)
    stored = sp.store.consume(f"request:{login.request_id}", now=NOW)
    assert stored is not None
    assert login.browser_binding not in stored
    # ["l1", idp, relay_state, acs_url, browser, authn_context]
    assert json.loads(stored)[4] == hashlib.sha256(login.browser_binding.encode()).hexdigest()


def test_secrets_are_fresh_and_high_entropy() -> None:
    idp = TestIdP()
    sp = make_sp(idp)
    secrets = {sp.start_login(now=NOW).browser_binding for _ in range(50)}
    assert len(secrets) == 50
    assert all(len(s) >= 43 and binding.is_valid_secret(s) for s in secrets)


def test_a_caller_may_bring_its_own_secret_but_not_a_weak_one() -> None:
    idp = TestIdP()
    sp = make_sp(idp)
    mine = binding.new_secret()
    login = sp.start_login(browser_binding=mine, now=NOW)
    assert login.browser_binding == mine
    assert sp.finish_login(answer(idp, login), browser_binding=mine, now=NOW).solicited
    for weak in ("", "short", "x" * 31, "has space" * 5, "é" * 40, "x" * 129):
        with pytest.raises(ConfigurationError):
            sp.start_login(browser_binding=weak, now=NOW)


def test_unsolicited_responses_are_unaffected() -> None:
    """IdP-initiated logins answer no request, so there is nothing to bind (see allow_unsolicited)."""
    idp = TestIdP()
    sp = make_sp(idp, allow_unsolicited=True)
    form = dict(idp.initiate(sp.config.entity_id, sp.config.acs_url, now=NOW).fields)
    result = sp.finish_login(form, now=NOW)
    assert not result.solicited
    assert result.clear_cookie is None


def test_post_binding_is_bound_too() -> None:
    idp = TestIdP()
    sp = make_sp(idp)
    login = sp.start_login(binding=BINDING_HTTP_POST, now=NOW)
    assert login.form_html is not None
    assert login.binding_cookie is not None
    assert login.browser_binding not in login.form_html  # the secret never goes to the IdP


def test_cookie_attributes_follow_the_acs_scheme_and_the_request_lifetime() -> None:
    idp = TestIdP()
    https = make_sp(idp).start_login(now=NOW).binding_cookie
    assert https is not None
    assert https.name.startswith("__Host-fedlib-login-")
    assert (https.path, https.secure, https.http_only, https.same_site, https.max_age) == ("/", True, True, "None", 600)
    assert https.header().endswith("; Max-Age=600; Path=/; Secure; HttpOnly; SameSite=None")
    idp_2 = TestIdP()
    sp = ServiceProvider(
        SPConfig(entity_id="http://127.0.0.1:5000/saml/metadata", acs_url="http://127.0.0.1:5000/saml/acs"),
        parse_idp_metadata(idp_2.metadata_xml(), now=NOW),
        MemoryStore(),
        request_lifetime=timedelta(minutes=3),
    )
    http = sp.start_login(now=NOW).binding_cookie
    assert http is not None
    assert http.name.startswith("fedlib-login-")
    assert not http.name.startswith("__")
    assert (http.secure, http.same_site, http.max_age) == (True, "None", 180)


def test_too_many_binding_cookies_are_cleared_before_a_new_one() -> None:
    names = [f"__Host-fedlib-login-{i:012x}" for i in range(binding.MAX_PENDING_COOKIES - 1)] + ["session"]
    assert binding.cookies_to_clear(names) == []
    names.append("fedlib-login-000000000000")
    cleared = binding.cookies_to_clear(names)
    assert len(cleared) == binding.MAX_PENDING_COOKIES
    assert all(c.max_age == 0 and binding.is_binding_cookie(c.name) for c in cleared)


@settings(max_examples=60, deadline=None)
@given(presented=st.one_of(st.none(), st.text(max_size=300), st.dictionaries(st.text(max_size=40), st.text())))
def test_anything_else_presented_is_browser_mismatch_never_a_crash(presented: object) -> None:
    idp = TestIdP()
    sp = make_sp(idp)
    login = sp.start_login(now=NOW)
    assert refused(sp, answer(idp, login), presented).code == ErrorCode.BROWSER_MISMATCH


@given(stored=st.one_of(st.none(), st.integers(), st.text(max_size=80)), secret=st.one_of(st.none(), st.text()))
def test_matches_is_total(stored: object, secret: str | None) -> None:
    assert binding.matches(stored, secret) is False or (
        isinstance(stored, str) and secret is not None and binding.secret_hash(secret) == stored
    )


@pytest.mark.parametrize(
    ("acs", "reaches"),
    [
        ("https://app.example.test/saml/acs", True),
        ("http://127.0.0.1:5000/saml/acs", True),
        ("http://localhost:5000/saml/acs", True),
        ("http://[::1]:5000/saml/acs", True),
        ("http://app.example.test/saml/acs", False),
        ("http://127.example.test/saml/acs", False),
    ],
)
def test_plain_http_only_works_on_loopback(acs: str, reaches: bool) -> None:
    assert binding.cookie_reaches_the_acs(acs) is reaches
