"""Stage 8 of the pipeline: the SAML checks on the verified Response, and what they prove.

Two paths decide it, always alike:

* :func:`check_claims` runs the rules of :mod:`fedlib.validation.checks` one after the other, in the
  documented order (pipeline docstring), each raising its own code. It is the reference.
* :func:`read_claims` is the same decision in one pass over the tree for the shape every IdP sends (one
  Issuer, Status, Assertion, Subject, Conditions; one SubjectConfirmationData per confirmation): every node
  is visited once, every instant parsed once, and no rule function is called. It returns the same
  :class:`Claims` as the reference or None (it *declines*) for anything else, including every Response the
  reference refuses, which then goes through :func:`check_claims` and gets its precise code.

:func:`claims_of` is the entry point: the one-pass path, else the reference. It runs on every login
(bench/verify.py: the rule-by-rule path costs about a fifth of ``validate_response``);
tests/unit/validation/test_claims_fast_path.py holds the two paths to the same outcome over mutated
Responses.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final, NamedTuple

from lxml import etree

from fedlib._xml.parse import text_content
from fedlib.clock import add_saturating
from fedlib.constants import (
    CM_BEARER,
    DS_SIGNATURE,
    NAMEID_ENTITY,
    SAML_ASSERTION,
    SAML_ATTRIBUTE_STATEMENT,
    SAML_AUDIENCE,
    SAML_AUDIENCE_RESTRICTION,
    SAML_AUTHN_CONTEXT,
    SAML_AUTHN_CONTEXT_CLASS_REF,
    SAML_AUTHN_STATEMENT,
    SAML_BASEID,
    SAML_CONDITIONS,
    SAML_ENCRYPTED_ID,
    SAML_ISSUER,
    SAML_NAMEID,
    SAML_SUBJECT,
    SAML_SUBJECT_CONFIRMATION,
    SAML_SUBJECT_CONFIRMATION_DATA,
    SAML_VERSION,
    SAMLP_STATUS,
    SAMLP_STATUS_CODE,
    STATUS_SUCCESS,
)
from fedlib.validation import checks


class Claims(NamedTuple):
    """What the SAML checks of stage 8 proved about a verified Response (read from the verified tree)."""

    issuer: str
    assertion: etree._Element
    name_id: etree._Element
    confirmation_until: datetime
    confirmation_in_response_to: str | None
    conditions_until: datetime | None
    session_index: str | None
    authn_context: str | None
    session_until: datetime | None
    assertion_signatures: list[etree._Element]
    replay_expires: datetime
    attribute_statements: list[etree._Element]
    """The Assertion's AttributeStatement children, in document order (read by the pipeline's _attributes)."""
    response_id: str = ""
    """The Response's ID (the pipeline's AuthnResult.response_id; read once, here)."""
    assertion_id: str = ""
    """The Assertion's ID (the replay key and AuthnResult.assertion_id)."""
    response_in_response_to: str | None = None
    """The Response's InResponseTo, if any (stage 10)."""


def claims_of(
    response: etree._Element,
    *,
    acs_url: str,
    idp_entity_id: str,
    sp_entity_id: str,
    now: datetime,
    skew: timedelta,
    max_age: timedelta,
) -> Claims:
    """Stage 8 on the verified ``response``: the one-pass path, else the rule-by-rule reference.

    Raises:
        ResponseRejected: the code of the first rule (in the documented order) the Response breaks.
    """
    try:  # read_claims, without its own call frame
        claims = _read_claims(
            response, acs_url=acs_url, idp_entity_id=idp_entity_id, sp_entity_id=sp_entity_id, now=now, skew=skew,
            max_age=max_age,
        )  # fmt: skip
    except _Decline:
        claims = None
    if claims is not None:
        return claims
    return check_claims(
        response, acs_url=acs_url, idp_entity_id=idp_entity_id, sp_entity_id=sp_entity_id, now=now, skew=skew,
        max_age=max_age,
    )  # fmt: skip


