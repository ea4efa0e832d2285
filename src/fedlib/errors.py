"""Errors raised by fedlib, each carrying a stable code.

Exception tree::

    FedlibError
    ├── ConfigurationError (also ValueError)   bad SP config or IdP metadata; CLI exit 2
    ├── StoreError                             the replay/request store failed: an outage, not an attack
    └── ResponseRejected                       the message was refused; CLI exit 1
        ├── XMLRejected                        malformed-xml, forbidden-dtd, message-too-complex
        ├── SignatureRejected                  unsigned-message, assertion-only-signature, invalid-signature,
        │                                      missing-certificate, untrusted-certificate, weak-algorithm,
        │                                      forbidden-transform, signature-wrapping,
        │                                      idp-metadata-expired
        ├── UnsupportedFeature                 encrypted-claims-unsupported
        ├── ProtocolRejected                   wrong-destination, wrong-issuer, status-not-success,
        │                                      wrong-assertion-count, missing-in-response-to,
        │                                      wrong-in-response-to, unsolicited-not-allowed,
        │                                      unknown-request, missing-authn-statement,
        │                                      browser-mismatch, logout-session-mismatch
        ├── ConditionRejected                  wrong-audience, wrong-recipient, expired, not-yet-valid,
        │                                      invalid-subject-confirmation, unsupported-condition,
        │                                      invalid-time-window
        ├── ReplayRejected                     replayed
        └── AuthorizationRejected              authn-context-not-satisfied, missing-required-attribute

The family is a convenience for ``except`` clauses; ``.code`` is the contract. Codes are API: they are
never renamed, only added. ``message`` is safe to show to an end user or operator (it never echoes
attacker-controlled bytes unless they were already checked); ``detail`` is private diagnostics for logs
and is never part of ``str(error)``.

This module imports nothing from fedlib.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """Stable rejection codes. The values are the slugs printed by the CLI and shown in docs."""

    MALFORMED_XML = "malformed-xml"
    FORBIDDEN_DTD = "forbidden-dtd"
    UNSIGNED_MESSAGE = "unsigned-message"
    ASSERTION_ONLY_SIGNATURE = "assertion-only-signature"
    ENCRYPTED_CLAIMS_UNSUPPORTED = "encrypted-claims-unsupported"
    INVALID_SIGNATURE = "invalid-signature"
    MISSING_CERTIFICATE = "missing-certificate"
    UNTRUSTED_CERTIFICATE = "untrusted-certificate"
    WEAK_ALGORITHM = "weak-algorithm"
    FORBIDDEN_TRANSFORM = "forbidden-transform"
    SIGNATURE_WRAPPING = "signature-wrapping"
    WRONG_DESTINATION = "wrong-destination"
    WRONG_ISSUER = "wrong-issuer"
    WRONG_AUDIENCE = "wrong-audience"
    WRONG_RECIPIENT = "wrong-recipient"
    EXPIRED = "expired"
    NOT_YET_VALID = "not-yet-valid"
    MISSING_IN_RESPONSE_TO = "missing-in-response-to"
    WRONG_IN_RESPONSE_TO = "wrong-in-response-to"
    UNSOLICITED_NOT_ALLOWED = "unsolicited-not-allowed"
    REPLAYED = "replayed"
    STATUS_NOT_SUCCESS = "status-not-success"
    WRONG_ASSERTION_COUNT = "wrong-assertion-count"
    INVALID_SUBJECT_CONFIRMATION = "invalid-subject-confirmation"
    UNKNOWN_REQUEST = "unknown-request"
    # SAML MUSTs (issue #8 section 6)
    MISSING_AUTHN_STATEMENT = "missing-authn-statement"
    UNSUPPORTED_CONDITION = "unsupported-condition"
    INVALID_TIME_WINDOW = "invalid-time-window"
    # browser binding (issue #8 section 3)
    BROWSER_MISMATCH = "browser-mismatch"
    # structural XML limits (issue #8 section 1)
    MESSAGE_TOO_COMPLEX = "message-too-complex"
    # logout validation (issue #8 section 4)
    LOGOUT_SESSION_MISMATCH = "logout-session-mismatch"
    # authorization: AuthnContext/MFA and attribute maps (issue #11 sections 2-3)
    AUTHN_CONTEXT_NOT_SATISFIED = "authn-context-not-satisfied"
    MISSING_REQUIRED_ATTRIBUTE = "missing-required-attribute"
    # Metadata lifecycle (issue #10)
    IDP_METADATA_EXPIRED = "idp-metadata-expired"


class FedlibError(Exception):
    """Base class of every error fedlib raises on purpose."""

    def __init__(self, message: str, *, detail: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail

    def __str__(self) -> str:
        return self.message


class ConfigurationError(FedlibError, ValueError):
    """The SP configuration or the IdP metadata is unusable. Fix the configuration; retrying won't help."""


