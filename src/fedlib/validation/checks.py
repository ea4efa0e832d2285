"""SAML policy rules, one function per rule, each citing the spec section it enforces.

Every function here receives elements of the *verified* tree (or raw input only where the rule is about
the raw input: encrypted elements, locating the signature) and raises ``ResponseRejected`` with its code.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta

from lxml import etree

from fedlib._xml.ids import IdIndex
from fedlib._xml.parse import text_content
from fedlib.clock import add_saturating, parse_instant
from fedlib.constants import (
    CM_BEARER,
    DS_REFERENCE,
    DS_SIGNATURE,
    NAMEID_ENTITY,
    NS_SAML,
    NS_XENC,
    NS_XSI,
    SAML_ASSERTION,
    SAML_AUDIENCE,
    SAML_AUDIENCE_RESTRICTION,
    SAML_AUTHN_CONTEXT,
    SAML_AUTHN_CONTEXT_CLASS_REF,
    SAML_AUTHN_STATEMENT,
    SAML_BASEID,
    SAML_CONDITIONS,
    SAML_ENCRYPTED_ASSERTION,
    SAML_ENCRYPTED_ATTRIBUTE,
    SAML_ENCRYPTED_ID,
    SAML_ISSUER,
    SAML_NAMEID,
    SAML_SUBJECT,
    SAML_SUBJECT_CONFIRMATION,
    SAML_SUBJECT_CONFIRMATION_DATA,
    SAML_VERSION,
    SAMLP_RESPONSE,
    SAMLP_STATUS,
    SAMLP_STATUS_CODE,
    SAMLP_STATUS_MESSAGE,
    STATUS_SUCCESS,
    qname,
)
from fedlib.errors import ErrorCode, ResponseRejected, reject

SAML_ONE_TIME_USE = qname(NS_SAML, "OneTimeUse")
SAML_PROXY_RESTRICTION = qname(NS_SAML, "ProxyRestriction")
_SUBJECT_IDENTIFIERS = (SAML_NAMEID, SAML_BASEID, SAML_ENCRYPTED_ID)
_UNDERSTOOD_CONDITIONS = (SAML_AUDIENCE_RESTRICTION, SAML_ONE_TIME_USE, SAML_PROXY_RESTRICTION)

_ENCRYPTED_TAGS = (
    SAML_ENCRYPTED_ASSERTION,
    SAML_ENCRYPTED_ATTRIBUTE,
    SAML_ENCRYPTED_ID,
    qname(NS_XENC, "EncryptedData"),
    qname(NS_XENC, "EncryptedKey"),
)

ENCRYPTION_FIX = (
    "fedlib does not accept encrypted assertions or attributes: the signed Response over TLS already "
    "protects them. Turn encryption off for this SP at the IdP (Entra ID: Token encryption > deactivate; "
    "AD FS: Set-AdfsRelyingPartyTrust -EncryptClaims $false, and remove the encryption certificate; Okta: "
    'Assertion Encryption = Unencrypted; Shibboleth IdP: p:encryptAssertions="false" for this relying '
    "party; PingFederate: Encryption Policy = None; Keycloak: Encrypt assertions = off)"
)

RESPONSE_SIGNING_FIX = (
    "the IdP signed only the Assertion, but fedlib requires the whole <samlp:Response> to be signed. "
    "Change the IdP's signing option: Entra ID: SAML Certificates > Edit > Signing Option = 'Sign SAML "
    "response and assertion'; AD FS: Set-AdfsRelyingPartyTrust -TargetName <RP> -SamlResponseSignature "
    "MessageAndAssertion; Google Workspace: Service provider details > 'Signed response'; Auth0: addon "
    "setting \"signResponse\": true; OneLogin: SAML signature element = Both; Keycloak: 'Sign documents' "
    "on; PingFederate: Signature Policy 'Sign Response As Required'"
)


def _reject(
    code: ErrorCode, message: str, *, detail: str | None = None, element: str | None = None
) -> ResponseRejected:
    return reject(code, message, detail=detail, element=element)


# --- raw-input rules (before verification) ---------------------------------------------------------


def check_is_response(untrusted_root: etree._Element) -> None:
    """The document element is a samlp:Response (``malformed-xml``)."""
    if untrusted_root.tag != SAMLP_RESPONSE:
        raise _reject(
            ErrorCode.MALFORMED_XML,
            "the message is not a SAML 2.0 <samlp:Response>",
            detail=f"document element {untrusted_root.tag!r}",
        )


def check_no_encrypted_claims(untrusted_root: etree._Element) -> None:
    """No EncryptedAssertion, EncryptedAttribute, EncryptedID (or any xenc:EncryptedData/Key) anywhere
    (``encrypted-claims-unsupported``)."""
    found = next(untrusted_root.iter(*_ENCRYPTED_TAGS), None)
    if found is not None:
        raise _reject(
            ErrorCode.ENCRYPTED_CLAIMS_UNSUPPORTED,
            ENCRYPTION_FIX,
            detail=f"found {etree.QName(found).localname}",
            element=etree.QName(found).localname,
        )


def find_response_signature(untrusted_root: etree._Element) -> etree._Element:
    """The Response's own enveloped signature: exactly one ds:Signature child of the document element.

    None, but a Reference anywhere in the document names the Response (its signature was moved off it, into
    the Assertion, Extensions, Status...): ``signature-wrapping``; none, but an Assertion child of the
    Response is signed: ``assertion-only-signature``; a signed Assertion only elsewhere (wrapped in
    Extensions, an Advice...) or more than one Response signature: ``signature-wrapping``; none at all:
    ``unsigned-message``.
    """
    signatures = list(untrusted_root.iterchildren(DS_SIGNATURE))
    if len(signatures) == 1:
        return signatures[0]
    if len(signatures) > 1:
        raise _reject(
            ErrorCode.SIGNATURE_WRAPPING,
            f"the Response carries {len(signatures)} signatures; exactly one is allowed",
        )
    own_id = untrusted_root.get("ID")
    if own_id and any(r.get("URI") == "#" + own_id for r in untrusted_root.iter(DS_REFERENCE)):
        # The Response was signed, but its signature no longer sits where an enveloped Response signature
        # must: a moved element (the refusals below would send the operator to the IdP's signing settings).
        raise _reject(
            ErrorCode.SIGNATURE_WRAPPING,
            "the Response's own signature (a Reference names the Response) was moved off the Response; it "
            "must be a direct child of the <samlp:Response> it signs (a wrapped or moved element)",
            element="samlp:Response",
        )

    def signed(assertion: etree._Element) -> bool:
        return next(assertion.iterchildren(DS_SIGNATURE), None) is not None

    if any(signed(a) for a in untrusted_root.iterchildren(SAML_ASSERTION)):
        raise _reject(ErrorCode.ASSERTION_ONLY_SIGNATURE, RESPONSE_SIGNING_FIX, element="samlp:Response")
    if any(signed(a) for a in untrusted_root.iter(SAML_ASSERTION)):
        # A signed Assertion exists, but not where an Assertion belongs: a wrapped or moved element, not an
        # IdP that signs only assertions, so the IdP-settings advice above would mislead the operator.
        raise _reject(
            ErrorCode.SIGNATURE_WRAPPING,
            "the Response is unsigned and its only signed Assertion sits outside the Response's own "
            "Assertion position (a wrapped or moved element)",
            element="samlp:Response",
        )
    raise _reject(
        ErrorCode.UNSIGNED_MESSAGE,
        "the Response is not signed; fedlib requires the IdP to sign the <samlp:Response> (see the IdP's "
        "signing options: 'Sign SAML response', 'Sign documents', 'Signed response')",
        element="samlp:Response",
    )


def check_unique_ids(ids: IdIndex) -> None:
    """No ID value is carried by two elements anywhere in the document (``signature-wrapping``)."""
    duplicates = ids.duplicates()
    if duplicates:
        raise _reject(
            ErrorCode.SIGNATURE_WRAPPING,
            "the message carries the same ID on more than one element, a signature-wrapping pattern",
            detail=f"duplicate IDs: {sorted(duplicates)[:5]}",
        )


def check_raw_response(untrusted_root: etree._Element) -> tuple[etree._Element, IdIndex]:
    """Stages 2-5 of the pipeline on the raw document, in their order: :func:`check_is_response`,
    :func:`check_no_encrypted_claims`, :func:`find_response_signature`, the ID index
    (:meth:`IdIndex.build`) and :func:`check_unique_ids`. Returns the Response's signature and the index.

    Every login runs this (bench/verify.py), so the common case (all four pass) is decided inline, in one
    call, by the same tests the rule functions make; anything else falls back to the rule functions in
    order, which raise with their codes and messages (tests/unit/validation/test_raw_fast_path.py shows
    both ways decide alike).
    """
    if untrusted_root.tag == SAMLP_RESPONSE and next(untrusted_root.iter(*_ENCRYPTED_TAGS), None) is None:
        signatures = list(untrusted_root.iterchildren(DS_SIGNATURE))
        if len(signatures) == 1:
            ids = IdIndex.build(untrusted_root)  # ID cap (XMLLimits.max_id_attributes): enforced by parse_xml
            if ids.unique:
                return signatures[0], ids
    check_is_response(untrusted_root)
    check_no_encrypted_claims(untrusted_root)
    signature = find_response_signature(untrusted_root)
    ids = IdIndex.build(untrusted_root)
    check_unique_ids(ids)
    return signature, ids


# --- verified-tree rules ---------------------------------------------------------------------------


def _what(element: etree._Element) -> str:
    """The element's local name, for messages (computed only when a check fails)."""
    return etree.QName(element).localname


