"""Structural limits on untrusted XML, checked right after parsing and before anything else reads the tree.

Why: the size cap alone does not bound the work. libxml2's canonicalisation is quadratic in the
namespace declarations in scope at an element and in the attributes of one element, and fedlib
canonicalises SignedInfo with the algorithm the message names before any key has been proven. A 220 KB
POST with 10,000 namespace declarations on the root took ~2.5 s to reject; 20,000 attributes on one
element behind a genuine SignedInfo ~0.7 s. The limits below cap exactly the quantities the cost grows
with, so every input up to the size limit is decided in a few milliseconds (``bench/hostile.py`` shows
the worst case), whatever algorithm it names.

How the defaults were chosen: real IdP output measured over the interop corpus
(/work/shared/interop/peers: ADFS, Entra, Google, Okta, OneLogin, PingFederate, Shibboleth,
SimpleSAMLphp, Keycloak, Salesforce, ... 70+ real responses) and over ``fedlib.testing`` vendor profiles
with 100 attributes of 3 values: at most 455 elements, depth 9, 6 attributes on one element, 6 namespace
declarations on one element, 6 in scope (counted as below), 22 declarations per document, 4 ID
attributes, 3 signatures, 3 References and 5 PrefixList entries, at most 352 declarations in scope summed
over the elements. Okta-style IdPs re-declare
``xmlns:xs``/``xmlns:xsi`` on every AttributeValue, so the per-document total is allowed to be large;
what is quadratic (in scope, per element) is capped tightly. Every default leaves >= 4x headroom over
the largest value seen (10,000 elements is also more than the ~6,000-7,700 shortest AttributeValues that fit
in a 256 KiB response).

Exceeding a limit rejects with ``message-too-complex`` (an ``XMLRejected``): the message names the
limit and its value, so an operator can tell "too complex" from "not XML" (``malformed-xml``).

The ID cap is enforced here too (and by ``fedlib._xml.ids.IdIndex.build(max_ids=...)`` for a tree parsed otherwise).
This module imports nothing from fedlib but the errors module.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, fields
from typing import Any, Final

from lxml import etree

from fedlib.errors import ErrorCode, XMLRejected, reject

_DS: Final = "http://www.w3.org/2000/09/xmldsig#"
_DS_SIGNATURE: Final = f"{{{_DS}}}Signature"
_DS_REFERENCE: Final = f"{{{_DS}}}Reference"
_EC_INCLUSIVE_NAMESPACES: Final = "{http://www.w3.org/2001/10/xml-exc-c14n#}InclusiveNamespaces"

# Encodings in which every ASCII character is the single byte of the same value, so that counting
# b"xmlns" in the raw input bounds the namespace declarations (the fast path below).
_ASCII_COMPATIBLE: Final = frozenset({"utf-8", "utf8", "us-ascii", "ascii", "iso-8859-1", "latin-1", "latin1"})
_ASCII_START: Final = re.compile(rb"(?:\xef\xbb\xbf)?[ \t\r\n]*<[^\x00]")
_UTF8_DECLARATIONS: Final = (b'<?xml version="1.0" encoding="UTF-8"?>', b"<?xml version='1.0' encoding='UTF-8'?>")
_NOT_UTF8_AFTER_LT: Final = (b"?", b"\x00", b"")


@dataclass(frozen=True, slots=True, kw_only=True)
class XMLLimits:
    """Caps on the structure of one untrusted XML document (see the module docstring for the defaults).

    Nesting depth is capped here (``max_depth``) well below libxml2's own 256 (without ``XML_PARSE_HUGE``,
    which fedlib never sets): a subtree's c14n and its move both cost about its elements times its depth.
    """

    max_elements: int = 10_000
    """Elements in the document (real responses: <= 455 with 100 attributes; a 256 KiB one of the shortest
    AttributeValues ~6,000-7,700). Parsing, the ID index and c14n are each linear in it: 17,000 elements within
    every other cap (20,000 was the cap before 2026-12-07) took ~36 ms of CPU to decide behind a genuine
    signature."""

    max_attributes_per_element: int = 32
    """Attributes on one element, namespace declarations not counted (real: <= 6). c14n sorts them."""

    max_namespace_declarations_per_element: int = 32
    """``xmlns``/``xmlns:p`` declarations on one element (real: <= 6)."""

    max_namespace_declarations_in_scope: int = 32
    """Declarations on an element and all its ancestors, re-declarations of a prefix counted again (real:
    <= 6). This is what inclusive c14n (and exclusive c14n's namespace stack) walks at every element."""

    max_namespace_declarations: int = 4_096
    """Declarations in the whole document (real: <= 22; Okta-style re-declaration on every AttributeValue
    needs ~2 per value)."""

    max_id_attributes: int = 256
    """``ID``/``Id``/``id``/``xml:id`` attributes in the document (real: <= 4). Checked by
    ``check_structure`` (and ``check_large_document``) right after parsing, before anything indexes the IDs;
    counted exactly only when the raw bytes do not already prove the document under the cap (its length, or
    its count of ``=``); ``IdIndex.build(root, max_ids=...)`` takes the same cap for a tree parsed otherwise."""

    max_signatures: int = 8
    """``ds:Signature`` elements in the document (real: <= 2, Response and Assertion)."""

    max_references: int = 8
    """``ds:Reference`` elements in the document (real: one per signature)."""

    max_prefix_list: int = 32
    """Prefixes in one ``ec:InclusiveNamespaces PrefixList`` (real: <= 5)."""

    max_signature_nodes: int = 128
    """Elements and attributes in one ``ds:Signature`` subtree, itself included (real: <= 26 over the interop
    corpora: SignedInfo with its algorithms, SignatureValue, a KeyInfo with one to three certificates or a
    KeyValue). The enveloped transform detaches the Signature, and lxml reconciles every node of it whose
    namespace is declared outside it, quadratically: ~970 namespaced elements of 32 attributes in a genuine
    Response's (unsigned) KeyInfo took 150-280 ms, then the Response was accepted."""

    max_namespace_scope_total: int = 50_000
    """Declarations in scope summed over every element (real: <= 352 over the interop corpora; ~2,300 for 100
    attributes of 3 values with Okta-style re-declaration). Inclusive c14n (and exclusive c14n's InclusiveNamespaces)
    looks at every declaration in scope at every element: 19,000 elements under 31 declarations, each cap above
    respected, took 70-200 ms to digest behind a genuine inclusive-c14n signature; 50,000 bounds that to ~15 ms."""

    max_depth: int = 48
    """Nesting depth, the document element at depth 1 (real: <= 9, over every Response and metadata document
    of the interop corpora). Canonicalising a deep subtree, and moving it (the enveloped transform detaches
    the Signature), costs about its element count times its depth: 19,000 elements nested 240 deep in a
    KeyInfo took ~60 ms, in a signed Response's Extensions ~50 ms to digest. libxml2 stops at 256 on its own."""

    def __post_init__(self) -> None:
        for item in fields(self):
            name = item.name
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"XMLLimits.{name} must be a positive int, got {value!r}")


