"""The one-pass profile check (``_prevalidate_common_shape``) never decides differently from the rules.

For every signature the fast path either declines (None: the rule-by-rule path then decides) or returns
exactly what the rule-by-rule path returns; so ``prevalidate_signature`` accepts, refuses and types its
refusals exactly as the rules do. Signatures are genuine test-IdP signatures under random mutations of
shape, algorithms and values.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from fedlib._xml.parse import parse_xml
from fedlib.errors import SignatureRejected
from fedlib.testing import ResponseSpec, generate_key, mint_response
from fedlib.xmldsig.profile import (
    ParsedSignature,
    _prevalidate_common_shape,
    _prevalidate_rule_by_rule,
    prevalidate_signature,
)

DS = "http://www.w3.org/2000/09/xmldsig#"
EC = "http://www.w3.org/2001/10/xml-exc-c14n#"
NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
_KEY = generate_key("rsa", bits=2048, common_name="fast path test IdP (TEST KEY)")


def _signatures() -> list[etree._Element]:
    spec = ResponseSpec(
        idp_entity_id="https://idp.example.org/",
        sp_entity_id="https://sp.example.org/",
        acs_url="https://sp.example.org/acs",
        now=NOW,
        name_id="alice",
        attributes={"mail": ["a@example.org"]},
    )
    out = []
    for c14n in ("exc", "c14n", "c14n11"):
        for algorithm, digest in (("rsa-sha256", "sha256"), ("rsa-sha1", "sha1"), ("rsa-sha512", "sha384")):
            root = parse_xml(
                mint_response(spec, _KEY, signature_algorithm=algorithm, digest_algorithm=digest, c14n=c14n)
            )
            out.append(root.find(f"{{{DS}}}Signature"))
    with_prefixes = copy.deepcopy(out[0])
    transform = with_prefixes.find(f".//{{{DS}}}Transform[2]")
    etree.SubElement(transform, f"{{{EC}}}InclusiveNamespaces", PrefixList="xs saml")
    out.append(with_prefixes)
    return out


SIGNATURES = _signatures()
ALGORITHMS = [
    "http://www.w3.org/2001/10/xml-exc-c14n#",
    "http://www.w3.org/2001/10/xml-exc-c14n#WithComments",
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
    "http://www.w3.org/2006/12/xml-c14n11",
    "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
    "http://www.w3.org/2000/09/xmldsig#hmac-sha1",
    "http://www.w3.org/2001/04/xmlenc#sha256",
    "http://www.w3.org/2000/09/xmldsig#sha1",
    "http://www.w3.org/TR/1999/REC-xpath-19991116",
    "",
]
TEXTS = ["", "not base64!", "AAAA", "QUFB" * 8, "QUFB" * 11, " QUFBQUFB\n"]


def _mutate(signature: etree._Element, data: st.DataObject) -> None:
    nodes = list(signature.iter())
    for _ in range(data.draw(st.integers(1, 3))):
        node = data.draw(st.sampled_from(nodes))
        action = data.draw(st.sampled_from(["algorithm", "drop", "dup", "insert", "text", "uri", "swap", "move"]))
        parent = node.getparent()
        if action == "algorithm":
            node.set("Algorithm", data.draw(st.sampled_from(ALGORITHMS)))
        elif action == "drop" and parent is not None:
            parent.remove(node)
        elif action == "dup" and parent is not None:
            parent.append(copy.deepcopy(node))
        elif action == "insert":
            tag = data.draw(
                st.sampled_from([f"{{{DS}}}Object", f"{{{DS}}}Transform", f"{{{EC}}}InclusiveNamespaces", "x"])
            )
            node.insert(data.draw(st.integers(0, 3)), etree.Element(tag))
        elif action == "text":
            node.text = data.draw(st.sampled_from(TEXTS))
        elif action == "uri":
            if data.draw(st.booleans()):
                node.attrib.pop("URI", None)
            else:
                node.set("URI", data.draw(st.sampled_from(["", "#x", "#_other"])))
        elif action == "swap" and len(node) >= 2:
            first = node[0]
            node.remove(first)
            node.append(first)
        elif action == "move" and parent is not None and parent.getparent() is not None:
            parent.remove(node)
            parent.getparent().append(node)


def _outcome(function: object, signature: etree._Element, allow_sha1: bool) -> object:
    try:
        return function(signature, allow_sha1=allow_sha1)  # type: ignore[operator]
    except SignatureRejected as exc:
        return exc.code


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, len(SIGNATURES) - 1), st.booleans(), st.data())
def test_fast_path_declines_or_agrees(index: int, allow_sha1: bool, data: st.DataObject) -> None:
    signature = copy.deepcopy(SIGNATURES[index])
    if data.draw(st.booleans()):
        _mutate(signature, data)
    fast = _outcome(_prevalidate_common_shape, signature, allow_sha1)
    slow = _outcome(_prevalidate_rule_by_rule, signature, allow_sha1)
    if isinstance(fast, ParsedSignature):
        assert isinstance(slow, ParsedSignature)
        assert fast == slow
    elif fast is not None:  # raised: only by the last rule (KeyInfo), after every other rule passed
        assert fast == slow
    assert _outcome(prevalidate_signature, signature, allow_sha1) == slow


@pytest.mark.parametrize("index", range(len(SIGNATURES)))
def test_fast_path_takes_every_genuine_shape(index: int) -> None:
    """Every shape the test IdP (and real IdPs) produce takes the one-pass path (the inclusive ones carry an
    explicit c14n Transform too)."""
    assert _prevalidate_common_shape(SIGNATURES[index], allow_sha1=True) is not None
