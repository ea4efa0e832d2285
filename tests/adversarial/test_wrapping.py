"""XML Signature Wrapping (XSW) against the Response-level signature.

Attack families from Somorovsky, Mayer, Schwenk, Kampmann, Jensen: "On Breaking SAML: Be Whoever You
Want to Be", USENIX Security 2012 (XSW1-XSW8), adapted from Assertion-level to Response-level
signatures: the evil document wraps, moves or duplicates the element the genuine signature covers so
that "what was verified" and "what is read" could differ. Also the OneUptime SAML bypasses
(github.com/OneUptime/oneuptime issues #2949 and #2981: a signed Assertion hidden in Extensions, and a
signed error Response with a decoy Signature carrying a forged Assertion).

Two kinds of vector appear below:
- *realistic*: the attacker has only a genuinely signed document and edits it (no key);
- *isolated*: the edited document is re-signed with the TRUSTED key (``resign``), so that only the
  structural rule under test can reject it (the test then fails if that rule is removed).
"""

from __future__ import annotations

import pytest
from lxml import etree

from fedlib.errors import ErrorCode
from tests.adversarial._forge import (
    ENVELOPED,
    EXC_C14N,
    NS,
    assertion_of,
    clone,
    ds,
    extensions_of,
    hand_signature,
    one,
    parse,
    q,
    rejection,
    resign,
    saml,
    set_name_id,
    signature_of,
    to_bytes,
)
from tests.support import World

EVIL = "admin@evil.example"
XML_NS = "http://www.w3.org/XML/1998/namespace"


@pytest.fixture
def w() -> World:
    return World()


def code(w: World, root: etree._Element) -> ErrorCode:
    return rejection(w, to_bytes(root)).code


def evil_copy(original: etree._Element, new_id: str = "_evil") -> etree._Element:
    """A copy of the genuine Response, unsigned, with the attacker's NameID and a new ID."""
    evil = clone(original)
    for signature in list(evil.iter(ds("Signature"))):
        signature.getparent().remove(signature)  # type: ignore[union-attr]
    evil.set("ID", new_id)
    assertion_of(evil).set("ID", new_id + "_a")
    set_name_id(evil, EVIL)
    return evil


# --- the evil Response wraps the genuine signed Response (XSW1/XSW2 adapted) -----------------------


def test_genuine_response_wrapped_in_extensions_with_its_signature_moved_to_the_evil_root(w: World) -> None:
    # XSW2-style: the genuine Signature (Reference #orig) is hoisted onto the evil root, the genuine
    # Response (signature removed) is parked in Extensions. Caught by "Reference names its own parent".
    original = parse(w.mint())
    evil = evil_copy(original)
    signature = signature_of(original)
    one(evil, "saml:Issuer").addnext(signature)
    extensions_of(evil).append(original)
    assert code(w, evil) == ErrorCode.SIGNATURE_WRAPPING


def test_genuine_response_wrapped_in_extensions_with_signature_intact(w: World) -> None:
    # The genuine, still valid, signed Response sits in Extensions; the evil root carries no signature.
    original = parse(w.mint())
    evil = evil_copy(original)
    extensions_of(evil).append(original)
    assert code(w, evil) == ErrorCode.UNSIGNED_MESSAGE


def test_genuine_response_with_signed_assertion_wrapped_in_extensions_is_wrapping(w: World) -> None:
    # Same, but the IdP also signed the Assertion: a signed Assertion exists, but not where an Assertion
    # belongs. That is a wrapped element, not an IdP that signs only assertions: the code (and its message)
    # must not send the operator to the IdP's signing settings.
    original = parse(w.mint(sign_assertion=True))
    evil = evil_copy(original)
    extensions_of(evil).append(original)
    exc = rejection(w, to_bytes(evil))
    assert exc.code == ErrorCode.SIGNATURE_WRAPPING
    assert "Signing Option" not in exc.message


def test_genuine_response_wrapped_in_ds_object_of_the_moved_signature(w: World) -> None:
    # XSW1-style: the genuine Response lives in a ds:Object of the (moved) genuine Signature.
    original = parse(w.mint())
    evil = evil_copy(original)
    signature = signature_of(original)
    one(evil, "saml:Issuer").addnext(signature)
    etree.SubElement(signature, ds("Object")).append(original)
    assert code(w, evil) == ErrorCode.SIGNATURE_WRAPPING