_LIBXML2_MAX_DEPTH: Final = 2048
"""The deepest tree libxml2 builds (with ``XML_PARSE_HUGE``; 256 without): a ``max_depth`` at or over it is no
cap, and no depth pass runs (nor is its XPath, one step per level, ever built that long)."""

DEFAULT_XML_LIMITS: Final = XMLLimits()
"""The limits for SAML protocol messages (Responses, Requests, LogoutRequests)."""

METADATA_XML_LIMITS: Final = XMLLimits(
    max_elements=50_000_000,
    max_attributes_per_element=256,
    max_namespace_declarations_per_element=256,
    max_namespace_declarations_in_scope=256,
    max_namespace_declarations=10_000_000,
    max_id_attributes=10_000_000,
    max_signatures=1_000_000,
    max_references=1_000_000,
    max_prefix_list=256,
    max_namespace_scope_total=10**15,
    max_signature_nodes=10**9,
    max_depth=_LIBXML2_MAX_DEPTH,
)
"""The limits for IdP metadata, which the operator chooses (federation aggregates legitimately hold
tens of thousands of entities in tens of megabytes); the per-element caps still bound c14n of a signed
aggregate. Its depth is libxml2's own limit, as before ``max_depth`` existed (the cap's pass would cost an
aggregate ~100 ns per element)."""


