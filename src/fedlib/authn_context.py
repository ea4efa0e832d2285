"""Enforcing the authentication context (how the user logged in; MFA) on a verified login. Sans-I/O.

An IdP *should* honour the ``RequestedAuthnContext`` of an AuthnRequest, but nothing obliges it to
(and an unsolicited Response answers no request at all), so the SP checks what the verified assertion
says: the ``AuthnContextClassRef`` of its AuthnStatement and, for an IdP whose settings say so, Entra ID's
``authnmethodsreferences`` claim. A login that falls short is refused as ``authn-context-not-satisfied``,
with a message naming the IdP-side setting that enforces MFA.

Comparison (SAML Core §3.3.2.2.1, ``RequestedAuthnContext``; the "responder" deems strength there, the
SP checks it here with :class:`AuthnContextOrder`):

* ``exact``: the class is one of the listed ones ("the exact match of at least one").
* ``minimum``: at least as strong as one of the listed classes ("at least as strong as one of").
* ``better``: stronger than the listed classes. The spec says "stronger than any one of the authentication
  contexts specified", which can be read as "than some one" or "than each one"; fedlib takes the strict
  reading (stronger than every listed class), which never accepts what the other reading refuses.
* ``maximum``: no stronger than one of the listed classes ("without exceeding the strength of at least one").

A class the order does not rank matches only itself (``exact``, or being listed under ``minimum`` or
``maximum``); it is never judged stronger or weaker than anything: when in doubt, refuse.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

from fedlib.errors import ConfigurationError, ErrorCode, reject
from fedlib.protocol.models import AuthnResult

Comparison = Literal["exact", "minimum", "better", "maximum"]
COMPARISONS: Final[tuple[str, ...]] = ("exact", "minimum", "better", "maximum")

_AC: Final = "urn:oasis:names:tc:SAML:2.0:ac:classes:"
AC_UNSPECIFIED: Final = _AC + "unspecified"
AC_PASSWORD: Final = _AC + "Password"
AC_PASSWORD_PROTECTED_TRANSPORT: Final = _AC + "PasswordProtectedTransport"
AC_X509: Final = _AC + "X509"
AC_SMARTCARD_PKI: Final = _AC + "SmartcardPKI"
AC_KERBEROS: Final = _AC + "Kerberos"
AC_TLS_CLIENT: Final = _AC + "TLSClient"
AC_MOBILE_TWO_FACTOR_CONTRACT: Final = _AC + "MobileTwoFactorContract"
REFEDS_MFA: Final = "https://refeds.org/profile/mfa"
"""The REFEDS MFA Profile (https://refeds.org/profile/mfa): at least two distinct factor types."""
ENTRA_MULTIPLE_AUTHN: Final = "http://schemas.microsoft.com/claims/multipleauthn"
"""Entra ID / AD FS: the user passed multi-factor authentication."""
ENTRA_AUTHN_METHODS_REFERENCES: Final = "http://schemas.microsoft.com/claims/authnmethodsreferences"
"""The claim (Attribute Name) in which Entra ID lists the methods used, ``multipleauthn`` after MFA."""


def _frozen_tiers(tiers: Iterable[Iterable[str]]) -> tuple[frozenset[str], ...]:
    out = tuple(frozenset(tier) for tier in tiers)
    seen: set[str] = set()
    for tier in out:
        if not tier:
            raise ConfigurationError("an authn context tier must list at least one class")
        for ref in tier:
            if not isinstance(ref, str) or not ref or ref.strip() != ref or ":" not in ref:
                raise ConfigurationError(f"authn context classes must be absolute URIs, got {ref!r}")
            if ref in seen:
                raise ConfigurationError(f"authn context class {ref!r} is ranked twice")
            seen.add(ref)
    if not out:
        raise ConfigurationError("an authn context order needs at least one tier")
    return out


@dataclass(frozen=True, slots=True)
class AuthnContextOrder:
    """Authentication context classes from weakest to strongest, in tiers of equal strength.

    ``mfa`` is the set of classes that count as multi-factor (``require_mfa``); by default the strongest
    tier.
    """

    tiers: tuple[frozenset[str], ...]
    mfa: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tiers", _frozen_tiers(self.tiers))
        mfa = frozenset(self.mfa) if self.mfa else self.tiers[-1]
        unranked = mfa - {ref for tier in self.tiers for ref in tier}
        if unranked:
            raise ConfigurationError(f"MFA classes must be ranked in the order: {sorted(unranked)}")
        object.__setattr__(self, "mfa", mfa)

    @classmethod
    def from_list(cls, tiers: Sequence[str | Sequence[str]], mfa: Iterable[str] = ()) -> AuthnContextOrder:
        """From a list of classes or of lists of equal classes (the shape of the configuration file)."""
        if isinstance(tiers, str) or not isinstance(tiers, Sequence):
            raise ConfigurationError("an authn context order is a list of classes (or lists of classes)")
        out: list[frozenset[str]] = []
        for tier in tiers:
            if isinstance(tier, str):
                out.append(frozenset((tier,)))
            elif isinstance(tier, Sequence):
                out.append(frozenset(tier))
            else:
                raise ConfigurationError(f"an authn context tier is a class URI or a list of them, got {tier!r}")
        return cls(tuple(out), frozenset(mfa))

    def rank(self, class_ref: str) -> int | None:
        """The tier index of ``class_ref`` (0 weakest), or None if it is not ranked."""
        for index, tier in enumerate(self.tiers):
            if class_ref in tier:
                return index
        return None

    def satisfies(self, class_ref: str, requested: Sequence[str], comparison: str) -> bool:
        """Whether ``class_ref`` satisfies ``requested`` under ``comparison`` (SAML Core §3.3.2.2.1)."""
        if comparison not in COMPARISONS:
            raise ConfigurationError(f"unknown AuthnContext comparison {comparison!r}")
        if not requested:
            return True
        if comparison == "exact":
            return class_ref in requested
        rank = self.rank(class_ref)
        ranks = [self.rank(ref) for ref in requested]
        if comparison == "minimum":
            return class_ref in requested or (rank is not None and any(r is not None and rank >= r for r in ranks))
        if comparison == "maximum":
            return class_ref in requested or (rank is not None and any(r is not None and rank <= r for r in ranks))
        # better: strictly stronger than every listed class; an unranked listed class defeats it.
        return rank is not None and all(r is not None and rank > r for r in ranks)


DEFAULT_AUTHN_CONTEXT_ORDER: Final = AuthnContextOrder(
    (
        frozenset({AC_UNSPECIFIED}),
        frozenset({AC_PASSWORD}),
        frozenset({AC_PASSWORD_PROTECTED_TRANSPORT}),
        frozenset({AC_X509, AC_SMARTCARD_PKI, AC_KERBEROS, AC_TLS_CLIENT}),
        frozenset({REFEDS_MFA, ENTRA_MULTIPLE_AUTHN, AC_MOBILE_TWO_FACTOR_CONTRACT}),
    )
)
"""The default order. ``unspecified`` says nothing, so it is weakest; a password in clear (``Password``)
is below one over TLS (``PasswordProtectedTransport``, what most IdPs send for a password login); a
single cryptographic factor (certificate, smart card, Kerberos ticket) is above a password; the top tier
is multi-factor: the REFEDS MFA profile (two distinct factor types, e.g. something you know plus
something you have), Entra's ``multipleauthn`` and SAML's ``MobileTwoFactorContract``
(SAML AuthnContext §3.4.9, two factors by contract). Smart card and X.509 classes are single-factor here
(the SAML classes do not require the PIN to be a second factor), so they never satisfy ``require_mfa``."""


@dataclass(frozen=True, slots=True)
class AuthnContextRequirement:
    """What one login must prove: requested classes with a comparison, and/or MFA."""

    class_refs: tuple[str, ...] = ()
    comparison: str = "exact"
    require_mfa: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "class_refs", tuple(self.class_refs))
        if self.comparison not in COMPARISONS:
            raise ConfigurationError(f"unknown AuthnContext comparison {self.comparison!r}")

    def to_json(self) -> dict[str, object]:
        return {"refs": list(self.class_refs), "comparison": self.comparison}

    @classmethod
    def from_json(cls, value: object) -> AuthnContextRequirement | None:
        """The requested context a pending request stored (None: none was requested)."""
        if not isinstance(value, Mapping):
            return None
        refs, comparison = value.get("refs"), value.get("comparison")
        if not isinstance(refs, list) or not all(isinstance(r, str) for r in refs) or not isinstance(comparison, str):
            return None
        return cls(tuple(refs), comparison)