class StoreError(FedlibError):
    """The request/replay store could not answer. fedlib fails closed: nothing is accepted meanwhile."""


class ResponseRejected(FedlibError):
    """A SAML message was refused. ``code`` says why; ``message`` says what to do about it."""

    family_codes: frozenset[ErrorCode] = frozenset()

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        detail: str | None = None,
        element: str | None = None,
    ) -> None:
        super().__init__(message, detail=detail)
        self.code = code
        self.element = element

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code.value!r}, {self.message!r})"


class XMLRejected(ResponseRejected):
    """The bytes are not acceptable XML (too large, not well-formed, DTD present, over a structural limit)."""

    family_codes = frozenset({ErrorCode.MALFORMED_XML, ErrorCode.FORBIDDEN_DTD, ErrorCode.MESSAGE_TOO_COMPLEX})


class SignatureRejected(ResponseRejected):
    """The message signature is missing, malformed, untrusted or does not verify."""

    family_codes = frozenset(
        {
            ErrorCode.UNSIGNED_MESSAGE,
            ErrorCode.ASSERTION_ONLY_SIGNATURE,
            ErrorCode.INVALID_SIGNATURE,
            ErrorCode.MISSING_CERTIFICATE,
            ErrorCode.UNTRUSTED_CERTIFICATE,
            ErrorCode.WEAK_ALGORITHM,
            ErrorCode.FORBIDDEN_TRANSFORM,
            ErrorCode.SIGNATURE_WRAPPING,
            ErrorCode.IDP_METADATA_EXPIRED,
        }
    )


class UnsupportedFeature(ResponseRejected):
    """The message uses a feature fedlib refuses by design (encrypted claims)."""

    family_codes = frozenset({ErrorCode.ENCRYPTED_CLAIMS_UNSUPPORTED})


class ProtocolRejected(ResponseRejected):
    """The verified message is not addressed to us, not from our IdP, or not a success."""

    family_codes = frozenset(
        {
            ErrorCode.WRONG_DESTINATION,
            ErrorCode.WRONG_ISSUER,
            ErrorCode.STATUS_NOT_SUCCESS,
            ErrorCode.WRONG_ASSERTION_COUNT,
            ErrorCode.MISSING_IN_RESPONSE_TO,
            ErrorCode.WRONG_IN_RESPONSE_TO,
            ErrorCode.UNSOLICITED_NOT_ALLOWED,
            ErrorCode.UNKNOWN_REQUEST,
            ErrorCode.MISSING_AUTHN_STATEMENT,
            ErrorCode.BROWSER_MISMATCH,
            ErrorCode.LOGOUT_SESSION_MISMATCH,
        }
    )


class ConditionRejected(ResponseRejected):
    """The assertion's conditions (time window, audience, subject confirmation) do not hold."""

    family_codes = frozenset(
        {
            ErrorCode.WRONG_AUDIENCE,
            ErrorCode.WRONG_RECIPIENT,
            ErrorCode.EXPIRED,
            ErrorCode.NOT_YET_VALID,
            ErrorCode.INVALID_SUBJECT_CONFIRMATION,
            ErrorCode.UNSUPPORTED_CONDITION,
            ErrorCode.INVALID_TIME_WINDOW,
        }
    )


class ReplayRejected(ResponseRejected):
    """The assertion was already consumed."""

    family_codes = frozenset({ErrorCode.REPLAYED})


class AuthorizationRejected(ResponseRejected):
    """The login is genuine, but not good enough for this application: the authentication context (MFA)
    falls short of what was requested or required, or a required attribute is missing."""

    family_codes = frozenset({ErrorCode.AUTHN_CONTEXT_NOT_SATISFIED, ErrorCode.MISSING_REQUIRED_ATTRIBUTE})


_FAMILIES: tuple[type[ResponseRejected], ...] = (
    XMLRejected,
    SignatureRejected,
    UnsupportedFeature,
    ProtocolRejected,
    ConditionRejected,
    ReplayRejected,
    AuthorizationRejected,
)


def reject(
    code: ErrorCode,
    message: str,
    *,
    detail: str | None = None,
    element: str | None = None,
) -> ResponseRejected:
    """Build the ResponseRejected subclass that owns ``code`` (the caller raises it)."""
    for family in _FAMILIES:
        if code in family.family_codes:
            return family(code, message, detail=detail, element=element)
    raise AssertionError(f"error code {code!r} has no family")  # pragma: no cover - guarded by a test


__all__ = [
    "AuthorizationRejected",
    "ConditionRejected",
    "ConfigurationError",
    "ErrorCode",
    "FedlibError",
    "ProtocolRejected",
    "ReplayRejected",
    "ResponseRejected",
    "SignatureRejected",
    "StoreError",
    "UnsupportedFeature",
    "XMLRejected",
    "reject",
]