# Every compiled XPath of fedlib is built with ``regexp=False``: none uses the EXSLT regular-expression
# functions (``re:test`` ...), and lxml registers them in the evaluation context on every call otherwise:
# ~3 k instructions per call (bench/verify.py, callgrind: 1.894 M -> 1.885 M per validation for the three
# compiled XPaths of a login).
_COUNT_ELEMENTS: Final = etree.XPath("count(descendant-or-self::*)", regexp=False)
# The ID-like attributes (the names of ``fedlib._xml.ids``), counted without building a node-set: four
# passes, no union (libxml2 merges a union's node-sets in document order, which is slow when the four
# names are interleaved: ~190 ms for 20,000 of them in 256 KiB, where the four counts take ~2 ms).
ID_COUNT: Final = etree.XPath(
    "count(/descendant-or-self::*/@ID) + count(/descendant-or-self::*/@Id)"
    " + count(/descendant-or-self::*/@id) + count(/descendant-or-self::*/@xml:id)",
    regexp=False,
)
_SHORTEST_ID_ATTRIBUTE: Final = len(' id=""')
# The elements and attributes of a subtree, its root included (``max_signature_nodes``): two counts in C.
_SUBTREE_NODES: Final = etree.XPath("count(descendant-or-self::*) + count(descendant-or-self::*/@*)", regexp=False)


@functools.lru_cache(maxsize=16)
def _attribute_past(limit: int) -> etree.XPath:
    """XPath: the ``limit + 1``-th attribute of any element of the document (a literal position: faster than
    a variable). ``//*`` is every element of the document (for ``check_structure``'s root, the document
    element, the same set as ``descendant-or-self::*``), evaluated as one descendant step: ~7 k instructions
    less per parse than ``descendant-or-self::*`` (bench/verify.py, callgrind)."""
    return etree.XPath(f"//*/@*[{int(limit) + 1}]", smart_strings=False, regexp=False)


def _elements_at_depth(depth: int) -> str:
    """XPath location path of the elements at ``depth`` (``/*`` is the document element, depth 1): one step per
    level over the node-set of the level before, so a real message's levels run out after ~9 steps."""
    return "/*" * int(depth)


@functools.lru_cache(maxsize=16)
def _deeper_than(limit: int) -> etree.XPath:
    """XPath: whether any element stands at depth ``limit + 1``."""
    return etree.XPath(f"boolean({_elements_at_depth(limit + 1)})", regexp=False)


@functools.lru_cache(maxsize=16)
def _attribute_or_depth_past(attributes: int, depth: int) -> etree.XPath:
    """XPath: :func:`_attribute_past` or :func:`_deeper_than` in one evaluation (``check_structure`` runs on
    every message: one call instead of two; which one holds is asked again only to word a refusal)."""
    return etree.XPath(
        f"boolean(//*/@*[{int(attributes) + 1}]) or boolean({_elements_at_depth(depth + 1)})", regexp=False
    )


