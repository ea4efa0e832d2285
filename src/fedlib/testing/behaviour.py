"""What a (test) IdP varies: every knob of :class:`fedlib.testing.TestIdP`, as one frozen value.

A vendor profile (:mod:`fedlib.testing.profiles`) is an ``IdPBehaviour`` holding that vendor's defaults;
a test changes one knob with ``dataclasses.replace`` or ``TestIdP(..., **knobs)``. The defaults of this
class are a well-behaved IdP that fedlib accepts: Response signed with RSA-SHA256, certificate in KeyInfo,
nothing encrypted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import timedelta
from types import MappingProxyType
from typing import Any, Literal

from fedlib.constants import NAMEID_EMAIL
from fedlib.testing.encryption import ContentAlgorithm
from fedlib.testing.responses import ATTRNAME_FORMAT_BASIC, AUTHN_CONTEXT_PASSWORD_PROTECTED_TRANSPORT

SigningMode = Literal["response", "assertion", "both", "none"]
"""Which elements the IdP signs: the ``samlp:Response``, the ``saml:Assertion``, both, or neither."""

KeyInfoMode = Literal["certificate", "certificate+keyvalue", "keyvalue", "keyname", "none"]
"""What the signature's ``ds:KeyInfo`` carries: the X.509 certificate (most IdPs); the certificate plus
``KeyName`` and ``KeyValue`` (Keycloak); only a ``KeyValue``; only a ``KeyName``; or no KeyInfo at all
(PingFederate unless "Include the certificate in the signature <KeyInfo> element" is ticked)."""

SignaturePosition = Literal["after-issuer", "first", "last"]
"""Where the ``ds:Signature`` sits among its parent's children: where the schema puts it (after
``saml:Issuer``), as the first child, or as the last child."""

StatusKind = Literal["success", "authn-failed", "requester", "responder"]
"""The top-level outcome the IdP reports."""

_STATUS_URI = "urn:oasis:names:tc:SAML:2.0:status:"
STATUS_CODES: Mapping[str, tuple[str, str | None]] = MappingProxyType(
    {
        "success": (_STATUS_URI + "Success", None),
        "authn-failed": (_STATUS_URI + "Responder", _STATUS_URI + "AuthnFailed"),
        "requester": (_STATUS_URI + "Requester", _STATUS_URI + "RequestDenied"),
        "responder": (_STATUS_URI + "Responder", None),
    }
)
"""Status kind -> (top-level StatusCode, second-level StatusCode)."""


def _frozen_mapping(value: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(value))


@dataclass(frozen=True, slots=True, kw_only=True)
class IdPBehaviour:
    """Every way a :class:`~fedlib.testing.TestIdP` can vary what it sends (TEST USE ONLY)."""

    signing: SigningMode = "response"
    """Which elements are signed."""

    signature_algorithm: str | None = None
    """Signature algorithm (a URI fragment such as ``rsa-sha256``, ``rsa-sha1``, ``ecdsa-sha256``); None:
    RSA-SHA256 for an RSA key, ECDSA-SHA256 for an EC key."""

    digest_algorithm: str = "sha256"
    """Digest algorithm (``sha256``, ``sha1``, ...)."""

    c14n: str = "exc"
    """Canonicalisation: ``exc`` (exclusive, what nearly every IdP uses), ``c14n``, ``c14n11``."""

    signature_position: SignaturePosition = "after-issuer"
    """Where the Signature element sits in its parent."""

    key_info: KeyInfoMode = "certificate"
    """What KeyInfo carries."""

    key_name: str | None = None
    """The ``ds:KeyName`` text when ``key_info`` includes a KeyName (default: a key id)."""

    encrypt_assertion: bool = False
    """Send ``saml:EncryptedAssertion`` (real XML-Enc) instead of ``saml:Assertion``."""

    encrypt_name_id: bool = False
    """Send ``saml:EncryptedID`` instead of ``saml:NameID``."""

    encrypt_attributes: bool = False
    """Send every attribute as ``saml:EncryptedAttribute``."""

    encryption_algorithm: ContentAlgorithm = "aes256-gcm"
    """Content-encryption algorithm for the three knobs above."""

    name_id_format: str | None = NAMEID_EMAIL
    """NameID ``Format`` (None leaves it out)."""

    attribute_names: Mapping[str, str] = field(default_factory=dict)
    """Logical attribute name -> the name this IdP sends (e.g. ``email`` -> Entra's claim URI). Names not
    listed are sent as they are."""

    attribute_name_format: str | None = ATTRNAME_FORMAT_BASIC
    """``NameFormat`` on every Attribute (None leaves it out)."""

    attribute_friendly_names: Mapping[str, str] = field(default_factory=dict)
    """Logical attribute name -> the ``FriendlyName`` sent with it (Keycloak's X500 mappers); none by default."""

    authn_context_class_ref: str = AUTHN_CONTEXT_PASSWORD_PROTECTED_TRANSPORT
    """The AuthnContextClassRef."""

    session_index: bool = True
    """Put a SessionIndex on the AuthnStatement."""

    clock_offset: timedelta = timedelta(0)
    """How far the IdP's clock is ahead of the true time (negative: behind)."""

    lifetime: timedelta = timedelta(minutes=5)
    """Validity window of the assertion (Conditions and SubjectConfirmationData NotOnOrAfter)."""

    session_lifetime: timedelta | None = timedelta(hours=8)
    """SessionNotOnOrAfter, counted from the issue instant (None leaves it out)."""

    status: StatusKind = "success"
    """Top-level status."""

    status_message: str | None = None
    """StatusMessage text sent with a non-success status."""

    sp_initiated: bool = True
    """The IdP answers AuthnRequests."""

    idp_initiated: bool = True
    """The IdP can start a login itself (unsolicited Response)."""

    want_authn_requests_signed: bool = False
    """The IdP refuses AuthnRequests that are not signed by a certificate of the SP it knows."""

    in_response_to_on_unsolicited: str | None = None
    """Quirk (Rippling-style): an IdP-initiated Response that nevertheless carries this InResponseTo."""

    lowercase_percent_encoding: bool = False
    """Quirk (AD FS, Entra ID): Redirect-binding query strings, signature input included, use lower-case
    percent-encoding (``%2f``), which a verifier that re-encodes the query cannot reproduce."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "attribute_names", _frozen_mapping(self.attribute_names))
        object.__setattr__(self, "attribute_friendly_names", _frozen_mapping(self.attribute_friendly_names))
        if self.status not in STATUS_CODES:
            raise ValueError(f"unknown status {self.status!r}; expected one of {sorted(STATUS_CODES)}")

    def replace(self, **changes: Any) -> IdPBehaviour:
        """A copy with ``changes`` applied; unknown knob names raise ``TypeError`` naming the knob."""
        unknown = set(changes) - KNOBS
        if unknown:
            raise TypeError(f"unknown IdP knob(s): {', '.join(sorted(unknown))}; known: {', '.join(sorted(KNOBS))}")
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return IdPBehaviour(**values)


KNOBS: frozenset[str] = frozenset(f.name for f in fields(IdPBehaviour))
"""The names of every knob."""

__all__ = [
    "KNOBS",
    "STATUS_CODES",
    "IdPBehaviour",
    "KeyInfoMode",
    "SignaturePosition",
    "SigningMode",
    "StatusKind",
]
