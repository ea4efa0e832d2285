"""Atomic trust swaps in a live ServiceProvider (certificate rotation without restart) and expired metadata."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from tests.metadata_support import binding_kwargs
from tests.unit.sp.test_service_provider import NOW, make_sp

from fedlib.config import SecurityPolicy
from fedlib.errors import ConfigurationError, ErrorCode, ResponseRejected, SignatureRejected
from fedlib.metadata.idp import parse_idp_metadata
from fedlib.sp import IdPConfig, LoginResult, ServiceProvider
from fedlib.testing import default_key, idp_metadata_xml
from fedlib.testing.idp import TestIdP

Pending = tuple[dict[str, str], dict[str, str]]
"""The IdP's answer to an SP-initiated login and the finish_login arguments of the browser that started it."""


def sp_login(sp: ServiceProvider, idp: TestIdP) -> Pending:
    login = sp.start_login(now=NOW)
    assert login.url is not None
    return dict(idp.respond(idp.receive_redirect(login.url), now=NOW).fields), binding_kwargs(login)


def finish(sp: ServiceProvider, pending: Pending, now: datetime = NOW) -> LoginResult:
    return sp.finish_login(pending[0], now=now, **pending[1])  # type: ignore[arg-type]


def rejected(sp: ServiceProvider, pending: Pending, now: datetime = NOW) -> ErrorCode:
    with pytest.raises(ResponseRejected) as info:
        finish(sp, pending, now)
    return info.value.code


def test_rotation_takes_effect_without_restart() -> None:
    idp = TestIdP()
    sp = make_sp(idp)
    old, new = idp.key, default_key(label="rotated")
    idp.key = new
    assert rejected(sp, sp_login(sp, idp)) == ErrorCode.UNTRUSTED_CERTIFICATE
    # the refreshed metadata lists both (rollover), then only the new one
    sp.update_idps([parse_idp_metadata(idp.metadata_xml(extra_certificates=[old.certificate]), now=NOW)])
    assert finish(sp, sp_login(sp, idp)).authn.name_id
    sp.update_idps([parse_idp_metadata(idp.metadata_xml(), now=NOW)])
    idp.key = old
    assert rejected(sp, sp_login(sp, idp)) == ErrorCode.UNTRUSTED_CERTIFICATE


def test_update_keeps_the_idp_policy_and_can_remove() -> None:
    idp = TestIdP()
    sp = make_sp(idp)
    policy = SecurityPolicy(allow_unsolicited=True)
    sp.update_idps([IdPConfig(sp.idp().metadata, policy)])
    sp.update_idps([parse_idp_metadata(idp.metadata_xml(), now=NOW)])
    assert sp.idp().policy is policy
    other = parse_idp_metadata(
        idp_metadata_xml("https://other.example/", [default_key()], sso_url="https://other.example/sso"), now=NOW
    )
    sp.update_idps([other])
    assert set(sp.idps) == {idp.entity_id, "https://other.example/"}
    sp.update_idps(remove=["https://other.example/"])
    assert set(sp.idps) == {idp.entity_id}
    with pytest.raises(TypeError):
        sp.idps["x"] = sp.idp()  # type: ignore[index]


def test_expired_metadata_fails_closed_with_a_typed_error() -> None:
    idp = TestIdP()
    sp = make_sp(idp)
    expiry = NOW + timedelta(minutes=5)
    md = parse_idp_metadata(
        idp_metadata_xml(idp.entity_id, [idp.key], sso_url=f"{idp.base_url}/sso", valid_until=expiry), now=NOW
    )
    sp.update_idps([md])
    assert finish(sp, sp_login(sp, idp)).authn.name_id  # still valid
    pending = sp_login(sp, idp)
    later = expiry + timedelta(seconds=1)
    with pytest.raises(SignatureRejected) as info:
        finish(sp, pending, later)
    assert info.value.code == ErrorCode.IDP_METADATA_EXPIRED
    with pytest.raises(ConfigurationError, match="expired"):
        sp.start_login(now=later)


def test_unsolicited_login_with_expired_metadata_is_refused() -> None:
    idp = TestIdP()
    sp = make_sp(idp, allow_unsolicited=True)
    expiry = NOW + timedelta(minutes=1)
    sp.update_idps(
        [
            parse_idp_metadata(
                idp_metadata_xml(idp.entity_id, [idp.key], sso_url=f"{idp.base_url}/sso", valid_until=expiry),
                now=NOW,
            )
        ]
    )
    form = dict(idp.initiate(sp_entity_id=sp.config.entity_id, acs_url=sp.config.acs_url, now=NOW).fields)
    assert rejected(sp, (form, {}), now=expiry) == ErrorCode.IDP_METADATA_EXPIRED


def test_logins_in_threads_while_trust_is_swapped() -> None:
    """Logins keep one consistent snapshot: no exception other than the expected refusals, no mixed state."""
    idp = TestIdP()
    sp = make_sp(idp)
    old, new = idp.key, default_key(label="rotated")
    both = parse_idp_metadata(idp.metadata_xml(extra_certificates=[new.certificate]), now=NOW)
    only_old = parse_idp_metadata(idp.metadata_xml(), now=NOW)
    forms = [sp_login(sp, idp) for _ in range(40)]  # signed with the old key: valid under both snapshots
    stop = threading.Event()
    errors: list[BaseException] = []

    def swapper() -> None:
        while not stop.is_set():
            sp.update_idps([both])
            sp.update_idps([only_old])

    def login(pending: Pending) -> None:
        try:
            finish(sp, pending)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=swapper)
    thread.start()
    try:
        workers = [threading.Thread(target=login, args=(f,)) for f in forms]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    finally:
        stop.set()
        thread.join()
    assert errors == []
    assert old is not new


def test_validate_response_refuses_expired_metadata_before_verifying() -> None:
    """The core check: every caller of validate_response (the ServiceProvider, the CLI, direct users) refuses
    a Response once the IdP metadata it was given is past its validUntil."""
    import dataclasses

    from tests.support import NOW as WORLD_NOW
    from tests.support import World

    from fedlib.validation.pipeline import validate_response

    w = World()
    message = w.mint()
    expired = dataclasses.replace(w.idp, valid_until=WORLD_NOW)
    with pytest.raises(SignatureRejected) as info:
        validate_response(message, sp=w.sp, idp=expired, now=WORLD_NOW, store=w.store)
    assert info.value.code == ErrorCode.IDP_METADATA_EXPIRED
    fresh = dataclasses.replace(w.idp, valid_until=WORLD_NOW + timedelta(seconds=1))
    assert validate_response(message, sp=w.sp, idp=fresh, now=WORLD_NOW, store=w.store).name_id