def _depth_is_a_cap(max_depth: int, untrusted_xml: bytes) -> bool:
    """Whether ``max_depth`` can be exceeded at all: not at or over libxml2's own limit, and not by a document
    with fewer elements than that (every element takes at least 4 bytes, and a tree has more elements than
    levels). Otherwise no depth pass runs, nor is its XPath built that long."""
    return max_depth < min(_LIBXML2_MAX_DEPTH, len(untrusted_xml) // _MIN_ELEMENT_BYTES)


def _scope_total_could_exceed(declarations: int, untrusted_xml: bytes, limit: int) -> bool:
    """Whether ``declarations`` (an upper bound on the namespace declarations of the document) could put more
    than ``limit`` in scope summed over the elements: at most every declaration is in scope at every element,
    and there are fewer elements than bytes over 4 and than ``<`` (ASCII-compatible input). Only then is the
    exact walk needed."""
    return declarations * (len(untrusted_xml) // _MIN_ELEMENT_BYTES) > limit and (
        declarations * untrusted_xml.count(b"<") > limit
    )


def _depth(root: etree._Element) -> int:
    """The nesting depth of ``root``'s subtree (``root`` at 1), to word a refusal."""
    deepest = 0
    level = [root]
    while level:
        deepest += 1
        level = [child for element in level for child in element.iterchildren(tag=etree.Element)]
    return deepest


def too_complex(what: str, count: int, limit: int, field: str) -> XMLRejected:
    """The ``message-too-complex`` rejection for ``count`` of ``what`` over ``XMLLimits.<field>``."""
    err = reject(
        ErrorCode.MESSAGE_TOO_COMPLEX,
        f"the XML message has too many {what} ({count}; the limit is {limit}, XMLLimits.{field})",
    )
    assert isinstance(err, XMLRejected)
    return err


def check_structure(root: etree._Element, untrusted_xml: bytes, limits: XMLLimits) -> None:
    """Enforce ``limits`` on the freshly parsed document ``root`` (parsed from ``untrusted_xml``).

    Cost: linear in the document, ~10-15 us on a 5-7 KB response (bench/hostile.py prints it). Element
    and attribute counts are two compiled XPath passes (no Python object per element; the exact attribute
    count is computed only to word a refusal); namespaces need the C-level ``iterwalk`` only when the
    raw bytes could hold more declarations than the tightest namespace cap (real responses: <= 22
    ``xmlns``; Okta-style re-declaration on every AttributeValue takes the walk, ~1/3 of the parse time).

    Raises:
        XMLRejected: ``message-too-complex``.
    """
    ns_bound = min(
        limits.max_namespace_declarations_per_element,
        limits.max_namespace_declarations_in_scope,
        limits.max_namespace_declarations,
    )
    ascii_compatible = _ascii_compatible(root, untrusted_xml)
    xmlns = untrusted_xml.count(b"xmlns") if ascii_compatible else 0
    if not ascii_compatible or xmlns > ns_bound:
        _check_namespaces(root, limits)
    elif _scope_total_could_exceed(xmlns, untrusted_xml, limits.max_namespace_scope_total):
        _check_namespaces_exactly(root, limits)

    # Both in C, no Python object per element: the element count, and whether any element has an attribute
    # past the cap (XPath's attribute axis is lxml's ``attrib``: namespace declarations are not on it).
    max_attrs = limits.max_attributes_per_element
    max_elements = limits.max_elements
    # Every element takes at least 4 bytes (``<a/>``) in any encoding, so a short document cannot hold more
    # elements than the cap and is not counted (a 7 KB response: 1,700 << 10,000).
    if len(untrusted_xml) // 4 > max_elements:
        elements = int(_COUNT_ELEMENTS(root))  # type: ignore[arg-type]
        if elements > max_elements:
            raise too_complex("elements", elements, max_elements, "max_elements")
    # The attribute cap and the depth cap in one XPath call (both in C, no Python object per element).
    max_depth = limits.max_depth
    past = (
        _attribute_or_depth_past(max_attrs, max_depth)
        if _depth_is_a_cap(max_depth, untrusted_xml)
        else _attribute_past(max_attrs)
    )
    if past(root):
        if _attribute_past(max_attrs)(root):
            attributes = max(len(element.attrib) for element in root.iter())
            raise too_complex("attributes on one element", attributes, max_attrs, "max_attributes_per_element")
        raise too_complex("levels of nesting", _depth(root), max_depth, "max_depth")

    max_ids = limits.max_id_attributes
    # _check_id_count's own tests first (the raw bytes already prove the document under the cap), inline.
    if len(untrusted_xml) // _SHORTEST_ID_ATTRIBUTE > max_ids and (
        not ascii_compatible or untrusted_xml.count(b"=") > max_ids
    ):
        _check_id_count(root, untrusted_xml, max_ids, ascii_compatible=ascii_compatible)

    signatures = references = 0
    for element in root.iter(_DS_SIGNATURE, _DS_REFERENCE, _EC_INCLUSIVE_NAMESPACES):
        tag = element.tag
        if tag == _DS_SIGNATURE:
            signatures += 1
            if signatures > limits.max_signatures:
                raise too_complex("ds:Signature elements", signatures, limits.max_signatures, "max_signatures")
            _check_signature_nodes(element, limits.max_signature_nodes)
        elif tag == _DS_REFERENCE:
            references += 1
            if references > limits.max_references:
                raise too_complex("ds:Reference elements", references, limits.max_references, "max_references")
        else:
            prefixes = len((element.get("PrefixList") or "").split())
            if prefixes > limits.max_prefix_list:
                raise too_complex(
                    "prefixes in an InclusiveNamespaces PrefixList", prefixes, limits.max_prefix_list, "max_prefix_list"
                )


