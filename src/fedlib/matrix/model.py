"""The support matrix's input and output values: applications, IdPs, protocols in; one cell per combination out.

Input is a mapping (or a TOML file) such as::

    [applications.web]
    sp_initiated = true
    idp_initiated = true

    [idps.contoso]
    profile = "entra"                      # a vendor profile of fedlib.testing.profiles
    settings = { encrypt_assertion = true } # what the customer has set at the IdP (IdPBehaviour knobs)
    sp_settings = { allow_in_response_to_on_unsolicited = false }  # fedlib's side, for this IdP

    [idps.simplesamlphp]
    profile = "simplesamlphp"
    real = "simplesamlphp"                 # run against the real product when it is installed

    protocols = ["saml2-sp-initiated", "saml2-idp-initiated", "oidc"]

Settings the customer has set are taken as given; only the vendor's *defaults* may be changed by a
workaround (a ``limited`` verdict names the setting to change). ``sp_settings`` are fedlib-side
``SecurityPolicy`` switches for this IdP (:data:`SP_SETTING_KEYS`); one the customer has not set may be
turned on by a workaround when the vendor profile documents the quirk it serves (``VendorProfile.sp_settings``),
so an IdP such as Rippling shows as ``limited`` with the fedlib setting to change.

Each ``settings`` value is checked against its knob's type in ``IdPBehaviour`` (one of the listed words,
true or false, a string, a table of strings; a duration such as ``lifetime`` or ``clock_offset`` in seconds)
and the algorithm names against what the test IdP signs with: anything else is a ``ConfigurationError``
naming the knob, before any flow runs.
"""

from __future__ import annotations

import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any

from fedlib._files import read_toml
from fedlib.errors import ConfigurationError


class Protocol(StrEnum):
    """A way an application can be signed in to."""

    SAML2_SP_INITIATED = "saml2-sp-initiated"
    SAML2_IDP_INITIATED = "saml2-idp-initiated"
    OIDC = "oidc"


