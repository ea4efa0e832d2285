"""Attribute maps and roles: the verified attributes renamed to the application's names. Sans-I/O.

An :class:`AttributeMap` says, declaratively, which SAML attribute (by ``Name`` or, failing that, by
``FriendlyName``) becomes which application attribute, which attribute values grant which role, and which
application attributes a login must carry::

    AttributeMap.from_dict({
        "preset": "entra",                                   # optional; see PRESETS
        "names": {"urn:oid:0.9.2342.19200300.100.1.3": "email"},
        "roles": [{"attribute": "groups", "values": ["5f1c...-object-id"], "role": "admin"}],
        "required": ["email"],
    })

The same shape works as a TOML table (``[sp.attribute_map]`` in the settings file). The result,
:class:`MappedAttributes`, keeps every mapped attribute's values in the order received (several SAML
attributes mapped to one name are merged in document order) and the roles granted; the raw attributes
stay in ``AuthnResult.attributes``. A missing required attribute is ``missing-required-attribute``.

Presets (:data:`PRESETS`) name what each IdP sends by default or by its documented convention, so the
application sees ``email``, ``given_name``, ``surname``, ``display_name``, ``groups`` ... whatever the IdP.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

from fedlib.errors import ConfigurationError, ErrorCode, reject
from fedlib.protocol.models import AuthnResult

_WS: Final = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/"
_MS: Final = "http://schemas.microsoft.com/identity/claims/"
_MS2008: Final = "http://schemas.microsoft.com/ws/2008/06/identity/claims/"

_MICROSOFT: Final[Mapping[str, str]] = {
    # Entra ID's default claims (learn.microsoft.com, "Customize claims issued in the SAML token for
    # enterprise applications": emailaddress, givenname, surname, name = user.userprincipalname) and the
    # claim types AD FS issues under the same URIs (AD FS claim descriptions).
    _WS + "emailaddress": "email",
    _WS + "givenname": "given_name",
    _WS + "surname": "surname",
    _WS + "name": "username",
    _WS + "upn": "username",
    _MS + "displayname": "display_name",
    _MS + "objectidentifier": "object_id",
    _MS + "tenantid": "tenant_id",
    _MS2008 + "groups": "groups",
    _MS2008 + "role": "roles",
    "http://schemas.xmlsoap.org/claims/Group": "groups",
    "http://schemas.microsoft.com/claims/authnmethodsreferences": "authn_methods",
}

_EDUPERSON: Final[Mapping[str, str]] = {
    # eduPerson (REFEDS eduPerson 202208, the urn:oid names of the SAML2 attribute profile, MACE-Dir SAML
    # Attribute Profiles) and inetOrgPerson / X.500 attributes, as Shibboleth IdP and SimpleSAMLphp send
    # them with NameFormat uri.
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.6": "eppn",  # eduPersonPrincipalName
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.7": "entitlements",  # eduPersonEntitlement
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.9": "scoped_affiliation",  # eduPersonScopedAffiliation
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.1": "affiliation",  # eduPersonAffiliation
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.10": "targeted_id",  # eduPersonTargetedID
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.13": "unique_id",  # eduPersonUniqueId
    "urn:oid:1.3.6.1.4.1.5923.1.5.1.1": "groups",  # isMemberOf
    "urn:oid:0.9.2342.19200300.100.1.3": "email",  # mail
    "urn:oid:0.9.2342.19200300.100.1.1": "username",  # uid
    "urn:oid:2.5.4.42": "given_name",  # givenName
    "urn:oid:2.5.4.4": "surname",  # sn
    "urn:oid:2.5.4.3": "common_name",  # cn
    "urn:oid:2.16.840.1.113730.3.1.241": "display_name",  # displayName
}

PRESETS: Final[Mapping[str, Mapping[str, str]]] = MappingProxyType(
    {
        "entra": MappingProxyType(dict(_MICROSOFT)),
        "adfs": MappingProxyType(dict(_MICROSOFT)),
        # Okta: no attribute is sent by default; Okta's documentation and app templates use these
        # Attribute Statement names (help.okta.com "Define attribute statements"; the group attribute
        # statement is conventionally "groups").
        "okta": MappingProxyType(
            {
                "email": "email",
                "firstName": "given_name",
                "lastName": "surname",
                "groups": "groups",
                "displayName": "display_name",
                "login": "username",
            }
        ),
        # Google Workspace: no attribute is sent by default; "Attribute mapping" names are the app's
        # choice. Google's own examples name them after the directory fields.
        "google": MappingProxyType(
            {
                "email": "email",
                "firstName": "given_name",
                "lastName": "surname",
                "groups": "groups",
                "primaryEmail": "email",
                "givenName": "given_name",
                "familyName": "surname",
            }
        ),
        # Keycloak: the default protocol mappers of a SAML client ("X500 email", "X500 givenName",
        # "X500 surname": urn:oid names with FriendlyNames email / givenName / surname; "role list":
        # attribute "Role", one value per role).
        "keycloak": MappingProxyType(
            {
                "urn:oid:1.2.840.113549.1.9.1": "email",
                "urn:oid:2.5.4.42": "given_name",
                "urn:oid:2.5.4.4": "surname",
                "email": "email",
                "givenName": "given_name",
                "surname": "surname",
                "Role": "roles",
            }
        ),
        "shibboleth": MappingProxyType(dict(_EDUPERSON)),
        "eduperson": MappingProxyType(dict(_EDUPERSON)),
        "simplesamlphp": MappingProxyType(dict(_EDUPERSON)),
    }
)
"""Attribute Name (or FriendlyName) -> application name, per IdP product. Combine with your own ``names``
(yours win). Values are merged when several source attributes map to one name."""


@dataclass(frozen=True, slots=True)
class RoleRule:
    """Grant ``role`` when application attribute ``attribute`` has one of ``values`` (exact match)."""

    attribute: str
    values: frozenset[str]
    role: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", frozenset(self.values))
        if not self.attribute or not self.role or not self.values:
            raise ConfigurationError("a role rule needs an attribute, at least one value and a role")
        if not all(isinstance(v, str) and v for v in self.values):
            raise ConfigurationError(f"role {self.role!r}: values must be non-empty strings")


@dataclass(frozen=True, slots=True, kw_only=True)
class MappedAttributes:
    """The application's view of a verified login's attributes."""

    values: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    """Application name -> values (in document order)."""
    roles: frozenset[str] = frozenset()
    """The roles granted by the role rules."""

    def first(self, name: str) -> str | None:
        """The first value of application attribute ``name``, or None."""
        values = self.values.get(name)
        return values[0] if values else None


@dataclass(frozen=True, slots=True, kw_only=True)
class AttributeMap:
    """A declarative map from SAML attributes to application names, with role rules and requirements."""

    names: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """SAML attribute Name (or FriendlyName) -> application name."""
    roles: tuple[RoleRule, ...] = ()
    required: tuple[str, ...] = ()
    """Application names every login must carry (with at least one non-empty value)."""
    keep_unmapped: bool = False
    """Also expose attributes the map does not name, under their SAML Name."""

    def __post_init__(self) -> None:
        names = dict(self.names)
        for source, target in names.items():
            if not isinstance(source, str) or not isinstance(target, str) or not source or not target:
                raise ConfigurationError("attribute map names must map non-empty strings to non-empty strings")
        object.__setattr__(self, "names", MappingProxyType(names))
        object.__setattr__(self, "roles", tuple(self.roles))
        object.__setattr__(self, "required", tuple(self.required))
        if not all(isinstance(r, RoleRule) for r in self.roles):
            raise ConfigurationError("roles must be RoleRule values")
        if not all(isinstance(r, str) and r for r in self.required):
            raise ConfigurationError("required attributes must be non-empty names")

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> AttributeMap:
        """The preset ``name`` (see :data:`PRESETS`), optionally with more fields."""
        try:
            names = PRESETS[name]
        except KeyError:
            raise ConfigurationError(
                f"unknown attribute map preset {name!r}; known: {', '.join(sorted(PRESETS))}"
            ) from None
        extra = dict(overrides.pop("names", {}))
        return cls(names={**names, **extra}, **overrides)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "attribute_map") -> AttributeMap:
        """From a mapping (a TOML table): ``preset``, ``names``, ``roles``, ``required``, ``keep_unmapped``."""
        if not isinstance(data, Mapping):
            raise ConfigurationError(f"{where} must be a table")
        unknown = set(data) - {"preset", "presets", "names", "roles", "required", "keep_unmapped"}
        if unknown:
            raise ConfigurationError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
        names: dict[str, str] = {}
        presets = data.get("presets", [])
        if "preset" in data:
            presets = [data["preset"], *presets]
        if not isinstance(presets, list) or not all(isinstance(p, str) for p in presets):
            raise ConfigurationError(f"{where}.preset(s) must name presets")
        for preset in presets:
            if preset not in PRESETS:
                raise ConfigurationError(f"{where}: unknown preset {preset!r}; known: {', '.join(sorted(PRESETS))}")
            names.update(PRESETS[preset])
        raw_names = data.get("names", {})
        if not isinstance(raw_names, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in raw_names.items()
        ):
            raise ConfigurationError(f"{where}.names must map attribute names to application names (strings)")
        names.update(raw_names)
        rules = []
        raw_roles = data.get("roles", [])
        if not isinstance(raw_roles, list):
            raise ConfigurationError(f"{where}.roles must be a list of tables")
        for i, raw in enumerate(raw_roles):
            at = f"{where}.roles[{i}]"
            if not isinstance(raw, Mapping) or set(raw) - {"attribute", "values", "value", "role"}:
                raise ConfigurationError(f"{at}: a table of attribute, values, role")
            values = raw.get("values", [raw["value"]] if "value" in raw else [])
            if not isinstance(raw.get("attribute"), str) or not isinstance(raw.get("role"), str):
                raise ConfigurationError(f"{at}: attribute and role must be strings")
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise ConfigurationError(f"{at}.values must be a list of strings")
            try:
                rules.append(RoleRule(raw["attribute"], frozenset(values), raw["role"]))
            except ConfigurationError as exc:
                raise ConfigurationError(f"{at}: {exc}") from None
        required = data.get("required", [])
        if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
            raise ConfigurationError(f"{where}.required must be a list of application attribute names")
        keep = data.get("keep_unmapped", False)
        if not isinstance(keep, bool):
            raise ConfigurationError(f"{where}.keep_unmapped must be true or false")
        return cls(names=names, roles=tuple(rules), required=tuple(required), keep_unmapped=keep)

    def target(self, name: str, friendly_name: str | None) -> str | None:
        """The application name for the SAML attribute ``name`` (by Name first, then FriendlyName)."""
        mapped = self.names.get(name)
        if mapped is None and friendly_name:
            mapped = self.names.get(friendly_name)
        if mapped is None and self.keep_unmapped:
            return name
        return mapped

    def apply(self, authn: AuthnResult) -> MappedAttributes:
        """Map ``authn``'s verified attributes; ``missing-required-attribute`` if a required one is absent."""
        merged: dict[str, list[str]] = {}
        for name, received in authn.attributes.items():
            target = self.target(name, authn.friendly_names.get(name))
            if target is not None:
                merged.setdefault(target, []).extend(received)
        values: Mapping[str, tuple[str, ...]] = MappingProxyType({k: tuple(v) for k, v in merged.items()})
        missing = [r for r in self.required if not any(v for v in values.get(r, ()))]
        if missing:
            sources = sorted(s for s, t in self.names.items() if t in missing)
            raise reject(
                ErrorCode.MISSING_REQUIRED_ATTRIBUTE,
                f"the IdP sent no {', '.join(missing)} for this user, and this application requires it; add the "
                f"attribute (claim) to this application's SAML configuration at the IdP"
                + (f" (accepted names: {', '.join(sources[:6])})" if sources else ""),
                detail=f"issuer {authn.issuer!r}, received {sorted(authn.attributes)[:20]!r}",
            )
        roles = frozenset(
            rule.role for rule in self.roles if any(v in rule.values for v in values.get(rule.attribute, ()))
        )
        return MappedAttributes(values=values, roles=roles)


def role_rules(rules: Iterable[tuple[str, Sequence[str], str]]) -> tuple[RoleRule, ...]:
    """``(attribute, values, role)`` triples as :class:`RoleRule` values."""
    return tuple(RoleRule(attribute, frozenset(values), role) for attribute, values, role in rules)


__all__ = ["PRESETS", "AttributeMap", "MappedAttributes", "RoleRule", "role_rules"]