def test_genuine_response_as_sibling_of_the_moved_signature(w: World) -> None:
    original = parse(w.mint())
    evil = evil_copy(original)
    signature = signature_of(original)
    one(evil, "saml:Issuer").addnext(signature)
    signature.addnext(original)
    assert code(w, evil) == ErrorCode.SIGNATURE_WRAPPING


def test_genuine_response_as_direct_child_of_the_moved_signature(w: World) -> None:
    # Not ds:Object but a bare foreign child after KeyInfo: the Signature's shape is wrong. fedlib's
    # profile reports a malformed Signature as invalid-signature (only ds:Object is signature-wrapping).
    original = parse(w.mint())
    evil = evil_copy(original)
    signature = signature_of(original)
    one(evil, "saml:Issuer").addnext(signature)
    signature.append(original)
    assert code(w, evil) == ErrorCode.INVALID_SIGNATURE


def test_genuine_response_inside_keyinfo_of_the_moved_signature(w: World) -> None:
    # KeyInfo may carry arbitrary content and is not signed: a hiding place that passes the shape rule.
    original = parse(w.mint())
    evil = evil_copy(original)
    signature = signature_of(original)
    one(evil, "saml:Issuer").addnext(signature)
    one(signature, "ds:KeyInfo").append(original)
    assert code(w, evil) == ErrorCode.SIGNATURE_WRAPPING


@pytest.mark.parametrize("where", ["extensions", "object", "sibling", "keyinfo"])
def test_evil_root_reusing_the_signed_id_is_a_duplicate_id(w: World, where: str) -> None:
    # The evil root takes the genuine ID so that "#orig" names it: the ID now appears twice.
    original = parse(w.mint())
    evil = evil_copy(original, new_id=original.get("ID") or "")
    assertion_of(evil).set("ID", "_evil_a")
    signature = signature_of(original)
    one(evil, "saml:Issuer").addnext(signature)
    if where == "extensions":
        extensions_of(evil).append(original)
    elif where == "object":
        etree.SubElement(signature, ds("Object")).append(original)
    elif where == "sibling":
        signature.addnext(original)
    else:
        one(signature, "ds:KeyInfo").append(original)
    assert code(w, evil) == ErrorCode.SIGNATURE_WRAPPING


def test_signed_element_moved_and_its_id_reused_without_duplicate(w: World) -> None:
    # The attacker strips the ID from the parked genuine Response so the ID is unique again: the
    # reference then resolves to the evil root, whose digest cannot match.
    original = parse(w.mint())
    evil = evil_copy(original, new_id=original.get("ID") or "")
    signature = signature_of(original)
    one(evil, "saml:Issuer").addnext(signature)
    del original.attrib["ID"]
    extensions_of(evil).append(original)
    assert code(w, evil) == ErrorCode.INVALID_SIGNATURE


# --- a second Assertion next to the signed one ------------------------------------------------------


def test_second_assertion_added_after_signing(w: World) -> None:
    root = parse(w.mint())
    evil = clone(assertion_of(root))
    evil.set("ID", "_evil_assertion")
    set_name_id(evil, EVIL)
    assertion_of(root).addprevious(evil)
    assert code(w, root) == ErrorCode.INVALID_SIGNATURE


def test_second_assertion_reusing_the_assertion_id(w: World) -> None:
    root = parse(w.mint(sign_assertion=True))
    evil = clone(assertion_of(root))  # carries a byte copy of the genuine Assertion signature
    set_name_id(evil, EVIL)
    assertion_of(root).addprevious(evil)
    assert code(w, root) == ErrorCode.SIGNATURE_WRAPPING


def test_two_assertions_under_a_valid_response_signature(w: World) -> None:
    # Isolated: even an IdP-signed Response may carry only one Assertion.
    root = parse(w.mint())
    evil = clone(assertion_of(root))
    evil.set("ID", "_evil_assertion")
    set_name_id(evil, EVIL)
    assertion_of(root).addprevious(evil)
    resign(root, w.key)
    assert code(w, root) == ErrorCode.WRONG_ASSERTION_COUNT


