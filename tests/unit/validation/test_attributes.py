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
    # The pipeline hands in the verified canonical octets: a statement that is not plain skips the per-value
    # xsi:nil lookup when they hold no `nil="`, and the per-Attribute FriendlyName lookup when they hold no
    # `FriendlyName="`.
    canonical = etree.tostring(assertion, method="c14n")
    assert _attributes(assertion, statements, canonical=canonical) == (attributes, friendly)
    # Every statement through the general path (a tree parsed otherwise), with and without the octets.
    stock = etree.fromstring(etree.tostring(assertion))
    stock_statements = stock.findall(f"{SAML}AttributeStatement")
    assert _attributes(stock, stock_statements) == (attributes, friendly)
    assert _attributes(stock, stock_statements, canonical=canonical) == (attributes, friendly)


def _one_statement(body: str) -> etree._Element:
    return parse_xml(
        f'<saml:Assertion xmlns:saml="{NS_SAML}" xmlns:xsi="{NS_XSI}"><saml:AttributeStatement>{body}'
        "</saml:AttributeStatement></saml:Assertion>".encode()
    )


@pytest.mark.parametrize(
    ("body", "shape"),
    [
        ('<saml:Attribute Name="a"><saml:AttributeValue>x</saml:AttributeValue></saml:Attribute>', 2.0),
        ('<saml:Attribute Name="a" FriendlyName=""><saml:AttributeValue/></saml:Attribute>', 3.0),
        ('<saml:Attribute Name="a"/><saml:Attribute Name="b" FriendlyName="B"/>', 3.0),
        ('<saml:Attribute Name="a"><saml:AttributeValue xsi:nil="false">x</saml:AttributeValue></saml:Attribute>', 0.0),
        (
            '<saml:Attribute Name="a" FriendlyName="A"><saml:AttributeValue xsi:nil="true"/></saml:Attribute>',
            1.0,
        ),
        ('<saml:Attribute Name="a"><saml:AttributeValue>x<b/></saml:AttributeValue></saml:Attribute>', 0.0),
        ('<saml:Attribute Name="a"><saml:Other/></saml:Attribute>', 0.0),
        ("<saml:Other/>", 0.0),
        ("<saml:Other><saml:AttributeValue/></saml:Other>", 0.0),
        ('<saml:Attribute Name="a"><saml:Attribute Name="b"/></saml:Attribute>', 0.0),
        (
            '<saml:Attribute Name="a"><saml:AttributeValue><saml:AttributeValue/></saml:AttributeValue>'
            "</saml:Attribute>",
            0.0,
        ),
        ('<saml:Other FriendlyName="A"/>', 1.0),
        # Attributes named like these but in another namespace (or none) are neither.
        ('<saml:Attribute Name="a" saml:FriendlyName="A"><saml:AttributeValue nil="true"/></saml:Attribute>', 2.0),
    ],
)
def test_statement_shape(body: str, shape: float) -> None:
    """The XPath behind the plain path: plain (2) only without xsi:nil or any other element; +1 for a
    FriendlyName anywhere in the statement (the plain loop reads FriendlyName only then)."""
    from fedlib.validation.pipeline import _STATEMENT_SHAPE

    statement = _one_statement(body)[0]
    assert _STATEMENT_SHAPE(statement) == shape


def test_a_plain_looking_statement_with_xsi_nil_leaves_the_nil_value_out() -> None:
    """A statement that would be plain but for xsi:nil: the nil value is left out (the plain path would read
    it as "")."""
    assertion = _one_statement(
        '<saml:Attribute Name="a" FriendlyName="A"><saml:AttributeValue>x</saml:AttributeValue>'
        '<saml:AttributeValue xsi:nil="true"/></saml:Attribute>'
    )
    canonical = etree.tostring(assertion, method="c14n")
    assert _attributes(assertion, canonical=canonical) == ({"a": ("x",)}, {"a": "A"})
    assert _attributes(assertion) == ({"a": ("x",)}, {"a": "A"})


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            '<saml:Attribute Name="mail"><saml:AttributeValue>user@evil.example<!---->.victim.example'
            "</saml:AttributeValue></saml:Attribute>",
            {"mail": ("user@evil.example.victim.example",)},
        ),
        ('<saml:Attribute Name="role"><!--admin--></saml:Attribute>', {"role": ()}),
        (
            '<saml:Attribute Name="role"><saml:AttributeValue>a<?pi x?>b</saml:AttributeValue></saml:Attribute>',
            {"role": ("ab",)},
        ),
    ],
    ids=["comment-in-value", "comment-as-value", "pi-in-value"],
)
def test_the_plain_statement_path_refuses_a_tree_with_comments_or_pis(
    body: str, expected: dict[str, tuple[str, ...]]
) -> None:
    """parse_xml drops comments and refuses PIs, but a caller of validate_parsed_response may hand over a tree
    parsed otherwise: the plain path (which reads .text as the whole text) is taken only for a tree from
    parse_xml, so here the result is the general path's (and fails without that guard)."""
    from lxml import etree as stock

    ns = "urn:oasis:names:tc:SAML:2.0:assertion"
    assertion = stock.fromstring(
        f'<saml:Assertion xmlns:saml="{ns}"><saml:AttributeStatement>{body}</saml:AttributeStatement></saml:Assertion>'
    )
    statements = [assertion[0]]
    assert dict(_attributes(assertion, statements)[0]) == expected
    assert dict(_attributes(assertion, statements, canonical=b"")[0]) == expected
