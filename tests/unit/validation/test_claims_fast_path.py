"""The one-pass claims reader (``read_claims``) never decides differently from the rules one by one.

For every verified Response the one-pass path either declines (None: ``check_claims`` then decides) or
returns exactly what ``check_claims`` returns; so ``claims_of`` accepts, refuses and types its refusals as
the rules do. Responses come from the test IdP's builder (every spec knob that matters to stage 8) under
random mutations of attributes, texts and structure, and go through the real parser.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from fedlib._xml.parse import parse_xml
from fedlib.constants import NS_SAML, NS_SAMLP
from fedlib.errors import ResponseRejected
from fedlib.testing import ResponseSpec
from fedlib.testing.responses import build_response
from fedlib.validation.claims import Claims, check_claims, claims_of, read_claims

SAML = f"{{{NS_SAML}}}"
SAMLP = f"{{{NS_SAMLP}}}"
NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
IDP = "https://idp.example.org/"
SP = "https://sp.example.org/"
ACS = "https://sp.example.org/acs"
KW = {
    "acs_url": ACS,
    "idp_entity_id": IDP,
    "sp_entity_id": SP,
    "now": NOW,
    "skew": timedelta(minutes=3),
    "max_age": timedelta(minutes=10),
}


def _instant(delta_seconds: int) -> str:
    return (NOW + timedelta(seconds=delta_seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


INSTANTS = [_instant(d) for d in (-3600, -700, -181, -179, 0, 179, 181, 600, 3600)] + [
    "2026-03-01T12:00:00.123456789Z",
    "2026-03-01T12:00:00+01:00",
    "2026-03-01T12:00:00",
    "not a date",
    "9999-12-31T23:59:59Z",
    "2026-03-01T12:00:00Z" + " " * 30,
    "",
]
VALUES = {
    "Version": ["2.0", "1.1", ""],
    "ID": ["_x", ""],
    "Destination": [ACS, ACS + "/", ""],
    "Recipient": [ACS, "https://evil.example/acs"],
    "InResponseTo": ["_req1", "_req2"],
    "Method": ["urn:oasis:names:tc:SAML:2.0:cm:bearer", "urn:oasis:names:tc:SAML:2.0:cm:holder-of-key"],
    "Format": ["urn:oasis:names:tc:SAML:2.0:nameid-format:entity", "urn:other"],
    "Value": ["urn:oasis:names:tc:SAML:2.0:status:Success", "urn:oasis:names:tc:SAML:2.0:status:Requester"],
    "SessionIndex": ["_s1"],
}
TIME_ATTRIBUTES = ["IssueInstant", "NotBefore", "NotOnOrAfter", "SessionNotOnOrAfter"]
TEXTS = [IDP, f"  {IDP}\n", "https://other.example/", SP, "", "  ", "alice"]
NEW_ELEMENTS = [
    f"{SAML}Issuer",
    f"{SAMLP}Status",
    f"{SAMLP}StatusCode",
    f"{SAML}Assertion",
    f"{SAML}Subject",
    f"{SAML}NameID",
    f"{SAML}BaseID",
    f"{SAML}SubjectConfirmation",
    f"{SAML}SubjectConfirmationData",
    f"{SAML}Conditions",
    f"{SAML}AudienceRestriction",
    f"{SAML}Audience",
    f"{SAML}OneTimeUse",
    f"{SAML}ProxyRestriction",
    f"{SAML}Condition",
    f"{SAML}AuthnStatement",
    f"{SAML}AuthnContext",
    "{http://www.w3.org/2000/09/xmldsig#}Signature",
    "{urn:x}Extension",
]


def _spec(**overrides: object) -> ResponseSpec:
    base: dict[str, object] = {
        "idp_entity_id": IDP,
        "sp_entity_id": SP,
        "acs_url": ACS,
        "now": NOW,
        "name_id": "alice",
        "attributes": {"mail": ["a@example.org"]},
    }
    base.update(overrides)
    return ResponseSpec(**base)  # type: ignore[arg-type]


SPECS = [
    _spec(),
    _spec(in_response_to="_req1"),
    _spec(issuer_format="urn:oasis:names:tc:SAML:2.0:nameid-format:entity"),
    _spec(session_not_on_or_after=NOW + timedelta(hours=8)),
    _spec(subject_not_before=NOW - timedelta(minutes=1)),
    _spec(audiences=[SP, "https://other.example/"]),
]


def _mutate(root: etree._Element, data: st.DataObject) -> None:
    for _ in range(data.draw(st.integers(1, 3))):
        nodes = list(root.iter())
        node = data.draw(st.sampled_from(nodes))
        parent = node.getparent()
        action = data.draw(st.sampled_from(["set", "time", "drop", "dup", "insert", "text", "unset"]))
        if action == "set":
            name = data.draw(st.sampled_from(sorted(VALUES)))
            node.set(name, data.draw(st.sampled_from(VALUES[name])))
        elif action == "time":
            node.set(data.draw(st.sampled_from(TIME_ATTRIBUTES)), data.draw(st.sampled_from(INSTANTS)))
        elif action == "unset":
            node.attrib.pop(data.draw(st.sampled_from(sorted(VALUES) + TIME_ATTRIBUTES)), None)
        elif action == "drop" and parent is not None:
            parent.remove(node)
        elif action == "dup" and parent is not None:
            parent.insert(data.draw(st.integers(0, len(parent))), copy.deepcopy(node))
        elif action == "insert":
            child = etree.Element(data.draw(st.sampled_from(NEW_ELEMENTS)))
            if data.draw(st.booleans()):
                child.text = data.draw(st.sampled_from(TEXTS))
            node.insert(data.draw(st.integers(0, len(node))), child)
        elif action == "text" and len(node) == 0:
            node.text = data.draw(st.sampled_from(TEXTS))


def _outcome(function: object, response: etree._Element) -> object:
    try:
        return function(response, **KW)  # type: ignore[operator]
    except ResponseRejected as exc:
        return exc.code


@settings(max_examples=2500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SPECS), st.data())
def test_one_pass_declines_or_agrees(spec: ResponseSpec, data: st.DataObject) -> None:
    tree = build_response(spec)
    if data.draw(st.booleans()):
        _mutate(tree, data)
    response = parse_xml(etree.tostring(tree))
    fast = read_claims(response, **KW)  # type: ignore[arg-type]
    slow = _outcome(check_claims, response)
    if fast is not None:
        assert isinstance(slow, Claims)
        assert fast == slow
    assert _outcome(claims_of, response) == slow


@pytest.mark.parametrize("spec", SPECS)
def test_one_pass_takes_every_genuine_shape(spec: ResponseSpec) -> None:
    response = parse_xml(etree.tostring(build_response(spec)))
    assert read_claims(response, **KW) is not None  # type: ignore[arg-type]


def _first(root: etree._Element, path: str) -> etree._Element:
    found = root.find(path, {"saml": NS_SAML, "samlp": NS_SAMLP})
    assert found is not None, path
    return found


_DATA = "saml:Assertion/saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData"
_CONDITIONS = "saml:Assertion/saml:Conditions"
TARGETED = {
    "data answers another request": lambda r: _first(r, _DATA).set("InResponseTo", "_req2"),
    "data window empty": lambda r: _first(r, _DATA).set("NotBefore", _instant(3600)),
    "data not yet valid": lambda r: _first(r, _DATA).set("NotBefore", _instant(600)),
    "data expired": lambda r: _first(r, _DATA).set("NotOnOrAfter", _instant(-600)),
    "conditions window empty": lambda r: _first(r, _CONDITIONS).set("NotBefore", _instant(7200)),
    "session over": lambda r: _first(r, "saml:Assertion/saml:AuthnStatement").set(
        "SessionNotOnOrAfter", _instant(-600)
    ),
    "two OneTimeUse": lambda r: [etree.SubElement(_first(r, _CONDITIONS), f"{SAML}OneTimeUse") for _ in range(2)],
    "two ProxyRestriction": lambda r: [
        etree.SubElement(_first(r, _CONDITIONS), f"{SAML}ProxyRestriction") for _ in range(2)
    ],
    "second restriction without this SP": lambda r: etree.SubElement(
        etree.SubElement(_first(r, _CONDITIONS), f"{SAML}AudienceRestriction"), f"{SAML}Audience"
    ),
    "unknown condition": lambda r: etree.SubElement(_first(r, _CONDITIONS), f"{SAML}Condition"),
    "BaseID beside NameID": lambda r: etree.SubElement(_first(r, "saml:Assertion/saml:Subject"), f"{SAML}BaseID"),
    "blank NameID": lambda r: setattr(_first(r, "saml:Assertion/saml:Subject/saml:NameID"), "text", "  "),
    "assertion issued in the future": lambda r: _first(r, "saml:Assertion").set("IssueInstant", _instant(600)),
    "response too old": lambda r: r.set("IssueInstant", _instant(-900)),
    "status not success": lambda r: _first(r, "samlp:Status/samlp:StatusCode").set("Value", VALUES["Value"][1]),
    "issuer format": lambda r: _first(r, "saml:Issuer").set("Format", "urn:other"),
    "assertion issuer": lambda r: setattr(_first(r, "saml:Assertion/saml:Issuer"), "text", "https://other/"),
    "recipient": lambda r: _first(r, _DATA).set("Recipient", "https://evil.example/acs"),
    "no bearer": lambda r: _first(r, "saml:Assertion/saml:Subject/saml:SubjectConfirmation").set(
        "Method", VALUES["Method"][1]
    ),
}


@pytest.mark.parametrize("name", sorted(TARGETED))
def test_one_pass_declines_what_the_rules_refuse(name: str) -> None:
    tree = build_response(_spec(in_response_to="_req1", session_not_on_or_after=NOW + timedelta(hours=1)))
    TARGETED[name](tree)
    response = parse_xml(etree.tostring(tree))
    assert not isinstance(_outcome(check_claims, response), Claims), "the reference accepts it: not a refusal case"
    assert read_claims(response, **KW) is None  # type: ignore[arg-type]
    assert _outcome(claims_of, response) == _outcome(check_claims, response)


def _lead_with(path: str, value_attribute: str | None = None, text: str | None = None) -> object:
    """Put a foreign element first under ``path`` (a decoy for a first-child shortcut)."""

    def mutate(root: etree._Element) -> None:
        decoy = etree.Element("{urn:x}Decoy")
        if value_attribute is not None:
            decoy.set("Value", value_attribute)
        decoy.text = text
        _first(root, path).insert(0, decoy)

    return mutate


def _set_text(path: str, text: str) -> object:
    def mutate(root: etree._Element) -> None:
        _first(root, path).text = text

    return mutate


def _set_value(path: str, value: str) -> object:
    def mutate(root: etree._Element) -> None:
        _first(root, path).set("Value", value)

    return mutate


_STATUS = "samlp:Status"
_RESTRICTION = "saml:Assertion/saml:Conditions/saml:AudienceRestriction"
_AUTHN = "saml:Assertion/saml:AuthnStatement"
_CONTEXT = "saml:Assertion/saml:AuthnStatement/saml:AuthnContext"
SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
# The one-pass reader takes the first child by index when its tag is the one wanted (StatusCode, Audience,
# AuthnContext, AuthnContextClassRef) instead of a tag-filtered iterator: a decoy first child that carries
# what the wanted element would (a Success Value, this SP's name) must not be taken for it. Each case fails
# when the shortcut's tag test is dropped.
FIRST_CHILD_CASES = {
    "status decoy says Success, StatusCode does not": [
        _lead_with(_STATUS, value_attribute=SUCCESS),
        _set_value(f"{_STATUS}/samlp:StatusCode", "urn:oasis:names:tc:SAML:2.0:status:Requester"),
    ],
    "status decoy before a Success StatusCode": [_lead_with(_STATUS)],
    "audience decoy names the SP, the Audience does not": [
        _lead_with(_RESTRICTION, text=SP),
        _set_text(f"{_RESTRICTION}/saml:Audience", "https://other.example/"),
    ],
    "audience decoy before the SP's Audience": [_lead_with(_RESTRICTION, text="https://other.example/")],
    "authn statement decoy": [_lead_with(_AUTHN, text="x")],
    "authn context decoy": [_lead_with(_CONTEXT, text="urn:decoy")],
}


@pytest.mark.parametrize("case", sorted(FIRST_CHILD_CASES))
def test_first_child_shortcuts_are_not_fooled_by_a_decoy(case: str) -> None:
    tree = build_response(_spec())
    for mutate in FIRST_CHILD_CASES[case]:
        mutate(tree)  # type: ignore[operator]
    response = parse_xml(etree.tostring(tree))
    fast = read_claims(response, **KW)  # type: ignore[arg-type]
    slow = _outcome(check_claims, response)
    if fast is not None:
        assert fast == slow
    assert _outcome(claims_of, response) == slow