# One Response repeats the same few instants (IssueInstant twice, NotOnOrAfter on Conditions and on each
# confirmation, read again for the replay expiry): parse each string once. Bounded in entries and, since
# only instant-sized strings are cached, in memory; a string that does not parse raises and is not cached.
_INSTANT_CACHE_MAX_CHARS = 40
parse_instant_cached = functools.lru_cache(maxsize=256)(parse_instant)


def instant(element: etree._Element, name: str) -> datetime | None:
    raw = element.get(name)
    if raw is None:
        return None
    try:
        return parse_instant_cached(raw) if len(raw) <= _INSTANT_CACHE_MAX_CHARS else parse_instant(raw)
    except (ValueError, OverflowError):
        raise _reject(
            ErrorCode.MALFORMED_XML,
            f"the {etree.QName(element).localname} attribute {name} is not a valid xs:dateTime",
            detail=f"value {raw[:64]!r}",
        ) from None


def check_version_and_instant(element: etree._Element) -> None:
    """Version="2.0", IssueInstant and ID present and well-formed (SAML core §3.2.2, §2.3.3; ``malformed-xml``)."""
    if element.get("Version") != SAML_VERSION:
        raise _reject(ErrorCode.MALFORMED_XML, f"the {_what(element)} is not SAML Version 2.0")
    if element.get("IssueInstant") is None or not element.get("ID"):
        raise _reject(ErrorCode.MALFORMED_XML, f"the {_what(element)} lacks its ID or IssueInstant")
    instant(element, "IssueInstant")