class Verdict(StrEnum):
    """The outcome of one combination."""

    SUPPORTED = "supported"
    """Works with the IdP as configured."""
    LIMITED = "limited"
    """Works only after the named IdP-side change(s)."""
    UNSUPPORTED = "unsupported"
    """Cannot work; the reason and the error code that proved it are recorded."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Application:
    """An application that uses fedlib as its SP."""

    name: str
    sp_initiated: bool = True
    """The application starts logins (sends AuthnRequests)."""
    idp_initiated: bool = False
    """The application accepts IdP-initiated (unsolicited) Responses."""


@dataclass(frozen=True, slots=True, kw_only=True)
class IdPEntry:
    """An IdP deployment: a vendor profile plus the settings its administrator has changed."""

    name: str
    profile: str
    settings: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    sp_settings: Mapping[str, bool] = field(default_factory=lambda: MappingProxyType({}))
    """fedlib-side settings for this IdP, as the SP operator set them (:data:`SP_SETTING_KEYS`)."""
    real: str | None = None
    """A real IdP product (``fedlib.testing.realidp`` kind) that backs this row when it can run here: the
    as-configured flows run against it (its own configuration: no ``settings``); workarounds, and the
    whole row when the product is missing, use the vendor profile."""


SP_SETTING_KEYS: frozenset[str] = frozenset({"allow_in_response_to_on_unsolicited"})
"""The ``SecurityPolicy`` switches a matrix IdP entry may set on fedlib's side (per IdP)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MatrixConfig:
    applications: tuple[Application, ...]
    idps: tuple[IdPEntry, ...]
    protocols: tuple[Protocol, ...]

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> MatrixConfig:
        """Build from a dict (the shape of the TOML file); ``ConfigurationError`` on anything unexpected."""
        from fedlib.testing.behaviour import KNOBS
        from fedlib.testing.profiles import get_profile
        from fedlib.testing.realidp.base import KINDS

        unknown = set(data) - {"applications", "idps", "protocols"}
        if unknown:
            raise ConfigurationError(f"unknown matrix section(s): {', '.join(sorted(unknown))}")
        apps = []
        for name, raw in _table(data, "applications").items():
            extra = set(_as_table(raw, f"applications.{name}")) - {"sp_initiated", "idp_initiated"}
            if extra:
                raise ConfigurationError(f"applications.{name}: unknown key(s) {', '.join(sorted(extra))}")
            apps.append(
                Application(
                    name=name,
                    sp_initiated=_bool(raw, "sp_initiated", True, name),
                    idp_initiated=_bool(raw, "idp_initiated", False, name),
                )
            )
        idps = []
        for name, raw in _table(data, "idps").items():
            table = _as_table(raw, f"idps.{name}")
            extra = set(table) - {"profile", "settings", "sp_settings", "real"}
            if extra:
                raise ConfigurationError(f"idps.{name}: unknown key(s) {', '.join(sorted(extra))}")
            profile = table.get("profile")
            if not isinstance(profile, str):
                raise ConfigurationError(f"idps.{name}: 'profile' must name a vendor profile")
            try:
                get_profile(profile)
            except ValueError as exc:
                raise ConfigurationError(f"idps.{name}: {exc}") from None
            settings = _as_table(table.get("settings", {}), f"idps.{name}.settings")
            bad = set(settings) - KNOBS
            if bad:
                raise ConfigurationError(f"idps.{name}.settings: unknown knob(s) {', '.join(sorted(bad))}")
            settings = _knob_values(profile, settings, f"idps.{name}.settings")
            sp_settings = _as_table(table.get("sp_settings", {}), f"idps.{name}.sp_settings")
            bad = set(sp_settings) - SP_SETTING_KEYS
            if bad:
                raise ConfigurationError(
                    f"idps.{name}.sp_settings: unknown setting(s) {', '.join(sorted(bad))}; "
                    f"known: {', '.join(sorted(SP_SETTING_KEYS))}"
                )
            if not all(isinstance(v, bool) for v in sp_settings.values()):
                raise ConfigurationError(f"idps.{name}.sp_settings: values must be true or false")
            real = table.get("real")
            if real is not None and real not in KINDS:
                raise ConfigurationError(f"idps.{name}.real: must be one of {', '.join(KINDS)}")
            if real is not None and settings:
                raise ConfigurationError(
                    f"idps.{name}: a real IdP runs with its own configuration; 'settings' apply to profiles only"
                )
            idps.append(
                IdPEntry(
                    name=name,
                    profile=profile,
                    settings=MappingProxyType(dict(settings)),
                    sp_settings=MappingProxyType(dict(sp_settings)),
                    real=real,
                )
            )
        raw_protocols = data.get("protocols", [p.value for p in Protocol])
        if not isinstance(raw_protocols, list) or not raw_protocols:
            raise ConfigurationError("'protocols' must be a non-empty list")
        try:
            protocols = tuple(Protocol(p) for p in raw_protocols)
        except ValueError:
            raise ConfigurationError(
                f"unknown protocol in {raw_protocols!r}; known: {', '.join(p.value for p in Protocol)}"
            ) from None
        if not apps or not idps:
            raise ConfigurationError("the matrix needs at least one application and one IdP")
        return cls(applications=tuple(apps), idps=tuple(idps), protocols=protocols)

    @classmethod
    def from_toml(cls, path: str | Path) -> MatrixConfig:
        return cls.from_mapping(read_toml(str(path)))


# A duration knob is given in seconds (TOML has no duration type); this bounds it to what the test IdP
# can put in an instant (an IdP's clock off by years, or an assertion valid for years, is no flow to run).
_MAX_KNOB_SECONDS = 10 * 365 * 24 * 3600
# Validity periods an IdP administrator sets; the clock offset alone may be negative (a clock behind).
_POSITIVE_DURATIONS = frozenset({"lifetime", "session_lifetime"})


