"""Response validation: the fixed order in which a ``<samlp:Response>`` is decided.

Order (each stage raises ``ResponseRejected``; later stages never see the raw document):

1. decode (raw XML or base64, size caps) -> hardened parse            malformed-xml, forbidden-dtd
2. document element is samlp:Response                                  malformed-xml
3. no encrypted claims anywhere                                         encrypted-claims-unsupported
4. the Response's own signature                                         unsigned-message, assertion-only-signature
5. IDs unique in the whole document (their number capped at parse time) signature-wrapping, message-too-complex
6. profile -> trust -> crypto (fedlib.xmldsig)                          forbidden-transform, weak-algorithm,
                                                                        missing-/untrusted-certificate, ...
7. SWITCH TO THE VERIFIED TREE: from here on only ``verified.element`` is read
8. Version, IssueInstant (not in the future, not older than max_assertion_age) -> Destination -> Issuer
   -> Status -> one Assertion -> Assertion Version/IssueInstant/Issuer -> Subject (one identifier: a
   non-empty NameID) -> non-empty time windows -> bearer SubjectConfirmation -> Conditions (only understood
   ones)/Audience -> AuthnStatement (present; SessionNotOnOrAfter not past)
9. the Assertion's own signature, if present, under the same profile and trust
10. InResponseTo against the request ID / unsolicited policy
11. replay: the Assertion ID is consumed in the store until no copy of it   replayed
    could be accepted any more (the latest NotOnOrAfter of Conditions and all bearer confirmations,
    capped by IssueInstant + max_assertion_age, plus skew; saturating, never OverflowError)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Final

from lxml import etree

from fedlib._xml.parse import decode_message, parse_xml, parsed_by_parse_xml, text_content
from fedlib.clock import ensure_aware
from fedlib.config import SPConfig
from fedlib.constants import NS_SAML, NS_XSI, SAML_ATTRIBUTE, SAML_ATTRIBUTE_STATEMENT, SAML_ATTRIBUTE_VALUE, qname
from fedlib.errors import ErrorCode, ResponseRejected, reject
from fedlib.metadata.idp import IdPMetadata
from fedlib.protocol.models import AuthnResult, new_authn_result
from fedlib.stores.base import Store
from fedlib.stores.prefixed import PrefixedStore, unprefixed
from fedlib.validation import checks
from fedlib.validation.claims import claims_of
from fedlib.xmldsig.verify import verify_enveloped_signature

_XSI_NIL = qname(NS_XSI, "nil")


def validate_response(
    untrusted_message: bytes | str,
    *,
    sp: SPConfig,
    idp: IdPMetadata,
    now: datetime,
    store: Store,
    request_id: str | None = None,
) -> AuthnResult:
    """Validate a SAML Response posted to ``sp``'s ACS and return what it proves.

    Args:
        untrusted_message: the ``SAMLResponse`` form value (base64) or the raw XML.
        sp: this SP (entity ID, ACS URL, policy).
        idp: the IdP the response must come from; its metadata certificates are the only trusted keys.
        now: the current time (aware). Never read from the clock here.
        store: replay cache (the Assertion ID is recorded until the assertion expires), keyed by
            ``sp.entity_id`` and written beneath any ``PrefixedStore`` view (tenants share replay entries).
        request_id: the ID of the AuthnRequest this response must answer; None for an unsolicited
            (IdP-initiated) response, which ``sp.policy.allow_unsolicited`` must permit.

    Returns:
        The verified ``AuthnResult``.

    Raises:
        ResponseRejected: with a stable ``code`` (see docs/errors.md).
        StoreError: the replay store failed (nothing is accepted meanwhile).
    """
    max_bytes = sp.policy.max_message_bytes
    untrusted_root = parse_xml(decode_message(untrusted_message, max_bytes=max_bytes), max_bytes=max_bytes)
    return validate_parsed_response(untrusted_root, sp=sp, idp=idp, now=now, store=store, request_id=request_id)


def validate_parsed_response(
    untrusted_root: etree._Element,
    *,
    sp: SPConfig,
    idp: IdPMetadata,
    now: datetime,
    store: Store,
    request_id: str | None = None,
    defer_replay: list[ReplayEntry] | None = None,
) -> AuthnResult:
    """:func:`validate_response` from stage 2 on, for a caller that already parsed the message with
    ``fedlib._xml.parse.parse_xml`` (the ``ServiceProvider`` facade, which reads routing hints first).

    ``untrusted_root`` must be a freshly parsed document used for nothing else afterwards: verification
    detaches its signatures.

    ``defer_replay``: None (default), stage 11 records the assertion in ``store`` (``replayed`` if it is
    already there). A list: stage 11 writes nothing and appends the :class:`ReplayEntry` to it instead; the
    caller must then record it (``add`` to the unprefixed store; ``replayed`` unless that returns True)
    before accepting the login. ``ServiceProvider.finish_login`` does, atomically with consuming its
    pending request (``consume_and_add``).
    """
    # ensure_aware(now), its common case inline (an aware now); a naive one is refused there.
    now = now.astimezone(UTC) if now.tzinfo is not None else ensure_aware(now)
    policy = sp.policy
    skew = policy.clock_skew
    # 1b: expired metadata is never used: its keys are no longer trusted (docs/metadata.md).
    if idp.valid_until is not None and idp.valid_until <= now:
        raise reject(
            ErrorCode.IDP_METADATA_EXPIRED,
            "this site's copy of the IdP's metadata has expired, so its keys are no longer trusted; "
            "the operator must restore the metadata source (fedlib check-metadata)",
            detail=f"IdP {idp.entity_id!r}, validUntil {idp.valid_until.isoformat()}",
        )

    # 2-5: raw input. Nothing read here is trusted; only structure decisions are made.
    # (check_is_response, check_no_encrypted_claims, find_response_signature, check_unique_ids, in one call;
    # the ID cap, XMLLimits.max_id_attributes, is enforced by parse_xml.)
    signature, ids = checks.check_raw_response(untrusted_root)

    # 6-7: verify, then read only the verified element.
    verified = verify_enveloped_signature(untrusted_root, signature, idp.trust, allow_sha1=policy.allow_sha1, ids=ids)
    response = verified.element

    # 8: protocol and conditions, on the verified tree (fedlib.validation.claims: one pass for the common
    # shape, else the rules of fedlib.validation.checks one by one; both decide alike).
    claims = claims_of(
        response, acs_url=sp.acs_url, idp_entity_id=idp.entity_id, sp_entity_id=sp.entity_id, now=now, skew=skew,
        max_age=policy.max_assertion_age,
    )  # fmt: skip
    assertion = claims.assertion
    issuer = claims.issuer
    name_id = claims.name_id
    response_irt = claims.response_in_response_to

    # 9: an Assertion signature is optional, but if present it must verify under the same rules.
    assertion_signatures = claims.assertion_signatures
    if len(assertion_signatures) > 1:
        raise reject(ErrorCode.SIGNATURE_WRAPPING, "the Assertion carries more than one signature")
    if assertion_signatures:
        verify_enveloped_signature(assertion, assertion_signatures[0], idp.trust, allow_sha1=policy.allow_sha1, ids=ids)

    # 10: solicited or allowed unsolicited. The two accepting common cases inline (the answer
    # check_in_response_to gives for them: an allowed unsolicited response answering nothing, or one
    # answering the request on both the Response and the bearer confirmation); anything else is its call.
    confirmation_irt = claims.confirmation_in_response_to
    in_response_to: str | None
    if request_id is None and response_irt is None and confirmation_irt is None and policy.allow_unsolicited:
        in_response_to = None
    elif request_id is not None and response_irt == request_id and confirmation_irt in (None, request_id):
        in_response_to = request_id
    else:
        in_response_to = checks.check_in_response_to(
            response_irt,
            confirmation_irt,
            request_id=request_id,
            allow_unsolicited=policy.allow_unsolicited,
            allow_in_response_to_on_unsolicited=policy.allow_in_response_to_on_unsolicited,
        )

    # 11: replay. Remember the assertion for as long as any copy of it could still be accepted.
    assertion_id = claims.assertion_id
    expires = claims.replay_expires
    if defer_replay is not None:
        defer_replay.append(replay_entry(sp.entity_id, issuer, assertion_id, expires, now=now))
    else:
        # replay_entry's key and check, without building the entry (unprefixed(store) likewise inline).
        if expires <= now:
            raise _expired(now, expires)
        base = unprefixed(store) if isinstance(store, PrefixedStore) else store
        if not base.add(_replay_key(sp.entity_id, issuer, assertion_id), expires_at=expires, now=now):
            raise replayed(assertion_id)

    # The earlier of the two limits (min(), inline; the bearer confirmation always has one).
    conditions_until = claims.conditions_until
    confirmation_until = claims.confirmation_until
    # The verified canonical octets: what _attributes searches for xsi:nil and FriendlyName when a statement
    # is not plain (a plain one is proven free of xsi:nil, and told whether it holds a FriendlyName, by the
    # XPath that proves it plain).
    attributes, friendly_names = _attributes(assertion, claims.attribute_statements, canonical=verified.canonical)
    name_id_value = (name_id.text or "") if len(name_id) == 0 else text_content(name_id)  # its fast path
    not_on_or_after = (
        confirmation_until if conditions_until is None or confirmation_until < conditions_until else conditions_until
    )
    in_response_to = in_response_to if in_response_to is not None else response_irt
    return new_authn_result(  # AuthnResult(...) without the frozen dataclass __init__ (fedlib._frozen)
        issuer=issuer,
        name_id=name_id_value,
        name_id_format=name_id.get("Format"),
        session_index=claims.session_index,
        authn_context_class=claims.authn_context,
        attributes=attributes,
        not_on_or_after=not_on_or_after,
        session_not_on_or_after=claims.session_until,
        in_response_to=in_response_to,
        assertion_id=assertion_id,
        response_id=claims.response_id,
        name_qualifier=name_id.get("NameQualifier"),
        sp_name_qualifier=name_id.get("SPNameQualifier"),
        friendly_names=friendly_names,
        mapped_attributes=_NO_MAPPED_ATTRIBUTES,
    )


_NO_MAPPED_ATTRIBUTES: Mapping[str, tuple[str, ...]] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class ReplayEntry:
    """What stage 11 records for an accepted assertion: ``key`` in the unprefixed store until ``expires_at``."""

    key: str
    expires_at: datetime


def replay_entry(sp_entity_id: str, issuer: str, assertion_id: str, expires: datetime, *, now: datetime) -> ReplayEntry:
    """Stage 11's entry for a verified assertion: its key, until ``expires`` (when no copy of it could be
    accepted any more: the latest NotOnOrAfter of Conditions and all bearer confirmations, capped by
    IssueInstant + max_assertion_age, plus skew); ``expired`` if that is not after ``now``."""
    if expires <= now:  # unreachable after the checks above (defence in depth; and now == the last instant)
        raise _expired(now, expires)
    return ReplayEntry(_replay_key(sp_entity_id, issuer, assertion_id), expires)


def _expired(now: datetime, expires: datetime) -> ResponseRejected:
    return reject(
        ErrorCode.EXPIRED,
        "the assertion is past the last instant at which it could be accepted (its NotOnOrAfter or its "
        "IssueInstant plus the maximum age, plus the clock skew)",
        detail=f"now {now.isoformat()}, replay entry would expire at {expires.isoformat()}",
    )


def replayed(assertion_id: str) -> ResponseRejected:
    """The ``replayed`` rejection of an assertion whose replay entry was already recorded."""
    return reject(
        ErrorCode.REPLAYED,
        "this assertion was already used to log in; each assertion is accepted once",
        detail=f"assertion ID {assertion_id[:100]!r}",
    )


def _replay_key(sp_entity_id: str, issuer: str, assertion_id: str) -> str:
    """The store key of an accepted assertion: keyed by the SP identity it was issued for, not by tenant.

    Written to the unprefixed store (outside any tenant's :class:`~fedlib.stores.prefixed.PrefixedStore`
    view), so every ServiceProvider with this entity ID that shares the store refuses a second use, even
    one configured as another tenant. Length-framed, so no entity ID or issuer can be chosen to collide
    with another (SP, IdP, assertion) triple.
    """
    return f"replay:{len(sp_entity_id)}:{sp_entity_id}:{len(issuer)}:{issuer}:{assertion_id}"


# The shape of an AttributeStatement, as a number: 2 (or 3) when it is *plain*, 0 (or 1) when not; plus 1
# when one of its children has a FriendlyName attribute. Plain: its element descendants are exactly its
# saml:Attribute children and the saml:AttributeValue children of its children, and none of those carries
# xsi:nil. The two counts are of disjoint sets of descendants (depth 1 and depth 2), so they add up to the
# count of all only when every child is an Attribute and every grandchild an AttributeValue with no element
# below it (an Attribute nested in an Attribute or a value, a value with child elements, any other element is
# one more on the left). Hence, once plain, ``*/*`` are the values and ``*`` the Attributes: unprefixed steps,
# each namespaced name test costs a namespace lookup per context node. One compiled XPath for the three
# answers: it replaced two byte searches (`nil="`, `FriendlyName="`) over the whole canonical Assertion,
# ~4 us per login (bench/verify.py). tests/unit/validation/test_attributes.py::test_statement_shape.
_STATEMENT_SHAPE: Final = etree.XPath(
    "(count(.//*) = count(saml:Attribute) + count(*/saml:AttributeValue) and not(*/*/@xsi:nil)) * 2"
    " + boolean(*/@FriendlyName)",
    namespaces={"saml": NS_SAML, "xsi": NS_XSI},
    regexp=False,
)
_PLAIN: Final = 2.0
_PLAIN_WITH_FRIENDLY_NAMES: Final = 3.0


def _attributes(
    assertion: etree._Element,
    statements: Sequence[etree._Element] | None = None,
    *,
    canonical: bytes | None = None,
) -> tuple[Mapping[str, tuple[str, ...]], Mapping[str, str]]:
    """The Assertion's attributes and their friendly names, from the verified assertion.

    Attributes: values of Attributes with the same Name merged in document order, xsi:nil values left
    out, Attributes without a Name ignored. Friendly names: Attribute Name -> FriendlyName, the first one
    given for that Name.

    ``statements``: the Assertion's AttributeStatement children, if the caller has them (the claims pass
    collects them); else they are looked up here. ``canonical``: the verified canonical octets holding the
    assertion, if the caller has them: a statement that is not plain (below) then skips the per-value
    ``xsi:nil`` lookup when they hold no ``nil="``, and the per-Attribute FriendlyName one when they hold no
    ``FriendlyName="`` (byte searches; the needles match every way c14n renders such an attribute, and more).

    Runs on every login (bench/verify.py; each lxml call costs hundreds of instructions, a compiled XPath
    thousands), so it reads each node once with the cheapest calls. A *plain* statement (nothing but
    Attributes holding nothing but AttributeValues without child elements or xsi:nil, proven by
    ``_STATEMENT_SHAPE``, which also says whether a FriendlyName is there to read) in a tree from parse_xml is
    read without any tag or child-count test. Any other statement: the children of each statement and of each
    Attribute in order, their tags compared, a value's text read as ``.text`` when it has no child element
    (the whole content: comments are dropped and PIs refused at parse time).
    tests/unit/validation/test_attributes.py holds every path to a plain reference (and
    fails without their guards).
    """
    if statements is None:
        statements = assertion.findall(SAML_ATTRIBUTE_STATEMENT)
    merged: dict[str, tuple[str, ...]] = {}
    friendly: dict[str, str] = {}
    nil = _XSI_NIL
    values: tuple[str, ...]
    # The plain path reads every value's .text as its whole text: only in a tree from parse_xml (a tree parsed
    # otherwise may hold comments, which .text stops at, and PIs; the loop below counts them as children).
    plain_possible = parsed_by_parse_xml(assertion)
    general: tuple[bool, bool] | None = None  # (nil_possible, friendly_possible), searched for once if needed
    for statement in statements:
        shape: Any = _STATEMENT_SHAPE(statement) if plain_possible else 0.0  # a float (Any, not cast(): no call)
        if shape >= _PLAIN:
            # The loop below for a plain statement: no tag to compare, no xsi:nil, every value's text its whole
            # content; FriendlyName read only when the statement has one.
            friendly_here = shape == _PLAIN_WITH_FRIENDLY_NAMES
            for attribute in statement:
                name = attribute.get("Name")
                if not name:
                    continue
                values = (attribute[0].text or "",) if len(attribute) == 1 else tuple([v.text or "" for v in attribute])
                earlier = merged.get(name)
                merged[name] = values if earlier is None else earlier + values
                if friendly_here and name not in friendly:
                    friendly_name = attribute.get("FriendlyName")
                    if friendly_name:
                        friendly[name] = friendly_name
            continue
        if general is None:
            general = (
                canonical is None or b'nil="' in canonical,
                canonical is None or b'FriendlyName="' in canonical,
            )
        nil_possible, friendly_possible = general
        for attribute in statement:
            if attribute.tag != SAML_ATTRIBUTE:
                continue
            name = attribute.get("Name")
            if not name:
                continue
            found: list[str] = []
            for value in attribute:
                if value.tag != SAML_ATTRIBUTE_VALUE or (nil_possible and value.get(nil) in ("true", "1")):
                    continue
                found.append((value.text or "") if len(value) == 0 else text_content(value))
            values = tuple(found)
            earlier = merged.get(name)
            merged[name] = values if earlier is None else earlier + values
            if friendly_possible and name not in friendly:
                friendly_name = attribute.get("FriendlyName")
                if friendly_name:
                    friendly[name] = friendly_name
    return MappingProxyType(merged), MappingProxyType(friendly)


__all__ = ["ReplayEntry", "replay_entry", "replayed", "validate_parsed_response", "validate_response"]
