"""finish_login validates first, then consumes the pending request and records the assertion in one atomic
store operation (issue #9). Every property of the consume-first order it replaced still holds."""

from __future__ import annotations

import base64
import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fedlib.config import SecurityPolicy, SPConfig
from fedlib.errors import ErrorCode, ResponseRejected, StoreError
from fedlib.metadata.idp import parse_idp_metadata
from fedlib.sp import LoginResult, ServiceProvider
from fedlib.stores import MemoryStore, SQLiteStore
from fedlib.stores.prefixed import PrefixedStore
from fedlib.testing.idp import TestIdP
from fedlib.validation.pipeline import ReplayEntry, validate_parsed_response, validate_response

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
ENTITY = "https://a.example.test/saml/metadata"
ACS = "https://a.example.test/saml/acs"
ACS2 = "https://a.example.test/saml/acs2"


class CountingStore:
    """A MemoryStore that records every call (name and first key)."""

    def __init__(self, inner: Any = None) -> None:
        self.inner = inner if inner is not None else MemoryStore()
        self.calls: list[str] = []

    def add(self, key: str, **kw: Any) -> bool:
        self.calls.append("add")
        return bool(self.inner.add(key, **kw))

    def consume(self, key: str, **kw: Any) -> str | None:
        self.calls.append("consume")
        result: str | None = self.inner.consume(key, **kw)
        return result

    def consume_and_add(self, consume_key: str, add_key: str, **kw: Any) -> tuple[str | None, bool]:
        self.calls.append("consume_and_add")
        result: tuple[str | None, bool] = self.inner.consume_and_add(consume_key, add_key, **kw)
        return result

    def close(self) -> None:
        self.inner.close()


def make_sp(idps: TestIdP | list[TestIdP], store: Any = None, **policy: Any) -> ServiceProvider:
    idps = idps if isinstance(idps, list) else [idps]
    for idp in idps:
        idp.register_sp(ENTITY, ACS)
    return ServiceProvider(
        SPConfig(entity_id=ENTITY, acs_url=ACS, additional_acs_urls=(ACS2,), policy=SecurityPolicy(**policy)),
        [parse_idp_metadata(idp.metadata_xml(), now=NOW) for idp in idps],
        store if store is not None else MemoryStore(),
        tenant="a",
    )


def answer(idp: TestIdP, request_id: str | None, acs: str = ACS, **kw: Any) -> dict[str, str]:
    xml = idp.response_xml(sp_entity_id=ENTITY, acs_url=acs, in_response_to=request_id, now=NOW, **kw)
    return {"SAMLResponse": base64.b64encode(xml).decode()}


def code_of(sp: ServiceProvider, form: dict[str, str], browser: str | None, now: datetime = NOW) -> ErrorCode:
    with pytest.raises(ResponseRejected) as info:
        sp.finish_login(form, browser_binding=browser, now=now)
    return info.value.code


def test_one_store_operation_per_login() -> None:
    idp = TestIdP()
    store = CountingStore()
    sp = make_sp(idp, store)
    login = sp.start_login(now=NOW)
    assert store.calls == ["add"]
    result = sp.finish_login(answer(idp, login.request_id), browser_binding=login.browser_binding, now=NOW)
    assert result.solicited
    assert result.authn.name_id == "ada@example.org"
    assert store.calls == ["add", "consume_and_add"]  # before issue #9: add, consume, add


def test_the_replay_key_is_outside_the_tenant_and_the_request_inside() -> None:
    idp = TestIdP()
    shared = MemoryStore()
    sp = make_sp(idp, shared)
    login = sp.start_login(now=NOW)
    form = answer(idp, login.request_id)
    sp.finish_login(form, browser_binding=login.browser_binding, now=NOW)
    entry = _replay_entry(sp, form)
    assert shared.add(entry.key, expires_at=entry.expires_at, now=NOW) is False  # recorded in the base store
    # Another tenant's request with the same ID is in its own view: a's login did not consume it.
    view_b = PrefixedStore(shared, "tenant:b")
    assert view_b.add(f"request:{login.request_id}", expires_at=NOW + HOUR, now=NOW, value="b's")
    assert view_b.consume(f"request:{login.request_id}", now=NOW) == "b's"


