"""Single Logout validation: the IdP's ``<samlp:LogoutRequest>`` and ``<samlp:LogoutResponse>`` (sans-I/O).

An IdP-initiated LogoutRequest: a logout that cannot be forged.

A LogoutRequest ends a user's session, so it is held to the same standard as a login Response. Order
(each stage raises ``ResponseRejected``; later stages read only the verified message):

1. read the message as received: HTTP-Redirect (the raw query, ``read_redirect_logout_request``) or
   HTTP-POST (the ``SAMLRequest`` form value, ``read_post_logout_request``); size caps, strict base64,
   capped inflate, hardened parse                                       malformed-xml, forbidden-dtd
1b. the expected IdP's metadata is not past its validUntil (expired metadata no longer vouches for its
   keys, as for a Response)                                             idp-metadata-expired
2. document element is samlp:LogoutRequest; no encrypted element        malformed-xml,
                                                                        encrypted-claims-unsupported
3. the signature, with the metadata keys of the expected IdP only:
   Redirect: the query signature over the raw octets as received (``verify_redirect_signature``);
   POST: exactly one enveloped ds:Signature of the LogoutRequest, same profile as Responses
                                                                        unsigned-message, invalid-signature,
                                                                        untrusted-certificate, weak-algorithm, ...
4. SWITCH TO THE VERIFIED MESSAGE
5. Version 2.0, ID, IssueInstant -> IssueInstant not in the future (skew) and not older than ``max_age``
   (+ skew) -> NotOnOrAfter (if present) not passed (skew)              malformed-xml, not-yet-valid, expired
6. Issuer = the IdP whose key verified it                               wrong-issuer
7. Destination present and exactly this SP's SLO URL                    wrong-destination
8. exactly one NameID (EncryptedID: encrypted-claims-unsupported; BaseID, or a NameID that is not the
   session's: value, Format, NameQualifier, SPNameQualifier) -> SessionIndex: if the request lists
   any, the session's must be among them (SAML Core §3.7.3.2: none listed = every session of the
   principal)                                                           logout-session-mismatch
9. replay: the request ID is consumed once in the store                 replayed

Nothing is consumed when a check fails. The result keeps what the LogoutResponse needs
(``ServiceProvider.answer_logout_request``): the request ID, the IdP and the binding it came over.

``validate_logout_response`` checks the IdP's ``<samlp:LogoutResponse>`` to a LogoutRequest of this SP
(SP-initiated Single Logout) with the same reading, signature and time rules: the IdP's metadata not
expired (``idp-metadata-expired``) -> samlp:LogoutResponse -> the signature with the IdP's metadata keys
only -> Version, ID, IssueInstant age -> Issuer -> Destination -> InResponseTo = the pending request ->
Status (success / partial / failure; not an error: the local session ends whatever the IdP reports). See
docs/logout.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

from lxml import etree

from fedlib._xml.ids import IdIndex
from fedlib._xml.limits import DEFAULT_XML_LIMITS
from fedlib._xml.parse import DEFAULT_MAX_XML_BYTES, decode_base64, parse_xml, text_content
from fedlib.clock import add_saturating, ensure_aware
from fedlib.config import SPConfig
from fedlib.constants import (
    BINDING_HTTP_POST,
    BINDING_HTTP_REDIRECT,
    DS_SIGNATURE,
    NAMEID_UNSPECIFIED,
    SAML_BASEID,
    SAML_ENCRYPTED_ID,
    SAML_ISSUER,
    SAML_NAMEID,
    STATUS_SUCCESS,
)
from fedlib.errors import ErrorCode, ResponseRejected, reject
from fedlib.metadata.idp import IdPMetadata
from fedlib.protocol.bindings import RedirectQuery, parse_redirect_query, verify_redirect_signature
from fedlib.protocol.logout import (
    SAMLP_LOGOUT_REQUEST,
    SAMLP_LOGOUT_RESPONSE,
    SAMLP_SESSION_INDEX,
    STATUS_PARTIAL_LOGOUT,
)
from fedlib.stores.base import Store
from fedlib.validation import checks
from fedlib.xmldsig.verify import verify_enveloped_signature

DEFAULT_LOGOUT_MAX_AGE: Final = timedelta(minutes=10)
"""How old (by IssueInstant, plus the clock skew) a LogoutRequest may be when it arrives."""

_MAX_SESSION_INDEXES: Final = 64


@dataclass(frozen=True, slots=True, kw_only=True)
class LogoutSession:
    """What this SP remembers about the browser's SAML session: the LogoutRequest must name exactly it.

    Fill it from the verified login (``AuthnResult``): ``issuer``, ``name_id``, ``name_id_format``,
    ``name_qualifier``, ``sp_name_qualifier``, ``session_index``.
    """

    idp_entity_id: str
    name_id: str
    name_id_format: str | None = None
    name_qualifier: str | None = None
    sp_name_qualifier: str | None = None
    session_index: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LogoutRequestResult:
    """A verified LogoutRequest that names this browser's session (or, with no session, names someone).

    Everything here was read from the verified message, except ``relay_state`` (as received, untrusted:
    pass it through ``fedlib.sp.safe_relay_state`` before redirecting to it) and ``binding``.
    """

    idp_entity_id: str
    """The IdP that signed it (its Issuer)."""
    request_id: str
    """The LogoutRequest ID: the ``InResponseTo`` of the LogoutResponse (issue #11)."""
    binding: str
    """``BINDING_HTTP_REDIRECT`` or ``BINDING_HTTP_POST``: how it arrived."""
    name_id: str
    name_id_format: str | None
    name_qualifier: str | None
    sp_name_qualifier: str | None
    session_indexes: tuple[str, ...]
    """The SessionIndex values; empty means every session of the principal."""
    issue_instant: datetime
    not_on_or_after: datetime | None
    reason: str | None
    relay_state: str | None
    """RelayState as received (untrusted)."""
    session_matched: bool
    """True when a ``LogoutSession`` was given (and matched: a mismatch raises); False without one."""


@dataclass(frozen=True, slots=True)
class ReceivedLogoutMessage:
    """A LogoutRequest or LogoutResponse as received, parsed but NOT verified. Validate it once
    (verification of the POST binding detaches the signature from ``untrusted_root``)."""

    binding: str
    untrusted_root: etree._Element
    relay_state: str | None
    redirect_query: str | None = None
    """The raw query (HTTP-Redirect), kept to verify its signature over the octets as received."""

    @property
    def untrusted_issuer(self) -> str | None:
        """The raw Issuer: a hint to pick which IdP's keys to try, never a claim."""
        issuer = self.untrusted_root.find(SAML_ISSUER)
        return (issuer.text or "").strip() if issuer is not None else None


@dataclass(frozen=True, slots=True)
class ReceivedLogoutRequest(ReceivedLogoutMessage):
    """A LogoutRequest as received (``read_redirect_logout_request`` / ``read_post_logout_request``)."""


@dataclass(frozen=True, slots=True)
class ReceivedLogoutResponse(ReceivedLogoutMessage):
    """A LogoutResponse as received (``read_redirect_logout_response`` / ``read_post_logout_response``)."""

    @property
    def untrusted_in_response_to(self) -> str | None:
        """The raw InResponseTo: a hint to find the pending logout, proved by ``validate_logout_response``."""
        return self.untrusted_root.get("InResponseTo")


def read_redirect_logout_request(raw_query: str, *, max_bytes: int = DEFAULT_MAX_XML_BYTES) -> ReceivedLogoutRequest:
    """Split, decode and parse an HTTP-Redirect LogoutRequest (``raw_query``: the query string exactly as
    received, never re-encoded). Nothing is verified yet.

    Raises:
        XMLRejected: ``malformed-xml`` (also a query that carries a SAMLResponse), ``forbidden-dtd``.
    """
    root, relay_state = _read_redirect(raw_query, "SAMLRequest", max_bytes)
    return ReceivedLogoutRequest(BINDING_HTTP_REDIRECT, root, relay_state, redirect_query=raw_query)


def _read_redirect(raw_query: str, parameter: str, max_bytes: int) -> tuple[etree._Element, str | None]:
    query: RedirectQuery = parse_redirect_query(raw_query, max_bytes=max_bytes)
    if query.parameter != parameter:
        raise reject(ErrorCode.MALFORMED_XML, f"the query carries a {query.parameter}, not a {parameter}")
    return parse_xml(query.decode(max_bytes=max_bytes), max_bytes=max_bytes), query.relay_state


def read_post_logout_request(
    saml_request: str, relay_state: str | None = None, *, max_bytes: int = DEFAULT_MAX_XML_BYTES
) -> ReceivedLogoutRequest:
    """Decode (strict base64, no DEFLATE in this binding) and parse an HTTP-POST LogoutRequest.

    Raises:
        XMLRejected: ``malformed-xml``, ``forbidden-dtd``.
    """
    root = parse_xml(decode_base64(saml_request, max_bytes=max_bytes), max_bytes=max_bytes)
    return ReceivedLogoutRequest(BINDING_HTTP_POST, root, relay_state)


def read_redirect_logout_response(raw_query: str, *, max_bytes: int = DEFAULT_MAX_XML_BYTES) -> ReceivedLogoutResponse:
    """Split, decode and parse an HTTP-Redirect LogoutResponse (``raw_query`` exactly as received).

    Raises:
        XMLRejected: ``malformed-xml`` (also a query that carries a SAMLRequest), ``forbidden-dtd``.
    """
    root, relay_state = _read_redirect(raw_query, "SAMLResponse", max_bytes)
    return ReceivedLogoutResponse(BINDING_HTTP_REDIRECT, root, relay_state, redirect_query=raw_query)


def read_post_logout_response(
    saml_response: str, relay_state: str | None = None, *, max_bytes: int = DEFAULT_MAX_XML_BYTES
) -> ReceivedLogoutResponse:
    """Decode (strict base64) and parse an HTTP-POST LogoutResponse (the ``SAMLResponse`` form value).

    Raises:
        XMLRejected: ``malformed-xml``, ``forbidden-dtd``.
    """
    root = parse_xml(decode_base64(saml_response, max_bytes=max_bytes), max_bytes=max_bytes)
    return ReceivedLogoutResponse(BINDING_HTTP_POST, root, relay_state)


def validate_logout_request(
    received: ReceivedLogoutRequest,
    *,
    sp: SPConfig,
    idp: IdPMetadata,
    session: LogoutSession | None,
    now: datetime,
    store: Store,
    max_age: timedelta = DEFAULT_LOGOUT_MAX_AGE,
) -> LogoutRequestResult:
    """Validate an IdP's LogoutRequest for ``session`` (see the module docstring for the order).

    Args:
        received: from ``read_redirect_logout_request`` / ``read_post_logout_request``.
        sp: this SP; ``sp.slo_url`` is the only acceptable Destination (none configured: every
            LogoutRequest is ``wrong-destination``).
        idp: the IdP it must come from (the session's); only its metadata keys are tried.
        session: the browser's session; the request must name exactly it. None (no session here): the
            request is still fully validated and consumed, and there is nothing to end.
        now: the current time (aware).
        store: replay cache (the request ID is recorded under ``logout:``).
        max_age: how long after its IssueInstant (plus skew) a request is still accepted.

    Raises:
        ResponseRejected: with a stable code (docs/errors.md).
        StoreError: the replay store failed.
        ConfigurationError: the IdP metadata holds no certificate.
    """
    now = ensure_aware(now)
    policy = sp.policy
    skew = policy.clock_skew
    _check_metadata_current(idp, now)
    if session is not None and session.idp_entity_id != idp.entity_id:
        raise reject(
            ErrorCode.LOGOUT_SESSION_MISMATCH,
            "the LogoutRequest is checked against another IdP than the one this session logged in with",
        )

    # 2-4: raw structure decisions only; verify, then read only the verified message.
    request = _verified_message(received, idp, sp, SAMLP_LOGOUT_REQUEST, "LogoutRequest")

    # 5: ID, version, time.
    checks.check_version_and_instant(request)
    issue_instant = checks.instant(request, "IssueInstant")
    assert issue_instant is not None
    if add_saturating(now, skew) < issue_instant:
        raise reject(
            ErrorCode.NOT_YET_VALID,
            f"the LogoutRequest was issued at {issue_instant.isoformat()}, in the future; it is now "
            f"{now.isoformat()} (check the clocks of the IdP and this server)",
        )
    if now >= add_saturating(add_saturating(issue_instant, max_age), skew):
        raise reject(
            ErrorCode.EXPIRED,
            f"the LogoutRequest was issued at {issue_instant.isoformat()}, more than {max_age} ago; it is now "
            f"{now.isoformat()} (an old logout link, or clocks out of sync)",
        )
    not_on_or_after = checks.instant(request, "NotOnOrAfter")
    if not_on_or_after is not None and now - skew >= not_on_or_after:
        raise reject(
            ErrorCode.EXPIRED,
            f"the LogoutRequest expired at {not_on_or_after.isoformat()}; it is now {now.isoformat()}",
        )

    # 6-7: from our IdP, to us.
    issuer = checks.check_issuer(request, idp.entity_id)
    _check_destination(request, sp.slo_url, "LogoutRequest")

    # 8: whom it logs out.
    name_id = _name_id(request)
    session_indexes = tuple(text_content(e) for e in request.iterchildren(SAMLP_SESSION_INDEX))
    if len(session_indexes) > _MAX_SESSION_INDEXES:
        raise reject(ErrorCode.MALFORMED_XML, "the LogoutRequest lists too many SessionIndex values")
    if session is not None:
        _check_session(name_id, session_indexes, session, idp_entity_id=idp.entity_id, sp_entity_id=sp.entity_id)

    # 9: replay, last, so that a refused request consumes nothing; and only when it ends a session, so that
    # whoever holds a victim's signed logout URL cannot spend it first from a browser with no session.
    # The request is acceptable only while now < IssueInstant + max_age + skew (step 5; NotOnOrAfter can only
    # shorten that), so the entry need not outlive it; saturating, so no instant can overflow.
    request_id = request.get("ID") or ""
    expires = add_saturating(add_saturating(issue_instant, max_age), skew)
    if session is not None and not store.add(_replay_key(issuer, request_id), expires_at=expires, now=now):
        raise reject(
            ErrorCode.REPLAYED,
            "this LogoutRequest was already used; each one is accepted once",
            detail=f"LogoutRequest ID {request_id[:100]!r}",
        )
    reason = request.get("Reason")
    return LogoutRequestResult(
        idp_entity_id=issuer,
        request_id=request_id,
        binding=received.binding,
        name_id=text_content(name_id),
        name_id_format=name_id.get("Format"),
        name_qualifier=name_id.get("NameQualifier"),
        sp_name_qualifier=name_id.get("SPNameQualifier"),
        session_indexes=session_indexes,
        issue_instant=issue_instant,
        not_on_or_after=not_on_or_after,
        reason=reason,
        relay_state=received.relay_state,
        session_matched=session is not None,
    )


LogoutStatus = Literal["success", "partial", "failure"]


@dataclass(frozen=True, slots=True, kw_only=True)
class LogoutResponseResult:
    """A verified LogoutResponse that answers this SP's pending LogoutRequest.

    Whatever ``status`` says, the local session ends (it already has, in fedlib's Flask adapter): the
    status only tells the application whether the IdP ended its own session (and the other SPs').
    """

    idp_entity_id: str
    in_response_to: str
    """The ID of the LogoutRequest it answers."""
    status: LogoutStatus
    """``success``: top-level Success; ``partial``: the second-level PartialLogout (some sessions at the IdP
    or at other SPs may remain); ``failure``: any other top-level code (``status_codes``)."""
    status_codes: tuple[str, ...]
    """The StatusCode values, top-level first."""
    status_message: str | None
    issue_instant: datetime
    binding: str

    @property
    def success(self) -> bool:
        return self.status == "success"


def validate_logout_response(
    received: ReceivedLogoutResponse,
    *,
    sp: SPConfig,
    idp: IdPMetadata,
    request_id: str,
    now: datetime,
    max_age: timedelta = DEFAULT_LOGOUT_MAX_AGE,
) -> LogoutResponseResult:
    """Validate the IdP's LogoutResponse to this SP's LogoutRequest ``request_id`` (SAML Core §3.7.2).

    Order: samlp:LogoutResponse, no encrypted element -> the signature (Redirect query or one enveloped
    POST signature) with ``idp``'s metadata keys only -> on the verified message: Version, ID, IssueInstant
    neither in the future nor older than ``max_age`` (+ skew) -> Issuer = the IdP -> Destination = this
    SP's ``slo_url`` -> InResponseTo = ``request_id`` -> Status present (its codes become the result).
    The caller consumes the pending logout (``request_id``) once, before calling this (replay).

    Raises:
        ResponseRejected: ``idp-metadata-expired``, ``malformed-xml``, ``unsigned-message``,
            ``invalid-signature`` (and the other signature codes), ``not-yet-valid``, ``expired``,
            ``wrong-issuer``, ``wrong-destination``, ``missing-in-response-to``, ``wrong-in-response-to``.
        ConfigurationError: the IdP metadata holds no certificate.
    """
    now = ensure_aware(now)
    _check_metadata_current(idp, now)
    response = _verified_message(received, idp, sp, SAMLP_LOGOUT_RESPONSE, "LogoutResponse")
    checks.check_version_and_instant(response)
    checks.check_issue_instant(response, now=now, skew=sp.policy.clock_skew, max_age=max_age)
    issuer = checks.check_issuer(response, idp.entity_id)
    _check_destination(response, sp.slo_url, "LogoutResponse")
    in_response_to = response.get("InResponseTo")
    if in_response_to is None:
        raise reject(ErrorCode.MISSING_IN_RESPONSE_TO, "the LogoutResponse does not say which LogoutRequest it answers")
    if in_response_to != request_id:
        raise reject(
            ErrorCode.WRONG_IN_RESPONSE_TO,
            "the LogoutResponse answers another LogoutRequest than the one this SP sent",
            detail=f"expected {request_id[:100]!r}, got {in_response_to[:100]!r}",
        )
    status = checks.status_codes(response)
    if status is None:
        raise reject(ErrorCode.MALFORMED_XML, "the LogoutResponse has no Status")
    codes, message = status
    outcome: LogoutStatus
    if STATUS_PARTIAL_LOGOUT in codes[1:]:
        outcome = "partial"
    elif codes[0] == STATUS_SUCCESS:
        outcome = "success"
    else:
        outcome = "failure"
    issue_instant = checks.instant(response, "IssueInstant")
    assert issue_instant is not None
    return LogoutResponseResult(
        idp_entity_id=issuer,
        in_response_to=in_response_to,
        status=outcome,
        status_codes=tuple(codes),
        status_message=message or None,
        issue_instant=issue_instant,
        binding=received.binding,
    )


def _check_metadata_current(idp: IdPMetadata, now: datetime) -> None:
    """Expired metadata is never used (docs/metadata.md): past its validUntil it no longer vouches for the
    IdP's keys, so nothing signed with them is verified (``idp-metadata-expired``, as for a Response)."""
    if idp.valid_until is not None and idp.valid_until <= now:
        raise reject(
            ErrorCode.IDP_METADATA_EXPIRED,
            "this site's copy of the IdP's metadata has expired, so its keys are no longer trusted; "
            "the operator must restore the metadata source (fedlib check-metadata)",
            detail=f"IdP {idp.entity_id!r}, validUntil {idp.valid_until.isoformat()}",
        )


def _verified_message(
    received: ReceivedLogoutMessage, idp: IdPMetadata, sp: SPConfig, tag: str, what: str
) -> etree._Element:
    """The raw-structure decisions every logout message gets (document element ``tag``, no encrypted
    element anywhere), then its signature (:func:`_verified`); returns the verified element."""
    root = received.untrusted_root
    if root.tag != tag:
        raise reject(
            ErrorCode.MALFORMED_XML,
            f"the message is not a SAML 2.0 <samlp:{what}>",
            detail=f"document element {root.tag!r}",
        )
    checks.check_no_encrypted_claims(root)
    return _verified(received, idp, sp, what)


def _verified(received: ReceivedLogoutMessage, idp: IdPMetadata, sp: SPConfig, what: str) -> etree._Element:
    """Verify the message's signature with ``idp``'s metadata keys only; return the verified element.

    HTTP-Redirect: the query signature over the raw octets as received (it covers the whole DEFLATEd
    message, so the parsed tree is what was signed). HTTP-POST: exactly one enveloped signature of the
    message itself, under the same profile as a Response's.
    """
    policy = sp.policy
    if received.binding == BINDING_HTTP_REDIRECT:
        assert received.redirect_query is not None
        verify_redirect_signature(
            received.redirect_query, idp.trust, allow_sha1=policy.allow_sha1, max_bytes=policy.max_message_bytes
        )
        return received.untrusted_root
    if received.binding == BINDING_HTTP_POST:
        return _verify_post(received.untrusted_root, idp, allow_sha1=policy.allow_sha1, what=what)
    raise reject(ErrorCode.MALFORMED_XML, f"the {what} arrived over an unsupported binding")


def _verify_post(root: etree._Element, idp: IdPMetadata, *, allow_sha1: bool, what: str) -> etree._Element:
    """The message's own enveloped signature, verified like a Response's; returns the verified element."""
    signatures = list(root.iterchildren(DS_SIGNATURE))
    if not signatures:
        raise reject(
            ErrorCode.UNSIGNED_MESSAGE,
            f"the {what} is not signed; fedlib acts on logout messages only when the IdP signed them",
            element=f"samlp:{what}",
        )
    if len(signatures) > 1:
        raise reject(ErrorCode.SIGNATURE_WRAPPING, f"the {what} carries {len(signatures)} signatures; exactly one")
    ids = IdIndex.build(root, max_ids=DEFAULT_XML_LIMITS.max_id_attributes)
    checks.check_unique_ids(ids)
    return verify_enveloped_signature(root, signatures[0], idp.trust, allow_sha1=allow_sha1, ids=ids).element


def _check_destination(message: etree._Element, slo_url: str | None, what: str) -> None:
    """Destination present and exactly the SLO URL (Bindings §3.4.5.2 / §3.5.5.2; ``wrong-destination``)."""
    destination = message.get("Destination")
    if slo_url is None:
        raise reject(
            ErrorCode.WRONG_DESTINATION,
            f"this SP has no SingleLogoutService URL (SPConfig.slo_url), so no {what} is addressed to it; "
            "configure slo_url as published in the SP metadata",
        )
    if destination is None:
        raise reject(ErrorCode.WRONG_DESTINATION, f"the signed {what} has no Destination; it must name this SP")
    if destination != slo_url:
        raise reject(
            ErrorCode.WRONG_DESTINATION,
            f"the {what} was sent to {destination[:200]!r}, not to this SP's logout URL {slo_url!r}",
        )


def _name_id(request: etree._Element) -> etree._Element:
    """The single identifier: a NameID (SAML Core §3.7.1: BaseID | NameID | EncryptedID, exactly one)."""
    identifiers = [e for e in request.iterchildren(SAML_BASEID, SAML_NAMEID, SAML_ENCRYPTED_ID)]
    if len(identifiers) != 1:
        raise reject(
            ErrorCode.MALFORMED_XML,
            f"the LogoutRequest names {len(identifiers)} principals; it must name exactly one (a NameID)",
        )
    identifier = identifiers[0]
    if identifier.tag == SAML_ENCRYPTED_ID:  # pragma: no cover - check_no_encrypted_claims refused it earlier
        raise reject(ErrorCode.ENCRYPTED_CLAIMS_UNSUPPORTED, checks.ENCRYPTION_FIX, element="EncryptedID")
    if identifier.tag == SAML_BASEID:
        raise reject(
            ErrorCode.LOGOUT_SESSION_MISMATCH,
            "the LogoutRequest names its principal with a BaseID; fedlib sessions are keyed by NameID, so it "
            "names no session here",
        )
    return identifier


def _check_session(
    name_id: etree._Element,
    session_indexes: tuple[str, ...],
    session: LogoutSession,
    *,
    idp_entity_id: str,
    sp_entity_id: str,
) -> None:
    """The NameID is the session's (value, Format, NameQualifier, SPNameQualifier: SAML Core §2.2.2, §8.3:
    an omitted Format is ``unspecified``, an omitted NameQualifier the IdP, an omitted SPNameQualifier this
    SP), and the session's SessionIndex is listed when any is (``logout-session-mismatch``)."""

    def fields(
        value: str, fmt: str | None, name_qualifier: str | None, sp_name_qualifier: str | None
    ) -> tuple[str, str, str, str]:
        return (
            value,
            fmt or NAMEID_UNSPECIFIED,
            name_qualifier or idp_entity_id,
            sp_name_qualifier or sp_entity_id,
        )

    received = fields(
        text_content(name_id), name_id.get("Format"), name_id.get("NameQualifier"), name_id.get("SPNameQualifier")
    )
    expected = fields(session.name_id, session.name_id_format, session.name_qualifier, session.sp_name_qualifier)
    if received != expected:
        differs = [
            n
            for n, a, b in zip(("value", "Format", "NameQualifier", "SPNameQualifier"), received, expected, strict=True)
            if a != b
        ]
        raise _mismatch("the LogoutRequest names another user than the one signed in here", f"NameID {differs} differ")
    if session_indexes and session.session_index not in session_indexes:
        raise _mismatch(
            "the LogoutRequest ends other sessions of this user (SessionIndex), not the one in this browser",
            f"{len(session_indexes)} SessionIndex values, none is this session's",
        )


def _mismatch(message: str, detail: str) -> ResponseRejected:
    return reject(ErrorCode.LOGOUT_SESSION_MISMATCH, message, detail=detail)


def _replay_key(issuer: str, request_id: str) -> str:
    return f"logout:{len(issuer)}:{issuer}:{request_id}"


__all__ = [
    "DEFAULT_LOGOUT_MAX_AGE",
    "LogoutRequestResult",
    "LogoutResponseResult",
    "LogoutSession",
    "LogoutStatus",
    "ReceivedLogoutMessage",
    "ReceivedLogoutRequest",
    "ReceivedLogoutResponse",
    "read_post_logout_request",
    "read_post_logout_response",
    "read_redirect_logout_request",
    "read_redirect_logout_response",
    "validate_logout_request",
    "validate_logout_response",
]
