"""``start_login`` without its helpers' calls (issue #9) decides and writes exactly what it did before.

The reference is a ServiceProvider whose ``start_login`` is the previous code, verbatim (docstring left out):
``self.idp``, ``build_authn_request``, ``_PendingLogin(...).encode()`` by ``json.JSONEncoder``,
``PrefixedStore.add``, ``binding_cookie``, ``AuthnRequest.redirect_url`` / ``post_form``. With the same
random bytes (``os.urandom``, which both draw from in the same order), both get the same arguments: every
outcome is the same, the ``LoginRequest`` (ID, URL or form, secret, cookie) or the refusal's type and
message, and so is what the store holds afterwards. The pieces it is built from are held to the code they
replace on their own: ``new_secret`` to ``secrets.token_urlsafe``, ``new_request_id`` to
``secrets.token_hex``, ``_pending_json`` to ``json.JSONEncoder``.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from fedlib import binding as _binding
from fedlib.authn_context import AuthnContextRequirement
from fedlib.clock import ensure_aware
from fedlib.config import SPConfig
from fedlib.constants import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from fedlib.errors import ConfigurationError
from fedlib.metadata.idp import Endpoint, IdPMetadata, parse_idp_metadata
from fedlib.protocol import authn_request as authn_request_module
from fedlib.protocol.authn_request import NameIDPolicy, RequestedAuthnContext, build_authn_request
from fedlib.sp import LoginRequest, ServiceProvider, _pending_json, _PendingLogin, _request_key, safe_relay_state
from fedlib.stores import MemoryStore
from fedlib.testing import default_key, idp_metadata_xml

NOW = datetime(2026, 6, 1, 12, 0, 7, 250000, tzinfo=UTC)
ENTITY = "https://sp.example.test/saml/metadata"
ACS = "https://sp.example.test/saml/acs"
IDP_KEY = default_key("rsa", "idp")
SP_KEY = default_key("rsa", "sp")


def _metadata(entity_id: str, sso_url: str, valid_until: datetime | None = None) -> IdPMetadata:
    xml = idp_metadata_xml(entity_id, [IDP_KEY], sso_url=sso_url, valid_until=valid_until)
    return parse_idp_metadata(xml, now=NOW - timedelta(days=1))


IDP_A = _metadata("https://idp-a.example.test", "https://idp-a.example.test/sso?x=1&y=<2>")
IDP_B = _metadata("https://idp-b.example.test", "https://idp-b.example.test/sso")
EXPIRED = _metadata("https://idp-old.example.test", "https://idp-old.example.test/sso", NOW + timedelta(seconds=1))
REDIRECT_ONLY = dataclasses.replace(
    _metadata("https://idp-r.example.test", "https://idp-r.example.test/sso"),
    sso_endpoints=(Endpoint(BINDING_HTTP_REDIRECT, "https://idp-r.example.test/sso"),),
)
BAD_ENDPOINT = dataclasses.replace(
    _metadata("https://idp-bad.example.test", "https://idp-bad.example.test/sso"),
    sso_endpoints=(
        Endpoint(BINDING_HTTP_POST, "javascript:alert(1)"),
        Endpoint(BINDING_HTTP_REDIRECT, "https://idp-bad.example.test/sso#frag"),
    ),
)


class _Reference(ServiceProvider):
    """start_login before issue #9's inline answers."""

    def start_login(
        self,
        idp: str | None = None,
        *,
        relay_state: str | None = None,
        force_authn: bool = False,
        is_passive: bool = False,
        name_id_policy: NameIDPolicy | str | None = None,
        requested_authn_context: RequestedAuthnContext | str | None = None,
        binding: str = BINDING_HTTP_REDIRECT,
        browser_binding: str | None = None,
        now: datetime | None = None,
    ) -> LoginRequest:
        now = ensure_aware(now) if now is not None else self.clock.now()
        if browser_binding is None:
            browser_binding = _binding.new_secret()
        elif not _binding.is_valid_secret(browser_binding):
            raise ConfigurationError("browser_binding must be 32 to 128 URL-safe characters (secrets.token_urlsafe)")
        target = self.idp(idp)
        if isinstance(requested_authn_context, str):
            requested_authn_context = RequestedAuthnContext((requested_authn_context,))
        if requested_authn_context is not None and not isinstance(requested_authn_context, RequestedAuthnContext):
            raise ConfigurationError("requested_authn_context must be a RequestedAuthnContext or a class URI")
        if target.metadata.valid_until is not None and target.metadata.valid_until <= now:
            raise ConfigurationError(
                f"the metadata of IdP {target.entity_id!r} expired; logins with it wait for a fresh copy "
                "(check the metadata source and the refresher's status)"
            )
        if relay_state is not None and safe_relay_state(relay_state, self.relay_state_origins) is None:
            raise ConfigurationError("relay_state must be a relative path or an allowed origin")
        if binding not in (BINDING_HTTP_REDIRECT, BINDING_HTTP_POST):
            raise ConfigurationError(f"unsupported binding {binding!r}")
        endpoint = target.metadata.sso_endpoint(binding)
        if endpoint is None:
            raise ConfigurationError(f"IdP {target.entity_id!r} has no SingleSignOnService for {binding}")
        request = build_authn_request(
            self.config,
            endpoint.location,
            now=now,
            force_authn=force_authn,
            is_passive=is_passive,
            name_id_policy=name_id_policy,
            requested_authn_context=requested_authn_context,
        )
        pending = _reference_encode(
            _PendingLogin(
                target.entity_id,
                relay_state,
                request.acs_url,
                _binding.secret_hash(browser_binding),
                AuthnContextRequirement(requested_authn_context.class_refs, requested_authn_context.comparison)
                if requested_authn_context is not None
                else None,
            )
        )
        if not self.store.add(_request_key(request.id), expires_at=now + self.request_lifetime, now=now, value=pending):
            raise ConfigurationError("request ID collision: the id source is not random")  # pragma: no cover
        echoed = request.id
        signer = self.config.signer
        cookie = _binding.binding_cookie(
            request.acs_url, request.id, browser_binding, int(self.request_lifetime.total_seconds())
        )
        if binding == BINDING_HTTP_REDIRECT:
            url = request.redirect_url(relay_state=echoed, signer=signer)
            return LoginRequest(
                request.id, target.entity_id, binding, url=url, browser_binding=browser_binding, binding_cookie=cookie
            )
        form = request.post_form(relay_state=echoed, signer=signer)
        return LoginRequest(
            request.id,
            target.entity_id,
            binding,
            form_html=form,
            browser_binding=browser_binding,
            binding_cookie=cookie,
        )


