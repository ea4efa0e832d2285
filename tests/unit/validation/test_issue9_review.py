"""Issue #9 review: the fast paths of ``validate_response`` decide exactly as the code they replaced (225f489).

A differential run of the old and the new pipeline (mutated, genuinely signed test-IdP Responses; the interop
corpus at its window boundaries and in other encodings) found two regressions, pinned here with their fixes:
a non-bool ``allow_sha1`` crashed the one-pass profile check, and ``IdIndex.for_value`` dropped the empty ID.
The other tests pin the edge classes the fast paths are most likely to get wrong (the byte-level ID cap in
encodings that hide '=', xsi:nil under other prefixes, same-Name attributes): they pass on 225f489 too.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree
from tests.support import NOW, World

from fedlib._xml.ids import IdIndex
from fedlib._xml.limits import DEFAULT_XML_LIMITS
from fedlib._xml.parse import parse_xml
from fedlib.config import SecurityPolicy
from fedlib.errors import ErrorCode, SignatureRejected, XMLRejected
from fedlib.metadata.idp import parse_idp_metadata
from fedlib.testing import default_key, idp_metadata_xml
from fedlib.testing.responses import build_response, serialize, sign_element
from fedlib.xmldsig.profile import _prevalidate_rule_by_rule, prevalidate_signature

DS_SIGNATURE = "{http://www.w3.org/2000/09/xmldsig#}Signature"

# SecurityPolicy does not type-check allow_sha1; the rule-by-rule profile reads it by truthiness.
NON_BOOL_FLAGS: list[Any] = [None, "", 0, [], 1, "yes"]


def _outcome(function: Any, signature: etree._Element, allow_sha1: Any) -> object:
    try:
        return function(signature, allow_sha1=allow_sha1)
    except SignatureRejected as exc:
        return exc.code


@pytest.mark.parametrize("flag", NON_BOOL_FLAGS, ids=repr)
@pytest.mark.parametrize(("algorithm", "digest"), [("rsa-sha256", "sha256"), ("rsa-sha1", "sha1")])
def test_profile_fast_path_reads_allow_sha1_like_the_rules(flag: Any, algorithm: str, digest: str) -> None:
    """The one-pass profile check looked allow_sha1 up as a dict key: None/"" raised KeyError, [] TypeError
    (a crash on every login), where the rules decide by truthiness."""
    w = World()
    signature = parse_xml(w.mint(signature_algorithm=algorithm, digest_algorithm=digest)).find(DS_SIGNATURE)
    assert signature is not None
    reference = _outcome(_prevalidate_rule_by_rule, signature, flag)  # reads the element, never changes it
    assert _outcome(prevalidate_signature, signature, flag) == reference


@pytest.mark.parametrize("flag", NON_BOOL_FLAGS, ids=repr)
def test_pipeline_with_non_bool_allow_sha1_decides_by_truthiness(flag: Any) -> None:
    w = World(policy=SecurityPolicy(allow_unsolicited=True, allow_sha1=flag))
    assert w.check(w.mint()).name_id == "alice@example.com"
    legacy = w.mint(signature_algorithm="rsa-sha1", digest_algorithm="sha1")
    if flag:
        assert w.check(legacy).name_id == "alice@example.com"
    else:
        assert w.code_of(legacy) == ErrorCode.WEAK_ALGORITHM


# --- the byte-level bounds of check_structure (the ID cap and the element count skip their exact count) ----


def _utf7_ids(count: int) -> bytes:
    # UTF-7 may spell '=' as "+AD0-": the attributes then carry no '=' byte at all (only the declaration does).
    ids = "".join(f'<x ID+AD0-"i{i}"/>' for i in range(count))
    return f'<?xml version="1.0" encoding="UTF-7"?><r>{ids}</r>'.encode("ascii")


def test_id_cap_is_not_skipped_by_an_encoding_that_hides_the_equals_sign() -> None:
    """The '=' count proves the ID cap only in an ASCII-compatible document: a UTF-7 one holds 257 ID
    attributes in 4.5 KB with two '=' bytes. libxml2 reads UTF-7, so the exact count must run."""
    limit = DEFAULT_XML_LIMITS.max_id_attributes
    under, over = _utf7_ids(limit), _utf7_ids(limit + 1)
    assert over.count(b"=") == 2  # neither the '=' count
    assert len(over) // 6 > limit  # nor the length proves it under the cap
    assert len(parse_xml(under)) == limit
    with pytest.raises(XMLRejected) as info:
        parse_xml(over)
    assert info.value.code == ErrorCode.MESSAGE_TOO_COMPLEX
    assert "max_id_attributes" in info.value.message


@pytest.mark.parametrize("encoding", ["UTF-16", "UTF-16-LE", "UTF-16-BE", "UTF-32", "ISO-8859-1", "Shift_JIS"])
def test_id_cap_holds_in_other_encodings(encoding: str) -> None:
    limit = DEFAULT_XML_LIMITS.max_id_attributes
    names = ["ID", "Id", "id", "xml:id"]
    ids = "".join(f'<x {names[i % 4]}="i{i}"/>' for i in range(limit + 1))
    declared = encoding.replace("-LE", "LE").replace("-BE", "BE")
    xml = f'<?xml version="1.0" encoding="{declared}"?><r>{ids}</r>'.encode(encoding.lower())
    with pytest.raises(XMLRejected) as info:
        parse_xml(xml)
    assert info.value.code == ErrorCode.MESSAGE_TOO_COMPLEX


# --- attributes: the one-pass reader and the nil="" skip, on genuinely signed Responses --------------------

XSI = "http://www.w3.org/2001/XMLSchema-instance"
SAML = "{urn:oasis:names:tc:SAML:2.0:assertion}"


def _signed_with_statement(w: World, statement_xml: str) -> bytes:
    root = build_response(w.spec())
    assertion = root.find(f"{SAML}Assertion")
    assert assertion is not None
    assertion.append(etree.fromstring(statement_xml))
    sign_element(root, w.key)
    return serialize(root)


def test_nil_under_any_prefix_and_only_in_the_xsi_namespace() -> None:
    """xsi:nil drops a value whatever prefix binds the namespace; a `nil` attribute of another namespace or
    of none keeps it (the canonical octets then hold `nil="`, so the per-value lookup runs)."""
    w = World()
    xml = _signed_with_statement(
        w,
        f'<saml:AttributeStatement xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" xmlns:o="urn:other">'
        f'<saml:Attribute Name="a">'
        f'<saml:AttributeValue xmlns:q="{XSI}" q:nil="true">dropped</saml:AttributeValue>'
        f'<saml:AttributeValue o:nil="true">kept1</saml:AttributeValue>'
        f'<saml:AttributeValue nil="true">kept2</saml:AttributeValue>'
        f'<saml:AttributeValue xmlns:xsi="{XSI}" xsi:nil="1"/>'
        f'<saml:AttributeValue xmlns:xsi="{XSI}" xsi:nil=" true">kept3</saml:AttributeValue>'
        f"</saml:Attribute></saml:AttributeStatement>",
    )
    assert dict(w.check(xml).attributes) == {"a": ("kept1", "kept2", "kept3")}


def test_same_name_attributes_merge_across_interleaving_and_statements() -> None:
    w = World()
    xml = _signed_with_statement(
        w,
        '<saml:AttributeStatement xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">'
        '<saml:Attribute Name="m" FriendlyName=""><saml:AttributeValue>1</saml:AttributeValue></saml:Attribute>'
        '<saml:Attribute Name="n" FriendlyName="en"><saml:AttributeValue>x</saml:AttributeValue></saml:Attribute>'
        '<saml:Attribute Name="m" FriendlyName="em"><saml:AttributeValue>2</saml:AttributeValue>'
        "<saml:AttributeValue>3</saml:AttributeValue></saml:Attribute>"
        '<saml:Attribute Name=""><saml:AttributeValue>lost</saml:AttributeValue></saml:Attribute>'
        '<saml:Attribute Name="m" FriendlyName="late"><saml:AttributeValue>4</saml:AttributeValue></saml:Attribute>'
        "</saml:AttributeStatement>",
    )
    result = w.check(xml)
    assert dict(result.attributes) == {"m": ("1", "2", "3", "4"), "n": ("x",)}
    assert dict(result.friendly_names) == {"m": "em", "n": "en"}


# --- IdIndex: the targeted form (metadata) answers as the counted form (Responses), the empty ID included ---

ID_NAMES = ["ID", "Id", "id", "{http://www.w3.org/XML/1998/namespace}id", "{urn:x}ID", "other"]
ID_VALUES = ["", "_a", "_a ", "_b"]


@given(
    st.lists(
        st.tuples(
            st.integers(0, 10), st.lists(st.tuples(st.sampled_from(ID_NAMES), st.sampled_from(ID_VALUES)), max_size=3)
        ),
        max_size=10,
    ),
    st.sampled_from(ID_VALUES),
)
def test_id_index_forms_agree_for_every_value(nodes: list[tuple[int, list[tuple[str, str]]]], value: str) -> None:
    """``IdIndex.for_value(root, "")`` held nothing, so an element that alone carries ``ID=""`` (signed
    metadata with ``URI="#"``) was no longer its sole holder: a refusal where 225f489 and the counted index
    (the Response path) both accept."""
    root = etree.Element("root")
    elements = [root]
    for parent_index, attributes in nodes:
        element = etree.SubElement(elements[parent_index % len(elements)], "e")
        for name, attribute_value in attributes:
            element.set(name, attribute_value)
        elements.append(element)
    counted, targeted = IdIndex.build(root), IdIndex.for_value(root, value)
    assert [id(e) for e in targeted.elements(value)] == [id(e) for e in counted.elements(value)]
    assert [targeted.sole_holder(value, e) for e in elements] == [counted.sole_holder(value, e) for e in elements]


def test_sole_empty_id_is_its_own_holder_in_both_forms() -> None:
    root = etree.fromstring(b'<r ID=""><x/></r>')
    assert IdIndex.build(root).sole_holder("", root)
    assert IdIndex.for_value(root, "").sole_holder("", root)


def test_signed_metadata_with_an_empty_id_verifies_as_before() -> None:
    """End to end: signxml signs a document element with ``ID=""`` as ``URI="#"``; 225f489 verified it, the
    targeted index refused it as signature-wrapping ("carried by more than one element", by none)."""
    key, federation = default_key(), default_key(label="federation")
    root = etree.fromstring(idp_metadata_xml("https://idp.example.org/", [key], sso_url="https://idp.example.org/sso"))
    root.set("ID", "")
    sign_element(root, federation)
    metadata = parse_idp_metadata(serialize(root), now=NOW, signed_by=[federation.certificate])
    assert metadata.entity_id == "https://idp.example.org/"