# --- the signed Assertion moved away, an evil Assertion in its place --------------------------------


def _park(root: etree._Element, genuine: etree._Element, evil: etree._Element, where: str) -> None:
    if where == "extensions":
        extensions_of(root).append(genuine)
    elif where == "advice":
        advice = etree.Element(saml("Advice"))
        one(evil, "saml:Conditions").addnext(advice)
        advice.append(genuine)
    elif where == "assertion-signature-object":
        etree.SubElement(signature_of(evil), ds("Object")).append(genuine)
    elif where == "response-signature-object":
        etree.SubElement(signature_of(root), ds("Object")).append(genuine)
    else:  # pragma: no cover
        raise AssertionError(where)


PARKING = ["extensions", "advice", "assertion-signature-object", "response-signature-object"]


@pytest.mark.parametrize("where", PARKING)
def test_signed_assertion_moved_evil_assertion_reuses_its_id(w: World, where: str) -> None:
    # XSW3-XSW8 adapted: the evil Assertion carries the genuine ID and a copy of the genuine Assertion
    # signature; the genuine Assertion is parked elsewhere.
    root = parse(w.mint(sign_assertion=True))
    genuine = assertion_of(root)
    evil = clone(genuine)
    set_name_id(evil, EVIL)
    genuine.addprevious(evil)
    root.remove(genuine)
    _park(root, genuine, evil, where)
    assert code(w, root) == ErrorCode.SIGNATURE_WRAPPING


@pytest.mark.parametrize("where", PARKING)
def test_signed_assertion_moved_evil_assertion_with_fresh_id(w: World, where: str) -> None:
    # Realistic: no duplicate IDs, so the Response digest (it covered the genuine layout) rejects.
    root = parse(w.mint(sign_assertion=True))
    genuine = assertion_of(root)
    evil = clone(genuine)
    evil.set("ID", "_evil_assertion")
    set_name_id(evil, EVIL)
    genuine.addprevious(evil)
    root.remove(genuine)
    _park(root, genuine, evil, where)
    expected = ErrorCode.SIGNATURE_WRAPPING if where == "response-signature-object" else ErrorCode.INVALID_SIGNATURE
    assert code(w, root) == expected


@pytest.mark.parametrize("where", ["extensions", "advice", "assertion-signature-object"])
def test_evil_assertion_carrying_the_genuine_assertion_signature_under_a_valid_response_signature(
    w: World, where: str
) -> None:
    # Isolated: the Response signature verifies (re-signed with the trusted key), so only the rules on
    # the Assertion's own signature (Reference names its parent; no ds:Object) can reject.
    root = parse(w.mint(sign_assertion=True))
    genuine = assertion_of(root)
    evil = clone(genuine)
    evil.set("ID", "_evil_assertion")
    set_name_id(evil, EVIL)
    genuine.addprevious(evil)
    root.remove(genuine)
    _park(root, genuine, evil, where)
    resign(root, w.key)
    assert code(w, root) == ErrorCode.SIGNATURE_WRAPPING


def test_oneuptime_2949_signed_assertion_in_extensions_response_unsigned(w: World) -> None:
    # OneUptime #2949: an IdP that signs only the Assertion; the genuine signed Assertion is hidden in
    # Extensions and a forged Assertion with a copy of the signature is what a naive parser reads.
    root = parse(w.mint(sign_response=False, sign_assertion=True))
    genuine = assertion_of(root)
    forged = clone(genuine)
    set_name_id(forged, EVIL)
    genuine.addprevious(forged)
    root.remove(genuine)
    extensions_of(root).append(genuine)
    assert code(w, root) == ErrorCode.ASSERTION_ONLY_SIGNATURE


# --- duplicate IDs under every ID-like attribute name ------------------------------------------------

ID_ATTRIBUTES = ["ID", "Id", "id", q(XML_NS, "id")]


@pytest.mark.parametrize("attribute", ID_ATTRIBUTES)
@pytest.mark.parametrize("target", ["response", "assertion"])
def test_duplicate_id_injected_after_signing(w: World, attribute: str, target: str) -> None:
    root = parse(w.mint())
    value = root.get("ID") if target == "response" else assertion_of(root).get("ID")
    decoy = etree.SubElement(extensions_of(root), "{urn:example:evil}Decoy")
    decoy.set(attribute, value or "")
    assert code(w, root) == ErrorCode.SIGNATURE_WRAPPING


