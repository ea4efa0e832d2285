"""``verify_enveloped_signature``'s inline answers (the reference target when the caller's counted ID index
saw every ID once; the trusted key when the first certificate presented is trusted) decide as
``check_reference_target`` and ``TrustAnchors.select`` do.

The same mutated Responses are verified with the pipeline's counted index (the inline answers may apply)
and with ``ids=None`` (they never do: the rules are called): same acceptance, same code. Mutations: the
Response's ID copied onto other elements under every ID-like name, the Reference URI changed, the ID
removed, an untrusted certificate put before or after the trusted one, the trusted one removed.
"""

from __future__ import annotations

import copy
import dataclasses

import pytest
from lxml import etree
from tests.support import NS, World, tree

from fedlib._xml.ids import IdIndex
from fedlib.errors import ResponseRejected
from fedlib.testing import default_key
from fedlib.xmldsig.verify import VerifiedElement, verify_enveloped_signature

XML_ID = "{http://www.w3.org/XML/1998/namespace}id"
OTHER = default_key(label="other")


def _copy_id(name: str, where: str) -> object:
    def mutate(root: etree._Element) -> None:
        target = root if where == "root" else root.find(f".//{where}", NS)
        assert target is not None
        holder = etree.SubElement(target, "{urn:example}x") if where != "root" else target
        holder.set(name, root.get("ID") if name != XML_ID else "x" + (root.get("ID") or ""))
        if name == XML_ID:
            root.set("ID", holder.get(name) or "")

    return mutate


def _set_uri(value: str) -> object:
    def mutate(root: etree._Element) -> None:
        reference = root.find("ds:Signature/ds:SignedInfo/ds:Reference", NS)
        assert reference is not None
        reference.set("URI", value)

    return mutate


def _certificates(order: str) -> object:
    def mutate(root: etree._Element) -> None:
        data = root.find("ds:Signature/ds:KeyInfo/ds:X509Data", NS)
        assert data is not None
        trusted = data[0]
        other = copy.deepcopy(trusted)
        other.text = OTHER.cert_b64
        if order == "other-first":
            data.insert(0, other)
        elif order == "other-last":
            data.append(other)
        else:
            data.remove(trusted)
            data.append(other)

    return mutate


def _drop_id(root: etree._Element) -> None:
    del root.attrib["ID"]


MUTATIONS = {
    "none": lambda root: None,
    **{f"copy-{n}-{w}": _copy_id(n, w) for n in ("ID", "Id", "id", XML_ID) for w in ("saml:Assertion", "saml:Issuer")},
    "uri-other": _set_uri("#_other"),
    "uri-empty": _set_uri(""),
    "uri-no-hash": _set_uri("x"),
    "drop-id": _drop_id,
    "other-first": _certificates("other-first"),
    "other-last": _certificates("other-last"),
    "only-other": _certificates("only-other"),
}
# With OTHER trusted too (a rollover): select takes the first trusted certificate presented, whatever key
# signed; with OTHER first that is the wrong key (invalid-signature), with OTHER last the signing one.
ROLLOVER = {"other-first", "other-last", "only-other"}


def _outcome(w: World, root: etree._Element, *, counted: bool) -> object:
    root = copy.deepcopy(root)
    signature = root.find("ds:Signature", NS)
    assert signature is not None
    ids = IdIndex.build(root) if counted else None
    try:
        verified = verify_enveloped_signature(root, signature, w.idp.trust, ids=ids)
    except ResponseRejected as exc:
        return exc.code
    return verified.trusted_key.der


CASES = [(name, False) for name in sorted(MUTATIONS)] + [(name, True) for name in sorted(ROLLOVER)]


@pytest.mark.parametrize(("name", "rollover"), CASES)
def test_inline_answers_decide_as_the_rules(name: str, rollover: bool) -> None:
    w = World(extra_keys=(OTHER,)) if rollover else World()
    root = tree(w.mint())
    MUTATIONS[name](root)  # type: ignore[operator]
    counted = _outcome(w, root, counted=True)
    assert counted == _outcome(w, root, counted=False)
    if name in ("none", "other-last") or (name == "other-first" and not rollover):
        assert counted == w.key.cert_der


def test_the_verified_element_is_the_one_its_constructor_builds() -> None:
    # verify_enveloped_signature builds VerifiedElement without its __init__ (fedlib._frozen): the same object.
    w = World()
    root = tree(w.mint())
    signature = root.find("ds:Signature", NS)
    assert signature is not None
    verified = verify_enveloped_signature(root, signature, w.idp.trust, ids=IdIndex.build(root))
    expected = VerifiedElement(**{f.name: getattr(verified, f.name) for f in dataclasses.fields(VerifiedElement)})
    assert type(verified) is VerifiedElement
    assert verified == expected
    assert verified.element is root
    assert verified.trusted_key.der == w.key.cert_der
    assert verified.canonical == etree.tostring(root, method="c14n", exclusive=True)
