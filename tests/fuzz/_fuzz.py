"""Shared pieces of the fuzz targets: budget, mutation strategies, the typed-errors rule and an independent
oracle of signed content.

Budget: the bounded run inside ``make test`` is deterministic (``derandomize=True``: the same examples every
run) and small enough for the whole of tests/fuzz to stay well under 60 s on two cores. ``make fuzz``
sets ``FEDLIB_FUZZ_EXAMPLES`` (a multiplier base: each target's share of it) and ``FEDLIB_FUZZ_RANDOM=1``
(fresh random examples each run; hypothesis prints the seed and a reproducer on failure).
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from cryptography import x509
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from lxml import etree
from signxml import SignatureConfiguration, XMLVerifier
from signxml.algorithms import DigestAlgorithm, SignatureMethod

from fedlib.errors import FedlibError

T = TypeVar("T")

#: Examples of the bounded run, per target, relative to 1.0 (``FEDLIB_FUZZ_EXAMPLES`` scales them all).
_BOUNDED = 400
_LONG = int(os.environ.get("FEDLIB_FUZZ_EXAMPLES", "0") or 0)
_RANDOM = os.environ.get("FEDLIB_FUZZ_RANDOM", "") not in ("", "0")


def budget(weight: float) -> Callable[[T], T]:
    """hypothesis settings for a target: ``weight`` x the base number of examples."""
    base = _LONG if _LONG > 0 else _BOUNDED
    return settings(  # type: ignore[return-value]
        max_examples=max(1, int(base * weight)),
        derandomize=not _RANDOM,
        deadline=None,
        database=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )


def typed_only(call: Callable[[], T], *allowed: type[FedlibError]) -> T | FedlibError:
    """Run ``call``; return its result or the fedlib error it raised. Anything else fails the test."""
    try:
        return call()
    except allowed as exc:
        return exc
    except Exception as exc:
        raise AssertionError(f"crash: {type(exc).__name__}: {exc!r}"[:2000]) from exc


# ---- mutations ---------------------------------------------------------------------------------------

FRAGMENTS: tuple[bytes, ...] = (
    b" ",
    b"\n",
    b"\t",
    b"<!-- c -->",
    b"<?pi x?>",
    b"<![CDATA[x]]>",
    b"]]>",
    b"&amp;",
    b"&#0;",
    b"&#x110000;",
    b"&e;",
    b"<!DOCTYPE r [<!ENTITY e 'x'>]>",
    b'<!DOCTYPE r SYSTEM "file:///etc/passwd">',
    b' xmlns="urn:evil"',
    b' xmlns:saml="urn:evil"',
    b' xmlns:ds="http://www.w3.org/2000/09/xmldsig#"',
    b' ID="_dup"',
    b' InResponseTo="_x"',
    b' xml:base="https://evil.example/"',
    b"<saml:Assertion xmlns:saml='urn:oasis:names:tc:SAML:2.0:assertion' ID='_e'/>",
    b"<ds:Signature xmlns:ds='http://www.w3.org/2000/09/xmldsig#'/>",
    b"<samlp:Response xmlns:samlp='urn:oasis:names:tc:SAML:2.0:protocol'>",
    b"</samlp:Response>",
    b"<x:y xmlns:x='urn:x'/>",
    b"\x00",
    b"\xff",
    b"\xed\xa0\x80",
    b"\xef\xbb\xbf",
    b"<",
    b">",
    b'"',
    b"'",
    b"&",
    b"=",
    b"9999-12-31T23:59:59Z",
    b"\xc3\xa9",
)


@dataclass(frozen=True)
class Mutation:
    kind: str
    position: int
    argument: Any = None

    def apply(self, data: bytes) -> bytes:
        n = len(data)
        at = self.position % (n + 1)
        if self.kind == "flip" and n:
            i = self.position % n
            return data[:i] + bytes([data[i] ^ (self.argument or 1)]) + data[i + 1 :]
        if self.kind == "insert":
            return data[:at] + self.argument + data[at:]
        if self.kind == "delete":
            return data[:at] + data[at + self.argument :]
        if self.kind == "truncate":
            return data[:at]
        if self.kind == "repeat":  # duplicate a slice in place (elements, attributes, tags)
            return data[:at] + data[at : at + self.argument] + data[at:]
        if self.kind == "tree":
            return _tree_mutation(data, self.position, self.argument)
        return data


_ATTR = re.compile(rb'\s[A-Za-z_:][\w.:-]*="[^"<]*"')


def _tree_mutation(data: bytes, position: int, kind: str) -> bytes:
    """Structural mutations on a parse of the data (when it still parses): duplicate an element or an
    attribute, move an element, rebind a namespace prefix."""
    if kind == "dup-attr":
        attrs = list(_ATTR.finditer(data))
        if not attrs:
            return data
        m = attrs[position % len(attrs)]
        return data[: m.end()] + m.group(0) + data[m.end() :]
    try:
        root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False))
    except etree.XMLSyntaxError:
        return data
    elements = [e for e in root.iter() if isinstance(e.tag, str)]
    target = elements[position % len(elements)]
    if kind == "dup-element" and target is not root:
        parent = target.getparent()
        assert parent is not None
        parent.insert(parent.index(target), _copy(target))
    elif kind == "wrap-element" and target is not root:
        # A signature-wrapping shape: a copy of the element placed under another element.
        elements[(position // 7) % len(elements)].append(_copy(target))
    elif kind == "rebind-prefix":
        prefix = target.prefix
        nsmap = {k: v for k, v in target.nsmap.items() if k != prefix}
        clone = etree.Element(etree.QName(target).text, nsmap={**nsmap, "p0": etree.QName(target).namespace or "urn:x"})
        clone.attrib.update(target.attrib)
        clone.text, clone.tail = target.text, target.tail
        clone.extend(list(target))
        parent = target.getparent()
        if parent is None:
            return etree.tostring(clone)
        parent.replace(target, clone)
    return etree.tostring(root)


def _copy(element: etree._Element) -> etree._Element:
    from copy import deepcopy

    return deepcopy(element)


positions = st.integers(min_value=0, max_value=1 << 20)

mutation = st.one_of(
    st.builds(Mutation, st.just("flip"), positions, st.integers(1, 255)),
    st.builds(Mutation, st.just("insert"), positions, st.sampled_from(FRAGMENTS) | st.binary(max_size=8)),
    st.builds(Mutation, st.just("delete"), positions, st.integers(1, 64)),
    st.builds(Mutation, st.just("truncate"), positions),
    st.builds(Mutation, st.just("repeat"), positions, st.integers(1, 200)),
    st.builds(
        Mutation,
        st.just("tree"),
        positions,
        st.sampled_from(("dup-attr", "dup-element", "wrap-element", "rebind-prefix")),
    ),
)
mutations = st.lists(mutation, min_size=1, max_size=3)


def mutate(data: bytes, ops: list[Mutation]) -> bytes:
    for op in ops:
        data = op.apply(data)
    return data


#: How the mutated XML is handed over: raw bytes, raw str, base64 (str, bytes, with line breaks).
encodings = st.sampled_from(("bytes", "str", "b64", "b64-bytes", "b64-lines", "b64-junk"))


def encode(xml: bytes, how: str) -> bytes | str:
    if how == "bytes":
        return xml
    if how == "str":
        return xml.decode("utf-8", errors="surrogateescape")  # keeps invalid bytes as lone surrogates
    if how == "b64":
        return base64.b64encode(xml).decode("ascii")
    if how == "b64-bytes":
        return base64.b64encode(xml)
    if how == "b64-lines":
        return base64.encodebytes(xml).decode("ascii")
    return base64.b64encode(xml).decode("ascii")[:-1] + "=\u00e9"


# ---- the independent oracle of signed content --------------------------------------------------------

_ALL_METHODS = frozenset(SignatureMethod)
_ALL_DIGESTS = frozenset(DigestAlgorithm)


def signed_content(xml: bytes, cert: x509.Certificate) -> bytes:
    """Exclusive c14n of what the Response-level (root) ds:Signature covers, as **signxml** verifies it
    with ``cert`` pinned (KeyInfo never a key source) on lxml's parse: not fedlib's code path. Raises if
    signxml does not verify it (a fedlib accept that signxml cannot verify fails the fuzz target)."""
    moment = cert.not_valid_before_utc + (cert.not_valid_after_utc - cert.not_valid_before_utc) / 2
    config = SignatureConfiguration(
        require_x509=True,
        location="./",
        expect_references=1,
        signature_methods=_ALL_METHODS,
        digest_algorithms=_ALL_DIGESTS,
        ignore_ambiguous_key_info=True,
        verification_time=moment,
    )
    # Comments and processing instructions are dropped first, as fedlib's parser drops them (its documented
    # policy, fedlib/_xml/parse.py): comments are outside exclusive c14n anyway, and signxml reads
    # SignatureValue/DigestValue as ``.text``, which a comment would cut short. PIs are inside c14n: a PI
    # inserted into signed content makes the XML-DSig signature fail for signxml, while fedlib, which never
    # reads a PI, verifies the content without it, which is exactly the content the IdP signed. So what is
    # compared here is the signed content a reader of the tree sees; a PI is not part of it.
    tree = etree.fromstring(
        xml,
        etree.XMLParser(remove_comments=True, remove_pis=True, resolve_entities=False, no_network=True, load_dtd=False),
    )
    result = XMLVerifier().verify(tree, x509_cert=cert, expect_config=config, validate_schema=False)
    signed = result.signed_xml  # type: ignore[union-attr]
    assert signed is not None
    return etree.tostring(signed, method="c14n", exclusive=True, with_comments=False)


def as_xml_bytes(message: bytes | str) -> bytes:
    """The XML an accepted message carried (the inverse of :func:`encode` for accepted inputs)."""
    if isinstance(message, str):
        message = message.encode("utf-8")
    stripped = message.lstrip(b"\xef\xbb\xbf").lstrip()
    if stripped[:1] == b"<":
        return message
    return base64.b64decode(b"".join(message.split()))