def test_the_pipeline_can_hand_the_replay_entry_back() -> None:
    idp = TestIdP()
    sp = make_sp(idp)
    idp_config = next(iter(sp.idps.values()))
    from fedlib._xml.parse import decode_message, parse_xml

    store = CountingStore()
    form = answer(idp, None)
    deferred: list[ReplayEntry] = []
    root = parse_xml(decode_message(form["SAMLResponse"], max_bytes=10**6), max_bytes=10**6)
    policy = SecurityPolicy(allow_unsolicited=True)
    config = SPConfig(entity_id=ENTITY, acs_url=ACS, policy=policy)
    authn = validate_parsed_response(
        root, sp=config, idp=idp_config.metadata, now=NOW, store=store, defer_replay=deferred
    )  # type: ignore[arg-type]
    assert store.calls == []  # nothing written
    (entry,) = deferred
    assert authn.assertion_id in entry.key
    assert entry.key.startswith("replay:")
    assert entry.expires_at > NOW
    # the default still records it (and refuses a second use)
    validate_response(form["SAMLResponse"], sp=config, idp=idp_config.metadata, now=NOW, store=store)  # type: ignore[arg-type]
    assert store.calls == ["add"]
    assert store.inner.add(entry.key, expires_at=entry.expires_at, now=NOW) is False
    with pytest.raises(ResponseRejected) as info:
        validate_response(form["SAMLResponse"], sp=config, idp=idp_config.metadata, now=NOW, store=store)  # type: ignore[arg-type]
    assert info.value.code == ErrorCode.REPLAYED


def test_a_response_whose_request_was_consumed_is_refused_and_records_nothing() -> None:
    idp = TestIdP()
    store = CountingStore()
    sp = make_sp(idp, store)
    login = sp.start_login(now=NOW)
    request = idp.receive_redirect(login.url or "")
    first, second = answer(idp, request.id), answer(idp, request.id)
    sp.finish_login(first, browser_binding=login.browser_binding, now=NOW)
    assert code_of(sp, second, login.browser_binding) == ErrorCode.UNKNOWN_REQUEST
    # The second (valid, never used) assertion was not recorded: nothing pending, nothing written.
    entry = _replay_entry(sp, second)
    assert store.inner.add(entry.key, expires_at=entry.expires_at, now=NOW) is True


def _replay_entry(sp: ServiceProvider, form: dict[str, str]) -> ReplayEntry:
    from fedlib._xml.parse import decode_message, parse_xml

    deferred: list[ReplayEntry] = []
    root = parse_xml(decode_message(form["SAMLResponse"], max_bytes=10**6), max_bytes=10**6)
    config = SPConfig(entity_id=ENTITY, acs_url=ACS, policy=SecurityPolicy(allow_unsolicited=True))
    irt = root.get("InResponseTo")
    validate_parsed_response(
        root,
        sp=config,
        idp=next(iter(sp.idps.values())).metadata,
        now=NOW,
        store=MemoryStore(),
        request_id=irt,
        defer_replay=deferred,
    )
    return deferred[0]


def test_a_forged_post_burns_the_request_with_its_own_code() -> None:
    idp = TestIdP()
    sp = make_sp(idp)
    login = sp.start_login(now=NOW)
    genuine = answer(idp, login.request_id)
    xml = base64.b64decode(genuine["SAMLResponse"]).replace(b"ada@example.org", b"eve@example.org")
    forged = {"SAMLResponse": base64.b64encode(xml).decode()}
    assert code_of(sp, forged, login.browser_binding) == ErrorCode.INVALID_SIGNATURE
    # consumed by the forged post: the genuine answer can no longer use it
    assert code_of(sp, genuine, login.browser_binding) == ErrorCode.UNKNOWN_REQUEST


def test_a_forged_post_for_no_pending_request_is_unknown_request() -> None:
    idp = TestIdP()
    sp = make_sp(idp)
    genuine = answer(idp, "_never-sent")
    xml = base64.b64decode(genuine["SAMLResponse"]).replace(b"ada@example.org", b"eve@example.org")
    assert code_of(sp, {"SAMLResponse": base64.b64encode(xml).decode()}, None) == ErrorCode.UNKNOWN_REQUEST
    assert code_of(sp, genuine, None) == ErrorCode.UNKNOWN_REQUEST


