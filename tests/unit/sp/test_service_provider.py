"""ServiceProvider: pending requests consumed once, tenants isolated, RelayState never an open redirect."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fedlib.config import SecurityPolicy, SPConfig
from fedlib.constants import BINDING_HTTP_POST
from fedlib.errors import ConfigurationError, ErrorCode, ResponseRejected
from fedlib.metadata.idp import parse_idp_metadata
from fedlib.sp import ServiceProvider, safe_relay_state
from fedlib.stores.memory import MemoryStore
from fedlib.stores.prefixed import PrefixedStore
from fedlib.testing.idp import TestIdP

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def make_sp(idp: TestIdP, tenant: str = "a", store: MemoryStore | None = None, **policy: object) -> ServiceProvider:
    entity = f"https://{tenant}.example.test/saml/metadata"
    acs = f"https://{tenant}.example.test/saml/acs"
    idp.register_sp(entity, acs)
    return ServiceProvider(
        SPConfig(entity_id=entity, acs_url=acs, policy=SecurityPolicy(**policy)),  # type: ignore[arg-type]
        parse_idp_metadata(idp.metadata_xml(), now=NOW),
        store or MemoryStore(),
        tenant=tenant,
    )


def sp_login(sp: ServiceProvider, idp: TestIdP, **kw: object) -> tuple[dict[str, str], str]:
    """The IdP's answer to an SP-initiated login, and the browser secret of the browser that started it."""
    login = sp.start_login(now=NOW, **kw)  # type: ignore[arg-type]
    assert login.url is not None
    return dict(idp.respond(idp.receive_redirect(login.url), now=NOW).fields), login.browser_binding


def rejected(sp: ServiceProvider, form: dict[str, str], now: datetime = NOW, browser: str | None = None) -> ErrorCode:
    with pytest.raises(ResponseRejected) as info:
        sp.finish_login(form, browser_binding=browser, now=now)
    return info.value.code


def test_sp_initiated_round_trip_keeps_relay_state_server_side() -> None:
    idp = TestIdP()
    sp = make_sp(idp)
    form, browser = sp_login(sp, idp, relay_state="/reports?x=1")
    assert form["RelayState"] != "/reports?x=1"  # only an opaque reference travels
    form["RelayState"] = "https://evil.example/"  # what comes back is ignored
    result = sp.finish_login(form, browser_binding=browser, now=NOW)
    assert (result.relay_state, result.solicited, result.authn.name_id) == ("/reports?x=1", True, "ada@example.org")


def test_request_is_consumed_once() -> None:
    idp = TestIdP()
    sp = make_sp(idp)
    form, browser = sp_login(sp, idp)
    sp.finish_login(form, browser_binding=browser, now=NOW)
    assert rejected(sp, form, browser=browser) == ErrorCode.UNKNOWN_REQUEST


def test_second_response_to_the_same_request_is_refused() -> None:
    idp = TestIdP()
    sp = make_sp(idp)
    login = sp.start_login(now=NOW)
    assert login.url is not None
    request = idp.receive_redirect(login.url)
    first, second = idp.respond(request, now=NOW), idp.respond(request, now=NOW)
    sp.finish_login(dict(first.fields), browser_binding=login.browser_binding, now=NOW)
    assert rejected(sp, dict(second.fields), browser=login.browser_binding) == ErrorCode.UNKNOWN_REQUEST


def test_expired_request_is_unknown() -> None:
    idp = TestIdP()
    sp = make_sp(idp)
    form, browser = sp_login(sp, idp)
    assert rejected(sp, form, now=NOW + timedelta(minutes=11), browser=browser) == ErrorCode.UNKNOWN_REQUEST


def test_invented_in_response_to_is_unknown() -> None:
    idp = TestIdP()
    sp = make_sp(idp)
    form = dict(idp.respond(idp.receive_post(_request_b64(sp)), now=NOW).fields)
    assert rejected(sp, form) == ErrorCode.UNKNOWN_REQUEST


def _request_b64(sp: ServiceProvider) -> str:
    import base64

    from fedlib.protocol.authn_request import build_authn_request

    request = build_authn_request(sp.config, "https://idp.example.test/saml/sso", now=NOW)
    return base64.b64encode(request.xml).decode()


