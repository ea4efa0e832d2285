"""SAML policy rules, one function per rule, each citing the spec section it enforces.

Every function here receives elements of the *verified* tree (or raw input only where the rule is about
the raw input: encrypted elements, locating the signature) and raises ``ResponseRejected`` with its code.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from lxml import etree

from fedlib._xml.ids import IdIndex
from fedlib._xml.parse import text_content
from fedlib.clock import parse_instant
from fedlib.constants import (
    CM_BEARER,
    DS_SIGNATURE,
    NAMEID_ENTITY,
    NS_XENC,
    SAML_ASSERTION,
    SAML_AUDIENCE,
    SAML_AUDIENCE_RESTRICTION,
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

    None, but an Assertion child of the Response is signed: ``assertion-only-signature``; a signed
    Assertion only elsewhere (wrapped in Extensions, an Advice...) or more than one Response signature:
    ``signature-wrapping``; none at all: ``unsigned-message``.
    """
    signatures = list(untrusted_root.iterchildren(DS_SIGNATURE))
    if len(signatures) == 1:
        return signatures[0]
    if len(signatures) > 1:
        raise _reject(
            ErrorCode.SIGNATURE_WRAPPING,
            f"the Response carries {len(signatures)} signatures; exactly one is allowed",
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


# --- verified-tree rules ---------------------------------------------------------------------------


def instant(element: etree._Element, name: str) -> datetime | None:
    raw = element.get(name)
    if raw is None:
        return None
    try:
        return parse_instant(raw)
    except (ValueError, OverflowError):
        raise _reject(
            ErrorCode.MALFORMED_XML,
            f"the {etree.QName(element).localname} attribute {name} is not a valid xs:dateTime",
            detail=f"value {raw[:64]!r}",
        ) from None


def check_version_and_instant(element: etree._Element) -> None:
    """Version="2.0", IssueInstant and ID present and well-formed (SAML core §3.2.2, §2.3.3; ``malformed-xml``)."""
    what = etree.QName(element).localname
    if element.get("Version") != SAML_VERSION:
        raise _reject(ErrorCode.MALFORMED_XML, f"the {what} is not SAML Version 2.0")
    if element.get("IssueInstant") is None or not element.get("ID"):
        raise _reject(ErrorCode.MALFORMED_XML, f"the {what} lacks its ID or IssueInstant")
    instant(element, "IssueInstant")


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


def issuer_of(element: etree._Element) -> etree._Element | None:
    """The saml:Issuer child of a Response or Assertion, if any."""
    return next(element.iterchildren(SAML_ISSUER), None)


def check_issuer(element: etree._Element, idp_entity_id: str) -> str:
    """Issuer present, Format entity (or absent), value exactly the IdP entityID (Profiles §4.1.4.2;
    ``wrong-issuer``). xs:anyURI collapses whitespace, so surrounding whitespace is ignored."""
    what = etree.QName(element).localname
    issuer = issuer_of(element)
    if issuer is None:
        raise _reject(ErrorCode.WRONG_ISSUER, f"the {what} has no Issuer")
    fmt = issuer.get("Format")
    if fmt is not None and fmt != NAMEID_ENTITY:
        raise _reject(ErrorCode.WRONG_ISSUER, f"the {what} Issuer has Format {fmt[:100]!r}, not entity")
    value = (issuer.text or "").strip()
    if value != idp_entity_id:
        raise _reject(
            ErrorCode.WRONG_ISSUER,
            f"the {what} was issued by {value[:200]!r}, not by the configured IdP {idp_entity_id!r}",
        )
    return value


def check_status(response: etree._Element) -> None:
    """Top-level StatusCode is Success (Core §3.2.2.2; ``status-not-success``, with the IdP's codes and message)."""
    status = next(response.iterchildren(SAMLP_STATUS), None)
    code_el = next(status.iterchildren(SAMLP_STATUS_CODE), None) if status is not None else None
    if code_el is None:
        raise _reject(ErrorCode.STATUS_NOT_SUCCESS, "the Response has no Status")
    top = code_el.get("Value")
    if top == STATUS_SUCCESS:
        return
    codes = [top or ""]
    nested = next(code_el.iterchildren(SAMLP_STATUS_CODE), None)
    while nested is not None and len(codes) < 5:
        codes.append(nested.get("Value") or "")
        nested = next(nested.iterchildren(SAMLP_STATUS_CODE), None)
    message_el = next(status.iterchildren(SAMLP_STATUS_MESSAGE), None) if status is not None else None
    message = " ".join(text_content(message_el).split())[:300] if message_el is not None else ""
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
    """Subject with a NameID (Profiles §4.1.4.2; ``invalid-subject-confirmation``)."""
    subject = next(assertion.iterchildren(SAML_SUBJECT), None)
    if subject is None:
        raise _reject(ErrorCode.INVALID_SUBJECT_CONFIRMATION, "the Assertion has no Subject")
    name_id = next(subject.iterchildren(SAML_NAMEID), None)
    if name_id is None:
        raise _reject(ErrorCode.INVALID_SUBJECT_CONFIRMATION, "the Assertion's Subject has no NameID")
    return name_id


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
    if now - skew >= not_on_or_after:
        raise _reject(
            ErrorCode.EXPIRED,
            f"the assertion could be delivered until {not_on_or_after.isoformat()}; it is now {now.isoformat()} "
            "(check the clocks of the IdP and this server)",
        )
    not_before = instant(data, "NotBefore")
    if not_before is not None and now + skew < not_before:
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
    """Conditions: NotBefore/NotOnOrAfter with skew (``not-yet-valid``, ``expired``); every
    AudienceRestriction names the SP, and there is at least one (Core §2.5.1.4, Profiles §4.1.4.2;
    ``wrong-audience``). Returns Conditions NotOnOrAfter."""
    conditions = next(assertion.iterchildren(SAML_CONDITIONS), None)
    if conditions is None:
        raise _reject(
            ErrorCode.WRONG_AUDIENCE,
            "the assertion has no Conditions, so no AudienceRestriction naming this SP",
        )
    not_before = instant(conditions, "NotBefore")
    not_on_or_after = instant(conditions, "NotOnOrAfter")
    if not_before is not None and now + skew < not_before:
        raise _reject(
            ErrorCode.NOT_YET_VALID,
            f"the assertion is not valid before {not_before.isoformat()}; it is now {now.isoformat()} "
            "(check the clocks of the IdP and this server)",
        )
    if not_on_or_after is not None and now - skew >= not_on_or_after:
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
