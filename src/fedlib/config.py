"""Typed, frozen configuration with secure defaults. The core never sees a dict.

There is deliberately no switch that makes the Response signature optional, no ``strict`` flag and no
``want*Signed`` flags: the policy is fixed, and what can be relaxed (SHA-1 for legacy IdPs, unsolicited
responses, clock skew) is named, per field, with its risk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from fedlib._xml.parse import DEFAULT_MAX_XML_BYTES
from fedlib.errors import ConfigurationError
from fedlib.xmldsig.sign import Signer, SigningKey, check_signing_key, key_matches_certificate

DEFAULT_CLOCK_SKEW = timedelta(seconds=180)
MAX_CLOCK_SKEW = timedelta(hours=1)
DEFAULT_MAX_ASSERTION_AGE = timedelta(minutes=10)
MAX_MAX_ASSERTION_AGE = timedelta(hours=24)


@dataclass(frozen=True, slots=True, kw_only=True)
class SecurityPolicy:
    """What the SP accepts beyond the fixed rules."""

    clock_skew: timedelta = DEFAULT_CLOCK_SKEW
    """Tolerance applied to every time comparison (NotBefore, NotOnOrAfter). Default 180 s, at most 1 h."""

    allow_sha1: bool = False
    """INSECURE. Accept RSA-SHA1 signatures and SHA-1 digests, for legacy IdPs that cannot do SHA-256.
    SHA-1 collisions are practical; turn this on only for an IdP you cannot upgrade, and only for it."""

    allow_unsolicited: bool = False
    """Accept IdP-initiated (unsolicited) responses, i.e. responses with no request ID to match.

    Login CSRF risk: an SP-initiated login is bound to the browser that started it (a per-request cookie,
    ``browser-mismatch`` otherwise), but an IdP-initiated Response answers no request, so there is nothing
    to bind it to. With this on, an attacker can sign in at the IdP with their own account, take the
    Response it posts, and make a victim's browser post it to the ACS: the victim is then signed in to
    this application as the attacker (and may enter data into the attacker's account). Turn it on only
    for an IdP whose portal launch users really need, and only for that IdP; prefer SP-initiated login."""

    allow_in_response_to_on_unsolicited: bool = False
    """Quirk: accept an unsolicited response that nevertheless carries InResponseTo (some IdPs, e.g.
    Rippling, send one). Only meaningful with ``allow_unsolicited``."""

    max_message_bytes: int = DEFAULT_MAX_XML_BYTES
    """Cap on the decoded XML of one message (the base64 form value is capped accordingly)."""

    max_assertion_age: timedelta = DEFAULT_MAX_ASSERTION_AGE
    """How old a Response or Assertion may be (from its ``IssueInstant``) when it reaches the ACS; the clock
    skew applies on top. Default 10 minutes (real IdPs' assertions last about 5), between 1 minute and 24
    hours. A stale Response is refused as ``expired`` even if its NotOnOrAfter is far away: that bounds the
    window in which a captured Response can be replayed against another SP or store."""

    def __post_init__(self) -> None:
        if not isinstance(self.clock_skew, timedelta):
            raise ConfigurationError("clock_skew must be a timedelta")
        if self.clock_skew < timedelta(0) or self.clock_skew > MAX_CLOCK_SKEW:
            raise ConfigurationError("clock_skew must be between 0 and 1 hour")
        if not isinstance(self.max_assertion_age, timedelta):
            raise ConfigurationError("max_assertion_age must be a timedelta")
        if not timedelta(minutes=1) <= self.max_assertion_age <= MAX_MAX_ASSERTION_AGE:
            raise ConfigurationError("max_assertion_age must be between 1 minute and 24 hours")
        if self.max_message_bytes < 1024:
            raise ConfigurationError("max_message_bytes must be at least 1024")


def _check_absolute_url(name: str, value: str) -> None:
    try:
        parts = urlsplit(value)
    except (ValueError, TypeError, AttributeError):  # "https://[x", NFKC-changing hosts, not a str
        raise ConfigurationError(f"{name} must be an absolute http(s) URL, got {value!r}") from None
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise ConfigurationError(f"{name} must be an absolute http(s) URL, got {value!r}")


CONTACT_TYPES: Final = frozenset({"technical", "support", "administrative", "billing", "other"})
"""The ``contactType`` values SAML metadata allows (metadata §2.3.2.2)."""


def _check_text(name: str, value: str | None) -> None:
    if value is not None and (not value or value.strip() != value):
        raise ConfigurationError(f"{name} must be non-empty without surrounding whitespace, got {value!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Organization:
    """The organisation responsible for the SP, published in its metadata (``md:Organization``)."""

    name: str
    """``OrganizationName``: the legal or formal name."""

    display_name: str
    """``OrganizationDisplayName``: the name shown to people (IdP consent pages, federation listings)."""

    url: str
    """``OrganizationURL``: an absolute http(s) URL with information about the organisation."""

    lang: str = "en"
    """The ``xml:lang`` of the three values."""

    def __post_init__(self) -> None:
        _check_text("organization name", self.name)
        _check_text("organization display_name", self.display_name)
        _check_text("organization lang", self.lang)
        _check_absolute_url("organization url", self.url)


@dataclass(frozen=True, slots=True, kw_only=True)
class ContactPerson:
    """A contact published in the SP's metadata (``md:ContactPerson``)."""

    contact_type: str
    """One of ``technical``, ``support``, ``administrative``, ``billing``, ``other``."""

    company: str | None = None
    """``Company``: the organisation the contact belongs to."""

    given_name: str | None = None
    """``GivenName``."""

    surname: str | None = None
    """``SurName``."""

    email_addresses: tuple[str, ...] = ()
    """Addresses; published as ``mailto:`` URIs (a ``mailto:`` prefix given here is kept, not doubled)."""

    telephone_numbers: tuple[str, ...] = ()
    """``TelephoneNumber`` values, as written (no format is imposed)."""

    def __post_init__(self) -> None:
        if self.contact_type not in CONTACT_TYPES:
            raise ConfigurationError(f"contact_type must be one of {sorted(CONTACT_TYPES)}, got {self.contact_type!r}")
        for name in ("company", "given_name", "surname"):
            _check_text(f"contact {name}", getattr(self, name))
        object.__setattr__(self, "email_addresses", tuple(self.email_addresses))
        object.__setattr__(self, "telephone_numbers", tuple(self.telephone_numbers))
        for address in self.email_addresses:
            _check_text("contact email address", address)
            if "@" not in address or any(c.isspace() for c in address):
                raise ConfigurationError(f"{address!r} is not an email address")
        for number in self.telephone_numbers:
            _check_text("contact telephone number", number)
        if not (self.company or self.given_name or self.surname or self.email_addresses or self.telephone_numbers):
            raise ConfigurationError("a contact needs at least a name, a company, an email address or a phone number")


def _load_signing_key(value: object) -> SigningKey:
    if isinstance(value, bytes | bytearray):
        try:
            loaded = serialization.load_pem_private_key(bytes(value), password=None)
        except TypeError:
            raise ConfigurationError(
                "signing_key is an encrypted PEM; decrypt it with cryptography's load_pem_private_key and "
                "pass the key object"
            ) from None
        except ValueError:
            raise ConfigurationError("signing_key is not a PEM private key") from None
        value = loaded
    try:
        return check_signing_key(value)
    except ValueError as exc:
        raise ConfigurationError(f"signing_key: {exc}") from None


def _check_uri(name: str, value: str) -> None:
    if not value or value.strip() != value or any(c.isspace() for c in value) or ":" not in value:
        raise ConfigurationError(f"{name} must be an absolute URI, got {value!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class SPConfig:
    """One service provider as its IdPs know it."""

    entity_id: str
    """The SP's entityID: what every AudienceRestriction must name."""

    acs_url: str
    """The public AssertionConsumerService URL, exactly as the IdP posts to it (behind a proxy: the public
    URL, never one rebuilt from Host headers). Destination and Recipient must equal it exactly."""

    policy: SecurityPolicy = field(default_factory=SecurityPolicy)

    additional_acs_urls: tuple[str, ...] = ()
    """Further ACS URLs (HTTP-POST) published in the metadata after ``acs_url``, with indexes 1, 2, ...
    (``acs_url`` is index 0 and the default). An AuthnRequest may name one of them; a Response posted
    there is validated with an ``SPConfig`` whose ``acs_url`` is that URL."""

    slo_url: str | None = None
    """The SingleLogoutService URL, published for the HTTP-Redirect and HTTP-POST bindings; None: no SLO."""

    signing_key: SigningKey | bytes | None = field(default=None, repr=False)
    """The SP's private key (RSA >= 2048 bits or EC P-256/384/521), as a cryptography key object or as
    unencrypted PEM bytes (loaded here; after construction the field always holds a key object or None).
    With a key, AuthnRequests are signed and the metadata says ``AuthnRequestsSigned="true"``; without
    one they go unsigned, which SAML allows (the IdP authenticates the user whoever asked)."""

    signing_certificates: tuple[x509.Certificate, ...] = ()
    """Certificates published as ``KeyDescriptor use="signing"``: the current one first, then the next one
    during a rollover (IdPs that read the metadata then accept both). With a ``signing_key``, the first
    must carry its public key."""

    name_id_formats: tuple[str, ...] = ()
    """NameID format URIs published in the metadata, in order of preference (``md:NameIDFormat``)."""

    organization: Organization | None = None
    """Published as ``md:Organization`` when set."""

    contacts: tuple[ContactPerson, ...] = ()
    """Published as ``md:ContactPerson`` elements."""

    def __post_init__(self) -> None:
        if not self.entity_id or self.entity_id.strip() != self.entity_id:
            raise ConfigurationError("entity_id must be a non-empty string without surrounding whitespace")
        _check_absolute_url("acs_url", self.acs_url)
        object.__setattr__(self, "additional_acs_urls", tuple(self.additional_acs_urls))
        for url in self.additional_acs_urls:
            _check_absolute_url("additional_acs_urls", url)
        if len(set(self.acs_urls)) != len(self.acs_urls):
            raise ConfigurationError("the ACS URLs (acs_url and additional_acs_urls) must be distinct")
        if self.slo_url is not None:
            _check_absolute_url("slo_url", self.slo_url)
        if self.signing_key is not None:
            object.__setattr__(self, "signing_key", _load_signing_key(self.signing_key))
        object.__setattr__(self, "signing_certificates", tuple(self.signing_certificates))
        for certificate in self.signing_certificates:
            if not isinstance(certificate, x509.Certificate):
                raise ConfigurationError("signing_certificates must hold cryptography x509.Certificate objects")
            if not isinstance(certificate.public_key(), rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
                raise ConfigurationError("signing certificates must carry RSA or EC keys")
        if len({c.fingerprint(hashes.SHA256()) for c in self.signing_certificates}) != len(self.signing_certificates):
            raise ConfigurationError("signing_certificates lists one certificate twice")
        key = self.private_key
        if key is not None:
            if not self.signing_certificates:
                raise ConfigurationError(
                    "a signing_key needs its certificate in signing_certificates: IdPs verify the SP's "
                    "signatures with the certificates its metadata publishes"
                )
            if not key_matches_certificate(key, self.signing_certificates[0]):
                raise ConfigurationError(
                    "the first signing certificate (the current one) does not carry signing_key's public key"
                )
        object.__setattr__(self, "name_id_formats", tuple(self.name_id_formats))
        for name_id_format in self.name_id_formats:
            _check_uri("name_id_formats", name_id_format)
        if len(set(self.name_id_formats)) != len(self.name_id_formats):
            raise ConfigurationError("name_id_formats lists one format twice")
        object.__setattr__(self, "contacts", tuple(self.contacts))

    @property
    def acs_urls(self) -> tuple[str, ...]:
        """``acs_url`` followed by ``additional_acs_urls`` (metadata indexes 0, 1, ...)."""
        return (self.acs_url, *self.additional_acs_urls)

    @property
    def private_key(self) -> SigningKey | None:
        """``signing_key`` as a key object (never PEM bytes), or None."""
        key = self.signing_key
        assert not isinstance(key, bytes)
        return key

    @property
    def authn_requests_signed(self) -> bool:
        """Whether this SP signs its AuthnRequests: exactly when it has a ``signing_key``."""
        return self.signing_key is not None

    @property
    def signer(self) -> Signer | None:
        """The key with its current certificate, for signing AuthnRequests and metadata; None without a key."""
        key = self.private_key
        if key is None:
            return None
        return Signer(key, self.signing_certificates[0])
