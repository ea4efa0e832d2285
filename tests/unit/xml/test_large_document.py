"""check_large_document (the metadata loader's structural pass) enforces exactly check_structure's limits.

Each limit has a test of its own that fails if check_large_document stopped checking it, and a
differential property holds its verdicts (and what it collects) to check_structure's and to plain lxml
walks over random documents, random limits and two encodings.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from fedlib._xml.ids import IdIndex, id_index_of_value
from fedlib._xml.limits import XMLLimits, check_large_document, check_structure
from fedlib._xml.parse import _parser, parse_xml
from fedlib.errors import ErrorCode, XMLRejected

DS = "http://www.w3.org/2000/09/xmldsig#"
EC = "http://www.w3.org/2001/10/xml-exc-c14n#"
MD = "urn:oasis:names:tc:SAML:2.0:metadata"
ROOT_NS = f'xmlns:ds="{DS}" xmlns:ec="{EC}" xmlns:md="{MD}"'
ENTITY = f"{{{MD}}}EntityDescriptor"
# Generous everywhere: each test tightens the one limit it is about.
ROOMY = XMLLimits(
    max_elements=10_000,
    max_attributes_per_element=100,
    max_namespace_declarations_per_element=100,
    max_namespace_declarations_in_scope=100,
    max_namespace_declarations=1_000,
    max_id_attributes=1_000,
    max_signatures=100,
    max_references=100,
    max_prefix_list=100,
)


def parse(xml: bytes) -> etree._Element:
    return etree.fromstring(xml, _parser())


def refused_field(xml: bytes, limits: XMLLimits, **kwargs: Any) -> str:
    with pytest.raises(XMLRejected) as info:
        check_large_document(parse(xml), xml, limits, **kwargs)
    assert info.value.code == ErrorCode.MESSAGE_TOO_COMPLEX
    return info.value.message.rsplit("XMLLimits.", 1)[1].rstrip(")")


@pytest.mark.parametrize(
    ("xml", "field", "limit"),
    [
        (f"<r {ROOT_NS}>{'<e/>' * 5}</r>".encode(), "max_elements", 5),
        (b'<r><e a="1" b="2" c="3"/></r>', "max_attributes_per_element", 2),
        (b'<r><e xmlns:a="u:a" xmlns:b="u:b" xmlns:c="u:c"/></r>', "max_namespace_declarations_per_element", 2),
        (b'<r xmlns:a="u:a"><e xmlns:b="u:b"><f xmlns:c="u:c"/></e></r>', "max_namespace_declarations_in_scope", 2),
        (b'<r><e xmlns:a="u:a"/><e xmlns:a="u:a"/><e xmlns:a="u:a"/></r>', "max_namespace_declarations", 2),
        (f"<r {ROOT_NS}><ds:Signature/><ds:Signature/><ds:Signature/></r>".encode(), "max_signatures", 2),
        (f"<r {ROOT_NS}><ds:Reference/><ds:Reference/><ds:Reference/></r>".encode(), "max_references", 2),
        (f'<r {ROOT_NS}><ec:InclusiveNamespaces PrefixList="a b c"/></r>'.encode(), "max_prefix_list", 2),
    ],
)
def test_each_limit_is_enforced(xml: bytes, field: str, limit: int) -> None:
    limits = dataclasses.replace(ROOMY, **{field: limit})
    assert refused_field(xml, limits) == field
    assert refused_field(xml, limits, collect=ENTITY, attribute_value="1") == field
    check_large_document(parse(xml), xml, dataclasses.replace(ROOMY, **{field: limit + 1}))


def test_namespaces_are_counted_whatever_the_encoding() -> None:
    """The raw-bytes shortcut only holds for ASCII-compatible input: UTF-16 is walked."""
    xml = '<r><e xmlns:a="u:a" xmlns:b="u:b" xmlns:c="u:c"/></r>'.encode("utf-16")
    assert b"xmlns" not in xml
    limits = dataclasses.replace(ROOMY, max_namespace_declarations_per_element=2)
    assert refused_field(xml, limits) == "max_namespace_declarations_per_element"


def test_an_attribute_equal_to_the_value_does_not_hide_the_attribute_cap() -> None:
    xml = b'<r><e a="v" b="v" c="v"/></r>'
    limits = dataclasses.replace(ROOMY, max_attributes_per_element=2)
    assert refused_field(xml, limits, attribute_value="v") == "max_attributes_per_element"


def test_collecting_a_limited_tag_still_counts_it() -> None:
    xml = f"<r {ROOT_NS}><ds:Signature/><ds:Signature/><ds:Signature/></r>".encode()
    limits = dataclasses.replace(ROOMY, max_signatures=2)
    assert refused_field(xml, limits, collect=f"{{{DS}}}Signature") == "max_signatures"


def test_collected_elements_and_equal_attributes() -> None:
    xml = (
        f'<md:EntitiesDescriptor {ROOT_NS} ID="_x"><md:EntityDescriptor entityID="a" id="_x"/>'
        f'<md:EntitiesDescriptor><md:EntityDescriptor entityID="b"/></md:EntitiesDescriptor>'
        f'<md:Extensions><md:EntityDescriptor entityID="c" other="_x"/></md:Extensions></md:EntitiesDescriptor>'
    ).encode()
    root = parse(xml)
    scan = check_large_document(root, xml, ROOMY, collect=ENTITY, attribute_value="_x")
    assert [e.get("entityID") for e in scan.collected] == ["a", "b", "c"]
    assert sorted(a.attrname for a in scan.attributes_equal) == ["ID", "id", "other"]
    index = id_index_of_value(scan.attributes_equal, "_x")
    assert index.elements("_x") == IdIndex.for_value(root, "_x").elements("_x")
    assert index.duplicates() == {"_x"}


def test_parse_xml_runs_the_structure_pass_it_is_given() -> None:
    xml = b'<r><e a="1" b="2" c="3"/></r>'
    limits = dataclasses.replace(ROOMY, max_attributes_per_element=2)
    seen: list[object] = []

    def structure(root: etree._Element, untrusted: bytes, given_limits: XMLLimits) -> None:
        seen.append((root.tag, untrusted, given_limits))
        check_large_document(root, untrusted, given_limits)

    with pytest.raises(XMLRejected):
        parse_xml(xml, limits=limits, structure=structure)
    assert seen == [("r", xml, limits)]


# ---- the differential property ----------------------------------------------------------------------------

TAGS = ["e", "ds:Signature", "ds:Reference", "ec:InclusiveNamespaces", "md:EntityDescriptor"]
VALUES = ["v", "w", "_x"]
ATTRIBUTE_NAMES = ["a", "b", "c", "d", "ID", "Id", "id", "xml:id", "PrefixList"]


@st.composite
def documents(draw: st.DrawFn, depth: int = 0) -> str:
    tag = "md:EntitiesDescriptor" if depth == 0 else draw(st.sampled_from(TAGS))
    declarations = draw(st.lists(st.sampled_from(["p", "q", "s", "t"]), max_size=4, unique=True))
    names = draw(st.lists(st.sampled_from(ATTRIBUTE_NAMES), max_size=6, unique=True))
    attributes = "".join(f' {n}="{draw(st.sampled_from([*VALUES, "p q r"]))}"' for n in names)
    namespaces = (f" {ROOT_NS}" if depth == 0 else "") + "".join(f' xmlns:{p}="urn:{p}"' for p in declarations)
    children = draw(st.lists(documents(depth + 1), max_size=3)) if depth < 4 else []
    return f"<{tag}{namespaces}{attributes}>{''.join(children)}</{tag}>"


limits_strategy = st.builds(
    XMLLimits,
    max_elements=st.integers(1, 40),
    max_attributes_per_element=st.integers(1, 6),
    max_namespace_declarations_per_element=st.integers(1, 8),
    max_namespace_declarations_in_scope=st.integers(1, 12),
    max_namespace_declarations=st.one_of(st.integers(1, 30), st.just(10_000)),
    max_signatures=st.integers(1, 4),
    max_references=st.integers(1, 4),
    max_prefix_list=st.integers(1, 3),
)


def verdict(check: Any) -> ErrorCode | None:
    try:
        check()
    except XMLRejected as exc:
        return exc.code
    return None


@settings(max_examples=200, deadline=None)
@given(documents(), limits_strategy, st.sampled_from(["utf-8", "utf-16"]), st.sampled_from([None, "_x", "v"]))
def test_same_verdicts_as_check_structure(text: str, limits: XMLLimits, encoding: str, value: str | None) -> None:
    xml = f'<?xml version="1.0" encoding="{encoding}"?>{text}'.encode(encoding)
    root = parse(xml)
    assert int(root.xpath("count(//*)")) <= len(xml) // 4  # what lets check_large_document skip the count
    expected = verdict(lambda: check_structure(root, xml, limits))
    scans: list[Any] = []
    got = verdict(lambda: scans.append(check_large_document(root, xml, limits, collect=ENTITY, attribute_value=value)))
    assert got == expected
    assert got in (None, ErrorCode.MESSAGE_TOO_COMPLEX)
    if scans:
        (scan,) = scans
        assert list(scan.collected) == list(root.iter(ENTITY))
        if value is not None:
            found = [(a.getparent(), a.attrname) for a in root.xpath("//@*[. = $v]", v=value)]
            assert [(a.getparent(), a.attrname) for a in scan.attributes_equal] == found
            full = IdIndex.build(root).elements(value)
            assert sorted(map(id, id_index_of_value(scan.attributes_equal, value).elements(value))) == sorted(
                map(id, full)
            )
