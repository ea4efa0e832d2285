"""Encrypted elements anywhere: fedlib never decrypts, so any XML-Enc content rejects the message.

Hiding or swapping encrypted content is its own attack family: Jager & Somorovsky, "How To Break XML
Encryption" (ACM CCS 2011), and the XSW variants that park an EncryptedAssertion next to a signed one.
"""

from __future__ import annotations

import pytest
from lxml import etree

from fedlib.errors import ErrorCode
from tests.adversarial._forge import (
    NS,
    XENC,
    assertion_of,
    ds,
    extensions_of,
    one,
    parse,
    q,
    rejection,
    resign,
    saml,
    samlp,
    signature_of,
    to_bytes,
)
from tests.support import World

TAGS = {
    "EncryptedAssertion": saml("EncryptedAssertion"),
    "EncryptedAttribute": saml("EncryptedAttribute"),
    "EncryptedID": saml("EncryptedID"),
    "xenc:EncryptedData": q(XENC, "EncryptedData"),
    "xenc:EncryptedKey": q(XENC, "EncryptedKey"),
}


def _encrypted(tag: str) -> etree._Element:
    element = etree.Element(tag, nsmap={"xenc": XENC})
    if tag != q(XENC, "EncryptedData") and tag != q(XENC, "EncryptedKey"):
        data = etree.SubElement(element, q(XENC, "EncryptedData"))
    else:
        data = element
    etree.SubElement(etree.SubElement(data, q(XENC, "CipherData")), q(XENC, "CipherValue")).text = "AAAA"
    return element


def _place(root: etree._Element, element: etree._Element, where: str) -> None:
    assertion = assertion_of(root)
    if where == "extensions":
        extensions_of(root).append(element)
    elif where == "response-child":
        root.append(element)
    elif where == "instead-of-assertion":
        root.replace(assertion, element)
    elif where == "subject":
        one(assertion, "saml:Subject").insert(0, element)
    elif where == "attribute-statement":
        statement = assertion.find("saml:AttributeStatement", NS)
        if statement is None:
            statement = etree.SubElement(assertion, saml("AttributeStatement"))
        statement.append(element)
    elif where == "advice":
        advice = etree.Element(saml("Advice"))
        one(assertion, "saml:Conditions").addnext(advice)
        advice.append(element)
    elif where == "status-detail":
        etree.SubElement(one(root, "samlp:Status"), samlp("StatusDetail")).append(element)
    elif where == "signature-keyinfo":
        one(signature_of(root), "ds:KeyInfo").append(element)
    elif where == "signature-object":
        etree.SubElement(signature_of(root), ds("Object")).append(element)
    else:  # pragma: no cover
        raise AssertionError(where)


PLACES = [
    "extensions",
    "response-child",
    "instead-of-assertion",
    "subject",
    "attribute-statement",
    "advice",
    "status-detail",
    "signature-keyinfo",
    "signature-object",
]


@pytest.mark.parametrize("signed", ["injected-after-signing", "signed-by-idp"])
@pytest.mark.parametrize("where", PLACES)
@pytest.mark.parametrize("tag", list(TAGS))
def test_encrypted_element_anywhere(tag: str, where: str, signed: str) -> None:
    w = World()
    root = parse(w.mint(attributes={"mail": ["alice@example.com"]}))
    _place(root, _encrypted(TAGS[tag]), where)
    if signed == "signed-by-idp" and not where.startswith("signature-"):
        resign(root, w.key)
    assert rejection(w, to_bytes(root)).code == ErrorCode.ENCRYPTED_CLAIMS_UNSUPPORTED


@pytest.mark.parametrize("tag", list(TAGS))
def test_encrypted_element_in_an_unsigned_response(tag: str) -> None:
    # Checked before the signature: an encrypting IdP gets the actionable code, not "unsigned".
    w = World()
    root = parse(w.mint(sign_response=False))
    _place(root, _encrypted(TAGS[tag]), "extensions")
    assert rejection(w, to_bytes(root)).code == ErrorCode.ENCRYPTED_CLAIMS_UNSUPPORTED


def test_encrypted_assertion_in_a_wrapping_document() -> None:
    # The genuine signed Response in Extensions of an evil one that also carries an EncryptedAssertion.
    w = World()
    genuine = parse(w.mint())
    evil = parse(w.mint(sign_response=False))
    evil.replace(assertion_of(evil), _encrypted(TAGS["EncryptedAssertion"]))
    extensions_of(evil).append(genuine)
    assert rejection(w, to_bytes(evil)).code == ErrorCode.ENCRYPTED_CLAIMS_UNSUPPORTED


def test_control_same_local_name_in_another_namespace_is_not_encryption() -> None:
    # Control: the rule is about the SAML / XML-Enc namespaces, not a local name.
    w = World()
    root = parse(w.mint())
    etree.SubElement(extensions_of(root), "{urn:example:x}EncryptedAssertion")
    resign(root, w.key)
    assert w.check(to_bytes(root)).name_id == "alice@example.com"