def effective_classes(authn: AuthnResult, *, mfa_from_authn_methods_references: bool) -> tuple[str, ...]:
    """The classes the verified login proves: its AuthnContextClassRef and, when the IdP's settings accept
    Entra's claim, ``multipleauthn`` if ``authnmethodsreferences`` lists it."""
    out: list[str] = []
    if authn.authn_context_class:
        out.append(authn.authn_context_class)
    if mfa_from_authn_methods_references and ENTRA_MULTIPLE_AUTHN in authn.attributes.get(
        ENTRA_AUTHN_METHODS_REFERENCES, ()
    ):
        out.append(ENTRA_MULTIPLE_AUTHN)
    return tuple(out)


_VENDOR_HINTS: Final[tuple[tuple[tuple[str, ...], str], ...]] = (
    (
        ("login.microsoftonline.com", "sts.windows.net", "microsoftonline"),
        "Entra ID: a Conditional Access policy for this application with Grant > Require multifactor "
        "authentication (and, to send it in the claim, keep authnmethodsreferences in the token)",
    ),
    (
        ("okta.com", "okta-emea.com", "oktapreview.com"),
        "Okta: an authentication policy for this app that requires 2 factor types",
    ),
    (
        ("/adfs/",),
        "AD FS: additional authentication rules (Set-AdfsRelyingPartyTrust -AdditionalAuthenticationRules) "
        "or an access control policy that requires MFA",
    ),
    (
        ("/realms/",),
        "Keycloak: a step-up authentication flow (Conditional OTP / Level of Authentication) bound to the "
        "requested class",
    ),
)
_ALL_HINTS: Final = (
    "Require MFA for this application at the IdP: Entra ID Conditional Access (Grant > Require multifactor "
    "authentication), an Okta authentication policy requiring 2 factor types, AD FS additional authentication "
    "rules, or a Keycloak step-up flow (Level of Authentication); and make the IdP report it "
    "(AuthnContextClassRef, e.g. https://refeds.org/profile/mfa)"
)


