"""Decide each cell of the support matrix by running the real flow, never by a typed-in verdict.

For a SAML cell: run the flow with the IdP as configured (vendor defaults + the customer's settings).
If fedlib (or the IdP) refuses, look up which IdP knobs can cause that refusal (:data:`KNOBS_FOR_OUTCOME`,
one table for every vendor) and, for each such knob that is still a vendor *default* and has a documented
setting in the vendor profile, run the flow again with the setting changed. Keep the first change that
makes progress (accepted, or a different refusal) and repeat. The verdict follows from the last run:

When no IdP setting helps, a fedlib-side setting the vendor profile documents for that refusal
(``VendorProfile.sp_settings``: a quirk the IdP cannot change, such as Rippling's InResponseTo on
IdP-initiated Responses) is tried the same way, unless the SP operator already set it for that IdP.

* accepted with no change: ``supported``;
* accepted after changes: ``limited``, the workarounds being the vendor's setting texts;
* refused with no change left to try: ``unsupported``, with the code and message of that refusal.

OIDC cells are ``unsupported`` without a run: fedlib is a SAML 2.0 library.

An IdP entry with a ``real`` product that is running (``real=``: kind -> (product, runner)) has its
as-configured run done against that product; workaround runs use the vendor profile (the real IdP's
configuration is its own). Each ``Run`` names its backend.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from types import MappingProxyType
from typing import Any

from fedlib.errors import ErrorCode
from fedlib.matrix.model import Application, Cell, IdPEntry, MatrixConfig, Protocol, Run, Verdict
from fedlib.testing.behaviour import IdPBehaviour
from fedlib.testing.profiles import VendorProfile, get_profile

IDP_REFUSED = "idp-refused"
ACCEPTED = "accepted"

KNOBS_FOR_OUTCOME: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        ErrorCode.ASSERTION_ONLY_SIGNATURE: ("signing",),
        ErrorCode.UNSIGNED_MESSAGE: ("signing",),
        ErrorCode.MISSING_CERTIFICATE: ("key_info",),
        ErrorCode.UNTRUSTED_CERTIFICATE: ("key_info",),
        ErrorCode.ENCRYPTED_CLAIMS_UNSUPPORTED: ("encrypt_assertion", "encrypt_name_id", "encrypt_attributes"),
        ErrorCode.WEAK_ALGORITHM: ("signature_algorithm", "digest_algorithm"),
        ErrorCode.FORBIDDEN_TRANSFORM: ("c14n",),
        ErrorCode.EXPIRED: ("clock_offset", "lifetime"),
        ErrorCode.NOT_YET_VALID: ("clock_offset",),
        ErrorCode.WRONG_IN_RESPONSE_TO: ("in_response_to_on_unsolicited",),
        ErrorCode.STATUS_NOT_SUCCESS: ("status",),
    }
)
"""Which IdP knobs can cause each refusal. An IdP refusal names its knob itself."""

OIDC_REASON = "fedlib is a SAML 2.0 library"

FlowRunner = Callable[[Application, Protocol, IdPBehaviour, Mapping[str, bool]], tuple[str, str, str | None]]
"""Runs one flow with the IdP behaviour and the fedlib-side settings for that IdP: returns (outcome,
message, knob behind an IdP refusal)."""

PROFILE = "profile"
"""The backend of a run against ``fedlib.testing.TestIdP`` configured as the vendor profile."""

RealRunners = Mapping[str, tuple[str, FlowRunner]]
"""Real IdP kind -> (product name, runner of the as-configured flow against it)."""


@dataclass(frozen=True, slots=True)
class _Attempt:
    changed: Mapping[str, Any]
    sp_changed: Mapping[str, bool]
    outcome: str
    message: str
    knob: str | None
    backend: str = PROFILE

    @property
    def accepted(self) -> bool:
        return self.outcome == ACCEPTED


def evaluate(config: MatrixConfig, runner: FlowRunner, *, real: RealRunners | None = None) -> list[Cell]:
    """Every cell of ``config``, each decided by running flows with ``runner`` (and ``real``, see above)."""
    real = real or {}
    return [
        evaluate_cell(app, idp, protocol, runner, real=real.get(idp.real) if idp.real else None)
        for app in config.applications
        for idp in config.idps
        for protocol in config.protocols
    ]


def evaluate_cell(
    app: Application,
    idp: IdPEntry,
    protocol: Protocol,
    runner: FlowRunner,
    *,
    real: tuple[str, FlowRunner] | None = None,
) -> Cell:
    """One cell (see the module docstring for the rule); ``real``: (product, runner) for the as-configured run."""
    if protocol is Protocol.OIDC:
        return Cell(
            application=app.name,
            idp=idp.name,
            protocol=protocol,
            verdict=Verdict.UNSUPPORTED,
            reason=OIDC_REASON,
        )
    profile = get_profile(idp.profile)
    base = profile.behaviour(**idp.settings)

    def attempt(changed: Mapping[str, Any], sp_changed: Mapping[str, bool]) -> _Attempt:
        sp_settings = MappingProxyType({**idp.sp_settings, **sp_changed})
        if real is not None and not changed and not sp_changed:
            product, real_runner = real
            outcome, message, knob = real_runner(app, protocol, base, sp_settings)
            return _Attempt(MappingProxyType({}), MappingProxyType({}), outcome, message, knob, product)
        outcome, message, knob = runner(app, protocol, base.replace(**changed) if changed else base, sp_settings)
        return _Attempt(MappingProxyType(dict(changed)), MappingProxyType(dict(sp_changed)), outcome, message, knob)

    changed: dict[str, Any] = {}
    sp_changed: dict[str, bool] = {}
    attempts = [attempt(changed, sp_changed)]
    while not attempts[-1].accepted:
        step = _next_change(profile, idp, base, changed, attempts[-1], partial(attempt, sp_changed=dict(sp_changed)))
        if step is not None:
            changed, result = step
        else:
            sp_step = _next_sp_change(profile, idp, protocol, sp_changed, attempts[-1], partial(attempt, dict(changed)))
            if sp_step is None:
                break
            sp_changed, result = sp_step
        attempts.append(result)
    return _cell(app, idp, protocol, profile, attempts)


def _next_sp_change(
    profile: VendorProfile,
    idp: IdPEntry,
    protocol: Protocol,
    sp_changed: dict[str, bool],
    last: _Attempt,
    attempt: Callable[[Mapping[str, bool]], _Attempt],
) -> tuple[dict[str, bool], _Attempt] | None:
    for setting in profile.sp_settings:
        if setting.outcome != last.outcome or setting.protocol != protocol.value:
            continue
        if setting.key in idp.sp_settings or setting.key in sp_changed:
            continue  # the SP operator chose it, or it was already changed
        trial = {**sp_changed, setting.key: True}
        result = attempt(trial)
        if result.accepted or result.outcome != last.outcome:
            return trial, result
    return None


def _candidate_knobs(last: _Attempt) -> tuple[str, ...]:
    if last.outcome == IDP_REFUSED:
        return (last.knob,) if last.knob else ()
    return KNOBS_FOR_OUTCOME.get(last.outcome, ())


def _next_change(
    profile: VendorProfile,
    idp: IdPEntry,
    base: IdPBehaviour,
    changed: dict[str, Any],
    last: _Attempt,
    attempt: Callable[[Mapping[str, Any]], _Attempt],
) -> tuple[dict[str, Any], _Attempt] | None:
    for knob in _candidate_knobs(last):
        if knob in idp.settings or knob in changed:
            continue  # the customer chose it, or it was already changed
        setting = profile.setting_for(knob)
        if setting is None or getattr(base, knob) == setting.value:
            continue
        trial = {**changed, knob: setting.value}
        result = attempt(trial)
        if result.accepted or result.outcome != last.outcome:
            return trial, result
    return None


def _cell(
    app: Application, idp: IdPEntry, protocol: Protocol, profile: VendorProfile, attempts: list[_Attempt]
) -> Cell:
    runs = tuple(
        Run(changed=a.changed, sp_changed=a.sp_changed, outcome=a.outcome, message=a.message, backend=a.backend)
        for a in attempts
    )
    last = attempts[-1]
    settings = []
    for knob in last.changed:
        setting = profile.setting_for(knob)
        assert setting is not None
        settings.append(setting.setting)
    for key in last.sp_changed:
        settings.append(next(s.setting for s in profile.sp_settings if s.key == key))
    if last.accepted and not last.changed and not last.sp_changed:
        return Cell(
            application=app.name, idp=idp.name, protocol=protocol, verdict=Verdict.SUPPORTED, reason="", runs=runs
        )
    if last.accepted:
        first = attempts[0]
        return Cell(
            application=app.name,
            idp=idp.name,
            protocol=protocol,
            verdict=Verdict.LIMITED,
            reason=f"refused as configured ({first.outcome}: {first.message})",
            workarounds=tuple(settings),
            runs=runs,
        )
    reason = last.message
    if last.outcome != IDP_REFUSED:
        customer = [k for k in KNOBS_FOR_OUTCOME.get(last.outcome, ()) if k in idp.settings]
        if customer:
            reason += f" (the IdP's own setting: {', '.join(f'{k}={idp.settings[k]!r}' for k in customer)})"
    return Cell(
        application=app.name,
        idp=idp.name,
        protocol=protocol,
        verdict=Verdict.UNSUPPORTED,
        reason=reason,
        code=last.outcome,
        workarounds=tuple(settings),
        runs=runs,
    )


__all__ = [
    "ACCEPTED",
    "IDP_REFUSED",
    "KNOBS_FOR_OUTCOME",
    "OIDC_REASON",
    "PROFILE",
    "FlowRunner",
    "RealRunners",
    "evaluate",
    "evaluate_cell",
]