def test_a_response_from_an_untrusted_issuer_burns_the_request() -> None:
    trusted, stranger = TestIdP(), TestIdP("https://stranger.example.test/saml")
    sp = make_sp([trusted, TestIdP("https://second.example.test/saml")])
    login = sp.start_login(trusted.entity_id, now=NOW)
    stranger.register_sp(ENTITY, ACS)
    assert code_of(sp, answer(stranger, login.request_id), login.browser_binding) == ErrorCode.WRONG_ISSUER
    assert code_of(sp, answer(trusted, login.request_id), login.browser_binding) == ErrorCode.UNKNOWN_REQUEST


def test_the_request_must_name_the_idp_that_answered() -> None:
    """A valid Response from another configured IdP answering a request sent to the first one: the consumed
    request decides (as when validation used the request's IdP), and it is used up."""
    a, b = TestIdP(), TestIdP("https://b.example.test/saml")
    sp = make_sp([a, b])
    login = sp.start_login(a.entity_id, now=NOW)
    assert code_of(sp, answer(b, login.request_id), login.browser_binding) == ErrorCode.WRONG_ISSUER
    assert code_of(sp, answer(a, login.request_id), login.browser_binding) == ErrorCode.UNKNOWN_REQUEST


def test_the_request_must_name_the_acs_url_the_response_was_sent_to() -> None:
    idp = TestIdP()
    sp = make_sp(idp)
    login = sp.start_login(now=NOW)  # asks for the main ACS URL
    form = answer(idp, login.request_id, acs=ACS2)  # valid for this SP's second ACS URL
    assert code_of(sp, form, login.browser_binding) == ErrorCode.WRONG_DESTINATION
    assert code_of(sp, answer(idp, login.request_id), login.browser_binding) == ErrorCode.UNKNOWN_REQUEST


def test_the_browser_binding_is_the_consumed_requests() -> None:
    idp = TestIdP()
    sp = make_sp(idp)
    victim = sp.start_login(now=NOW)
    attacker = sp.start_login(now=NOW)
    form = answer(idp, victim.request_id)
    # The victim's Response posted from the attacker's browser (which holds its own, valid secret):
    assert code_of(sp, form, attacker.browser_binding) == ErrorCode.BROWSER_MISMATCH
    # consumed, and the assertion recorded: the victim's own post is refused too (as before issue #9)
    assert code_of(sp, form, victim.browser_binding) == ErrorCode.UNKNOWN_REQUEST
    login = sp.start_login(now=NOW)
    replay = {"SAMLResponse": form["SAMLResponse"]}
    assert code_of(sp, replay, login.browser_binding) == ErrorCode.UNKNOWN_REQUEST  # answers the victim's request


def test_one_assertion_answering_two_requests_is_a_replay_and_uses_up_the_second() -> None:
    idp = TestIdP()
    sp = make_sp(idp)
    login = sp.start_login(now=NOW)
    form = answer(idp, login.request_id)
    sp.finish_login(form, browser_binding=login.browser_binding, now=NOW)
    # Another pending request with the same ID cannot exist (random IDs); simulate one that a second
    # worker started with the same ID (e.g. a store restored from backup) to reach the replay check.
    again = sp.start_login(now=NOW)
    stored = sp.store.consume(f"request:{again.request_id}", now=NOW)
    assert stored is not None
    sp.store.add(f"request:{login.request_id}", expires_at=NOW + timedelta(minutes=5), now=NOW, value=stored)
    assert code_of(sp, form, again.browser_binding) == ErrorCode.REPLAYED
    assert sp.store.consume(f"request:{login.request_id}", now=NOW) is None  # used up


def _race(sp: ServiceProvider, forms: list[dict[str, str]], browser: str) -> list[object]:
    barrier = threading.Barrier(len(forms))
    outcomes: list[object] = []
    lock = threading.Lock()

    def post(form: dict[str, str]) -> None:
        barrier.wait(timeout=10)
        try:
            result: object = sp.finish_login(form, browser_binding=browser, now=NOW)
        except ResponseRejected as exc:
            result = exc.code
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=post, args=(form,)) for form in forms]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return outcomes


def test_concurrent_posts_answering_one_request_exactly_one_wins(tmp_path: Any) -> None:
    idp = TestIdP()
    for store in (MemoryStore(), SQLiteStore(tmp_path / "race.db")):
        sp = make_sp(idp, store)
        for _ in range(5):
            login = sp.start_login(now=NOW)
            form = answer(idp, login.request_id)
            other = answer(idp, login.request_id)  # a second valid answer to the same request
            outcomes = _race(sp, [form, other] * 3, login.browser_binding)
            assert sum(isinstance(o, LoginResult) for o in outcomes) == 1, outcomes
            assert outcomes.count(ErrorCode.UNKNOWN_REQUEST) == 5, outcomes
        store.close()