def check_issue_instant(element: etree._Element, *, now: datetime, skew: timedelta, max_age: timedelta) -> None:
    """The Response's or Assertion's IssueInstant is neither in the future beyond the skew (``not-yet-valid``)
    nor older than ``max_age`` plus the skew (``expired``).

    SAML sets no maximum age for IssueInstant and leaves it to the relying party; a real IdP's Response
    reaches the ACS seconds after it is issued, so a Response issued long ago is a captured one being
    replayed, whatever its NotOnOrAfter says (``SecurityPolicy.max_assertion_age``, default 10 minutes).
    Run after :func:`check_version_and_instant`.
    """
    issued = instant(element, "IssueInstant")
    if issued is None:  # pragma: no cover - check_version_and_instant ran first
        raise _reject(ErrorCode.MALFORMED_XML, f"the {_what(element)} lacks its IssueInstant")
    if add_saturating(now, skew) < issued:
        raise _reject(
            ErrorCode.NOT_YET_VALID,
            f"the {_what(element)} was issued at {issued.isoformat()}, in the future; it is now {now.isoformat()} "
            "(check the clocks of the IdP and this server)",
        )
    stale_from = add_saturating(issued, max_age)
    if add_saturating(now, -skew) >= stale_from:
        raise _reject(
            ErrorCode.EXPIRED,
            f"the {_what(element)} was issued at {issued.isoformat()}, more than {_duration(max_age)} ago (the maximum "
            f"age, plus the clock skew); it is now {now.isoformat()}. A Response must reach this SP right after "
            "the IdP issues it: start a new login (if the clocks differ, sync them)",
        )


