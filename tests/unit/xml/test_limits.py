"""fedlib._xml.limits: each structural limit accepts exactly its value and refuses one more."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from fedlib._xml.ids import IdIndex
from fedlib._xml.limits import DEFAULT_XML_LIMITS, METADATA_XML_LIMITS, XMLLimits
from fedlib._xml.parse import parse_xml
from fedlib.errors import ErrorCode, XMLRejected

DS = "http://www.w3.org/2000/09/xmldsig#"
EC = "http://www.w3.org/2001/10/xml-exc-c14n#"


def decls(n: int, prefix: str = "p") -> str:
    return "".join(f' xmlns:{prefix}{i}="urn:x:{i}"' for i in range(n))


def attrs(n: int) -> str:
    return "".join(f' a{i}="1"' for i in range(n))


def nested(n: int) -> str:
    # n levels, one declaration each: n declarations in scope at the innermost element.
    return "".join(f'<x xmlns:n{i}="urn:n:{i}">' for i in range(n)) + "</x>" * n


def scope_total(n: int) -> str:
    # n declarations in scope summed over the elements: a root declaring 25 prefixes, children in their scope,
    # and for the remainder one child declaring a few more (every per-element and in-scope cap kept).
    count, extra = divmod(n, 25)
    children = "<x/>" * (count - 1 - (1 if extra else 0))
    last = f"<y{decls(extra, 'q')}/>" if extra else ""
    return f"<r{decls(25)}>{children}{last}</r>"


# builder(n) -> a document holding n of the limited thing (and nothing else near any other limit)
BUILDERS: dict[str, Callable[[int], str]] = {
    "max_elements": lambda n: "<r>" + "<x/>" * (n - 1) + "</r>",
    "max_attributes_per_element": lambda n: f"<r{attrs(n)}/>",
    "max_namespace_declarations_per_element": lambda n: f"<r{decls(n)}/>",
    "max_namespace_declarations_in_scope": lambda n: f"<r>{nested(n)}</r>",
    "max_namespace_declarations": lambda n: "<r>" + f"<x{decls(1)}/>" * n + "</r>",
    "max_signatures": lambda n: f'<r xmlns:ds="{DS}">' + "<ds:Signature/>" * n + "</r>",
    "max_references": lambda n: f'<r xmlns:ds="{DS}">' + "<ds:Reference/>" * n + "</r>",
    "max_namespace_scope_total": scope_total,
    "max_signature_nodes": lambda n: f'<r xmlns:ds="{DS}"><ds:Signature>' + "<x/>" * (n - 1) + "</ds:Signature></r>",
    "max_depth": lambda n: "<r>" + "<x>" * (n - 1) + "</x>" * (n - 1) + "</r>",
    "max_prefix_list": lambda n: (
        f'<r xmlns:ec="{EC}"><ec:InclusiveNamespaces PrefixList="' + " ".join(f"p{i}" for i in range(n)) + '"/></r>'
    ),
}


def test_every_limit_has_a_boundary_test() -> None:
    assert set(BUILDERS) | {"max_id_attributes"} == set(XMLLimits.__dataclass_fields__)


def test_id_limit_is_enforced_at_parse_time_and_by_the_id_index() -> None:
    # parse_xml counts ID-like attributes in check_structure (before anything indexes them); IdIndex.build
    # takes the same cap for a tree parsed otherwise.
    limit = DEFAULT_XML_LIMITS.max_id_attributes

    ids = "".join(f'<x ID="i{i}"/>' if i % 2 else f'<y xml:id="j{i}"/>' for i in range(limit))
    root = parse_xml(f"<r>{ids}</r>".encode())
    assert len(IdIndex.build(root, max_ids=limit).counts or {}) == limit
    over = f'<r>{ids}<z id="k"/></r>'.encode()
    with pytest.raises(XMLRejected) as info:
        parse_xml(over)
    assert info.value.code == ErrorCode.MESSAGE_TOO_COMPLEX
    assert "XMLLimits.max_id_attributes" in info.value.message
    root = etree.fromstring(over)
    assert len(IdIndex.build(root).counts or {}) == limit + 1  # no cap unless asked (metadata)
    with pytest.raises(XMLRejected) as info:
        IdIndex.build(root, max_ids=limit)
    assert info.value.code == ErrorCode.MESSAGE_TOO_COMPLEX
    assert "XMLLimits.max_id_attributes" in info.value.message


@pytest.mark.parametrize("padding", [0, 4000])
def test_id_limit_holds_whatever_bound_skips_the_count(padding: int) -> None:
    """Short documents skip the exact count by length; longer ones by their '=' count; both exact at the cap."""
    limit = DEFAULT_XML_LIMITS.max_id_attributes
    pad = "<p>" + "x" * padding + "</p>"
    ok = ("<r>" + pad + "".join(f'<x ID="i{i}"/>' for i in range(limit)) + "</r>").encode()
    parse_xml(ok)
    over = ("<r>" + pad + "".join(f'<x ID="i{i}"/>' for i in range(limit + 1)) + "</r>").encode()
    with pytest.raises(XMLRejected, match="max_id_attributes"):
        parse_xml(over)
    many_equals = ("<r>" + "=" * 2000 + "".join(f'<x ID="i{i}"/>' for i in range(limit + 1)) + "</r>").encode()
    with pytest.raises(XMLRejected, match="max_id_attributes"):
        parse_xml(many_equals)


@pytest.mark.parametrize("field", sorted(BUILDERS))
def test_limit_accepts_its_value_and_refuses_one_more(field: str) -> None:
    limit = getattr(DEFAULT_XML_LIMITS, field)
    build = BUILDERS[field]
    parse_xml(build(limit).encode())
    with pytest.raises(XMLRejected) as info:
        parse_xml(build(limit + 1).encode())
    assert info.value.code == ErrorCode.MESSAGE_TOO_COMPLEX
    assert f"XMLLimits.{field}" in info.value.message
    assert str(limit) in info.value.message


@pytest.mark.parametrize("field", sorted(BUILDERS))
def test_limits_are_configurable_per_call(field: str) -> None:
    # The same document passes under limits one larger (the metadata parser passes its own).
    limit = getattr(DEFAULT_XML_LIMITS, field)
    looser = XMLLimits(**{name: getattr(DEFAULT_XML_LIMITS, name) + 1 for name in BUILDERS})
    parse_xml(BUILDERS[field](limit + 1).encode(), limits=looser)


@settings(max_examples=40, deadline=None)
@given(per_element=st.integers(0, 80), levels=st.integers(1, 12))
def test_namespace_caps_property(per_element: int, levels: int) -> None:
    # Refused exactly when a cap is exceeded: per element, or summed over the nesting (in scope).
    doc = "".join(f"<x{decls(per_element, f'l{i}_')}>" for i in range(levels)) + "</x>" * levels
    limits = DEFAULT_XML_LIMITS
    expected = (
        per_element > limits.max_namespace_declarations_per_element
        or per_element * levels > limits.max_namespace_declarations_in_scope
    )
    if expected:
        with pytest.raises(XMLRejected) as info:
            parse_xml(doc.encode())
        assert info.value.code == ErrorCode.MESSAGE_TOO_COMPLEX
    else:
        parse_xml(doc.encode())


def test_redeclaring_a_prefix_counts_again_in_scope() -> None:
    # The in-scope count is what c14n walks: re-declarations included (a conservative upper bound).
    n = DEFAULT_XML_LIMITS.max_namespace_declarations_in_scope + 1
    doc = "".join('<x xmlns:p="urn:p">' for _ in range(n)) + "</x>" * n
    with pytest.raises(XMLRejected, match="in scope"):
        parse_xml(doc.encode())


def test_default_namespace_declarations_count() -> None:
    n = DEFAULT_XML_LIMITS.max_namespace_declarations_in_scope + 1
    doc = "".join(f'<x xmlns="urn:{i}">' for i in range(n)) + "</x>" * n
    with pytest.raises(XMLRejected, match="in scope"):
        parse_xml(doc.encode())


def test_xml_prefix_needs_no_declaration_and_is_not_counted() -> None:
    parse_xml(f'<r xml:lang="en"{decls(DEFAULT_XML_LIMITS.max_namespace_declarations_per_element)}/>'.encode())


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le"])
@pytest.mark.parametrize("declared", [False, True])
def test_namespace_flood_hidden_by_a_wide_encoding_is_counted(encoding: str, declared: bool) -> None:
    # b"xmlns" is not in UTF-16/32 bytes: the byte-count fast path must not apply, with or without a
    # BOM or an XML declaration (libxml2 detects the encoding from the first bytes).
    body = f"<r{decls(DEFAULT_XML_LIMITS.max_namespace_declarations_per_element + 1)}/>"
    name = encoding.split("-le")[0].split("-be")[0].upper()
    doc = (f"<?xml version='1.0' encoding='{name}'?>" if declared else "") + body
    with pytest.raises(XMLRejected) as info:
        parse_xml(doc.encode(encoding))
    if info.value.code == ErrorCode.MALFORMED_XML:  # libxml2 cannot read BOM-less, undeclared UTF-16
        assert not declared
        assert encoding in ("utf-16-le", "utf-16-be")
    else:
        assert "max_namespace_declarations_per_element" in info.value.message


def test_metadata_limits_are_looser_but_bounded() -> None:
    for field in XMLLimits.__dataclass_fields__:
        assert getattr(METADATA_XML_LIMITS, field) >= getattr(DEFAULT_XML_LIMITS, field)
    assert METADATA_XML_LIMITS.max_namespace_declarations_in_scope <= 256
    assert METADATA_XML_LIMITS.max_attributes_per_element <= 256


@pytest.mark.parametrize("bad", [0, -1, True, 1.5, "3"])
def test_limits_must_be_positive_ints(bad: object) -> None:
    with pytest.raises(ValueError, match="positive int"):
        XMLLimits(max_elements=bad)  # type: ignore[arg-type]


def test_exact_namespace_walk_when_the_per_element_cap_is_the_tighter_one() -> None:
    # The cheap walk bounds per-element counts by in-scope counts; with unequal caps it defers to the
    # exact walk, which must accept what is within both caps and name the cap that is exceeded.
    limits = XMLLimits(max_namespace_declarations_per_element=4, max_namespace_declarations_in_scope=64)
    deep = "".join(f"<x{decls(3, f'l{i}_')}>" for i in range(10)) + "</x>" * 10
    parse_xml(deep.encode(), limits=limits)  # 3 per element, 30 in scope
    with pytest.raises(XMLRejected, match="max_namespace_declarations_per_element"):
        parse_xml(f"<r{decls(5)}/>".encode(), limits=limits)
    with pytest.raises(XMLRejected, match="max_namespace_declarations_in_scope"):
        parse_xml(("".join(f"<x{decls(3, f'l{i}_')}>" for i in range(22)) + "</x>" * 22).encode(), limits=limits)


def test_the_byte_count_shortcut_honours_a_small_document_total() -> None:
    """Review finding: with a document-wide cap below the per-element caps, the namespace walk must still
    run (the shortcut skipped it when the raw bytes held few ``xmlns``)."""
    from fedlib._xml.limits import XMLLimits
    from fedlib._xml.parse import parse_xml as parse

    limits = XMLLimits(max_namespace_declarations=4)
    doc = b"<r>" + b"".join(b"<e%d xmlns:p%d='urn:%d'/>" % (i, i, i) for i in range(20)) + b"</r>"
    with pytest.raises(XMLRejected) as info:
        parse(doc, limits=limits)
    assert info.value.code == ErrorCode.MESSAGE_TOO_COMPLEX


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32"])
def test_element_flood_in_another_encoding_is_counted(encoding: str) -> None:
    # A wide encoding hides nothing from the element cap (it is counted on the tree, not the bytes).
    limit = DEFAULT_XML_LIMITS.max_elements
    doc = f"<?xml version='1.0' encoding='{encoding.upper()}'?>" + BUILDERS["max_elements"](limit + 1)
    with pytest.raises(XMLRejected) as info:
        parse_xml(doc.encode(encoding), max_bytes=1 << 24)
    assert "max_elements" in info.value.message


def test_comments_and_cdata_are_not_counted_as_elements() -> None:
    # '<' in comments and CDATA is no element: the cap counts elements exactly.
    limit = DEFAULT_XML_LIMITS.max_elements
    padding = "<!-- <<<< -->" + "<![CDATA[<<<<]]>"
    parse_xml(("<r>" + padding + "<x/>" * (limit - 1) + "</r>").encode())
    with pytest.raises(XMLRejected, match="max_elements"):
        parse_xml(("<r>" + padding + "<x/>" * limit + "</r>").encode())


# _ascii_compatible's fast path (the first bytes alone) against the docinfo + regex reading it short-cuts,
# on generated heads: declarations in several encodings and quotings, BOMs, prologs, UTF-16/32 bytes.
# Fails when the fast path's '?' exclusion is dropped (a declaration naming another encoding) or its zero-byte
# exclusion (UTF-16 without a BOM).
_HEADS = st.sampled_from(
    [
        "",
        '<?xml version="1.0" encoding="UTF-8"?>',
        "<?xml version='1.0' encoding='UTF-8'?>",
        '<?xml version="1.0" encoding="utf-8"?>',
        '<?xml version="1.0"?>',
        '<?xml version="1.0" encoding="ISO-8859-1"?>',
        '<?xml version="1.0" encoding="ISO-8859-5"?>',
        '<?xml version="1.0" encoding="windows-1252"?>',
        '<?xml version="1.0" encoding="US-ASCII"?>',
        '<?xml version="1.0" encoding="UTF-16"?>',
        "<!-- c -->",
        "<?pi x?>",
        "\n",
    ]
)
_ENCODINGS = st.sampled_from(["utf-8", "utf-8-sig", "latin-1", "utf-16", "utf-16-le", "utf-16-be", "utf-32"])


def _ascii_compatible_reference(root: etree._Element, data: bytes) -> bool:
    from fedlib._xml.limits import _ASCII_COMPATIBLE, _ASCII_START

    encoding = (root.getroottree().docinfo.encoding or "").lower()
    return encoding in _ASCII_COMPATIBLE and _ASCII_START.match(data) is not None


@settings(max_examples=300, deadline=None)
@given(_HEADS, _ENCODINGS)
def test_ascii_compatible_fast_path_matches_the_docinfo_reading(head: str, encoding: str) -> None:
    from fedlib._xml.limits import _ascii_compatible

    text = head + '<r xmlns:p="urn:x"><p:a b="1">t</p:a></r>'
    try:
        data = text.encode(encoding)
        root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    except (UnicodeEncodeError, etree.XMLSyntaxError, ValueError):
        return
    assert _ascii_compatible(root, data) == _ascii_compatible_reference(root, data)


@pytest.mark.parametrize(
    "data",
    [
        '<?xml version="1.0" encoding="ISO-8859-5"?><r/>'.encode("latin-1"),
        '<?xml version="1.0" encoding="UTF-16"?><r/>'.encode("utf-16-le"),
        b"<r/>",
        b"<?xml version='1.0' encoding='UTF-8'?><r/>",
    ],
)
def test_ascii_compatible_fast_path_examples(data: bytes) -> None:
    from fedlib._xml.limits import _ascii_compatible

    root = etree.fromstring(data)
    assert _ascii_compatible(root, data) == _ascii_compatible_reference(root, data)


def test_a_depth_cap_at_or_over_libxml2s_own_is_no_pass() -> None:
    """Review finding: ``max_depth`` builds an XPath of one step per level; a cap libxml2 never reaches (the
    metadata limits', or any caller's 10**9) must run no depth pass at all rather than build a huge XPath."""
    for depth in (2048, 10**4, 10**9):
        limits = XMLLimits(max_depth=depth)
        parse_xml(b"<r><a><b/></a></r>", limits=limits)
    parse_xml(b"<r><a><b/></a></r>", limits=METADATA_XML_LIMITS)


def test_the_large_document_check_enforces_the_summed_cap_as_check_structure_does() -> None:
    """Review finding: check_large_document applied max_namespace_scope_total only after its walk went exact."""
    from fedlib._xml.limits import check_large_document, check_structure
    from fedlib._xml.parse import _parser

    xml = b"<r" + decls(25).encode() + b">" + b"<a/>" * 4000 + b"</r>"  # 25 x 4,001 in scope
    root = etree.fromstring(xml, _parser())
    for check in (check_structure, check_large_document):
        with pytest.raises(XMLRejected, match="max_namespace_scope_total"):
            check(root, xml, DEFAULT_XML_LIMITS)
    deep = b"<r>" + b"<c>" * 60 + b"</c>" * 60 + b"</r>"
    root = etree.fromstring(deep, _parser())
    for check in (check_structure, check_large_document):
        with pytest.raises(XMLRejected, match="max_depth"):
            check(root, deep, DEFAULT_XML_LIMITS)
