"""``finish_login``'s common case decided without its helpers' calls (issue #9) decides exactly as before.

The reference is a ServiceProvider whose ``finish_login``, ``_finish_solicited``, ``_solicited_result``,
``_in_response_to_quirk`` and ``_unsolicited_idp`` (and ``_routing_hints``) are the previous code, verbatim
(docstrings left out). Both SPs get the same pending request (same key, same stored value) and the same
Response; then the same form is posted again and the request key is looked up. Across Destinations (main,
additional, foreign ACS URL), requested ACS URLs, per-IdP policies, requested and required authentication
contexts, attribute maps, ``now`` values (UTC, another zone, naive, a datetime subclass), presented bindings
and stores (a tenant's view over a MemoryStore, over another view, over a store without ``consume_and_add``),
every outcome is the same: the LoginResult, or the refusal's type, code, message and detail.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st
from lxml import etree

from fedlib import binding as _binding
from fedlib._xml.parse import decode_message, parse_xml
from fedlib.attributes import AttributeMap
from fedlib.authn_context import AuthnContextRequirement
from fedlib.clock import ensure_aware
from fedlib.config import SecurityPolicy, SPConfig
from fedlib.constants import SAML_ISSUER, SAMLP_RESPONSE
from fedlib.errors import ErrorCode, ResponseRejected, StoreError, reject
from fedlib.metadata.idp import parse_idp_metadata
from fedlib.protocol.models import AuthnResult
from fedlib.sp import (
    IdPConfig,
    LoginResult,
    ServiceProvider,
    _acs_url_hint,
    _PendingLogin,
    _request_key,
)
from fedlib.stores import MemoryStore
from fedlib.stores.base import consume_and_add
from fedlib.stores.prefixed import PrefixedStore, base_and_prefix
from fedlib.testing.idp import TestIdP
from fedlib.validation.pipeline import ReplayEntry, replayed, validate_parsed_response


def _parse(untrusted_message: str, max_bytes: int) -> etree._Element:
    """The previous ``fedlib.sp._parse`` (the reference path below reads the form with it)."""
    return parse_xml(decode_message(untrusted_message, max_bytes=max_bytes), max_bytes=max_bytes)


NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
ENTITY = "https://a.example.test/saml/metadata"
ACS = "https://a.example.test/saml/acs"
ACS2 = "https://a.example.test/saml/acs2"
SECRET = _binding.new_secret()
IDP = TestIdP()
IDP.register_sp(ENTITY, ACS)
METADATA = parse_idp_metadata(IDP.metadata_xml(), now=NOW)
SKEWLESS = SecurityPolicy(clock_skew=timedelta(0))


def _routing_hints(untrusted_root: etree._Element) -> tuple[str | None, str | None]:
    """The previous ``fedlib.sp._routing_hints`` (finish_login reads the hints inline since)."""
    if untrusted_root.tag != SAMLP_RESPONSE:
        return None, None
    first = untrusted_root[0] if len(untrusted_root) else None  # Issuer comes first in a Response
    issuer = first if first is not None and first.tag == SAML_ISSUER else untrusted_root.find(SAML_ISSUER)
    return untrusted_root.get("InResponseTo"), (issuer.text or "").strip() if issuer is not None else None


class _Reference(ServiceProvider):
    def finish_login(
        self,
        form: Mapping[str, str],
        *,
        browser_binding: str | Mapping[str, str] | None = None,
        now: datetime | None = None,
    ) -> LoginResult:
        now = ensure_aware(now) if now is not None else self.clock.now()
        untrusted_message = form.get("SAMLResponse")
        if not untrusted_message:
            raise reject(ErrorCode.MALFORMED_XML, "the POST carries no SAMLResponse")
        untrusted_root = _parse(untrusted_message, self.config.policy.max_message_bytes)
        untrusted_irt, untrusted_issuer = _routing_hints(untrusted_root)
        if untrusted_irt is None:
            return self._finish_unsolicited(form, untrusted_root, untrusted_issuer, now)
        if self._in_response_to_quirk(untrusted_issuer):
            return self._finish_consuming_first(
                form, untrusted_root, untrusted_irt, untrusted_issuer, browser_binding, now
            )
        return self._finish_solicited(untrusted_root, untrusted_irt, untrusted_issuer, browser_binding, now)

    def _finish_solicited(
        self,
        untrusted_root: etree._Element,
        untrusted_irt: str,
        untrusted_issuer: str | None,
        browser_binding: str | Mapping[str, str] | None,
        now: datetime,
    ) -> LoginResult:
        request_key = _request_key(untrusted_irt)
        try:
            idp = self._unsolicited_idp(untrusted_issuer)
            if idp is None:
                raise reject(ErrorCode.WRONG_ISSUER, "the Response comes from no IdP this site trusts")
            config = self._config_for(idp, _acs_url_hint(untrusted_root, self.config))
            deferred: list[ReplayEntry] = []
            authn = validate_parsed_response(
                untrusted_root,
                sp=config,
                idp=idp.metadata,
                now=now,
                store=self.store,
                request_id=untrusted_irt,
                defer_replay=deferred,
            )
        except Exception:
            # Refused: the request it names is consumed all the same (a forged post burns it, as before);
            # a request that was no longer pending is reported as such, as the consume-first order did.
            if self.store.consume(request_key, now=now) is None:
                raise self._unknown_request(untrusted_irt, untrusted_issuer) from None
            raise
        (entry,) = deferred
        base, prefix = base_and_prefix(self.store)
        stored, recorded = consume_and_add(base, prefix + request_key, entry.key, expires_at=entry.expires_at, now=now)
        if stored is None:
            raise self._unknown_request(untrusted_irt, untrusted_issuer)
        pending = _PendingLogin.decode(stored)
        if not recorded:
            raise replayed(authn.assertion_id)
        if pending.idp != idp.entity_id:
            raise reject(
                ErrorCode.WRONG_ISSUER,
                "the Response comes from another IdP than the one its login request was sent to",
                detail=f"InResponseTo {untrusted_irt[:100]!r}",
            )
        if (pending.acs_url if pending.acs_url is not None else self.config.acs_url) != config.acs_url:
            raise reject(
                ErrorCode.WRONG_DESTINATION,
                "the Response was sent to another ACS URL than the one its login request asked for",
                detail=f"InResponseTo {untrusted_irt[:100]!r}",
            )
        return self._solicited_result(idp, config, pending, authn, untrusted_irt, browser_binding)

    def _solicited_result(
        self,
        idp: IdPConfig,
        config: SPConfig,
        pending: _PendingLogin,
        authn: AuthnResult,
        request_id: str,
        browser_binding: str | Mapping[str, str] | None,
    ) -> LoginResult:
        name = _binding.cookie_name(config.acs_url, request_id)
        presented = browser_binding.get(name) if isinstance(browser_binding, Mapping) else browser_binding
        if not _binding.matches(pending.browser, presented):
            raise reject(
                ErrorCode.BROWSER_MISMATCH,
                "this login was not started in this browser (or the browser dropped its sign-in cookie); "
                "start the login again in this browser",
                detail=f"InResponseTo {request_id[:100]!r}: {'no' if presented is None else 'a wrong'} binding",
            )
        authn = self._authorize(idp, authn, pending.authn_context)
        return LoginResult(
            authn, pending.relay_state, idp.entity_id, solicited=True, clear_cookie=_binding.expired_cookie(name)
        )

    def _in_response_to_quirk(self, untrusted_issuer: str | None) -> bool:
        """The previous ``ServiceProvider._in_response_to_quirk`` (finish_login decides it inline since)."""
        idp = self._unsolicited_idp(untrusted_issuer)
        if idp is None:
            return False
        policy = idp.policy or self.config.policy
        return policy.allow_unsolicited and policy.allow_in_response_to_on_unsolicited

    def _unsolicited_idp(self, untrusted_issuer: str | None) -> IdPConfig | None:
        idp = self.idps.get(untrusted_issuer or "")
        if idp is None and len(self.idps) == 1:
            idp = next(iter(self.idps.values()))
        return idp


class _Sub(datetime):
    pass


class _NotAtomic:
    """A store without ``consume_and_add`` (stores.base.consume_and_add then consumes, then adds)."""

    def __init__(self) -> None:
        self.inner = MemoryStore()

    def add(self, key: str, **kw: Any) -> bool:
        return bool(self.inner.add(key, **kw))

    def consume(self, key: str, **kw: Any) -> str | None:
        result: str | None = self.inner.consume(key, **kw)
        return result

    def close(self) -> None:
        self.inner.close()


def _store(kind: str) -> Any:
    if kind == "memory":
        return MemoryStore()
    if kind == "view":
        return PrefixedStore(MemoryStore(), "outer")
    return _NotAtomic()


def _base_entries(store: Any) -> list[str]:
    """The keys in the MemoryStore under every view and wrapper (where the replay keys must land)."""
    while not isinstance(store, MemoryStore):
        store = store.inner
    return sorted(store._entries)


def _now(kind: str) -> datetime:
    if kind == "utc":
        return NOW
    if kind == "plus2":
        return NOW.astimezone(timezone(timedelta(hours=2)))
    if kind == "late":  # past the Response's lifetime, within the default clock skew (not a per-IdP zero one)
        return NOW + timedelta(minutes=6)
    if kind == "naive":
        return NOW.replace(tzinfo=None)
    return _Sub(2026, 6, 1, 12, 0, tzinfo=UTC)


def _outcome(sp: ServiceProvider, form: dict[str, str], presented: Any, now: datetime) -> object:
    try:
        return sp.finish_login(form, browser_binding=presented, now=now)
    except ResponseRejected as exc:
        return (type(exc), exc.code, str(exc), exc.detail)
    except (StoreError, ValueError, TypeError) as exc:
        return (type(exc), str(exc))


CASES = st.fixed_dictionaries(
    {
        "destination": st.sampled_from([ACS, ACS, ACS2, "https://elsewhere.example.test/acs"]),
        "pending_acs": st.sampled_from(["same", "same", "same", None, ACS, ACS2]),
        "pending_idp": st.sampled_from([IDP.entity_id] * 4 + ["https://other-idp.example.test"]),
        "pending_missing": st.sampled_from([False, False, False, False, True]),
        "idp_policy": st.sampled_from([None, None, SecurityPolicy(), SKEWLESS, SecurityPolicy(allow_unsolicited=True)]),
        "idp_mfa": st.sampled_from([False, False, True]),
        "sp_mfa": st.sampled_from([False, False, True]),
        "context": st.sampled_from(
            [
                None,
                None,
                AuthnContextRequirement((IDP.behaviour.authn_context_class_ref,)),
                AuthnContextRequirement(("urn:x",)),
            ]
        ),
        "attribute_map": st.sampled_from([None, None, AttributeMap(names={"email": "mail"})]),
        "now": st.sampled_from(["utc", "utc", "utc", "late", "plus2", "naive", "sub"]),
        "presented": st.sampled_from(["secret", "secret", "secret", "cookies", "wrong", "none"]),
        "browser_hash": st.sampled_from(["right", "right", "right", "", "x"]),
        "store": st.sampled_from(["memory", "memory", "view", "not-atomic"]),
        "relay": st.sampled_from([None, "/home"]),
    }
)


ACCEPTED: dict[str, Any] = {
    "destination": ACS,
    "pending_acs": None,
    "pending_idp": IDP.entity_id,
    "pending_missing": False,
    "idp_policy": None,
    "idp_mfa": False,
    "sp_mfa": False,
    "context": None,
    "attribute_map": None,
    "now": "utc",
    "presented": "secret",
    "browser_hash": "right",
    "store": "memory",
    "relay": "/home",
}


def _accepted(**changes: Any) -> dict[str, Any]:
    return {**ACCEPTED, **changes}


@settings(max_examples=200, deadline=None)
@given(CASES)
@example(_accepted())
@example(_accepted(store="view"))
@example(_accepted(store="not-atomic"))
@example(_accepted(presented="cookies"))
@example(_accepted(now="plus2"))
@example(_accepted(now="sub"))
@example(_accepted(destination=ACS2, pending_acs=ACS2))
@example(_accepted(destination=ACS2, pending_acs=None))
@example(_accepted(pending_acs=ACS))
@example(_accepted(idp_policy=SecurityPolicy()))
@example(_accepted(now="late"))
@example(_accepted(idp_policy=SKEWLESS, now="late"))
@example(_accepted(attribute_map=AttributeMap(names={"email": "mail"})))
@example(_accepted(context=AuthnContextRequirement((IDP.behaviour.authn_context_class_ref,))))
@example(_accepted(sp_mfa=True))
@example(_accepted(idp_mfa=True))
@example(_accepted(pending_missing=True))
@example(_accepted(presented="wrong"))
@example(_accepted(browser_hash=""))
def test_finish_login_decides_as_before(case: dict[str, Any]) -> None:
    request_id = "_" + "ab" * 16
    if case["pending_acs"] == "same":  # mostly the ACS URL the Response is sent to, so that most logins succeed
        case["pending_acs"] = None if case["destination"] == ACS else case["destination"]
    browser = {"right": _binding.secret_hash(SECRET), "": "", "x": "x"}[case["browser_hash"]]
    pending = _PendingLogin(case["pending_idp"], case["relay"], case["pending_acs"], browser, case["context"])
    xml = IDP.response_xml(sp_entity_id=ENTITY, acs_url=case["destination"], in_response_to=request_id, now=NOW)
    form = {"SAMLResponse": base64.b64encode(xml).decode(), "RelayState": "ignored"}
    presented: Any = {
        "secret": SECRET,
        "cookies": {_binding.cookie_name(case["pending_acs"] or ACS, request_id): SECRET, "x": "y"},
        "wrong": _binding.new_secret(),
        "none": None,
    }[case["presented"]]
    outcomes = []
    for cls in (ServiceProvider, _Reference):
        sp = cls(
            SPConfig(entity_id=ENTITY, acs_url=ACS, additional_acs_urls=(ACS2,)),
            [IdPConfig(METADATA, policy=case["idp_policy"], require_mfa=case["idp_mfa"])],
            _store(case["store"]),
            tenant="t",
            require_mfa=case["sp_mfa"],
            attribute_map=case["attribute_map"],
        )
        key = _request_key(request_id)
        if not case["pending_missing"]:
            assert sp.store.add(key, expires_at=NOW + timedelta(minutes=10), now=NOW, value=pending.encode())
        now = _now(case["now"])
        first = _outcome(sp, form, presented, now)
        again = _outcome(sp, form, presented, now)
        left = sp.store.consume(key, now=NOW)
        outcomes.append((first, again, left, _base_entries(sp.store)))
    assert outcomes[0] == outcomes[1]


def test_an_aware_utc_datetime_is_its_own_ensure_aware() -> None:
    # finish_login skips ensure_aware for exactly these (its result would be the same object).
    assert ensure_aware(NOW) is NOW
    assert ensure_aware(datetime(1, 1, 1, tzinfo=UTC)).tzinfo is UTC


OTHER_IDP = IdPConfig(dataclasses.replace(METADATA, entity_id="https://other-idp.example.test"))
THIRD_IDP = IdPConfig(dataclasses.replace(METADATA, entity_id="https://third-idp.example.test"))
QUIRK = SecurityPolicy(allow_unsolicited=True, allow_in_response_to_on_unsolicited=True)


def _encoded(kind: str, xml: bytes) -> Any:
    """The SAMLResponse form value, as browsers and IdPs send it (and as they must not)."""
    b64 = base64.b64encode(xml).decode("ascii")
    return {
        "b64": b64,
        "wrapped": "\r\n".join(b64[i : i + 76] for i in range(0, len(b64), 76)),
        "spaces": f" {b64}\n",
        "raw": xml.decode("utf-8"),
        "raw-spaced": "\n " + xml.decode("utf-8"),
        "bytes": b64.encode("ascii"),
        "mid-pad": b64[:40] + "==" + b64[42:],
        "non-ascii": b64[:-4] + "é" + b64[-3:],
        "unpadded": b64.rstrip("="),
        "bad-char": b64[:10] + "*" + b64[11:],
        "urlsafe": base64.urlsafe_b64encode(xml).decode("ascii"),
        "list": [b64],
        "surrogate": b64[:-4] + "\udcff" + b64[-3:],
    }[kind]


ENCODINGS = ["b64", "b64", "wrapped", "spaces", "raw", "raw-spaced", "bytes", "mid-pad", "non-ascii", "unpadded"]
ENCODINGS += ["bad-char", "urlsafe", "list", "surrogate"]


@settings(max_examples=200, deadline=None)
@given(
    encoding=st.sampled_from(ENCODINGS),
    cap=st.sampled_from(["default", "default", "exact", "one-less", "encoded-over"]),
    idps=st.sampled_from(["one", "one", "two", "two-other-first", "two-others", "other-only", "quirk"]),
    pending_missing=st.sampled_from([False, False, True]),
)
@example(encoding="b64", cap="default", idps="one", pending_missing=False)
@example(encoding="b64", cap="exact", idps="one", pending_missing=False)
@example(encoding="b64", cap="one-less", idps="one", pending_missing=False)
@example(encoding="b64", cap="encoded-over", idps="one", pending_missing=False)
@example(encoding="mid-pad", cap="default", idps="one", pending_missing=False)
@example(encoding="wrapped", cap="default", idps="one", pending_missing=False)
@example(encoding="raw", cap="default", idps="one", pending_missing=False)
@example(encoding="b64", cap="default", idps="two-other-first", pending_missing=False)
@example(encoding="b64", cap="default", idps="two-others", pending_missing=False)
@example(encoding="b64", cap="default", idps="other-only", pending_missing=False)
@example(encoding="b64", cap="default", idps="quirk", pending_missing=True)
@example(encoding="b64", cap="default", idps="quirk", pending_missing=False)
def test_form_reading_and_routing_decide_as_before(encoding: str, cap: str, idps: str, pending_missing: bool) -> None:
    """finish_login's form reading (decode_message, its str fast path included) and routing (_routing_hints,
    _unsolicited_idp, _in_response_to_quirk) against the previous code, over form values that are well
    and badly encoded, message caps around the Response's size, and IdP sets (several IdPs, the Rippling
    quirk)."""
    request_id = "_" + "cd" * 16
    xml = IDP.response_xml(sp_entity_id=ENTITY, acs_url=ACS, in_response_to=request_id, now=NOW)
    b64_size = len(base64.b64encode(xml))
    max_bytes = {
        "default": SecurityPolicy().max_message_bytes,
        "exact": len(xml),
        "one-less": len(xml) - 1,
        "encoded-over": (b64_size - 1024) // 8 * 3 - 3,  # decode_base64's cap on the encoded text is below it
    }[cap]
    policy = SecurityPolicy(max_message_bytes=max_bytes, allow_unsolicited=idps == "quirk")
    configured = {
        "one": [IdPConfig(METADATA)],
        "two": [IdPConfig(METADATA), OTHER_IDP],
        "two-other-first": [OTHER_IDP, IdPConfig(METADATA)],
        "two-others": [OTHER_IDP, THIRD_IDP],  # the Issuer names neither
        "other-only": [OTHER_IDP],  # the Issuer names no IdP: the only one verifies (and refuses it)
        "quirk": [IdPConfig(METADATA, policy=dataclasses.replace(QUIRK, max_message_bytes=max_bytes))],
    }[idps]
    form = {"SAMLResponse": _encoded(encoding, xml), "RelayState": "/ignored"}
    pending = _PendingLogin(IDP.entity_id, "/home", None, _binding.secret_hash(SECRET), None)
    outcomes = []
    for cls in (ServiceProvider, _Reference):
        sp = cls(SPConfig(entity_id=ENTITY, acs_url=ACS, policy=policy), configured, MemoryStore(), tenant="t")
        key = _request_key(request_id)
        if not pending_missing:
            assert sp.store.add(key, expires_at=NOW + timedelta(minutes=10), now=NOW, value=pending.encode())
        first = _outcome(sp, form, SECRET, NOW)  # type: ignore[arg-type]
        again = _outcome(sp, form, SECRET, NOW)  # type: ignore[arg-type]
        outcomes.append((first, again, sp.store.consume(key, now=NOW), _base_entries(sp.store)))
    assert outcomes[0] == outcomes[1]
    if (encoding, cap, idps, pending_missing) == ("b64", "default", "one", False):
        assert isinstance(outcomes[0][0], LoginResult)  # the usual login is accepted (the inline path)