def _duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def check_destination(response: etree._Element, acs_url: str) -> None:
    """Destination present and exactly the ACS URL (Bindings §3.5.5.2: required on a signed message;
    no prefix or case-folding match; ``wrong-destination``)."""
    destination = response.get("Destination")
    if destination is None:
        raise _reject(
            ErrorCode.WRONG_DESTINATION,
            "the signed Response has no Destination; it must name this SP's ACS URL",
        )
    if destination != acs_url:
        raise _reject(
            ErrorCode.WRONG_DESTINATION,
            f"the Response was sent to {destination[:200]!r}, not to this SP's ACS URL {acs_url!r}; if a proxy "
            "sits in front of the app, configure the public ACS URL exactly as the IdP has it",
        )


def check_issuer(element: etree._Element, idp_entity_id: str) -> str:
    """Issuer present, Format entity (or absent), value exactly the IdP entityID (Profiles §4.1.4.2;
    ``wrong-issuer``). xs:anyURI collapses whitespace, so surrounding whitespace is ignored. A second Issuer
    is refused too: the schema allows one (SAML core §2.3.3, §3.2.1, §3.2.2), and with two, which one names
    the issuer would be a reader's guess."""
    issuers = element.iterchildren(SAML_ISSUER)
    issuer = next(issuers, None)
    if issuer is None:
        raise _reject(ErrorCode.WRONG_ISSUER, f"the {_what(element)} has no Issuer")
    if next(issuers, None) is not None:
        raise _reject(
            ErrorCode.WRONG_ISSUER,
            f"the {_what(element)} has more than one Issuer; the schema allows one, and the IdP must send exactly one",
        )
    fmt = issuer.get("Format")
    if fmt is not None and fmt != NAMEID_ENTITY:
        raise _reject(ErrorCode.WRONG_ISSUER, f"the {_what(element)} Issuer has Format {fmt[:100]!r}, not entity")
    value = (issuer.text or "").strip()
    if value != idp_entity_id:
        raise _reject(
            ErrorCode.WRONG_ISSUER,
            f"the {_what(element)} was issued by {value[:200]!r}, not by the configured IdP {idp_entity_id!r}",
        )
    return value


def status_codes(response: etree._Element) -> tuple[list[str], str] | None:
    """The StatusCode values (top-level first, then up to four nested levels) and the StatusMessage
    (whitespace collapsed, at most 300 characters) of a StatusResponseType; None without a StatusCode."""
    status = next(response.iterchildren(SAMLP_STATUS), None)
    code_el = next(status.iterchildren(SAMLP_STATUS_CODE), None) if status is not None else None
    if status is None or code_el is None:
        return None
    codes = [code_el.get("Value") or ""]
    nested = next(code_el.iterchildren(SAMLP_STATUS_CODE), None)
    while nested is not None and len(codes) < 5:
        codes.append(nested.get("Value") or "")
        nested = next(nested.iterchildren(SAMLP_STATUS_CODE), None)
    message_el = next(status.iterchildren(SAMLP_STATUS_MESSAGE), None)
    message = " ".join(text_content(message_el).split())[:300] if message_el is not None else ""
    return codes, message


def check_status(response: etree._Element) -> None:
    """Top-level StatusCode is Success (Core §3.2.2.2; ``status-not-success``, with the IdP's codes and message)."""
    status = status_codes(response)
    if status is None:
        raise _reject(ErrorCode.STATUS_NOT_SUCCESS, "the Response has no Status")
    codes, message = status
    if codes[0] == STATUS_SUCCESS:
        return
    short = " / ".join(c.rsplit(":", 1)[-1] for c in codes)
    raise _reject(
        ErrorCode.STATUS_NOT_SUCCESS,
        f"the IdP did not log the user in (status {short}){': ' + message if message else ''}",
        detail=f"status codes {codes}",
    )