def _check_signature_nodes(signature: etree._Element, limit: int) -> None:
    """``max_signature_nodes`` for one ``ds:Signature`` (two counts in C over its subtree)."""
    nodes = int(_SUBTREE_NODES(signature))  # type: ignore[arg-type]
    if nodes > limit:
        raise too_complex("elements and attributes in one ds:Signature", nodes, limit, "max_signature_nodes")


def _check_id_count(
    root: etree._Element, untrusted_xml: bytes, max_ids: int, *, ascii_compatible: bool | None = None
) -> None:
    """ID-like attributes, before anything indexes them (``fedlib._xml.ids``). Counted only when neither the
    length nor the attribute count of the raw bytes already proves the document under the cap
    (``ascii_compatible``: :func:`_ascii_compatible`'s answer if the caller has it)."""
    if len(untrusted_xml) // _SHORTEST_ID_ATTRIBUTE <= max_ids:
        return
    if ascii_compatible is None:
        ascii_compatible = _ascii_compatible(root, untrusted_xml)
    if not ascii_compatible or untrusted_xml.count(b"=") > max_ids:
        ids = int(ID_COUNT(root))  # type: ignore[arg-type]
        if ids > max_ids:
            raise too_complex("ID attributes", ids, max_ids, "max_id_attributes")


def attributes_bounded_by(root: etree._Element, untrusted_xml: bytes, limit: int) -> bool:
    """Whether the raw bytes prove that the document ``root`` was parsed from has at most ``limit``
    attributes in all (namespace declarations included): each attribute carries one ``=`` byte, and in an
    ASCII-compatible document every ``=`` character is that byte (``=`` in text only makes the bound
    looser). False means "not proven", not "over the limit"."""
    return untrusted_xml.count(b"=") <= limit and _ascii_compatible(root, untrusted_xml)


def _ascii_compatible(root: etree._Element, untrusted_xml: bytes) -> bool:
    """Whether ``b"xmlns"`` in the raw bytes is every declaration: the declared encoding is
    ASCII-compatible AND the bytes really start with an ASCII '<' (libxml2 also detects UTF-16/32 by
    BOM or zero bytes, and EBCDIC, whatever the docinfo then says)."""
    # Fast path, the two shapes of nearly every message, decided from the first bytes alone (no docinfo,
    # no regex: ~4 k instructions less per parse, bench/verify.py, callgrind): the usual UTF-8 declaration,
    # or no declaration at all ('<' then neither '?' nor a zero byte), which libxml2 reads as UTF-8 (its
    # autodetection: "<?xm" opens a declaration, a zero byte after '<' is UTF-16/32). The docinfo answers the
    # same for both (tests/unit/xml/test_limits.py compares the two on generated heads; it fails when
    # either guard is dropped).
    if untrusted_xml.startswith(_UTF8_DECLARATIONS) or (
        untrusted_xml[:1] == b"<" and untrusted_xml[1:2] not in _NOT_UTF8_AFTER_LT
    ):
        return True
    encoding = (root.getroottree().docinfo.encoding or "").lower()
    return encoding in _ASCII_COMPATIBLE and _ASCII_START.match(untrusted_xml) is not None


def _check_namespaces(root: etree._Element, limits: XMLLimits) -> None:
    """Namespace declaration counts. A cheap walk first (declaration events only: the running count of
    open declarations is the in-scope count, and no element can declare more than are in scope at it);
    the exact per-element walk runs only when that bound does not already settle every cap."""
    bound = min(limits.max_namespace_declarations_per_element, limits.max_namespace_declarations_in_scope)
    open_declarations = total = 0
    for event, _ in etree.iterwalk(root, events=("start-ns", "end-ns")):
        if event == "start-ns":
            open_declarations += 1
            total += 1
            if open_declarations > bound or total > limits.max_namespace_declarations:
                _check_namespaces_exactly(root, limits)
                return
        else:
            open_declarations -= 1
    # The declarations summed over the elements in scope of each: at most every declaration at every element.
    if total * int(_COUNT_ELEMENTS(root)) > limits.max_namespace_scope_total:  # type: ignore[arg-type]
        _check_namespaces_exactly(root, limits)