class _FailingAtomicStore(CountingStore):
    def consume_and_add(self, consume_key: str, add_key: str, **kw: Any) -> tuple[str | None, bool]:
        raise StoreError("store down")


def test_a_store_failure_accepts_nothing() -> None:
    idp = TestIdP()
    store = _FailingAtomicStore()
    sp = make_sp(idp, store)
    login = sp.start_login(now=NOW)
    with pytest.raises(StoreError):
        sp.finish_login(answer(idp, login.request_id), browser_binding=login.browser_binding, now=NOW)


def test_a_store_without_consume_and_add_still_works() -> None:
    idp = TestIdP()
    inner = MemoryStore()

    class Plain:
        def add(self, key: str, **kw: Any) -> bool:
            return inner.add(key, **kw)

        def consume(self, key: str, **kw: Any) -> str | None:
            return inner.consume(key, **kw)

        def close(self) -> None:
            pass

    sp = make_sp(idp, Plain())
    login = sp.start_login(now=NOW)
    form = answer(idp, login.request_id)
    assert sp.finish_login(form, browser_binding=login.browser_binding, now=NOW).solicited
    assert code_of(sp, form, login.browser_binding) == ErrorCode.UNKNOWN_REQUEST


@pytest.mark.parametrize(
    "stored",
    [
        "not json",
        "[]",
        '["l1", 1, null, "x", "h", null]',
        '["l1", "idp", null, "x", "h", ["bogus-comparison", "urn:x"]]',
        '["l1", "idp", null, "x", "h", ["exact"]]',
        '["l2", "idp", null, "x", "h", null]',
        '{"idp": 1}',
        '{"idp": "x", "authn_context": {"refs": "no"}}',
        "[" * 100_000,
    ],
)
def test_a_corrupt_pending_request_is_a_store_error(stored: str) -> None:
    idp = TestIdP()
    sp = make_sp(idp)
    login = sp.start_login(now=NOW)
    sp.store.consume(f"request:{login.request_id}", now=NOW)
    sp.store.add(f"request:{login.request_id}", expires_at=NOW + timedelta(minutes=5), now=NOW, value=stored)
    with pytest.raises(StoreError, match="unreadable"):
        sp.finish_login(answer(idp, login.request_id), browser_binding=login.browser_binding, now=NOW)


def test_a_request_stored_before_the_upgrade_still_finishes() -> None:
    """The JSON object the pending request was stored as before issue #9 (rolling upgrades)."""
    idp = TestIdP()
    sp = make_sp(idp)
    login = sp.start_login(now=NOW, relay_state="/here", requested_authn_context="urn:x:strong")
    stored = sp.store.consume(f"request:{login.request_id}", now=NOW)
    assert stored is not None
    new = json.loads(stored)
    assert new == ["l1", idp.entity_id, "/here", ACS, new[4], ["exact", "urn:x:strong"]]
    legacy = {
        "idp": idp.entity_id,
        "relay_state": "/here",
        "acs_url": ACS,
        "browser": new[4],
        "authn_context": {"refs": ["urn:x:strong"], "comparison": "exact"},
    }
    sp.store.add(f"request:{login.request_id}", expires_at=NOW + HOUR, now=NOW, value=json.dumps(legacy))
    # the requested context is still enforced
    assert code_of(sp, answer(idp, login.request_id), login.browser_binding) == ErrorCode.AUTHN_CONTEXT_NOT_SATISFIED
    login = sp.start_login(now=NOW, relay_state="/there")
    stored = sp.store.consume(f"request:{login.request_id}", now=NOW)
    assert stored is not None
    legacy = {"idp": idp.entity_id, "relay_state": "/there", "acs_url": ACS, "browser": json.loads(stored)[4]}
    sp.store.add(f"request:{login.request_id}", expires_at=NOW + HOUR, now=NOW, value=json.dumps(legacy))
    result = sp.finish_login(answer(idp, login.request_id), browser_binding=login.browser_binding, now=NOW)
    assert result.relay_state == "/there"