def single_assertion(response: etree._Element) -> etree._Element:
    """Exactly one saml:Assertion child (``wrong-assertion-count``)."""
    assertions = list(response.iterchildren(SAML_ASSERTION))
    if len(assertions) != 1:
        raise _reject(
            ErrorCode.WRONG_ASSERTION_COUNT,
            f"the Response carries {len(assertions)} assertions; fedlib accepts exactly one",
        )
    return assertions[0]


def subject_name_id(assertion: etree._Element) -> etree._Element:
    """Subject with exactly one identifier, and that one a non-empty NameID (``invalid-subject-confirmation``).

    Core §2.4.1: a Subject holds at most one of BaseID, NameID, EncryptedID; two of them make the subject
    ambiguous (which one is the user?). Profiles §4.1.4.2 needs the Subject to name the principal; fedlib
    reads it from the NameID, so a BaseID alone (an extension type fedlib cannot interpret) is refused, and
    so is a NameID whose content is empty or only whitespace (it would log everyone in as "").
    An EncryptedID never gets here (``encrypted-claims-unsupported`` is raised on the raw input).
    """
    subject = next(assertion.iterchildren(SAML_SUBJECT), None)
    if subject is None:
        raise _reject(ErrorCode.INVALID_SUBJECT_CONFIRMATION, "the Assertion has no Subject")
    identifiers = list(subject.iterchildren(*_SUBJECT_IDENTIFIERS))
    if len(identifiers) > 1:
        names = ", ".join(etree.QName(i).localname for i in identifiers[:5])
        raise _reject(
            ErrorCode.INVALID_SUBJECT_CONFIRMATION,
            f"the Assertion's Subject carries {len(identifiers)} identifiers ({names}); SAML allows one",
        )
    if not identifiers:
        raise _reject(ErrorCode.INVALID_SUBJECT_CONFIRMATION, "the Assertion's Subject has no NameID")
    name_id = identifiers[0]
    if name_id.tag != SAML_NAMEID:
        raise _reject(
            ErrorCode.INVALID_SUBJECT_CONFIRMATION,
            "the Assertion's Subject identifies the user with a BaseID, which fedlib does not support; configure "
            "the IdP to send a NameID",
        )
    if not text_content(name_id).strip():
        raise _reject(ErrorCode.INVALID_SUBJECT_CONFIRMATION, "the Assertion's Subject NameID is empty")
    return name_id


def check_time_windows(assertion: etree._Element) -> None:
    """Every validity window is non-empty: NotBefore earlier than NotOnOrAfter on Conditions (Core
    §2.5.1.2) and on every SubjectConfirmationData (Core §2.4.1.2) (``invalid-time-window``).

    Checked before the windows are compared with ``now``: with the clock skew added on both sides, an empty
    or inverted window can otherwise still be accepted, and it is an IdP defect, not a clock problem.
    """
    windows: list[etree._Element] = list(assertion.iterchildren(SAML_CONDITIONS))
    for subject in assertion.iterchildren(SAML_SUBJECT):
        for confirmation in subject.iterchildren(SAML_SUBJECT_CONFIRMATION):
            windows.extend(confirmation.iterchildren(SAML_SUBJECT_CONFIRMATION_DATA))
    for element in windows:
        not_before = instant(element, "NotBefore")
        not_on_or_after = instant(element, "NotOnOrAfter")
        if not_before is not None and not_on_or_after is not None and not_before >= not_on_or_after:
            raise _reject(
                ErrorCode.INVALID_TIME_WINDOW,
                f"the {etree.QName(element).localname} is valid from {not_before.isoformat()} but not on or after "
                f"{not_on_or_after.isoformat()}: an empty validity window, so the assertion is never valid "
                "(an IdP defect; check its assertion lifetime settings)",
            )