@pytest.mark.parametrize("attribute", ID_ATTRIBUTES)
@pytest.mark.parametrize("target", ["response", "assertion"])
def test_duplicate_id_under_a_valid_signature(w: World, attribute: str, target: str) -> None:
    # Isolated: the trusted key signed it, only the document-wide ID uniqueness rule rejects (for the
    # Assertion ID no other rule would).
    root = parse(w.mint())
    value = root.get("ID") if target == "response" else assertion_of(root).get("ID")
    decoy = etree.SubElement(extensions_of(root), "{urn:example:evil}Decoy")
    decoy.set(attribute, value or "")
    resign(root, w.key)
    assert code(w, root) == ErrorCode.SIGNATURE_WRAPPING


@pytest.mark.parametrize("attribute", ["Id", "id", q(XML_NS, "id")])
def test_same_id_twice_on_the_signed_element_under_another_name(w: World, attribute: str) -> None:
    root = parse(w.mint())
    root.set(attribute, root.get("ID") or "")
    resign(root, w.key)
    assert code(w, root) == ErrorCode.SIGNATURE_WRAPPING


def test_duplicate_id_on_the_signature_element_itself(w: World) -> None:
    root = parse(w.mint())
    signature_of(root).set("Id", root.get("ID") or "")
    assert code(w, root) == ErrorCode.SIGNATURE_WRAPPING


def test_control_distinct_ids_in_extensions_are_accepted(w: World) -> None:
    # Control for the tests above: unrelated ID-like attributes with fresh values are fine.
    root = parse(w.mint())
    decoy = etree.SubElement(extensions_of(root), "{urn:example:ext}Thing")
    for i, attribute in enumerate(ID_ATTRIBUTES):
        decoy.set(attribute, f"_fresh{i}")
    resign(root, w.key)
    assert w.check(to_bytes(root)).name_id == "alice@example.com"


# --- where the Reference points -------------------------------------------------------------------


def test_assertion_signature_hoisted_onto_the_response(w: World) -> None:
    # The IdP signed only the Assertion; the attacker moves that signature to be the Response's, so the
    # Response "has a signature" that actually covers the Assertion (Reference #assertion).
    root = parse(w.mint(sign_response=False, sign_assertion=True))
    signature = signature_of(assertion_of(root))
    one(root, "saml:Issuer").addnext(signature)
    set_name_id(root, EVIL)
    assert code(w, root) == ErrorCode.SIGNATURE_WRAPPING


def _hand_sign_response(w: World, root: etree._Element, uri: str | None) -> etree._Element:
    signature = hand_signature(uri=uri, cert_b64=[w.key.cert_b64])
    one(root, "saml:Issuer").addnext(signature)
    resign(root, w.key, signature=signature)
    return signature


@pytest.mark.parametrize(
    "uri",
    [
        "#other",
        "#xpointer(/)",
        "#xpointer(id('{id}'))",
        "#{id} ",
        " #{id}",
        "#%5F{tail}",
        "https://idp.example.org/{id}",
        "{id}",
        "#{assertion}",
    ],
)
def test_reference_uri_that_is_not_the_parent_id(w: World, uri: str) -> None:
    root = parse(w.mint(sign_response=False))
    rid = root.get("ID") or ""
    uri = uri.format(id=rid, tail=rid[1:], assertion=assertion_of(root).get("ID"))
    _hand_sign_response(w, root, uri)
    assert code(w, root) == ErrorCode.SIGNATURE_WRAPPING


def test_reference_without_uri(w: World) -> None:
    root = parse(w.mint(sign_response=False))
    _hand_sign_response(w, root, None)
    assert code(w, root) == ErrorCode.SIGNATURE_WRAPPING


def test_empty_reference_uri_on_the_document_element_is_accepted(w: World) -> None:
    # Decision pinned: URI="" (the whole document) is allowed when the signed parent is the root.
    root = parse(w.mint(sign_response=False))
    _hand_sign_response(w, root, "")
    assert w.check(to_bytes(root)).name_id == "alice@example.com"


