"""Issue #11 §2 and §4 through ServiceProvider: AuthnContext/MFA enforcement, and the Rippling quirk routed
as unsolicited by finish_login."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fedlib.authn_context import (
    DEFAULT_AUTHN_CONTEXT_ORDER,
    ENTRA_AUTHN_METHODS_REFERENCES,
    ENTRA_MULTIPLE_AUTHN,
    REFEDS_MFA,
    AuthnContextOrder,
    AuthnContextRequirement,
    check_authn_context,
    idp_setting_hint,
)
from fedlib.config import SecurityPolicy, SPConfig
from fedlib.errors import AuthorizationRejected, ConfigurationError, ErrorCode, ResponseRejected
from fedlib.metadata.idp import parse_idp_metadata
from fedlib.protocol.authn_request import RequestedAuthnContext
from fedlib.protocol.models import AuthnResult
from fedlib.sp import IdPConfig, ServiceProvider
from fedlib.stores.memory import MemoryStore
from fedlib.testing.idp import TestIdP, TestUser
from fedlib.testing.profiles import RIPPLING_IN_RESPONSE_TO

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
ENTITY = "https://app.example.test/saml/metadata"
ACS = "https://app.example.test/saml/acs"
AC = "urn:oasis:names:tc:SAML:2.0:ac:classes:"
PPT, PASSWORD, X509 = AC + "PasswordProtectedTransport", AC + "Password", AC + "X509"


def make_sp(
    *idps: tuple[TestIdP, dict[str, object]], sp_policy: SecurityPolicy | None = None, **kw: object
) -> ServiceProvider:
    configs = []
    for idp, options in idps:
        idp.register_sp(ENTITY, ACS)
        configs.append(IdPConfig(parse_idp_metadata(idp.metadata_xml(), now=NOW), **options))  # type: ignore[arg-type]
    return ServiceProvider(
        SPConfig(entity_id=ENTITY, acs_url=ACS, policy=sp_policy or SecurityPolicy()),
        configs,
        MemoryStore(),
        **kw,  # type: ignore[arg-type]
    )


def sp_initiated(sp: ServiceProvider, idp: TestIdP, **kw: object) -> ResponseRejected | str:
    login = sp.start_login(idp.entity_id, now=NOW, **kw)  # type: ignore[arg-type]
    assert login.url is not None
    form = idp.respond(idp.receive_redirect(login.url), now=NOW)
    try:
        result = sp.finish_login(dict(form.fields), browser_binding=login.browser_binding, now=NOW)
    except ResponseRejected as exc:
        return exc
    return result.authn.name_id


def unsolicited(sp: ServiceProvider, idp: TestIdP) -> ResponseRejected | str:
    form = idp.initiate(ENTITY, ACS, now=NOW)
    try:
        return sp.finish_login(dict(form.fields), now=NOW).authn.name_id
    except ResponseRejected as exc:
        return exc


def code(outcome: ResponseRejected | str) -> str:
    return outcome.code.value if isinstance(outcome, ResponseRejected) else "accepted"


# ---- §4: Rippling-style InResponseTo on IdP-initiated Responses -----------------------------------------

QUIRK = SecurityPolicy(allow_unsolicited=True, allow_in_response_to_on_unsolicited=True)


def test_rippling_idp_initiated_is_routed_as_unsolicited_when_the_idp_allows_it() -> None:
    idp = TestIdP(profile="rippling")
    sp = make_sp((idp, {"policy": QUIRK}))
    form = idp.initiate(ENTITY, ACS, now=NOW)
    assert f'InResponseTo="{RIPPLING_IN_RESPONSE_TO}"'.encode() in form.xml
    result = sp.finish_login(dict(form.fields), now=NOW)
    assert (result.solicited, result.authn.name_id) == (False, "ada@example.org")
    assert result.authn.in_response_to == RIPPLING_IN_RESPONSE_TO
    # Accepted once: the replay cache still holds whatever route it took.
    assert code(unsolicited_again(sp, form.fields)) == ErrorCode.REPLAYED


def unsolicited_again(sp: ServiceProvider, fields: object) -> ResponseRejected | str:
    try:
        return sp.finish_login(dict(fields), now=NOW).authn.name_id  # type: ignore[call-overload]
    except ResponseRejected as exc:
        return exc


def test_rippling_without_the_quirk_setting_stays_unknown_request_with_a_hint() -> None:
    idp = TestIdP(profile="rippling")
    sp = make_sp((idp, {"policy": SecurityPolicy(allow_unsolicited=True)}))
    outcome = unsolicited(sp, idp)
    assert isinstance(outcome, ResponseRejected)
    assert outcome.code == ErrorCode.UNKNOWN_REQUEST
    assert "allow_in_response_to_on_unsolicited" in outcome.message


def test_quirk_without_allow_unsolicited_changes_nothing() -> None:
    idp = TestIdP(profile="rippling")
    policy = SecurityPolicy(allow_unsolicited=False, allow_in_response_to_on_unsolicited=True)
    sp = make_sp((idp, {"policy": policy}))
    assert code(unsolicited(sp, idp)) == ErrorCode.UNKNOWN_REQUEST


def test_quirk_of_one_idp_does_not_apply_to_another() -> None:
    rippling = TestIdP("https://rippling.example.test/saml", profile="rippling")
    other = TestIdP("https://other.example.test/saml", in_response_to_on_unsolicited="_x")
    sp = make_sp((rippling, {"policy": QUIRK}), (other, {"policy": SecurityPolicy(allow_unsolicited=True)}))
    assert code(unsolicited(sp, other)) == ErrorCode.UNKNOWN_REQUEST
    assert code(unsolicited(sp, rippling)) == "accepted"


def test_forged_issuer_cannot_borrow_the_quirk_of_another_idp() -> None:
    """The untrusted Issuer picks the quirky IdP's policy *and keys*: a Response signed by another IdP that
    claims to come from the quirky one fails signature trust."""
    rippling = TestIdP("https://rippling.example.test/saml", profile="rippling")
    other = TestIdP("https://other.example.test/saml")
    sp = make_sp((rippling, {"policy": QUIRK}), (other, {}))
    impostor = TestIdP(rippling.entity_id, key_kind="ec", profile="rippling")  # another key, same Issuer
    impostor.register_sp(ENTITY, ACS)
    with pytest.raises(ResponseRejected) as info:
        sp.finish_login(dict(impostor.initiate(ENTITY, ACS, now=NOW).fields), now=NOW)
    assert info.value.code in (ErrorCode.UNTRUSTED_CERTIFICATE, ErrorCode.INVALID_SIGNATURE)


def test_a_pending_request_is_still_answered_solicited_and_consumed_first() -> None:
    idp = TestIdP(profile="rippling")
    sp = make_sp((idp, {"policy": QUIRK}))
    login = sp.start_login(now=NOW)
    assert login.url is not None
    form = dict(idp.respond(idp.receive_redirect(login.url), now=NOW).fields)
    # Another browser posts it first: the request is consumed and refused (browser binding) ...
    with pytest.raises(ResponseRejected) as info:
        sp.finish_login(form, browser_binding="x" * 43, now=NOW)
    assert info.value.code == ErrorCode.BROWSER_MISMATCH
    # ... and re-posting it, now answering no pending request, is not a way around that.
    with pytest.raises(ResponseRejected) as again:
        sp.finish_login(form, browser_binding=login.browser_binding, now=NOW)
    assert again.value.code == ErrorCode.REPLAYED


# ---- §2: RequestedAuthnContext enforced at the ACS --------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "requested", "comparison", "expected"),
    [
        (PASSWORD, (PPT,), "minimum", "authn-context-not-satisfied"),
        (PPT, (PPT,), "minimum", "accepted"),
        (REFEDS_MFA, (PPT,), "minimum", "accepted"),
        (PPT, (REFEDS_MFA,), "exact", "authn-context-not-satisfied"),
        (REFEDS_MFA, (REFEDS_MFA,), "exact", "accepted"),
        (PPT, (PPT,), "better", "authn-context-not-satisfied"),
        (X509, (PPT,), "better", "accepted"),
        (REFEDS_MFA, (PPT,), "maximum", "authn-context-not-satisfied"),
        (PASSWORD, (PPT,), "maximum", "accepted"),
        ("urn:example:custom", (PPT,), "minimum", "authn-context-not-satisfied"),
    ],
)
def test_requested_authn_context_is_enforced(
    sent: str, requested: tuple[str, ...], comparison: str, expected: str
) -> None:
    idp = TestIdP(authn_context_class_ref=sent)
    sp = make_sp((idp, {}))
    context = RequestedAuthnContext(requested, comparison)  # type: ignore[arg-type]
    outcome = sp_initiated(sp, idp, requested_authn_context=context)
    assert code(outcome) == expected
    if isinstance(outcome, ResponseRejected):
        assert isinstance(outcome, AuthorizationRejected)


def test_requested_context_travels_to_the_idp_and_a_bare_uri_means_exact() -> None:
    idp = TestIdP(authn_context_class_ref=PPT)
    sp = make_sp((idp, {}))
    login = sp.start_login(now=NOW, requested_authn_context=REFEDS_MFA)
    assert login.url is not None
    idp.receive_redirect(login.url)
    form = idp.respond(idp.receive_redirect(login.url), now=NOW)
    with pytest.raises(AuthorizationRejected) as info:
        sp.finish_login(dict(form.fields), browser_binding=login.browser_binding, now=NOW)
    assert info.value.code == ErrorCode.AUTHN_CONTEXT_NOT_SATISFIED
    assert REFEDS_MFA in info.value.message
    assert PPT in info.value.message


def test_no_request_no_requirement() -> None:
    idp = TestIdP(authn_context_class_ref=PASSWORD)
    assert code(sp_initiated(make_sp((idp, {})), idp)) == "accepted"


# ---- §2: require MFA per application and per IdP, solicited or not -------------------------------------------


def test_require_mfa_per_application_applies_to_unsolicited_logins() -> None:
    weak = TestIdP(authn_context_class_ref=PPT)
    sp = make_sp((weak, {"policy": SecurityPolicy(allow_unsolicited=True)}), require_mfa=True)
    outcome = unsolicited(sp, weak)
    assert code(outcome) == ErrorCode.AUTHN_CONTEXT_NOT_SATISFIED
    assert isinstance(outcome, ResponseRejected)
    assert "multi-factor" in outcome.message
    strong = TestIdP(authn_context_class_ref=REFEDS_MFA)
    sp = make_sp((strong, {"policy": SecurityPolicy(allow_unsolicited=True)}), require_mfa=True)
    assert code(unsolicited(sp, strong)) == "accepted"
    assert code(sp_initiated(sp, strong)) == "accepted"


def test_require_mfa_per_idp_applies_to_that_idp_only() -> None:
    strict = TestIdP("https://strict.example.test/saml", authn_context_class_ref=PPT)
    lax = TestIdP("https://lax.example.test/saml", authn_context_class_ref=PPT)
    sp = make_sp((strict, {"require_mfa": True}), (lax, {}))
    assert code(sp_initiated(sp, strict)) == ErrorCode.AUTHN_CONTEXT_NOT_SATISFIED
    assert code(sp_initiated(sp, lax)) == "accepted"


def test_single_factor_certificate_is_not_mfa() -> None:
    idp = TestIdP(authn_context_class_ref=X509)
    assert code(sp_initiated(make_sp((idp, {"require_mfa": True})), idp)) == ErrorCode.AUTHN_CONTEXT_NOT_SATISFIED


ENTRA_MFA_USER = TestUser(
    "ada@example.org",
    {
        "email": ["ada@example.org"],
        ENTRA_AUTHN_METHODS_REFERENCES: [
            "http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/password",
            ENTRA_MULTIPLE_AUTHN,
        ],
    },
)
ENTRA_PASSWORD_USER = TestUser(
    "ada@example.org",
    {
        ENTRA_AUTHN_METHODS_REFERENCES: [
            "http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/password"
        ]
    },
)


def entra(user: TestUser) -> TestIdP:
    # Entra keeps the first factor's class (Password) and signals MFA in authnmethodsreferences.
    return TestIdP("https://sts.windows.net/tenant-id/", profile="entra", users=[user], signing="both")


def test_entra_authnmethodsreferences_counts_only_where_the_idp_settings_say_so() -> None:
    idp = entra(ENTRA_MFA_USER)
    refused = sp_initiated(make_sp((idp, {"require_mfa": True})), idp)
    assert code(refused) == ErrorCode.AUTHN_CONTEXT_NOT_SATISFIED
    assert isinstance(refused, ResponseRejected)
    assert "Conditional Access" in refused.message  # the Entra-side setting, named for an Entra issuer
    options = {"require_mfa": True, "mfa_from_authn_methods_references": True}
    assert code(sp_initiated(make_sp((idp, options)), idp)) == "accepted"
    # The equivalence also satisfies a requested MFA class.
    context = RequestedAuthnContext((REFEDS_MFA,), "minimum")
    assert code(sp_initiated(make_sp((idp, options)), idp, requested_authn_context=context)) == "accepted"


def test_entra_password_only_is_refused_even_with_the_setting() -> None:
    idp = entra(ENTRA_PASSWORD_USER)
    options = {"require_mfa": True, "mfa_from_authn_methods_references": True}
    assert code(sp_initiated(make_sp((idp, options)), idp)) == ErrorCode.AUTHN_CONTEXT_NOT_SATISFIED


@pytest.mark.parametrize(
    ("issuer", "words"),
    [
        ("https://sts.windows.net/abc/", "Conditional Access"),
        ("http://www.okta.com/exk1", "authentication policy"),
        ("http://adfs.example.com/adfs/services/trust", "additional authentication rules"),
        ("https://kc.example.com/realms/main", "step-up"),
        ("https://idp.example.org/idp/shibboleth", "Entra ID Conditional Access"),
    ],
)
def test_refusal_names_the_idp_side_setting(issuer: str, words: str) -> None:
    assert words in idp_setting_hint(issuer)


def test_custom_order_is_used() -> None:
    custom = "urn:example:ac:hardware-key"
    order = AuthnContextOrder.from_list([PPT, custom])
    idp = TestIdP(authn_context_class_ref=custom)
    sp = make_sp((idp, {"require_mfa": True}), authn_context_order=order)
    assert code(sp_initiated(sp, idp)) == "accepted"  # the top tier is the MFA tier by default
    assert code(sp_initiated(make_sp((idp, {"require_mfa": True})), idp)) == ErrorCode.AUTHN_CONTEXT_NOT_SATISFIED


@pytest.mark.parametrize(
    "tiers",
    [[], [["a:b"], ["a:b"]], ["not a uri"], [[]]],
)
def test_bad_orders_are_configuration_errors(tiers: list[object]) -> None:
    with pytest.raises(ConfigurationError):
        AuthnContextOrder.from_list(tiers)  # type: ignore[arg-type]


def test_bad_comparison_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        AuthnContextRequirement((PPT,), "at-least")


# ---- §2: comparison semantics against a reference model ------------------------------------------------------

CLASSES = [f"urn:t:{i}" for i in range(6)] + ["urn:t:unranked"]


def reference(rank: dict[str, int], got: str, requested: list[str], comparison: str) -> bool:
    """SAML Core §3.3.2.2.1, literally: exact = one of them; minimum = at least as strong as one of them;
    better = stronger than each of them (the strict reading); maximum = not stronger than one of them.
    Unranked classes compare only by identity."""
    if comparison == "exact":
        return got in requested
    if comparison == "minimum":
        return any(got == r or (got in rank and r in rank and rank[got] >= rank[r]) for r in requested)
    if comparison == "maximum":
        return any(got == r or (got in rank and r in rank and rank[got] <= rank[r]) for r in requested)
    return all(got in rank and r in rank and rank[got] > rank[r] for r in requested)


@given(
    ranks=st.lists(st.integers(0, 3), min_size=6, max_size=6),
    got=st.sampled_from(CLASSES),
    requested=st.lists(st.sampled_from(CLASSES), min_size=1, max_size=3),
    comparison=st.sampled_from(["exact", "minimum", "better", "maximum"]),
)
def test_comparison_matches_the_reference_model(
    ranks: list[int], got: str, requested: list[str], comparison: str
) -> None:
    tiers: list[list[str]] = [[] for _ in range(4)]
    for cls, r in zip(CLASSES, ranks, strict=False):
        tiers[r].append(cls)
    used = [t for t in tiers if t]
    order = AuthnContextOrder.from_list(used)
    rank = {c: i for i, t in enumerate(used) for c in t}
    assert order.satisfies(got, requested, comparison) == reference(rank, got, requested, comparison)


def test_default_order_puts_mfa_on_top() -> None:
    order = DEFAULT_AUTHN_CONTEXT_ORDER
    assert REFEDS_MFA in order.mfa
    assert ENTRA_MULTIPLE_AUTHN in order.mfa
    assert PPT not in order.mfa
    assert X509 not in order.mfa
    assert order.satisfies(REFEDS_MFA, [PPT], "minimum")
    assert not order.satisfies(PASSWORD, [PPT], "minimum")


@given(
    class_ref=st.sampled_from([None, PPT, PASSWORD, X509, REFEDS_MFA, ENTRA_MULTIPLE_AUTHN, "urn:x:other"]),
    methods=st.lists(st.sampled_from([ENTRA_MULTIPLE_AUTHN, "urn:x:password", ""]), max_size=3),
    claim_counts=st.booleans(),
)
def test_require_mfa_accepts_exactly_the_mfa_tier_or_the_entra_claim_where_allowed(
    class_ref: str | None, methods: list[str], claim_counts: bool
) -> None:
    authn = AuthnResult(
        issuer="https://sts.windows.net/t/",
        name_id="ada",
        name_id_format=None,
        session_index=None,
        authn_context_class=class_ref,
        attributes={ENTRA_AUTHN_METHODS_REFERENCES: tuple(methods)} if methods else {},
        not_on_or_after=None,
        in_response_to=None,
        assertion_id="a",
        response_id="r",
    )
    expected = class_ref in DEFAULT_AUTHN_CONTEXT_ORDER.mfa or (claim_counts and ENTRA_MULTIPLE_AUTHN in methods)
    requirement = AuthnContextRequirement(require_mfa=True)
    if expected:
        check_authn_context(authn, requirement, mfa_from_authn_methods_references=claim_counts)
    else:
        with pytest.raises(AuthorizationRejected) as info:
            check_authn_context(authn, requirement, mfa_from_authn_methods_references=claim_counts)
        assert info.value.code == ErrorCode.AUTHN_CONTEXT_NOT_SATISFIED