_ENCODER = json.JSONEncoder(separators=(",", ":"))


def _reference_encode(pending: _PendingLogin) -> str:
    """``_PendingLogin.encode`` before issue #9's C-only writer."""
    context = pending.authn_context
    return _ENCODER.encode(
        [
            "l1",
            pending.idp,
            pending.relay_state,
            pending.acs_url,
            pending.browser,
            None if context is None else [context.comparison, *context.class_refs],
        ]
    )


def _counter_bytes() -> Callable[[int], bytes]:
    """A deterministic os.urandom: successive calls get successive bytes of a fixed stream."""
    state = {"i": 0}

    def urandom(n: int) -> bytes:
        start = state["i"]
        state["i"] += n
        return bytes((start + k) * 37 % 256 for k in range(n))

    return urandom


class _Sub(datetime):
    pass


def _now(kind: str) -> datetime | None:
    return {
        "utc": NOW,
        "plus2": NOW.astimezone(timezone(timedelta(hours=2))),
        "naive": NOW.replace(tzinfo=None),
        "sub": _Sub(2026, 6, 1, 12, 0, 7, tzinfo=UTC),
        "expired-metadata": NOW + timedelta(seconds=1),
        "none": None,
    }[kind]


def _idps(kind: str) -> list[IdPMetadata]:
    return {
        "one": [IDP_A],
        "two": [IDP_A, IDP_B],
        "expired": [EXPIRED],
        "redirect-only": [REDIRECT_ONLY],
        "bad-endpoint": [BAD_ENDPOINT],
    }[kind]