def test_control_hand_signed_response_with_its_own_id_is_accepted(w: World) -> None:
    # Control: the hand signer produces signatures fedlib accepts, so the rejections above are about the URI.
    root = parse(w.mint(sign_response=False))
    _hand_sign_response(w, root, "#" + (root.get("ID") or ""))
    assert w.check(to_bytes(root)).name_id == "alice@example.com"


def test_empty_reference_uri_on_a_non_root_assertion_signature(w: World) -> None:
    # URI="" means the whole document; on an Assertion signature it would cover the Response.
    root = parse(w.mint(sign_response=False))
    assertion = assertion_of(root)
    signature = hand_signature(uri="", cert_b64=[w.key.cert_b64])
    one(assertion, "saml:Issuer").addnext(signature)
    resign(assertion, w.key, signature=signature)
    _hand_sign_response(w, root, "#" + (root.get("ID") or ""))
    assert code(w, root) == ErrorCode.SIGNATURE_WRAPPING


def test_two_references_in_one_signed_info(w: World) -> None:
    root = parse(w.mint(sign_response=False))
    signature = _hand_sign_response(w, root, "#" + (root.get("ID") or ""))
    signed_info = one(signature, "ds:SignedInfo")
    second = clone(one(signed_info, "ds:Reference"))
    second.set("URI", "#" + (assertion_of(root).get("ID") or ""))
    signed_info.append(second)
    resign(root, w.key, signature=signature, redigest=False)
    assert code(w, root) == ErrorCode.SIGNATURE_WRAPPING


def test_two_signatures_on_the_response(w: World) -> None:
    root = parse(w.mint())
    signature_of(root).addnext(clone(signature_of(root)))
    assert code(w, root) == ErrorCode.SIGNATURE_WRAPPING


def test_two_valid_signatures_on_the_response(w: World) -> None:
    # Both genuinely made with the trusted key (each excludes only itself, so re-sign the first last).
    root = parse(w.mint(sign_response=False))
    first = _hand_sign_response(w, root, "#" + (root.get("ID") or ""))
    second = hand_signature(uri="#" + (root.get("ID") or ""), cert_b64=[w.key.cert_b64])
    first.addnext(second)
    resign(root, w.key, signature=second)
    assert code(w, root) == ErrorCode.SIGNATURE_WRAPPING


# --- the Response signature moved somewhere else ----------------------------------------------------


@pytest.mark.parametrize("into", ["Assertion", "Extensions", "Status", "Subject"])
@pytest.mark.parametrize("assertion_signed", [False, True])
def test_response_signature_moved_inside_the_response_is_wrapping(w: World, into: str, assertion_signed: bool) -> None:
    # The Response's own Signature (Reference "#<the Response ID>") is no longer its direct child but sits
    # deeper in the same Response. That is a moved signature, not an IdP that signs only assertions or
    # nothing at all: the code, and its advice, must say so (before this, an Assertion child carrying it, or
    # a signed Assertion next to it, made it assertion-only-signature and sent the operator to the IdP's
    # signing settings).
    root = parse(w.mint(sign_assertion=assertion_signed))
    signature = signature_of(root)
    target = {
        "Assertion": lambda: assertion_of(root),
        "Extensions": lambda: extensions_of(root),
        "Status": lambda: one(root, "samlp:Status"),
        "Subject": lambda: one(root, "saml:Assertion/saml:Subject"),
    }[into]()
    target.append(signature)
    exc = rejection(w, to_bytes(root))
    assert exc.code == ErrorCode.SIGNATURE_WRAPPING
    assert "moved" in exc.message


def test_assertion_only_signing_is_still_named_so(w: World) -> None:
    # The IdP signs only the Assertion (its Reference names the Assertion): the advice to sign the Response.
    exc = rejection(w, w.mint(sign_response=False, sign_assertion=True))
    assert exc.code == ErrorCode.ASSERTION_ONLY_SIGNATURE


# --- signed error Response + decoy Signature (OneUptime #2981) ---------------------------------------

RESPONDER = "urn:oasis:names:tc:SAML:2.0:status:Responder"


def _forged_assertion(w: World) -> etree._Element:
    forged = assertion_of(parse(w.mint(sign_response=False)))
    forged.set("ID", "_forged")
    set_name_id(forged, EVIL)
    return forged