def _knob_values(profile: str, settings: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The IdP knobs of a matrix file as the test IdP takes them, each checked against its type in
    ``IdPBehaviour`` (a duration from seconds), algorithm names against what the test IdP can sign with, and
    the whole set by building the profile's behaviour with it: ``ConfigurationError`` naming the knob."""
    from fedlib.testing import responses
    from fedlib.testing.behaviour import IdPBehaviour
    from fedlib.testing.profiles import get_profile

    hints = typing.get_type_hints(IdPBehaviour)
    out: dict[str, Any] = {}
    for knob, value in settings.items():
        out[knob] = _knob_value(hints[knob], value, f"{where}.{knob}")
        if knob in _POSITIVE_DURATIONS and out[knob] <= timedelta(0):
            raise ConfigurationError(f"{where}.{knob} must be a positive number of seconds, got {value!r}")
    # The three algorithm knobs are names the signer resolves (its own lookups, so that the matrix and the
    # test IdP agree on what exists).
    for knob, resolve in (
        ("signature_algorithm", responses._signature_method),
        ("digest_algorithm", responses._digest_method),
        ("c14n", responses._c14n_method),
    ):
        if isinstance(out.get(knob), str):
            try:
                resolve(out[knob])
            except ValueError as exc:
                raise ConfigurationError(f"{where}.{knob}: {exc}") from None
    try:
        get_profile(profile).behaviour(**out)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"{where}: {exc}") from None
    return out


def _knob_value(expected: Any, value: Any, where: str) -> Any:
    """``value`` (from TOML) as a value of type ``expected``, or ``ConfigurationError``."""
    origin = typing.get_origin(expected)
    if origin is typing.Literal:
        if isinstance(value, str) and value in typing.get_args(expected):
            return value
        choices = ", ".join(repr(choice) for choice in typing.get_args(expected))
        raise ConfigurationError(f"{where} must be one of {choices}, got {value!r}")
    if origin in (typing.Union, types.UnionType):
        members = [member for member in typing.get_args(expected) if member is not type(None)]
        if len(members) == 1:  # X | None: TOML has no null, so the value is an X
            return _knob_value(members[0], value, where)
    if expected is bool:
        if type(value) is bool:
            return value
        raise ConfigurationError(f"{where} must be true or false, got {value!r}")
    if expected is str:
        if isinstance(value, str):
            return value
        raise ConfigurationError(f"{where} must be a string, got {value!r}")
    if expected is timedelta:
        if type(value) in (int, float) and math.isfinite(value) and abs(value) <= _MAX_KNOB_SECONDS:
            return timedelta(seconds=value)
        raise ConfigurationError(f"{where} must be a number of seconds (at most 10 years), got {value!r}")
    if origin is Mapping or expected is Mapping:
        if isinstance(value, Mapping) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            return dict(value)
        raise ConfigurationError(f"{where} must be a table of strings, got {value!r}")
    raise ConfigurationError(f"{where} cannot be set from a matrix file")


def _table(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    return _as_table(data.get(key, {}), key)


def _as_table(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigurationError(f"{where} must be a table")
    return value


def _bool(raw: Mapping[str, Any], key: str, default: bool, name: str) -> bool:
    value = raw.get(key, default)
    if not isinstance(value, bool):
        raise ConfigurationError(f"applications.{name}.{key} must be true or false")
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class Run:
    """One real flow: what the IdP was set to and what happened."""

    changed: Mapping[str, Any]
    """Knobs changed from the IdP's configuration by workarounds, for this run."""
    sp_changed: Mapping[str, bool] = field(default_factory=lambda: MappingProxyType({}))
    """fedlib-side settings turned on by workarounds, for this run."""
    outcome: str
    """``accepted``, an ``ErrorCode`` slug, or ``idp-refused``."""
    message: str
    """fedlib's (or the IdP's) message; for an accepted run, the NameID that was logged in."""
    backend: str = "profile"
    """What played the IdP: ``profile`` (``fedlib.testing.TestIdP`` as the vendor profile) or the real
    product and version (e.g. ``SimpleSAMLphp 1.19.7``)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Cell:
    """One application x IdP x protocol outcome, with the runs that prove it."""

    application: str
    idp: str
    protocol: Protocol
    verdict: Verdict
    reason: str
    """Why (for ``limited``: what the restriction is; for ``unsupported``: what failed)."""
    code: str | None = None
    """The error code that proved an ``unsupported`` verdict (None for OIDC, which is not run)."""
    workarounds: tuple[str, ...] = ()
    """IdP-side settings to change (``limited``), in the vendor's words."""
    runs: tuple[Run, ...] = ()
    """Every flow run for this cell, in order; the last one decided it. Empty only for OIDC."""


__all__ = ["SP_SETTING_KEYS", "Application", "Cell", "IdPEntry", "MatrixConfig", "Protocol", "Run", "Verdict"]