def test_a_rejected_response_still_uses_up_the_request() -> None:
    """Consumed before validation: a forged answer cannot be followed by a second try on the same request."""
    idp = TestIdP()
    sp = make_sp(idp)
    login = sp.start_login(now=NOW)
    assert login.url is not None
    request = idp.receive_redirect(login.url)
    bad = idp.respond(request, now=NOW, signing="assertion")
    assert rejected(sp, dict(bad.fields), browser=login.browser_binding) == ErrorCode.ASSERTION_ONLY_SIGNATURE
    good = idp.respond(request, now=NOW)
    assert rejected(sp, dict(good.fields), browser=login.browser_binding) == ErrorCode.UNKNOWN_REQUEST


def test_tenants_sharing_a_store_and_an_idp_never_accept_each_others_responses() -> None:
    idp = TestIdP()
    shared = MemoryStore()
    a = make_sp(idp, "a", shared, allow_unsolicited=True)
    b = make_sp(idp, "b", shared, allow_unsolicited=True)
    form_for_a, browser = sp_login(a, idp)
    assert rejected(b, form_for_a, browser=browser) == ErrorCode.UNKNOWN_REQUEST  # b never sent that request
    unsolicited_for_a = dict(idp.initiate(a.config.entity_id, a.config.acs_url, now=NOW).fields)
    assert rejected(b, unsolicited_for_a) in (ErrorCode.WRONG_DESTINATION, ErrorCode.WRONG_AUDIENCE)
    assert a.finish_login(form_for_a, browser_binding=browser, now=NOW).authn.name_id == "ada@example.org"


def test_unsolicited_relay_state_is_filtered() -> None:
    idp = TestIdP()
    sp = make_sp(idp, allow_unsolicited=True)
    for relay, expected in [("/home", "/home"), ("https://evil.example/", None), ("//evil.example", None)]:
        form = dict(idp.initiate(sp.config.entity_id, sp.config.acs_url, relay_state=relay, now=NOW).fields)
        assert sp.finish_login(form, now=NOW).relay_state == expected


def test_unsolicited_refused_by_default() -> None:
    idp = TestIdP()
    sp = make_sp(idp)
    form = dict(idp.initiate(sp.config.entity_id, sp.config.acs_url, now=NOW).fields)
    assert rejected(sp, form) == ErrorCode.UNSOLICITED_NOT_ALLOWED


def test_post_binding_start() -> None:
    idp = TestIdP()
    sp = make_sp(idp)
    login = sp.start_login(binding=BINDING_HTTP_POST, now=NOW)
    assert login.form_html is not None
    assert 'name="SAMLRequest"' in login.form_html


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/a/b?c=d", "/a/b?c=d"),
        ("", None),
        (None, None),
        ("//evil.example/x", None),
        ("/\\evil.example", None),
        ("javascript:alert(1)", None),
        ("https://app.example.test/x", "https://app.example.test/x"),
        ("https://APP.example.test/x", "https://APP.example.test/x"),
        ("https://app.example.test.evil.example/", None),
        ("/a\r\nLocation: x", None),
        ("http://app.example.test/x", None),
    ],
)
def test_safe_relay_state(value: str | None, expected: str | None) -> None:
    assert safe_relay_state(value, ["https://app.example.test"]) == expected


def test_app_relay_state_must_be_safe_too() -> None:
    idp = TestIdP()
    sp = make_sp(idp)
    with pytest.raises(ConfigurationError):
        sp.start_login(relay_state="https://evil.example/", now=NOW)


def test_prefixed_store_framing_prevents_collisions() -> None:
    inner = MemoryStore()
    until = NOW + timedelta(minutes=1)
    assert PrefixedStore(inner, "a").add(":b:x", expires_at=until, now=NOW)
    assert PrefixedStore(inner, "a:b").add(":x", expires_at=until, now=NOW)
    assert PrefixedStore(inner, "a").consume(":b:x", now=NOW) == ""
    assert PrefixedStore(inner, "a:b").consume(":x", now=NOW) == ""