def test_error_response_with_decoy_signature_carrying_forged_assertion(w: World) -> None:
    # OneUptime #2981: the genuine signature covers an error Response with no Assertion; a second,
    # decoy Signature (a byte copy) carries the forged Assertion in a ds:Object.
    root = parse(w.mint(status_code=RESPONDER))
    decoy = clone(signature_of(root))
    etree.SubElement(decoy, ds("Object")).append(_forged_assertion(w))
    signature_of(root).addnext(decoy)
    assert code(w, root) == ErrorCode.SIGNATURE_WRAPPING


def test_error_response_with_forged_assertion_in_the_genuine_signatures_object(w: World) -> None:
    root = parse(w.mint(status_code=RESPONDER))
    etree.SubElement(signature_of(root), ds("Object")).append(_forged_assertion(w))
    assert code(w, root) == ErrorCode.SIGNATURE_WRAPPING


def test_error_response_with_forged_assertion_in_the_genuine_keyinfo(w: World) -> None:
    # KeyInfo is unsigned and passes the shape rule; the forged Assertion is detached with the
    # Signature and never read, and the verified Response is still an error.
    root = parse(w.mint(status_code=RESPONDER))
    one(signature_of(root), "ds:KeyInfo").append(_forged_assertion(w))
    assert code(w, root) == ErrorCode.STATUS_NOT_SUCCESS


def test_forged_assertion_in_keyinfo_of_a_success_response_is_never_read(w: World) -> None:
    root = parse(w.mint())
    one(signature_of(root), "ds:KeyInfo").append(_forged_assertion(w))
    result = w.check(to_bytes(root))
    assert result.name_id == "alice@example.com"
    assert result.assertion_id == assertion_of(parse(to_bytes(root))).get("ID")


def test_signed_error_response_that_still_carries_an_assertion(w: World) -> None:
    # SAML Profiles 4.1.4.2: an error Response must not carry assertions; the status decides first.
    xml = w.mint(status_code=RESPONDER, include_assertion=True)
    assert rejection(w, xml).code == ErrorCode.STATUS_NOT_SUCCESS


def test_error_response_with_forged_assertion_appended_after_signing(w: World) -> None:
    root = parse(w.mint(status_code=RESPONDER))
    root.append(_forged_assertion(w))
    assert code(w, root) == ErrorCode.INVALID_SIGNATURE


def test_signed_transforms_are_what_we_think(w: World) -> None:
    # Guard for this module: minted signatures use enveloped + exclusive c14n, as the vectors assume.
    root = parse(w.mint())
    algorithms = [t.get("Algorithm") for t in signature_of(root).iter(ds("Transform"))]
    assert algorithms == [ENVELOPED, EXC_C14N]
    assert NS["ds"] in signature_of(root).tag


# --- the Assertion's own signature under a valid Response signature ----------------------------------


def test_assertion_signature_referencing_the_response(w: World) -> None:
    # An Assertion signature whose Reference is the enclosing Response (an ancestor, not its parent).
    root = parse(w.mint(sign_response=False))
    assertion = assertion_of(root)
    signature = hand_signature(uri="#" + (root.get("ID") or ""), cert_b64=[w.key.cert_b64])
    one(assertion, "saml:Issuer").addnext(signature)
    resign(assertion, w.key, signature=signature)
    _hand_sign_response(w, root, "#" + (root.get("ID") or ""))
    assert code(w, root) == ErrorCode.SIGNATURE_WRAPPING


def test_two_signatures_on_the_assertion(w: World) -> None:
    root = parse(w.mint(sign_response=False, sign_assertion=True))
    assertion = assertion_of(root)
    signature_of(assertion).addnext(clone(signature_of(assertion)))
    _hand_sign_response(w, root, "#" + (root.get("ID") or ""))
    assert code(w, root) == ErrorCode.SIGNATURE_WRAPPING


def test_control_both_signed_is_accepted(w: World) -> None:
    root = parse(w.mint(sign_response=False, sign_assertion=True))
    _hand_sign_response(w, root, "#" + (root.get("ID") or ""))
    assert w.check(to_bytes(root)).name_id == "alice@example.com"
