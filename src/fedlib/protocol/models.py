"""Value objects produced by validation. Frozen; safe to cache, log (mind the PII) and pass around."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Final

from fedlib._frozen import fast_builder


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthnResult:
    """A verified login: everything here was read from the signed, verified Response."""

    issuer: str
    """The IdP's entityID."""
    name_id: str
    """The Subject's NameID, its full text content."""
    name_id_format: str | None
    session_index: str | None
    """The first AuthnStatement's SessionIndex (for logout), if the IdP sent one."""
    authn_context_class: str | None
    """The first AuthnStatement's AuthnContextClassRef (how the user authenticated), if any."""
    attributes: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    """Attribute Name -> values; repeated Attribute elements with one Name are merged in order."""
    not_on_or_after: datetime | None
    """End of the assertion's validity (Conditions NotOnOrAfter, else the bearer confirmation's)."""
    session_not_on_or_after: datetime | None = None
    """When the IdP says the session this login opens must end (AuthnStatement SessionNotOnOrAfter; with
    several statements, the earliest). None when the IdP sets no limit. Validation refuses a login whose
    session has already ended (``expired``); adapters should end the application session at this instant
    (e.g. cap the session cookie's lifetime), not merely at their own timeout."""
    in_response_to: str | None
    assertion_id: str
    response_id: str
    name_qualifier: str | None = None
    """The NameID's NameQualifier, if sent (needed to match a later LogoutRequest)."""
    sp_name_qualifier: str | None = None
    """The NameID's SPNameQualifier, if sent."""
    friendly_names: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """Attribute Name -> its FriendlyName, for the attributes that carry one (the first one sent)."""
    mapped_attributes: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    """The attributes under the application's names, per the ServiceProvider's
    :class:`~fedlib.attributes.AttributeMap` (empty without one; ``attributes`` keeps the raw ones)."""
    roles: frozenset[str] = frozenset()
    """The roles the attribute map's role rules grant (empty without rules)."""

    def mapped(self, name: str) -> str | None:
        """The first value of the application attribute ``name`` (see ``mapped_attributes``), or None."""
        values = self.mapped_attributes.get(name)
        return values[0] if values else None

    def attribute(self, name: str) -> str | None:
        """The first value of attribute ``name``, or None."""
        values = self.attributes.get(name)
        return values[0] if values else None

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready view (the CLI's ``--json`` shape plus a few fields)."""
        return {
            "issuer": self.issuer,
            "name_id": self.name_id,
            "name_id_format": self.name_id_format,
            "session_index": self.session_index,
            "in_response_to": self.in_response_to,
            "authn_context_class": self.authn_context_class,
            "attributes": {k: list(v) for k, v in self.attributes.items()},
            "not_on_or_after": self.not_on_or_after.isoformat() if self.not_on_or_after else None,
            "session_not_on_or_after": (
                self.session_not_on_or_after.isoformat() if self.session_not_on_or_after else None
            ),
            "assertion_id": self.assertion_id,
        }


new_authn_result: Final = fast_builder(AuthnResult)
"""``AuthnResult(...)`` (same keyword arguments, same defaults, the same object) without the frozen dataclass
``__init__`` (fedlib._frozen): what fedlib's validation builds one per accepted Response with."""