def idp_setting_hint(issuer: str) -> str:
    """The IdP-side setting that enforces MFA, for the IdP ``issuer`` (all four vendors if unknown)."""
    lowered = issuer.lower()
    for needles, hint in _VENDOR_HINTS:
        if any(n in lowered for n in needles):
            return hint
    return _ALL_HINTS


def check_authn_context(
    authn: AuthnResult,
    requirement: AuthnContextRequirement,
    *,
    order: AuthnContextOrder = DEFAULT_AUTHN_CONTEXT_ORDER,
    mfa_from_authn_methods_references: bool = False,
) -> None:
    """Raise ``authn-context-not-satisfied`` unless the verified login meets ``requirement``."""
    proven = effective_classes(authn, mfa_from_authn_methods_references=mfa_from_authn_methods_references)
    missing: list[str] = []
    if requirement.class_refs and not any(
        order.satisfies(c, requirement.class_refs, requirement.comparison) for c in proven
    ):
        missing.append(f"{requirement.comparison} {', '.join(requirement.class_refs)}")
    if requirement.require_mfa and not any(c in order.mfa for c in proven):
        missing.append("multi-factor authentication")
    if missing:
        raise reject(
            ErrorCode.AUTHN_CONTEXT_NOT_SATISFIED,
            f"this application requires {'; '.join(missing)}, but the IdP reports "
            f"{', '.join(proven) or 'no authentication context'}. {idp_setting_hint(authn.issuer)}.",
            detail=f"issuer {authn.issuer!r}, proven {proven!r}",
        )


__all__ = [
    "COMPARISONS",
    "DEFAULT_AUTHN_CONTEXT_ORDER",
    "ENTRA_AUTHN_METHODS_REFERENCES",
    "ENTRA_MULTIPLE_AUTHN",
    "REFEDS_MFA",
    "AuthnContextOrder",
    "AuthnContextRequirement",
    "Comparison",
    "check_authn_context",
    "effective_classes",
    "idp_setting_hint",
]