def _check_confirmation(
    confirmation: etree._Element,
    *,
    acs_url: str,
    now: datetime,
    skew: timedelta,
    response_in_response_to: str | None,
) -> datetime:
    data = next(confirmation.iterchildren(SAML_SUBJECT_CONFIRMATION_DATA), None)
    if data is None:
        raise _reject(ErrorCode.INVALID_SUBJECT_CONFIRMATION, "the bearer SubjectConfirmation has no Data")
    recipient = data.get("Recipient")
    if recipient is None:
        raise _reject(ErrorCode.INVALID_SUBJECT_CONFIRMATION, "the bearer SubjectConfirmationData has no Recipient")
    if recipient != acs_url:
        raise _reject(
            ErrorCode.WRONG_RECIPIENT,
            f"the assertion is for recipient {recipient[:200]!r}, not this SP's ACS URL {acs_url!r}",
        )
    not_on_or_after = instant(data, "NotOnOrAfter")
    if not_on_or_after is None:
        raise _reject(
            ErrorCode.INVALID_SUBJECT_CONFIRMATION,
            "the bearer SubjectConfirmationData has no NotOnOrAfter",
        )
    if add_saturating(now, -skew) >= not_on_or_after:
        raise _reject(
            ErrorCode.EXPIRED,
            f"the assertion could be delivered until {not_on_or_after.isoformat()}; it is now {now.isoformat()} "
            "(check the clocks of the IdP and this server)",
        )
    not_before = instant(data, "NotBefore")
    if not_before is not None and add_saturating(now, skew) < not_before:
        raise _reject(ErrorCode.NOT_YET_VALID, f"the assertion is not valid before {not_before.isoformat()}")
    data_irt = data.get("InResponseTo")
    if data_irt is not None and response_in_response_to is not None and data_irt != response_in_response_to:
        raise _reject(
            ErrorCode.INVALID_SUBJECT_CONFIRMATION,
            "the SubjectConfirmationData answers a different request than the Response",
        )
    return not_on_or_after


def check_bearer_confirmation(
    assertion: etree._Element,
    *,
    acs_url: str,
    now: datetime,
    skew: timedelta,
    response_in_response_to: str | None,
) -> tuple[datetime, str | None]:
    """At least one bearer SubjectConfirmation whose Data has Recipient = ACS URL, a NotOnOrAfter in
    the future, and an InResponseTo consistent with the Response's (Profiles §4.1.4.2).

    Returns its NotOnOrAfter and InResponseTo. If none qualifies, the first bearer confirmation's own
    failure is raised (``wrong-recipient``, ``expired``, ``not-yet-valid`` or
    ``invalid-subject-confirmation``).
    """
    subject = next(assertion.iterchildren(SAML_SUBJECT))
    bearers = [c for c in subject.iterchildren(SAML_SUBJECT_CONFIRMATION) if c.get("Method") == CM_BEARER]
    if not bearers:
        raise _reject(
            ErrorCode.INVALID_SUBJECT_CONFIRMATION,
            "the assertion has no bearer SubjectConfirmation (Web Browser SSO requires one)",
        )
    first_error: ResponseRejected | None = None
    for confirmation in bearers:
        try:
            until = _check_confirmation(
                confirmation,
                acs_url=acs_url,
                now=now,
                skew=skew,
                response_in_response_to=response_in_response_to,
            )
        except ResponseRejected as exc:
            first_error = first_error or exc
            continue
        data = next(confirmation.iterchildren(SAML_SUBJECT_CONFIRMATION_DATA))
        return until, data.get("InResponseTo")
    assert first_error is not None
    raise first_error


def check_conditions(
    assertion: etree._Element, *, sp_entity_id: str, now: datetime, skew: timedelta
) -> datetime | None:
    """Conditions: only conditions fedlib understands (:func:`check_understood_conditions`);
    NotBefore/NotOnOrAfter with skew (``not-yet-valid``, ``expired``); every AudienceRestriction names the
    SP, and there is at least one (Core §2.5.1.4, Profiles §4.1.4.2; ``wrong-audience``). Returns Conditions
    NotOnOrAfter."""
    conditions = next(assertion.iterchildren(SAML_CONDITIONS), None)
    if conditions is None:
        raise _reject(
            ErrorCode.WRONG_AUDIENCE,
            "the assertion has no Conditions, so no AudienceRestriction naming this SP",
        )
    check_understood_conditions(conditions)
    not_before = instant(conditions, "NotBefore")
    not_on_or_after = instant(conditions, "NotOnOrAfter")
    if not_before is not None and add_saturating(now, skew) < not_before:
        raise _reject(
            ErrorCode.NOT_YET_VALID,
            f"the assertion is not valid before {not_before.isoformat()}; it is now {now.isoformat()} "
            "(check the clocks of the IdP and this server)",
        )
    if not_on_or_after is not None and add_saturating(now, -skew) >= not_on_or_after:
        raise _reject(
            ErrorCode.EXPIRED,
            f"the assertion expired at {not_on_or_after.isoformat()}; it is now {now.isoformat()} "
            "(check the clocks of the IdP and this server)",
        )
    restrictions = list(conditions.iterchildren(SAML_AUDIENCE_RESTRICTION))
    if not restrictions:
        raise _reject(ErrorCode.WRONG_AUDIENCE, "the assertion has no AudienceRestriction naming this SP")
    for restriction in restrictions:
        audiences = [(a.text or "").strip() for a in restriction.iterchildren(SAML_AUDIENCE)]
        if sp_entity_id not in audiences:
            shown = ", ".join(repr(a[:100]) for a in audiences[:3]) or "none"
            raise _reject(
                ErrorCode.WRONG_AUDIENCE,
                f"the assertion is for audience {shown}, not this SP {sp_entity_id!r}; set the SP entity ID "
                "(Identifier / Audience URI) at the IdP to exactly this value",
            )
    return not_on_or_after