def _check_namespaces_exactly(root: etree._Element, limits: XMLLimits) -> None:
    """Per-element, in-scope and per-document namespace declaration counts, exactly (with element events)."""
    per_element = limits.max_namespace_declarations_per_element
    in_scope_limit = limits.max_namespace_declarations_in_scope
    total_limit = limits.max_namespace_declarations
    scope_total_limit = limits.max_namespace_scope_total
    pending = 0  # declarations reported (start-ns) for the element whose start event comes next
    total = scope_total = 0
    scope = [0]  # declarations in scope, one entry per open element
    for event, _ in etree.iterwalk(root, events=("start", "end", "start-ns")):
        if event == "start-ns":
            pending += 1
            total += 1
            if pending > per_element:
                raise too_complex(
                    "namespace declarations on one element",
                    pending,
                    per_element,
                    "max_namespace_declarations_per_element",
                )
            if total > total_limit:
                raise too_complex("namespace declarations", total, total_limit, "max_namespace_declarations")
        elif event == "start":
            in_scope = scope[-1] + pending
            pending = 0
            if in_scope > in_scope_limit:
                raise too_complex(
                    "namespace declarations in scope at one element",
                    in_scope,
                    in_scope_limit,
                    "max_namespace_declarations_in_scope",
                )
            scope_total += in_scope
            if scope_total > scope_total_limit:
                raise too_complex(
                    "namespace declarations in scope summed over the elements",
                    scope_total,
                    scope_total_limit,
                    "max_namespace_scope_total",
                )
            scope.append(in_scope)
        else:
            scope.pop()


# ---- large documents (federation metadata) ------------------------------------------------------------------
#
# ``check_structure`` is tuned for 5-7 KB protocol messages. On a 44 MB signed aggregate (100,000+ elements,
# ten thousand re-declared namespaces) its five passes (the raw ``xmlns`` count, the namespace walk, the
# element count, the attribute XPath and the Signature/Reference iteration) cost about as much as parsing,
# and the metadata loader then walked the tree twice more (the root ID's uniqueness, the entity index).
# ``check_large_document`` enforces exactly the same limits in fewer passes and hands the caller what
# those two extra walks were for. The differential property test in tests/unit/xml/test_large_document.py
# holds it to ``check_structure``'s verdicts.

_LARGE_TAGS: Final = (_DS_SIGNATURE, _DS_REFERENCE, _EC_INCLUSIVE_NAMESPACES)
#: The fewest bytes an element takes in any encoding (``<a/>``): no DTD, entity or XInclude can add one.
_MIN_ELEMENT_BYTES: Final = 4


@functools.lru_cache(maxsize=16)
def _attribute_past_or_equal(limit: int) -> etree.XPath:
    """XPath: the ``limit + 1``-th attribute of any element, and every attribute whose value is ``$v``."""
    return etree.XPath(f"descendant-or-self::*/@*[position() = {int(limit) + 1} or . = $v]", regexp=False)


@dataclass(frozen=True, slots=True)
class LargeDocumentScan:
    """What :func:`check_large_document` found on its way (so the caller needs no walk of its own)."""

    collected: tuple[etree._Element, ...]
    """Every element with the ``collect`` tag, in document order (wherever it stands in the tree)."""
    attributes_equal: tuple[Any, ...]
    """Every attribute (an lxml attribute result: ``.attrname``, ``.getparent()``) whose value is
    ``attribute_value``, under any name; empty when no value was asked for."""


