"""Attribute extraction (pipeline._attributes, rewritten for speed in issue #9) against a plain reference."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from fedlib._xml.parse import parse_xml
from fedlib.constants import NS_SAML, NS_XSI
from fedlib.validation.pipeline import _attributes

SAML = f"{{{NS_SAML}}}"
NIL = f"{{{NS_XSI}}}nil"


def reference(assertion: etree._Element) -> Mapping[str, tuple[str, ...]]:
    """The obvious reading: every AttributeStatement/Attribute with a non-empty Name, its AttributeValues'
    full text in document order, xsi:nil="true"/"1" left out, same Names merged."""
    out: dict[str, list[str]] = {}
    for statement in assertion.findall(f"{SAML}AttributeStatement"):
        for attribute in statement.findall(f"{SAML}Attribute"):
            name = attribute.get("Name")
            if not name:
                continue
            values = out.setdefault(name, [])
            for value in attribute.findall(f"{SAML}AttributeValue"):
                if value.get(NIL) in ("true", "1"):
                    continue
                values.append("".join(value.itertext()))
    return {name: tuple(values) for name, values in out.items()}


def reference_friendly_names(assertion: etree._Element) -> Mapping[str, str]:
    """Name -> the first non-empty FriendlyName given for that Name."""
    out: dict[str, str] = {}
    for statement in assertion.findall(f"{SAML}AttributeStatement"):
        for attribute in statement.findall(f"{SAML}Attribute"):
            name, friendly = attribute.get("Name"), attribute.get("FriendlyName")
            if name and friendly and name not in out:
                out[name] = friendly
    return out


_text = st.text(alphabet="ab &<>é", max_size=4)
_value = st.one_of(
    _text.map(lambda t: ("text", t)),
    st.just(("empty", "")),
    st.sampled_from(["true", "1", "false", "0"]).map(lambda n: ("nil", n)),
    st.tuples(_text, _text).map(lambda p: ("child", p)),
    # An element child of the Attribute that is not an AttributeValue (ignored, and not a value).
    _text.map(lambda t: ("other", t)),
)
_attribute = st.tuples(
    st.sampled_from(["a", "b", "", None]),
    st.lists(_value, max_size=3),
    st.sampled_from([None, None, None, "", "A", "B"]),  # mostly none: the pipeline's FriendlyName shortcut
)
_statements = st.lists(st.lists(_attribute, max_size=4), max_size=3)


Statements = list[list[tuple[str | None, list[tuple[str, object]], str | None]]]


def _render(statements: Statements) -> etree._Element:
    assertion = etree.Element(f"{SAML}Assertion", nsmap={"saml": NS_SAML, "xsi": NS_XSI})
    for attributes in statements:
        statement = etree.SubElement(assertion, f"{SAML}AttributeStatement")
        for name, values, friendly in attributes:
            attribute = etree.SubElement(statement, f"{SAML}Attribute")
            if name is not None:
                attribute.set("Name", name)
            if friendly is not None:
                attribute.set("FriendlyName", friendly)
            for kind, data in values:
                if kind == "other":
                    etree.SubElement(attribute, "{urn:x}Other").text = str(data)
                    continue
                value = etree.SubElement(attribute, f"{SAML}AttributeValue")
                if kind == "text":
                    value.text = str(data)
                elif kind == "nil":
                    value.set(NIL, str(data))
                elif kind == "child":
                    before, inner = data  # type: ignore[misc]
                    value.text = before
                    etree.SubElement(value, "{urn:x}Name").text = inner
    # Through the real parser, as the pipeline's input always is.
    return parse_xml(etree.tostring(assertion))


@settings(max_examples=300, deadline=None)
@given(_statements)
def test_attributes_match_the_reference(statements: Statements) -> None:
    assertion = _render(statements)
    attributes, friendly = _attributes(assertion)
    assert dict(attributes) == reference(assertion)
    assert dict(friendly) == reference_friendly_names(assertion)
    # The same with the statements handed in, as the pipeline does (from the claims pass).
    statements = assertion.findall(f"{SAML}AttributeStatement")
    assert _attributes(assertion, statements) == (attributes, friendly)
    # The pipeline skips the per-value xsi:nil lookup when the verified canonical octets hold no `nil="`
    # (and then reads a one-child Attribute by index), and the per-Attribute FriendlyName lookup when they
    # hold no `FriendlyName="`.
    canonical = etree.tostring(assertion, method="c14n")
    nil_possible = b'nil="' in canonical
    friendly_possible = b'FriendlyName="' in canonical
    if not nil_possible:
        assert _attributes(assertion, statements, nil_possible=False) == (attributes, friendly)
    if not friendly_possible:
        assert _attributes(assertion, statements, friendly_possible=False) == (attributes, friendly)
    shortcuts = _attributes(assertion, statements, nil_possible=nil_possible, friendly_possible=friendly_possible)
    assert shortcuts == (attributes, friendly)


@pytest.mark.parametrize(
    "body",
    [
        '<saml:Attribute Name="mail"><saml:AttributeValue>user@evil.example<!---->.victim.example'
        "</saml:AttributeValue></saml:Attribute>",
        '<saml:Attribute Name="role"><!--admin--></saml:Attribute>',
        '<saml:Attribute Name="role"><saml:AttributeValue>a<?pi x?>b</saml:AttributeValue></saml:Attribute>',
    ],
    ids=["comment-in-value", "comment-as-value", "pi-in-value"],
)
def test_the_plain_statement_path_refuses_a_tree_with_comments_or_pis(body: str) -> None:
    """parse_xml drops comments and refuses PIs, but a caller of validate_parsed_response may hand over a tree
    parsed otherwise: the plain path (which reads .text as the whole text) is taken only for a tree from
    parse_xml, so here the result is the general path's."""
    from lxml import etree as stock

    from fedlib.validation.pipeline import _attributes

    ns = "urn:oasis:names:tc:SAML:2.0:assertion"
    assertion = stock.fromstring(
        f'<saml:Assertion xmlns:saml="{ns}"><saml:AttributeStatement>{body}</saml:AttributeStatement></saml:Assertion>'
    )
    statements = [assertion[0]]
    fast = _attributes(assertion, statements, nil_possible=False, friendly_possible=False)
    general = _attributes(assertion, statements, nil_possible=True, friendly_possible=True)
    assert fast == general