def check_understood_conditions(conditions: etree._Element) -> None:
    """Every child of Conditions is one fedlib evaluates (``unsupported-condition``).

    Core §2.5.1.1: a condition the relying party does not understand makes the assertion Indeterminate,
    and an Indeterminate assertion is not valid. fedlib understands AudienceRestriction (checked),
    OneTimeUse (honoured: the replay cache accepts every assertion once) and ProxyRestriction (accepted:
    fedlib issues no assertions of its own); each of the last two at most once (Core §2.5.1.5, §2.5.1.6).
    Anything else (``saml:Condition`` with any ``xsi:type``, an element of another namespace) is refused.
    """
    seen: set[str] = set()
    for child in conditions.iterchildren(tag=etree.Element):
        tag = child.tag
        assert isinstance(tag, str)
        name = etree.QName(child)
        if tag not in _UNDERSTOOD_CONDITIONS:
            shown = f"{{{name.namespace}}}{name.localname}" if name.namespace != NS_SAML else name.localname
            xsi_type = child.get(f"{{{NS_XSI}}}type")
            typed = f" of xsi:type {xsi_type[:100]!r}" if xsi_type is not None else ""
            raise _reject(
                ErrorCode.UNSUPPORTED_CONDITION,
                f"the assertion carries a condition fedlib does not understand: {shown[:200]}{typed}; an "
                "assertion with a condition its relying party cannot evaluate is not valid (SAML Core §2.5.1.1). "
                "Remove the condition for this SP at the IdP",
                element=name.localname,
            )
        if tag != SAML_AUDIENCE_RESTRICTION:
            if tag in seen:
                raise _reject(
                    ErrorCode.UNSUPPORTED_CONDITION,
                    f"the assertion's Conditions carry more than one {name.localname}; SAML allows one",
                    element=name.localname,
                )
            seen.add(tag)


def check_authn_statements(
    assertion: etree._Element, *, now: datetime, skew: timedelta
) -> tuple[str | None, str | None, datetime | None]:
    """At least one AuthnStatement (Profiles §4.1.4.2: the bearer assertions of a Web SSO Response MUST
    contain one; ``missing-authn-statement``), and the session it opens has not already ended: the
    earliest SessionNotOnOrAfter (Core §2.7.2) is not past beyond the skew (``expired``).

    Returns the first statement's SessionIndex and AuthnContextClassRef, and the earliest
    SessionNotOnOrAfter over all statements (several statements are legal; the session must end when the
    first of them says so, the safe choice).
    """
    statements = list(assertion.iterchildren(SAML_AUTHN_STATEMENT))
    if not statements:
        raise _reject(
            ErrorCode.MISSING_AUTHN_STATEMENT,
            "the assertion has no AuthnStatement, so it does not say that the user logged in (SAML Web Browser "
            "SSO requires one); configure the IdP to include it (Keycloak: client > Include AuthnStatement on)",
        )
    session_ends = [d for d in (instant(s, "SessionNotOnOrAfter") for s in statements) if d is not None]
    session_until = min(session_ends) if session_ends else None
    if session_until is not None and add_saturating(now, -skew) >= session_until:
        raise _reject(
            ErrorCode.EXPIRED,
            f"the IdP session this login belongs to ended at {session_until.isoformat()} (SessionNotOnOrAfter); "
            f"it is now {now.isoformat()}. Log in at the IdP again (or check the clocks of the IdP and this server)",
        )
    first = statements[0]
    context = next(first.iterchildren(SAML_AUTHN_CONTEXT), None)
    class_ref = next(context.iterchildren(SAML_AUTHN_CONTEXT_CLASS_REF), None) if context is not None else None
    return (
        first.get("SessionIndex"),
        (class_ref.text or "").strip() if class_ref is not None else None,
        session_until,
    )