def check_large_document(
    root: etree._Element,
    untrusted_xml: bytes,
    limits: XMLLimits,
    *,
    collect: str | None = None,
    attribute_value: str | None = None,
) -> LargeDocumentScan:
    """Enforce ``limits`` exactly as :func:`check_structure` does, in fewer passes for a large document.

    * elements: not counted when the input is too short to hold more than ``max_elements`` (an element
      takes at least 4 bytes), else one XPath count;
    * namespace declarations: a bounded search of the raw bytes (ASCII-compatible input) settles them
      when there are at most as many ``xmlns`` as the tightest cap; otherwise their events join the one
      C-level ``iterwalk`` below, which falls back to the exact per-element walk only past a bound;
    * ds:Signature, ds:Reference, ec:InclusiveNamespaces and the ``collect`` elements: that same walk,
      which stops only at those tags;
    * attributes per element, and every attribute equal to ``attribute_value``: one XPath pass.

    Raises:
        XMLRejected: ``message-too-complex``, with the same wording as :func:`check_structure`.
    """
    max_elements = limits.max_elements
    if len(untrusted_xml) // _MIN_ELEMENT_BYTES > max_elements:
        elements = int(_COUNT_ELEMENTS(root))  # type: ignore[arg-type]
        if elements > max_elements:
            raise too_complex("elements", elements, max_elements, "max_elements")

    bound = min(limits.max_namespace_declarations_per_element, limits.max_namespace_declarations_in_scope)
    walk_namespaces = not _ascii_compatible(root, untrusted_xml) or _occurs_more_than(
        untrusted_xml, b"xmlns", min(bound, limits.max_namespace_declarations)
    )
    events: tuple[str, ...] = ("start", "start-ns", "end-ns") if walk_namespaces else ("start",)
    tags = (*_LARGE_TAGS, collect) if collect is not None else _LARGE_TAGS
    collected: list[etree._Element] = []
    open_declarations = total = signatures = references = 0
    exact = False
    for event, element in etree.iterwalk(root, events=events, tag=tags):
        if event == "start-ns":
            open_declarations += 1
            total += 1
            if open_declarations > bound or total > limits.max_namespace_declarations:
                exact = True
        elif event == "end-ns":
            open_declarations -= 1
        else:
            tag = element.tag
            if tag == collect:
                collected.append(element)
            if tag == _DS_SIGNATURE:
                signatures += 1
                if signatures > limits.max_signatures:
                    raise too_complex("ds:Signature elements", signatures, limits.max_signatures, "max_signatures")
                _check_signature_nodes(element, limits.max_signature_nodes)
            elif tag == _DS_REFERENCE:
                references += 1
                if references > limits.max_references:
                    raise too_complex("ds:Reference elements", references, limits.max_references, "max_references")
            elif tag == _EC_INCLUSIVE_NAMESPACES:
                prefixes = len((element.get("PrefixList") or "").split())
                if prefixes > limits.max_prefix_list:
                    raise too_complex(
                        "prefixes in an InclusiveNamespaces PrefixList",
                        prefixes,
                        limits.max_prefix_list,
                        "max_prefix_list",
                    )
    # The summed cap as check_structure decides it: exactly, when the declarations seen (or the raw xmlns
    # count) times the element bound could exceed it.
    declarations = total if walk_namespaces else untrusted_xml.count(b"xmlns")
    if exact or _scope_total_could_exceed(declarations, untrusted_xml, limits.max_namespace_scope_total):
        _check_namespaces_exactly(root, limits)

    max_attrs = limits.max_attributes_per_element
    equal: tuple[Any, ...] = ()
    if attribute_value is None:
        over = bool(_attribute_past(max_attrs)(root))  # only attributes past the cap
    else:
        found: Any = _attribute_past_or_equal(max_attrs)(root, v=attribute_value)
        equal = tuple(a for a in found if a == attribute_value)
        over = any(len(parent.attrib) > max_attrs for a in found if (parent := a.getparent()) is not None)
    if over:
        attributes = max(len(element.attrib) for element in root.iter())
        raise too_complex("attributes on one element", attributes, max_attrs, "max_attributes_per_element")
    max_depth = limits.max_depth
    if _depth_is_a_cap(max_depth, untrusted_xml) and _deeper_than(max_depth)(root):
        raise too_complex("levels of nesting", _depth(root), max_depth, "max_depth")
    _check_id_count(root, untrusted_xml, limits.max_id_attributes)
    return LargeDocumentScan(collected=tuple(collected), attributes_equal=equal)


def _occurs_more_than(data: bytes, needle: bytes, limit: int) -> bool:
    """Whether ``needle`` occurs more than ``limit`` times in ``data`` (stops at the ``limit + 1``-th)."""
    position = -1
    for _ in range(limit + 1):
        position = data.find(needle, position + 1)
        if position < 0:
            return False
    return True


__all__ = [
    "DEFAULT_XML_LIMITS",
    "ID_COUNT",
    "METADATA_XML_LIMITS",
    "LargeDocumentScan",
    "XMLLimits",
    "attributes_bounded_by",
    "check_large_document",
    "check_structure",
    "too_complex",
]