def _config(signed: bool) -> SPConfig:
    if not signed:
        return SPConfig(entity_id=ENTITY, acs_url=ACS)
    return SPConfig(
        entity_id=ENTITY, acs_url=ACS, signing_key=SP_KEY.private_key, signing_certificates=(SP_KEY.certificate,)
    )


def _outcome(sp: ServiceProvider, kwargs: dict[str, Any]) -> object:
    try:
        return sp.start_login(**kwargs)
    except (ConfigurationError, ValueError, TypeError, AttributeError) as exc:
        return (type(exc), str(exc))


CASES = st.fixed_dictionaries(
    {
        "idps": st.sampled_from(["one", "one", "one", "two", "expired", "redirect-only", "bad-endpoint"]),
        "idp": st.sampled_from([None, None, None, IDP_A.entity_id, IDP_B.entity_id, "https://unknown.example.test"]),
        "relay_state": st.sampled_from([None, None, "/home?a=1&b=<2>", "https://evil.example.test/", "/x\x00"]),
        "force_authn": st.booleans(),
        "is_passive": st.booleans(),
        "name_id_policy": st.sampled_from(
            [None, None, "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent", NameIDPolicy(allow_create=False), "x"]
        ),
        "requested_authn_context": st.sampled_from(
            [
                None,
                None,
                "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport",
                RequestedAuthnContext(("urn:a", "urn:b&<\"'>"), "minimum"),
                ("urn:a",),
            ]
        ),
        "binding": st.sampled_from([BINDING_HTTP_POST, BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, "urn:other"]),
        "browser_binding": st.sampled_from([None, None, "A" * 43, "short", "é" * 40]),
        "now": st.sampled_from(["utc", "utc", "plus2", "naive", "sub", "expired-metadata", "none"]),
        "signed": st.sampled_from([False, False, False, True]),
        "tenant": st.sampled_from(["default", "t:1"]),
        "lifetime": st.sampled_from([timedelta(minutes=10), timedelta(seconds=0.5)]),
    }
)

USUAL: dict[str, Any] = {
    "idps": "one",
    "idp": None,
    "relay_state": None,
    "force_authn": False,
    "is_passive": False,
    "name_id_policy": None,
    "requested_authn_context": None,
    "binding": BINDING_HTTP_POST,
    "browser_binding": None,
    "now": "utc",
    "signed": False,
    "tenant": "default",
    "lifetime": timedelta(minutes=10),
}


def _usual(**changes: Any) -> dict[str, Any]:
    return {**USUAL, **changes}