def replay_expiry(assertion: etree._Element, *, skew: timedelta, max_age: timedelta) -> datetime:
    """When the replay entry of an accepted assertion may be forgotten: after the last instant at which any
    copy of it could still be accepted.

    That is the latest NotOnOrAfter among the Conditions and *all* bearer SubjectConfirmationData (not
    only the one that qualified this time: a copy could qualify through another), capped by the
    assertion's IssueInstant plus ``max_age`` (after which :func:`check_issue_instant` refuses every copy),
    plus the skew. Saturates instead of overflowing (``NotOnOrAfter="9999-12-31T23:59:59Z"``). Call it only
    for an assertion that passed every check above (so some NotOnOrAfter exists and the result is later
    than ``now``).
    """
    candidates: list[datetime] = []
    for conditions in assertion.iterchildren(SAML_CONDITIONS):
        candidates.extend(d for d in (instant(conditions, "NotOnOrAfter"),) if d is not None)
    for subject in assertion.iterchildren(SAML_SUBJECT):
        for confirmation in subject.iterchildren(SAML_SUBJECT_CONFIRMATION):
            if confirmation.get("Method") != CM_BEARER:
                continue
            for data in confirmation.iterchildren(SAML_SUBJECT_CONFIRMATION_DATA):
                until = instant(data, "NotOnOrAfter")
                if until is not None:
                    candidates.append(until)
    issued = instant(assertion, "IssueInstant")
    if not candidates or issued is None:  # pragma: no cover - the bearer confirmation and version checks ran first
        raise _reject(ErrorCode.INVALID_SUBJECT_CONFIRMATION, "the assertion has no NotOnOrAfter or IssueInstant")
    return add_saturating(min(max(candidates), add_saturating(issued, max_age)), skew)


def check_in_response_to(
    response_in_response_to: str | None,
    confirmation_in_response_to: str | None,
    *,
    request_id: str | None,
    allow_unsolicited: bool,
    allow_in_response_to_on_unsolicited: bool,
) -> str | None:
    """InResponseTo matches the request this SP sent, or the response is an allowed unsolicited one
    (Profiles §4.1.4.2/§4.1.5). Returns the matched request ID.

    With a request ID: absent ``missing-in-response-to``, different ``wrong-in-response-to``. Without:
    not allowed ``unsolicited-not-allowed``; carrying InResponseTo ``wrong-in-response-to`` (unless the
    per-IdP quirk allows it).
    """
    answered = response_in_response_to if response_in_response_to is not None else confirmation_in_response_to
    if request_id is not None:
        if answered is None:
            raise _reject(
                ErrorCode.MISSING_IN_RESPONSE_TO,
                "this SP sent a request, but the Response does not say it answers it (no InResponseTo)",
            )
        if answered != request_id or (
            confirmation_in_response_to is not None and confirmation_in_response_to != request_id
        ):
            raise _reject(
                ErrorCode.WRONG_IN_RESPONSE_TO,
                "the Response answers a different request than the one this SP sent",
                detail=f"expected {request_id!r}, got {answered[:100]!r}",
            )
        return request_id
    if not allow_unsolicited:
        raise _reject(
            ErrorCode.UNSOLICITED_NOT_ALLOWED,
            "the Response is unsolicited (IdP-initiated) and this SP does not accept unsolicited responses",
        )
    if answered is not None and not allow_in_response_to_on_unsolicited:
        raise _reject(
            ErrorCode.WRONG_IN_RESPONSE_TO,
            "the Response answers a request (InResponseTo), but no request is pending for it",
            detail=f"InResponseTo {answered[:100]!r}",
        )
    return None
