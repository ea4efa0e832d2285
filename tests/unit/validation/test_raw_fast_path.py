"""The pipeline's common-case shortcuts decide exactly as the rule functions they stand in for.

* ``checks.check_raw_response`` (stages 2-5 in one call) against ``check_is_response``,
  ``check_no_encrypted_claims``, ``find_response_signature``, ``IdIndex.build`` and ``check_unique_ids``
  called one by one: same signature element, same ID counts, or the same error (code, message, detail).
* ``IdIndex.build``'s ``unique`` flag: True exactly when no ID value repeats, and the counts are those of
  a plain count.
* stage 10's inline InResponseTo answers: the pipeline accepts with the ``in_response_to`` that
  ``check_in_response_to`` returns, or refuses with the code it raises, for every combination.
"""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from lxml import etree
from tests.support import NS, REQUEST_ID, World, serialize, tree

from fedlib._xml.ids import IdIndex
from fedlib._xml.parse import parse_xml
from fedlib.config import SecurityPolicy
from fedlib.errors import ErrorCode, ResponseRejected
from fedlib.testing.responses import sign_element
from fedlib.validation import checks

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
DS = "http://www.w3.org/2000/09/xmldsig#"
XENC = "http://www.w3.org/2001/04/xmlenc#"
DECLS = f'xmlns:samlp="{SAMLP}" xmlns:saml="{SAML}" xmlns:ds="{DS}" xmlns:xenc="{XENC}"'

ID_VALUES = ["_a", "_b", "_c", ""]
ID_NAMES = ["ID", "Id", "id", "xml:id"]


@st.composite
def _element(draw: st.DrawFn, depth: int = 0) -> str:
    tag = draw(
        st.sampled_from(
            [
                "ds:Signature",
                "saml:Assertion",
                "saml:EncryptedAssertion",
                "saml:EncryptedAttribute",
                "saml:EncryptedID",
                "xenc:EncryptedData",
                "xenc:EncryptedKey",
                "samlp:Extensions",
                "saml:Issuer",
                "samlp:Status",
            ]
        )
    )
    attributes = ""
    if draw(st.booleans()):
        name = draw(st.sampled_from(ID_NAMES))
        value = draw(st.sampled_from(ID_VALUES[:-1] if name == "xml:id" else ID_VALUES))  # xml:id: an NCName
        attributes = f' {name}="{value}"'
    children = ""
    if depth < 2:
        children = "".join(draw(st.lists(_element(depth + 1), max_size=3)))
    return f"<{tag}{attributes}>{children}</{tag}>"


@st.composite
def documents(draw: st.DrawFn) -> bytes:
    root = draw(st.sampled_from(["samlp:Response", "samlp:Response", "samlp:LogoutResponse", "saml:Assertion"]))
    own_id = draw(st.sampled_from(ID_VALUES))
    children = "".join(draw(st.lists(_element(), max_size=5)))
    return f'<{root} {DECLS} ID="{own_id}">{children}</{root}>'.encode()


def _one_by_one(root: etree._Element) -> tuple[etree._Element, IdIndex]:
    checks.check_is_response(root)
    checks.check_no_encrypted_claims(root)
    signature = checks.find_response_signature(root)
    ids = IdIndex.build(root)
    checks.check_unique_ids(ids)
    return signature, ids


def _parsed(xml: bytes) -> etree._Element:
    """The document, plainly parsed (parse_xml's caps are not what these tests are about); libxml2 itself
    refuses a repeated xml:id value, and such a document never reaches the checks."""
    try:
        return etree.fromstring(xml)
    except etree.XMLSyntaxError:
        assume(False)
        raise


def _outcome(decide: object, xml: bytes) -> tuple[object, ...]:
    root = _parsed(xml)
    try:
        signature, ids = decide(root)  # type: ignore[operator]
    except ResponseRejected as exc:
        return ("refused", exc.code, str(exc), exc.detail)
    return ("accepted", root.index(signature), ids.counts)