class _FixedClock:
    def now(self) -> datetime:
        return NOW


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=CASES)
@example(case=_usual())
@example(case=_usual(binding=BINDING_HTTP_REDIRECT))
@example(case=_usual(signed=True))
@example(case=_usual(signed=True, binding=BINDING_HTTP_REDIRECT))
@example(case=_usual(idps="two", idp=IDP_B.entity_id, relay_state="/home?a=1&b=<2>"))
@example(case=_usual(idps="two"))
@example(case=_usual(idp="https://unknown.example.test"))
@example(case=_usual(requested_authn_context=RequestedAuthnContext(("urn:a", "urn:b&<\"'>"), "minimum")))
@example(case=_usual(name_id_policy="x"))
@example(case=_usual(now="plus2"))
@example(case=_usual(now="sub"))
@example(case=_usual(now="naive"))
@example(case=_usual(now="none"))
@example(case=_usual(idps="expired", now="expired-metadata"))
@example(case=_usual(idps="redirect-only"))
@example(case=_usual(idps="bad-endpoint"))
@example(case=_usual(idps="bad-endpoint", binding=BINDING_HTTP_REDIRECT))
@example(case=_usual(browser_binding="short"))
@example(case=_usual(browser_binding="A" * 43, tenant="t:1", lifetime=timedelta(seconds=0.5)))
def test_start_login_decides_and_writes_as_before(case: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    outcomes = []
    for cls in (ServiceProvider, _Reference):
        monkeypatch.setattr(os, "urandom", _counter_bytes())
        authn_request_module._TEMPLATES.clear()  # each side makes (and checks) its templates itself
        store = MemoryStore()
        sp = cls(
            _config(case["signed"]),
            _idps(case["idps"]),
            store,
            tenant=case["tenant"],
            request_lifetime=case["lifetime"],
            clock=_FixedClock(),
        )
        kwargs = {k: case[k] for k in ("idp", "relay_state", "force_authn", "is_passive", "name_id_policy")}
        kwargs |= {k: case[k] for k in ("requested_authn_context", "binding", "browser_binding")}
        kwargs["now"] = _now(case["now"])
        outcome = _outcome(sp, kwargs)
        outcomes.append((outcome, sorted(store._entries.items())))
    assert outcomes[0] == outcomes[1]


def test_the_usual_login_takes_the_inline_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """The differential test above compares outcomes; this pins that its usual case skips the helpers."""

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("the usual start_login called a helper it answers inline")

    sp = ServiceProvider(_config(False), [IDP_A], MemoryStore())
    for name in ("build_authn_request", "new_request_id"):
        monkeypatch.setattr(authn_request_module, name, forbidden)
    monkeypatch.setattr(ServiceProvider, "idp", forbidden)
    monkeypatch.setattr(_binding, "secret_hash", forbidden)
    monkeypatch.setattr(_PendingLogin, "encode", forbidden)
    request = sp.start_login(binding=BINDING_HTTP_POST, now=NOW)
    assert request.form_html is not None
    assert request.request_id in request.form_html


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(min_size=0, max_size=96))
def test_new_secret_is_token_urlsafe_of_the_same_bytes(data: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "urandom", lambda n: data[:n].ljust(n, b"\x00"))
    expected = base64.urlsafe_b64encode(data[:32].ljust(32, b"\x00")).rstrip(b"=").decode("ascii")  # token_urlsafe
    assert _binding.new_secret() == expected
    assert _binding.is_valid_secret(expected)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(min_size=16, max_size=16))
def test_new_request_id_is_token_hex_of_the_same_bytes(data: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "urandom", lambda n: data[:n])
    request_id = authn_request_module.new_request_id()
    assert request_id == "_" + data.hex()  # secrets.token_hex(16) is binascii.hexlify(token_bytes(16))
    assert re.fullmatch(r"_[0-9a-f]{32}", request_id)


def test_new_secrets_and_ids_differ() -> None:
    assert len({_binding.new_secret() for _ in range(50)}) == 50
    assert len({authn_request_module.new_request_id() for _ in range(50)}) == 50
    assert all(len(_binding.new_secret()) == 43 for _ in range(20))


TEXT = st.text(st.characters(codec="utf-8"), max_size=20) | st.text(max_size=20)
CONTEXTS = st.none() | st.builds(
    AuthnContextRequirement,
    st.lists(TEXT, min_size=1, max_size=3).map(tuple),
    st.sampled_from(["exact", "minimum", "maximum", "better"]),
)


@settings(max_examples=400, deadline=None)
@given(TEXT, st.none() | TEXT, st.none() | TEXT, TEXT, CONTEXTS)
@example("idp", None, None, "", None)
@example('"\\\x00\u2028\ud800é\U0001f600', "<&>", "\x7f", "\x1f", None)
def test_pending_json_is_the_json_encoder(
    idp: str, relay: str | None, acs: str | None, browser: str, context: AuthnContextRequirement | None
) -> None:
    pending = _PendingLogin(idp, relay, acs, browser, context)
    written = _pending_json(idp, relay, acs, browser, context)
    assert written == _reference_encode(pending) == pending.encode()
    assert _PendingLogin.decode(written) == pending
