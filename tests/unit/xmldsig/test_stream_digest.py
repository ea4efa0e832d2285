"""The streamed digest of a whole document (metadata aggregates) is the digest of its canonical octets.

``verify_enveloped_signature(..., stream_digest=True)`` hashes what libxml2 writes for the document instead
of one ``canonicalize`` copy: for a root alone in its document the two must agree byte for byte, for every
canonicalization fedlib accepts; anything else takes the ordinary path.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree
from tests.metadata_support import aggregate_xml, entity_xml, federation_key, signed

from fedlib._xml.parse import parse_xml
from fedlib.errors import ConfigurationError
from fedlib.metadata.document import load_metadata_document
from fedlib.testing import default_key
from fedlib.xmldsig.algorithms import C14N, DigestMethod
from fedlib.xmldsig.verify import canonicalize, streamed_digest

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
METHODS = [C14N.EXCLUSIVE, C14N.INCLUSIVE_1_0, C14N.INCLUSIVE_1_1]
DOCUMENTS = [
    b'<r:R xmlns:r="urn:r" xmlns="urn:d" xmlns:q="urn:q"><A ID="a" r:z="1"><B xmlns:r="urn:r">t<C/>u</B>v</A></r:R>',
    b'<R xml:lang="en" b="2" a="1">  text &amp; &lt;more&gt; &#233;\xc3\xa9 <![CDATA[x<y]]>\r\n<S/></R>',
    b'<?xml version="1.0" encoding="ISO-8859-1"?><R a="\xe9\t\n">\xe9</R>',
    b'<p:R xmlns:p="urn:p" xmlns:unused="urn:u"><p:S xmlns:p="urn:p2" p:a="&quot;"/><T xmlns="urn:t"/></p:R>',
]


@pytest.mark.parametrize("xml", DOCUMENTS)
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("prefixes", [(), ("unused", "q")])
@pytest.mark.parametrize("digest", [DigestMethod.SHA256, DigestMethod.SHA512])
def test_streamed_digest_is_the_digest_of_the_canonical_octets(
    xml: bytes, method: C14N, prefixes: tuple[str, ...], digest: DigestMethod
) -> None:
    root = parse_xml(xml)
    expected = hashlib.new(digest.name.lower(), canonicalize(root, method, prefixes)).digest()
    assert streamed_digest(root, method, prefixes, digest) == expected


@st.composite
def trees(draw: st.DrawFn, depth: int = 0) -> str:
    tag = draw(st.sampled_from(["a", "p:b", "q:c", "d"]))
    namespaces = ' xmlns:p="urn:p" xmlns:q="urn:q"' if depth == 0 else ""
    if draw(st.booleans()):
        choices = (
            [' xmlns="urn:default"'] if depth == 0 else [' xmlns="urn:default"', ' xmlns:p="urn:other"', ' xmlns=""']
        )
        namespaces += draw(st.sampled_from(choices))
    text = draw(st.text(alphabet="ab &<>\"'\t\n\r\u00e9\u4e2d", max_size=6))
    escaped = text.replace("&", "&amp;").replace("<", "&lt;")
    attribute = escaped.replace('"', "&quot;")
    children = draw(st.lists(trees(depth + 1), max_size=3)) if depth < 3 else []
    return f'<{tag}{namespaces} x="{attribute}" p:y="1">{escaped}{"".join(children)}</{tag}>'


@settings(max_examples=150, deadline=None)
@given(trees(), st.sampled_from(METHODS), st.sampled_from([(), ("p",), ("q", "p")]))
def test_streamed_digest_matches_canonicalize_on_random_documents(
    text: str, method: C14N, prefixes: tuple[str, ...]
) -> None:
    root = parse_xml(text.encode())
    expected = hashlib.sha256(canonicalize(root, method, prefixes)).digest()
    assert streamed_digest(root, method, prefixes, DigestMethod.SHA256) == expected


def test_streamed_digest_refuses_anything_but_a_whole_document() -> None:
    """A prolog PI is part of the document's canonical form but not of the root element's."""
    root = parse_xml(b"<?keep me?><R><S/></R>")
    with pytest.raises(ValueError, match="only top-level node"):
        streamed_digest(root, C14N.EXCLUSIVE, (), DigestMethod.SHA256)
    with pytest.raises(ValueError, match="only top-level node"):
        streamed_digest(root[0], C14N.EXCLUSIVE, (), DigestMethod.SHA256)


def test_signed_aggregate_with_a_prolog_pi_still_verifies() -> None:
    """The metadata loader asks for the streamed digest; with a PI beside the root it takes the ordinary path
    (the PI is outside the signed element), so such a document is not a false reject."""
    fed = federation_key()
    xml = signed(aggregate_xml([entity_xml("https://a.example.org/idp", [default_key()])], valid_until=None), fed)
    with_pi = xml.replace(b"?>", b"?><?xml-stylesheet href='x'?>", 1)
    assert with_pi != xml
    document = load_metadata_document(with_pi, now=NOW, signed_by=[fed.certificate], require_valid_until=False)
    assert document.idp_entity_ids == ("https://a.example.org/idp",)


def test_tampered_aggregate_fails_the_streamed_digest() -> None:
    fed = federation_key()
    xml = signed(aggregate_xml([entity_xml("https://a.example.org/idp", [default_key()])], valid_until=None), fed)
    tampered = xml.replace(b"https://idp.example.org/sso", b"https://evil.example.org/sso")
    assert tampered != xml
    with pytest.raises(ConfigurationError, match="invalid-signature"):
        load_metadata_document(tampered, now=NOW, signed_by=[fed.certificate], require_valid_until=False)
    root = etree.fromstring(tampered)
    assert root.getparent() is None