@settings(max_examples=400, deadline=None)
@given(documents())
def test_check_raw_response_decides_as_the_rules_one_by_one(xml: bytes) -> None:
    assert _outcome(checks.check_raw_response, xml) == _outcome(_one_by_one, xml)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("<ds:Signature/>", None),
        ("", ErrorCode.UNSIGNED_MESSAGE),
        ("<ds:Signature/><ds:Signature/>", ErrorCode.SIGNATURE_WRAPPING),
        ('<ds:Signature/><saml:Assertion ID="_r"/>', ErrorCode.SIGNATURE_WRAPPING),  # duplicate ID
        ('<ds:Signature/><saml:Assertion xml:id="_r"/>', ErrorCode.SIGNATURE_WRAPPING),
        ("<ds:Signature/><saml:EncryptedAssertion/>", ErrorCode.ENCRYPTED_CLAIMS_UNSUPPORTED),
        ("<saml:Assertion><ds:Signature/></saml:Assertion>", ErrorCode.ASSERTION_ONLY_SIGNATURE),
    ],
)
def test_check_raw_response_examples(body: str, code: ErrorCode | None) -> None:
    root = parse_xml(f'<samlp:Response {DECLS} ID="_r">{body}</samlp:Response>'.encode())
    if code is None:
        signature, ids = checks.check_raw_response(root)
        assert signature is root[0]
        assert ids.unique
        assert ids.counts == {"_r": 1}
    else:
        with pytest.raises(ResponseRejected) as caught:
            checks.check_raw_response(root)
        assert caught.value.code is code


def test_check_raw_response_refuses_another_document_element() -> None:
    root = parse_xml(f'<samlp:LogoutResponse {DECLS} ID="_r"><ds:Signature/></samlp:LogoutResponse>'.encode())
    with pytest.raises(ResponseRejected) as caught:
        checks.check_raw_response(root)
    assert caught.value.code is ErrorCode.MALFORMED_XML


@settings(max_examples=300, deadline=None)
@given(documents())
def test_id_index_unique_flag_and_counts(xml: bytes) -> None:
    root = _parsed(xml)
    ids = IdIndex.build(root)
    values = [
        value
        for element in root.iter()
        for name in ("ID", "Id", "id", "{http://www.w3.org/XML/1998/namespace}id")
        if (value := element.get(name)) is not None
    ]
    expected = Counter(values)
    assert ids.counts == dict(expected)
    assert ids.unique == all(count == 1 for count in expected.values())
    assert ids.duplicates() == {value for value, count in expected.items() if count > 1}


# --- stage 10 -------------------------------------------------------------------------------------------

IRTS = [None, REQUEST_ID, "_other"]


def _minted(w: World, response_irt: str | None, confirmation_irt: str | None) -> bytes:
    root = tree(w.mint(in_response_to=REQUEST_ID, sign_response=False))
    data = root.find(".//saml:SubjectConfirmationData", NS)
    assert data is not None
    for element, value in ((root, response_irt), (data, confirmation_irt)):
        if value is None:
            del element.attrib["InResponseTo"]
        else:
            element.set("InResponseTo", value)
    sign_element(root, w.key)
    return serialize(root)


@pytest.mark.parametrize("allow_unsolicited", [False, True])
@pytest.mark.parametrize("allow_irt_on_unsolicited", [False, True])
@pytest.mark.parametrize("request_id", IRTS)
@pytest.mark.parametrize("response_irt", IRTS)
@pytest.mark.parametrize("confirmation_irt", IRTS)
def test_in_response_to_stage_decides_as_check_in_response_to(
    allow_unsolicited: bool,
    allow_irt_on_unsolicited: bool,
    request_id: str | None,
    response_irt: str | None,
    confirmation_irt: str | None,
) -> None:
    policy = SecurityPolicy(
        allow_unsolicited=allow_unsolicited, allow_in_response_to_on_unsolicited=allow_irt_on_unsolicited
    )
    w = World(policy=policy)
    try:
        expected: object = checks.check_in_response_to(
            response_irt,
            confirmation_irt,
            request_id=request_id,
            allow_unsolicited=allow_unsolicited,
            allow_in_response_to_on_unsolicited=allow_irt_on_unsolicited,
        )
        if expected is None:
            expected = response_irt
    except ResponseRejected as exc:
        expected = exc.code
    try:
        got: object = w.check(_minted(w, response_irt, confirmation_irt), request_id=request_id).in_response_to
    except ResponseRejected as exc:
        got = exc.code
    if got is ErrorCode.INVALID_SUBJECT_CONFIRMATION:
        # Stage 8 refuses a confirmation that names another request than the Response before stage 10.
        assert response_irt is not None
        assert confirmation_irt is not None
        assert response_irt != confirmation_irt
    else:
        assert got == expected