def check_claims(
    response: etree._Element,
    *,
    acs_url: str,
    idp_entity_id: str,
    sp_entity_id: str,
    now: datetime,
    skew: timedelta,
    max_age: timedelta,
) -> Claims:
    """Stage 8, one rule after the other (the reference; see the pipeline docstring for the order)."""
    checks.check_version_and_instant(response)
    checks.check_issue_instant(response, now=now, skew=skew, max_age=max_age)
    checks.check_destination(response, acs_url)
    issuer = checks.check_issuer(response, idp_entity_id)
    checks.check_status(response)
    assertion = checks.single_assertion(response)
    checks.check_version_and_instant(assertion)
    checks.check_issue_instant(assertion, now=now, skew=skew, max_age=max_age)
    checks.check_issuer(assertion, idp_entity_id)
    name_id = checks.subject_name_id(assertion)
    checks.check_time_windows(assertion)
    confirmation_until, confirmation_irt = checks.check_bearer_confirmation(
        assertion, acs_url=acs_url, now=now, skew=skew, response_in_response_to=response.get("InResponseTo")
    )
    conditions_until = checks.check_conditions(assertion, sp_entity_id=sp_entity_id, now=now, skew=skew)
    session_index, authn_context, session_until = checks.check_authn_statements(assertion, now=now, skew=skew)
    return Claims(
        issuer=issuer,
        assertion=assertion,
        name_id=name_id,
        confirmation_until=confirmation_until,
        confirmation_in_response_to=confirmation_irt,
        conditions_until=conditions_until,
        session_index=session_index,
        authn_context=authn_context,
        session_until=session_until,
        assertion_signatures=list(assertion.iterchildren(DS_SIGNATURE)),
        replay_expires=checks.replay_expiry(assertion, skew=skew, max_age=max_age),
        attribute_statements=list(assertion.iterchildren(SAML_ATTRIBUTE_STATEMENT)),
        response_id=response.get("ID") or "",
        assertion_id=assertion.get("ID") or "",
        response_in_response_to=response.get("InResponseTo"),
    )


_INSTANT_MAX_CHARS = 40


class _Decline(Exception):
    """Raised inside :func:`read_claims` for an instant it leaves to the reference path."""


def _instant(element: etree._Element, name: str) -> datetime | None:
    """The parsed instant attribute, None when absent; ``_Decline`` when it is not the canonical xs:dateTime
    of a few dozen characters (the reference path parses and refuses, or accepts, the rest)."""
    raw = element.get(name)
    if raw is None:
        return None
    if len(raw) > _INSTANT_MAX_CHARS:
        raise _Decline
    try:
        return checks.parse_instant_cached(raw)
    except (ValueError, OverflowError):
        raise _Decline from None


def read_claims(
    response: etree._Element,
    *,
    acs_url: str,
    idp_entity_id: str,
    sp_entity_id: str,
    now: datetime,
    skew: timedelta,
    max_age: timedelta,
) -> Claims | None:
    """Stage 8 in one pass for the common shape; None (decline) for any other shape and for any failure."""
    try:
        return _read_claims(
            response, acs_url=acs_url, idp_entity_id=idp_entity_id, sp_entity_id=sp_entity_id, now=now, skew=skew,
            max_age=max_age,
        )  # fmt: skip
    except _Decline:
        return None


