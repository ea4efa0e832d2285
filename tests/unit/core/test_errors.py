"""The error model: codes are API (the CLI contract lists them), every code has exactly one family."""

from __future__ import annotations

import pytest

from fedlib.errors import (
    ConfigurationError,
    ErrorCode,
    FedlibError,
    ResponseRejected,
    StoreError,
    reject,
)

# The exact list from the check-response CLI contract (issue #2, section 7). Never rename; only add.
CONTRACT_CODES = [
    "malformed-xml",
    "forbidden-dtd",
    "unsigned-message",
    "assertion-only-signature",
    "encrypted-claims-unsupported",
    "invalid-signature",
    "missing-certificate",
    "untrusted-certificate",
    "weak-algorithm",
    "forbidden-transform",
    "signature-wrapping",
    "wrong-destination",
    "wrong-issuer",
    "wrong-audience",
    "wrong-recipient",
    "expired",
    "not-yet-valid",
    "missing-in-response-to",
    "wrong-in-response-to",
    "unsolicited-not-allowed",
    "replayed",
    "status-not-success",
    "wrong-assertion-count",
    "invalid-subject-confirmation",
]
# Added after the CLI contract (codes are only ever added): the ServiceProvider facade's own rejections.
ADDED_CODES = [
    "unknown-request",
    # the SAML MUSTs of issue #8 section 6
    "missing-authn-statement",
    "unsupported-condition",
    "invalid-time-window",
    # browser binding (issue #8 section 3)
    "browser-mismatch",
    # structural XML limits (issue #8 section 1)
    "message-too-complex",
    # logout validation (issue #8 section 4)
    "logout-session-mismatch",
    # authorization: AuthnContext/MFA and attribute maps (issue #11 sections 2-3)
    "authn-context-not-satisfied",
    "missing-required-attribute",
    # metadata lifecycle (issue #10): a login for an IdP whose metadata expired
    "idp-metadata-expired",
]


def test_codes_are_exactly_the_contract() -> None:
    assert [c.value for c in ErrorCode] == CONTRACT_CODES + ADDED_CODES


@pytest.mark.parametrize("code", list(ErrorCode))
def test_every_code_has_one_family(code: ErrorCode) -> None:
    err = reject(code, "m", detail="private")
    assert isinstance(err, ResponseRejected)
    assert type(err) is not ResponseRejected
    assert err.code is code
    families = [cls for cls in ResponseRejected.__subclasses__() if code in cls.family_codes]
    assert families == [type(err)]


def test_detail_is_never_in_str() -> None:
    err = reject(ErrorCode.INVALID_SIGNATURE, "public message", detail="SECRET-DETAIL")
    assert "SECRET-DETAIL" not in str(err)
    assert str(err) == "invalid-signature: public message"
    assert err.detail == "SECRET-DETAIL"


def test_tree() -> None:
    assert issubclass(ConfigurationError, FedlibError)
    assert issubclass(ConfigurationError, ValueError)
    assert issubclass(StoreError, FedlibError)
    assert not issubclass(StoreError, ResponseRejected)
    assert issubclass(ResponseRejected, FedlibError)
