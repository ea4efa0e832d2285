"""Typed, frozen configuration with secure defaults. The core never sees a dict.

There is deliberately no switch that makes the Response signature optional, no ``strict`` flag and no
``want*Signed`` flags: the policy is fixed, and what can be relaxed (SHA-1 for legacy IdPs, unsolicited
responses, clock skew) is named, per field, with its risk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlsplit

from fedlib._xml.parse import DEFAULT_MAX_XML_BYTES
from fedlib.errors import ConfigurationError

DEFAULT_CLOCK_SKEW = timedelta(seconds=180)
MAX_CLOCK_SKEW = timedelta(hours=1)


@dataclass(frozen=True, slots=True, kw_only=True)
class SecurityPolicy:
    """What the SP accepts beyond the fixed rules."""

    clock_skew: timedelta = DEFAULT_CLOCK_SKEW
    """Tolerance applied to every time comparison (NotBefore, NotOnOrAfter). Default 180 s, at most 1 h."""

    allow_sha1: bool = False
    """INSECURE. Accept RSA-SHA1 signatures and SHA-1 digests, for legacy IdPs that cannot do SHA-256.
    SHA-1 collisions are practical; turn this on only for an IdP you cannot upgrade, and only for it."""

    allow_unsolicited: bool = False
    """Accept IdP-initiated (unsolicited) responses, i.e. responses with no request ID to match."""

    allow_in_response_to_on_unsolicited: bool = False
    """Quirk: accept an unsolicited response that nevertheless carries InResponseTo (some IdPs, e.g.
    Rippling, send one). Only meaningful with ``allow_unsolicited``."""

    max_message_bytes: int = DEFAULT_MAX_XML_BYTES
    """Cap on the decoded XML of one message (the base64 form value is capped accordingly)."""

    def __post_init__(self) -> None:
        if not isinstance(self.clock_skew, timedelta):
            raise ConfigurationError("clock_skew must be a timedelta")
        if self.clock_skew < timedelta(0) or self.clock_skew > MAX_CLOCK_SKEW:
            raise ConfigurationError("clock_skew must be between 0 and 1 hour")
        if self.max_message_bytes < 1024:
            raise ConfigurationError("max_message_bytes must be at least 1024")


def _check_absolute_url(name: str, value: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise ConfigurationError(f"{name} must be an absolute http(s) URL, got {value!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class SPConfig:
    """One service provider as its IdPs know it."""

    entity_id: str
    """The SP's entityID: what every AudienceRestriction must name."""

    acs_url: str
    """The public AssertionConsumerService URL, exactly as the IdP posts to it (behind a proxy: the public
    URL, never one rebuilt from Host headers). Destination and Recipient must equal it exactly."""

    policy: SecurityPolicy = field(default_factory=SecurityPolicy)

    def __post_init__(self) -> None:
        if not self.entity_id or self.entity_id.strip() != self.entity_id:
            raise ConfigurationError("entity_id must be a non-empty string without surrounding whitespace")
        _check_absolute_url("acs_url", self.acs_url)