def _read_claims(
    response: etree._Element,
    *,
    acs_url: str,
    idp_entity_id: str,
    sp_entity_id: str,
    now: datetime,
    skew: timedelta,
    max_age: timedelta,
) -> Claims | None:
    """:func:`read_claims`; each comment names the rule of :mod:`fedlib.validation.checks` the lines decide."""
    # add_saturating(now, skew) and add_saturating(now, -skew), inline unless now is naive or at the ends of time
    try:
        latest = now + skew if now.tzinfo is not None else add_saturating(now, skew)  # after this: the future
        earliest = now - skew if now.tzinfo is not None else add_saturating(now, -skew)  # at or before: past
    except OverflowError:
        latest = add_saturating(now, skew)
        earliest = add_saturating(now, -skew)

    # check_version_and_instant, check_issue_instant, check_destination (Response)
    response_id = response.get("ID")
    if response.get("Version") != SAML_VERSION or not response_id:
        return None
    issued = _instant(response, "IssueInstant")
    if issued is None or latest < issued or earliest >= add_saturating(issued, max_age):
        return None
    if response.get("Destination") != acs_url:
        return None

    issuer_el = status = assertion = None
    for child in response:  # comments are dropped at parse time and PIs refused: every child is an element
        tag = child.tag
        if tag == SAML_ISSUER:
            if issuer_el is not None:
                return None
            issuer_el = child
        elif tag == SAMLP_STATUS:
            if status is not None:
                return None
            status = child
        elif tag == SAML_ASSERTION:
            if assertion is not None:  # single_assertion
                return None
            assertion = child
    # check_issuer (Response)
    if issuer_el is None or issuer_el.get("Format") not in (None, NAMEID_ENTITY):
        return None
    issuer = (issuer_el.text or "").strip()
    if issuer != idp_entity_id:
        return None
    # check_status: the first StatusCode child of Status is Success
    if status is None:
        return None
    # next(status.iterchildren(SAMLP_STATUS_CODE), None), its common case (the StatusCode is the first child)
    # by index: a tag-filtered child iterator costs ~6 k instructions to set up, the index and tag ~2 k. The
    # same shortcut below for the Audience and the AuthnContext/ClassRef.
    code = status[0] if len(status) else None
    if code is None or code.tag != SAMLP_STATUS_CODE:
        code = next(status.iterchildren(SAMLP_STATUS_CODE), None)
    if code is None or code.get("Value") != STATUS_SUCCESS or assertion is None:
        return None

    # check_version_and_instant, check_issue_instant (Assertion)
    assertion_id = assertion.get("ID")
    if assertion.get("Version") != SAML_VERSION or not assertion_id:
        return None
    assertion_issued = _instant(assertion, "IssueInstant")
    if assertion_issued is None or latest < assertion_issued or earliest >= add_saturating(assertion_issued, max_age):
        return None

    assertion_issuer = subject = conditions = None
    statements: list[etree._Element] = []
    signatures: list[etree._Element] = []
    attribute_statements: list[etree._Element] = []
    for child in assertion:
        tag = child.tag
        if tag == SAML_ISSUER:
            if assertion_issuer is not None:
                return None
            assertion_issuer = child
        elif tag == SAML_SUBJECT:
            if subject is not None:
                return None
            subject = child
        elif tag == SAML_CONDITIONS:
            if conditions is not None:
                return None
            conditions = child
        elif tag == SAML_AUTHN_STATEMENT:
            statements.append(child)
        elif tag == SAML_ATTRIBUTE_STATEMENT:
            attribute_statements.append(child)
        elif tag == DS_SIGNATURE:
            signatures.append(child)
    # check_issuer (Assertion)
    if assertion_issuer is None or assertion_issuer.get("Format") not in (None, NAMEID_ENTITY):
        return None
    if (assertion_issuer.text or "").strip() != idp_entity_id:
        return None

    # subject_name_id: exactly one identifier, a non-empty NameID; the confirmations, one Data each
    if subject is None:
        return None
    name_id = None
    confirmations: list[tuple[str | None, etree._Element | None]] = []
    for child in subject:
        tag = child.tag
        if tag == SAML_NAMEID:
            if name_id is not None:
                return None
            name_id = child
        elif tag in (SAML_BASEID, SAML_ENCRYPTED_ID):
            return None
        elif tag == SAML_SUBJECT_CONFIRMATION:
            data = None
            for part in child:
                if part.tag == SAML_SUBJECT_CONFIRMATION_DATA:
                    if data is not None:
                        return None
                    data = part
            confirmations.append((child.get("Method"), data))
    if name_id is None or not ((name_id.text or "") if len(name_id) == 0 else text_content(name_id)).strip():
        return None

    # check_time_windows (Conditions and every SubjectConfirmationData), then check_bearer_confirmation:
    # the first bearer confirmation that qualifies. replay_expiry needs every bearer NotOnOrAfter.
    if conditions is None:
        return None
    not_before = _instant(conditions, "NotBefore")
    conditions_until = _instant(conditions, "NotOnOrAfter")
    if not_before is not None and conditions_until is not None and not_before >= conditions_until:
        return None
    response_irt = response.get("InResponseTo")
    chosen: tuple[datetime, str | None] | None = None
    bearer_until: list[datetime] = []
    for method, data in confirmations:
        if data is None:
            if method == CM_BEARER:  # a bearer confirmation without Data: the reference decides
                return None
            continue
        data_before = _instant(data, "NotBefore")
        data_until = _instant(data, "NotOnOrAfter")
        if data_before is not None and data_until is not None and data_before >= data_until:
            return None
        if method != CM_BEARER:
            continue
        if data_until is None:
            return None
        bearer_until.append(data_until)
        data_irt = data.get("InResponseTo")
        if (
            chosen is None
            and data.get("Recipient") == acs_url
            and earliest < data_until
            and (data_before is None or latest >= data_before)
            and (data_irt is None or response_irt is None or data_irt == response_irt)
        ):
            chosen = (data_until, data_irt)
    if chosen is None:
        return None

    # check_conditions: only understood conditions (each of OneTimeUse / ProxyRestriction at most once),
    # the window, and every AudienceRestriction (at least one) names this SP
    if (not_before is not None and latest < not_before) or (
        conditions_until is not None and earliest >= conditions_until
    ):
        return None
    restrictions = 0
    seen_once: set[str] = set()
    for child in conditions:
        tag = child.tag
        if tag == SAML_AUDIENCE_RESTRICTION:
            restrictions += 1
            audience = child[0] if len(child) else None
            if audience is not None and audience.tag == SAML_AUDIENCE and (audience.text or "").strip() == sp_entity_id:
                continue  # the first Audience names this SP: the loop below would stop there
            for audience in child.iterchildren(SAML_AUDIENCE):
                if (audience.text or "").strip() == sp_entity_id:
                    break
            else:
                return None
        elif tag in (checks.SAML_ONE_TIME_USE, checks.SAML_PROXY_RESTRICTION):
            if tag in seen_once:
                return None
            seen_once.add(tag)
        else:
            return None
    if not restrictions:
        return None

    # check_authn_statements: at least one; the earliest SessionNotOnOrAfter not past
    if not statements:
        return None
    session_until: datetime | None = None
    for statement in statements:
        ends = _instant(statement, "SessionNotOnOrAfter")
        if ends is not None and (session_until is None or ends < session_until):
            session_until = ends
    if session_until is not None and earliest >= session_until:
        return None
    first = statements[0]
    context = first[0] if len(first) else None
    if context is None or context.tag != SAML_AUTHN_CONTEXT:
        context = next(first.iterchildren(SAML_AUTHN_CONTEXT), None)
    class_ref = context[0] if context is not None and len(context) else None
    if class_ref is None or class_ref.tag != SAML_AUTHN_CONTEXT_CLASS_REF:
        class_ref = next(context.iterchildren(SAML_AUTHN_CONTEXT_CLASS_REF), None) if context is not None else None

    # replay_expiry: the latest NotOnOrAfter of Conditions and every bearer Data, capped by IssueInstant + max
    # age, plus the skew
    candidates = [*bearer_until, conditions_until] if conditions_until is not None else bearer_until
    expires = add_saturating(min(max(candidates), add_saturating(assertion_issued, max_age)), skew)
    # Claims(issuer=..., ...) without the NamedTuple's Python __new__ and its keyword matching (~7 k
    # instructions per login): the tuple of the fields in declaration order, which is all that __new__ builds.
    # test_claims_fast_path.py compares every field with the reference path's keyword-built Claims.
    return _new_tuple(
        Claims,
        (
            issuer,
            assertion,
            name_id,
            chosen[0],  # confirmation_until
            chosen[1],  # confirmation_in_response_to
            conditions_until,
            first.get("SessionIndex"),  # session_index
            (class_ref.text or "").strip() if class_ref is not None else None,  # authn_context
            session_until,
            signatures,  # assertion_signatures
            expires,  # replay_expires
            attribute_statements,
            response_id,
            assertion_id,
            response_irt,  # response_in_response_to
        ),
    )


_new_tuple: Final = tuple.__new__


__all__ = ["Claims", "check_claims", "claims_of", "read_claims"]
