"""Lexical forms in and around signed content: fedlib's verifier against signxml and the xmlsec1 CLI.

The same three oracles as test_differential.py (see oracles.py), on Responses whose Assertion and Response are
signed (Assertion first), each vector ``lexical:<case>:<c14n>:<R|A>`` is one signature of one document:

* processing instructions inside NameID / AttributeValue / between elements / inside SignedInfo and KeyInfo /
  in the prolog and epilog;
* CDATA sections (signed with one, or put in place of the same text after signing);
* character references (``&#97;`` for ``a``, ``&#x9;``, ``&#xD;``, ``&#10;`` in text and attributes, against
  their literal characters, which XML's end-of-line and attribute-value normalisation change);
* whitespace inside tags, between attributes, around ``=``, in text, between elements, inside the Signature,
  CRLF and lone CR line ends, tabs and newlines in attribute values;
* ``xml:lang`` / ``xml:space`` / ``xml:base`` / ``xml:id`` on the signed element, its children and its ancestor,
  under exclusive c14n and inclusive C14N 1.0 / 1.1.

A case is "signed" (the form is in the document when it is signed) or "inserted" (the form is put into the
serialised bytes after signing, by an exact byte edit). Every vector states what the XML-DSig and C14N specs make
of it (:class:`Expect`), and the test checks, per vector:

1. both references say exactly that (signxml may be listed as blind: then it must say REFUSED, see oracles.py);
2. fedlib says exactly that, unless the vector says fedlib may be stricter (and why). A stricter fedlib may refuse
   (REFUSED or INVALID) where the references say VALID, but never says VALID where a reference says INVALID:
   "fedlib accepts => both references accept". Where the vector names fedlib's code, fedlib refuses with it;
3. fedlib never crashes.

fedlib is stricter on two things. (a) A processing instruction inside the document element: fedlib drops PIs
while parsing, so a PI the IdP signed no longer digests (``invalid-signature``); with the fix of issue #8 §2
(branch wt-dos) any such PI is refused outright (``malformed-xml``). Prolog and epilog PIs are outside every
referenced element: everyone accepts them. (b) Inclusive c14n where SignedInfo or the signed element has an
ancestor carrying ``xml:*`` attributes: refused (``forbidden-transform``, ``verify.canonicalize``), because lxml
cannot inherit them as C14N 1.0 / 1.1 §2.4 require; such vectors are signed with the xmlsec1 CLI (signxml's signer
canonicalises out of context) and only xmlsec1 can answer them.

Until the wt-dos fix is merged, fedlib drops a PI inserted after signing and accepts what both references reject:
exactly those vectors (a PI inside the document element, expected INVALID) are ``xfail(strict=True)``. Set
:data:`PI_FIX_PENDING` to False once the fix is in (a strict xfail that passes fails the run); from then on fedlib
must refuse every PI vector inside the document element with ``malformed-xml``.

The property at the end (hypothesis, derandomised) combines the equivalent forms on one document at random.
"""

from __future__ import annotations

import functools
import os
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives import serialization
from hypothesis import event, given, settings
from hypothesis import strategies as st
from lxml import etree

from fedlib.constants import NS_DS, NS_SAML, NS_SAMLP, SAML_ASSERTION
from fedlib.errors import ErrorCode
from fedlib.testing import TestKey, default_key, sign_element
from tests.conftest import require
from tests.differential.oracles import XMLSEC1, Result, Target, Vector, Verdict, run_all

pytestmark = pytest.mark.differential

VALID, INVALID, REFUSED = Verdict.VALID, Verdict.INVALID, Verdict.REFUSED

#: True until the wt-dos branch (issue #8 §2: PIs inside the document element refused) is merged into this one.
#: Then set it to False: the PI vectors lose their xfail markers and fedlib must refuse them with malformed-xml.
PI_FIX_PENDING = False


@dataclass(frozen=True)
class Expect:
    """What one signature of one document is, and how far fedlib may deviate from it."""

    verdict: Verdict
    """What the specs make of it; both references must say it (signxml: unless ``signxml_blind``)."""
    fedlib_stricter: str | None = None
    """Why fedlib may refuse (REFUSED, or INVALID where the verdict is VALID); None: fedlib says ``verdict``."""
    fedlib_code: ErrorCode | None = None
    """With ``fedlib_stricter``: fedlib, when it does not say VALID, refuses with this code."""
    signxml_blind: str | None = None
    """signxml cannot answer this (its oracle says REFUSED, with this reason)."""
    pending_pi_fix: bool = False
    """fedlib accepts this today (it drops the PI); xfail until the wt-dos fix is merged."""


def agree(verdict: Verdict) -> Expect:
    return Expect(verdict)


_PI_STRICTER = (
    "a processing instruction inside the document element: fedlib drops it while parsing (a signed one no longer "
    "digests: invalid-signature) and, with issue #8 §2 fixed, refuses it outright"
)


#: Once fixed, fedlib refuses every PI inside the document element while parsing, with this code.
_PI_CODE = None if PI_FIX_PENDING else ErrorCode.MALFORMED_XML


def pi_signed(verdict: Verdict) -> Expect:
    """A PI inside the document element, present when the IdP signed."""
    return Expect(verdict, fedlib_stricter=_PI_STRICTER, fedlib_code=_PI_CODE)


def pi_inserted(verdict: Verdict) -> Expect:
    """A PI inside the document element, put in after signing."""
    pending = PI_FIX_PENDING and verdict is INVALID
    return Expect(verdict, fedlib_stricter=_PI_STRICTER, fedlib_code=_PI_CODE, pending_pi_fix=pending)


def xml_inherited(verdict: Verdict) -> Expect:
    """Inclusive c14n of SignedInfo or the signed element under an ancestor carrying xml:* attributes."""
    return Expect(
        verdict,
        fedlib_stricter="fedlib refuses inclusive c14n under ancestors carrying xml:* (lxml cannot inherit them)",
        fedlib_code=ErrorCode.FORBIDDEN_TRANSFORM,
        signxml_blind="signxml canonicalises out of context and drops the inherited xml:* attributes",
    )


# --------------------------------------------------------------------------------------------------
# documents

_ISSUER = "https://idp.example.org/saml/metadata"
_SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
_INSTANT = 'Version="2.0" IssueInstant="2026-11-21T12:00:00Z"'
RID, AID = "_r-lexical", "_a-lexical"

#: The unsigned document; every {slot} is filled from DEFAULT_SLOTS and a case's own slots.
TEMPLATE = (
    "{prolog}"
    f'<samlp:Response xmlns:samlp="{NS_SAMLP}" xmlns:saml="{NS_SAML}" ID="{RID}" {_INSTANT}{{response_attrs}}>'
    f"<saml:Issuer>{_ISSUER}</saml:Issuer>{{response_between}}"
    f'<samlp:Status><samlp:StatusCode Value="{_SUCCESS}"/></samlp:Status>'
    f'<saml:Assertion ID="{AID}" {_INSTANT}{{assertion_attrs}}><saml:Issuer>{_ISSUER}</saml:Issuer>'
    "<saml:Subject><saml:NameID{nameid_attrs}>{nameid}</saml:NameID></saml:Subject>{between}"
    '<saml:AttributeStatement><saml:Attribute Name="mail" FriendlyName="{friendly}">'
    "<saml:AttributeValue{value_attrs}>{value}</saml:AttributeValue></saml:Attribute></saml:AttributeStatement>"
    "</saml:Assertion></samlp:Response>{epilog}"
)
DEFAULT_SLOTS = {
    "prolog": "",
    "response_attrs": "",
    "response_between": "",
    "assertion_attrs": "",
    "nameid_attrs": "",
    "nameid": "alice@example.com",
    "between": "",
    "friendly": "mail",
    "value_attrs": "",
    "value": "bob@example.com",
    "epilog": "",
}

PI = "<?fedlib-pi some data?>"
XML_ATTRIBUTES = ' xml:lang="en" xml:space="preserve" xml:base="http://example.org/a/b/" xml:id="{id}"'


@dataclass(frozen=True)
class Sub:
    """After signing: the ``nth`` occurrence (1-based) of ``old`` becomes ``new``; every one when ``nth`` is 0."""

    old: str
    new: str
    nth: int = 1

    def __call__(self, xml: bytes) -> bytes:
        old, new = self.old.encode(), self.new.encode()
        count = xml.count(old)
        assert count >= max(self.nth, 1), f"{self.old!r} occurs {count} times in the signed document"
        if self.nth == 0:
            return xml.replace(old, new)
        at = -1
        for _ in range(self.nth):
            at = xml.index(old, at + 1)
        return xml[:at] + new + xml[at + len(old) :]


Edit = Callable[[bytes], bytes]

EXC, C14N10, C14N11 = "exc", "c14n10", "c14n11"
#: name -> fedlib.testing.sign_element c14n
C14NS = {EXC: "exc", C14N10: "c14n", C14N11: "c14n11"}


@dataclass(frozen=True)
class Case:
    name: str
    response: Expect
    assertion: Expect
    slots: tuple[tuple[str, str], ...] = ()
    """The form as signed (slot -> text)."""
    edits: tuple[Edit, ...] = ()
    """The form put in after signing."""
    c14ns: tuple[str, ...] = (EXC, C14N10)
    xmlsec1_signs: bool = False
    """Sign with the xmlsec1 CLI instead of signxml (which canonicalises out of context)."""


def case(
    name: str,
    response: Expect,
    assertion: Expect | None = None,
    *,
    slots: dict[str, str] | None = None,
    edits: tuple[Edit, ...] = (),
    c14ns: tuple[str, ...] = (EXC, C14N10),
    xmlsec1_signs: bool = False,
) -> Case:
    """``assertion`` defaults to ``response`` (the Response's digest covers the Assertion)."""
    return Case(
        name,
        response,
        response if assertion is None else assertion,
        tuple(sorted((slots or {}).items())),
        edits,
        c14ns,
        xmlsec1_signs,
    )


_NAMEID = ">alice@example.com<"
_SIGNED_INFO = "<ds:SignedInfo>"
_KEY_INFO = "<ds:KeyInfo>"
_SIGNATURE_VALUE = "</ds:SignedInfo><ds:SignatureValue>"
_ATTRIBUTE = 'Name="mail" FriendlyName="mail"'
_PROLOG = "?>\n"
"""The end of the XML declaration lxml writes (then the document element)."""

CASES: list[Case] = [
    # ---- processing instructions
    case("pi-nameid:signed", pi_signed(VALID), slots={"nameid": f"alice@{PI}example.com"}),
    case("pi-nameid:inserted", pi_inserted(INVALID), edits=(Sub(_NAMEID, f">alice@{PI}example.com<"),)),
    case("pi-nameid-first:inserted", pi_inserted(INVALID), edits=(Sub(_NAMEID, f">{PI}alice@example.com<"),)),
    case("pi-attribute-value:signed", pi_signed(VALID), slots={"value": f"bob@{PI}example.com"}),
    case(
        "pi-attribute-value:inserted", pi_inserted(INVALID), edits=(Sub(">bob@example.com<", f">bob@{PI}example.com<"),)
    ),
    case("pi-between-elements:signed", pi_signed(VALID), slots={"between": PI}),
    case(
        "pi-between-elements:inserted",
        pi_inserted(INVALID),
        edits=(Sub("</saml:Subject><saml:AttributeStatement>", f"</saml:Subject>{PI}<saml:AttributeStatement>"),),
    ),
    # Between the Response's Issuer and Status: outside the Assertion's signed content.
    case("pi-in-response:signed", pi_signed(VALID), slots={"response_between": PI}),
    case(
        "pi-in-response:inserted",
        pi_inserted(INVALID),
        pi_inserted(VALID),
        edits=(Sub("<samlp:Status>", f"{PI}<samlp:Status>"),),
    ),
    # SignedInfo is signed content too: the Response's (1st in document order), the Assertion's (2nd, which the
    # Response's digest covers).
    case(
        "pi-in-response-signedinfo:inserted",
        pi_inserted(INVALID),
        pi_inserted(VALID),
        edits=(Sub(_SIGNED_INFO, _SIGNED_INFO + PI, 1),),
    ),
    case("pi-in-assertion-signedinfo:inserted", pi_inserted(INVALID), edits=(Sub(_SIGNED_INFO, _SIGNED_INFO + PI, 2),)),
    # KeyInfo is not signed by its own signature; the Assertion's is digested by the Response's.
    case("pi-in-response-keyinfo:inserted", pi_inserted(VALID), edits=(Sub(_KEY_INFO, _KEY_INFO + PI, 1),)),
    case(
        "pi-in-assertion-keyinfo:inserted",
        pi_inserted(INVALID),
        pi_inserted(VALID),
        edits=(Sub(_KEY_INFO, _KEY_INFO + PI, 2),),
    ),
    # Prolog and epilog are outside every referenced element: no one's digest sees them, so everyone accepts.
    case("pi-prolog:signed", agree(VALID), slots={"prolog": f"{PI}\n<?xml-stylesheet href='a.xsl'?>"}),
    case("pi-prolog:inserted", agree(VALID), edits=(Sub(_PROLOG, f"{_PROLOG}{PI}\n{PI}"),)),
    case("pi-epilog:signed", agree(VALID), slots={"epilog": f"\n{PI}"}),
    case("pi-epilog:inserted", agree(VALID), edits=(lambda xml: xml + f"{PI}\n{PI}".encode(),)),
    # ---- CDATA sections: c14n writes their text as text, so they are equal to the escaped form
    case("cdata-nameid:signed", agree(VALID), slots={"nameid": "<![CDATA[alice@example.com]]>"}),
    case("cdata-nameid:inserted", agree(VALID), edits=(Sub(_NAMEID, "><![CDATA[alice@example.com]]><"),)),
    case("cdata-nameid-part:inserted", agree(VALID), edits=(Sub(_NAMEID, ">alice@<![CDATA[example]]>.com<"),)),
    case("cdata-empty:inserted", agree(VALID), edits=(Sub(_NAMEID, ">alice@<![CDATA[]]>example.com<"),)),
    case("cdata-nameid-other-text:inserted", agree(INVALID), edits=(Sub(_NAMEID, "><![CDATA[alice@example.org]]><"),)),
    case("cdata-value:signed", agree(VALID), slots={"value": "<![CDATA[a<b & \"c\" > 'd']]>"}),
    case(
        "cdata-value:inserted",
        agree(VALID),
        slots={"value": "a&lt;b &amp; \"c\" &gt; 'd'"},
        edits=(Sub(">a&lt;b &amp; \"c\" &gt; 'd'<", "><![CDATA[a<b & \"c\" > 'd']]><"),),
    ),
    # ---- character references: the character they stand for is the content
    case("charref-nameid:inserted", agree(VALID), edits=(Sub(_NAMEID, ">&#97;lic&#x65;&#64;example.com<"),)),
    case("charref-non-ascii:signed", agree(VALID), slots={"nameid": "jos&#xE9;@example.com"}),
    case(
        "charref-non-ascii:inserted",
        agree(VALID),
        slots={"nameid": "jos\u00e9@example.com"},
        edits=(Sub("jos\u00e9@", "jos&#233;@"),),
    ),
    case(
        "charref-markup:inserted",
        agree(VALID),
        slots={"value": "a &lt; b &gt; c &amp; d"},
        edits=(Sub(">a &lt; b &gt; c &amp; d<", ">a &#60; b &#x3E; c &#38; d<"),),
    ),
    case("charref-tab-text:signed", agree(VALID), slots={"value": "a&#x9;b"}),
    case("charref-tab-text:inserted", agree(VALID), slots={"value": "a\tb"}, edits=(Sub(">a\tb<", ">a&#x9;b<"),)),
    # A CR reaches the content only as a reference: a literal one is a line end, normalised to LF.
    case("charref-cr-text:signed", agree(VALID), slots={"value": "a&#xD;b"}),
    case("charref-cr-text:inserted", agree(VALID), slots={"value": "a&#13;b"}, edits=(Sub("a&#13;b", "a&#xD;b"),)),
    case(
        "charref-cr-text-literal:inserted", agree(INVALID), slots={"value": "a&#13;b"}, edits=(Sub("a&#13;b", "a\rb"),)
    ),
    case(
        "charref-crlf-text-literal:inserted",
        agree(INVALID),
        slots={"value": "a&#13;&#10;b"},
        edits=(Sub("a&#13;\nb", "a\r\nb"),),
    ),
    # In attribute values a literal tab, LF or CR becomes a space (attribute-value normalisation); a reference
    # keeps its character.
    case("charref-attribute:signed", agree(VALID), slots={"friendly": "m&#x9;a&#xA;i&#xD;l"}),
    case(
        "charref-attribute:inserted",
        agree(VALID),
        slots={"friendly": "m&#9;a&#10;i&#13;l"},
        edits=(Sub("m&#9;a&#10;i&#13;l", "m&#x9;a&#xA;i&#xD;l"),),
    ),
    case(
        "charref-attribute-literal-tab:inserted",
        agree(INVALID),
        slots={"friendly": "m&#9;ail"},
        edits=(Sub("m&#9;ail", "m\tail"),),
    ),
    case(
        "charref-attribute-literal-lf:inserted",
        agree(INVALID),
        slots={"friendly": "m&#10;ail"},
        edits=(Sub("m&#10;ail", "m\nail"),),
    ),
    case(
        "charref-attribute-literal-cr:inserted",
        agree(INVALID),
        slots={"friendly": "m&#13;ail"},
        edits=(Sub("m&#13;ail", "m\rail"),),
    ),
    case(
        "charref-attribute-plain:inserted",
        agree(VALID),
        edits=(Sub(_ATTRIBUTE, 'Name="m&#97;il" FriendlyName="m&#x61;il"'),),
    ),
    # ---- whitespace
    case(
        "ws-in-tags:inserted",
        agree(VALID),
        edits=(Sub("<saml:NameID>", "<saml:NameID \n\t >"), Sub("</saml:NameID>", "</saml:NameID\r\n >")),
    ),
    case("ws-empty-element:inserted", agree(VALID), edits=(Sub(f'"{_SUCCESS}"/>', f'"{_SUCCESS}" \n/>'),)),
    case(
        "ws-between-attributes:inserted", agree(VALID), edits=(Sub(_ATTRIBUTE, 'Name="mail" \n\t FriendlyName="mail"'),)
    ),
    case("ws-around-equals:inserted", agree(VALID), edits=(Sub(_ATTRIBUTE, 'Name = "mail" FriendlyName\t=\n"mail"'),)),
    case("single-quotes:inserted", agree(VALID), edits=(Sub(_ATTRIBUTE, "Name='mail' FriendlyName='mail'"),)),
    case(
        "ws-response-start-tag:inserted",
        agree(VALID),
        edits=(Sub(f'"{NS_SAML}" ID="{RID}" Version', f'"{NS_SAML}"\n  ID="{RID}"\tVersion'),),
    ),
    case("ws-trailing-text:signed", agree(VALID), slots={"nameid": "alice@example.com \t\n"}),
    case("ws-trailing-text:inserted", agree(INVALID), edits=(Sub(_NAMEID, ">alice@example.com <"),)),
    case("ws-leading-text:inserted", agree(INVALID), edits=(Sub(_NAMEID, ">\nalice@example.com<"),)),
    case("ws-between-elements:signed", agree(VALID), slots={"between": "\n    ", "response_between": "\n  "}),
    case(
        "ws-between-elements:inserted",
        agree(INVALID),
        edits=(Sub("</saml:Subject><saml:AttributeStatement>", "</saml:Subject>\n<saml:AttributeStatement>"),),
    ),
    case(
        "ws-in-response-signedinfo:inserted",
        agree(INVALID),
        agree(VALID),
        edits=(Sub(_SIGNED_INFO, _SIGNED_INFO + "\n", 1),),
    ),
    case("ws-in-assertion-signedinfo:inserted", agree(INVALID), edits=(Sub(_SIGNED_INFO, _SIGNED_INFO + "\n", 2),)),
    # Inside a Signature but outside SignedInfo: removed with it by the enveloped-signature transform.
    case(
        "ws-in-response-signature:inserted",
        agree(VALID),
        edits=(Sub(_SIGNATURE_VALUE, "</ds:SignedInfo>\n  <ds:SignatureValue>", 1),),
    ),
    case(
        "ws-in-assertion-signature:inserted",
        agree(INVALID),
        agree(VALID),
        edits=(Sub(_SIGNATURE_VALUE, "</ds:SignedInfo>\n  <ds:SignatureValue>", 2),),
    ),
    case(
        "ws-prolog-epilog:inserted", agree(VALID), edits=(Sub(_PROLOG, _PROLOG + "\n \t\n"), lambda xml: xml + b"\n\n")
    ),
    # Line ends: CRLF and a lone CR are read as LF, everywhere (text, between elements, the base64 values).
    case(
        "crlf:inserted",
        agree(VALID),
        slots={"between": "\n", "response_between": "\n", "value": "line 1\nline 2\n"},
        edits=(Sub("\n", "\r\n", 0),),
    ),
    case(
        "cr:inserted",
        agree(VALID),
        slots={"between": "\n", "response_between": "\n", "value": "line 1\nline 2\n"},
        edits=(Sub("\n", "\r", 0),),
    ),
    # Attribute-value normalisation: a literal tab, LF or CRLF in an attribute value is a space.
    case("tab-in-attribute:inserted", agree(VALID), slots={"friendly": "a b"}, edits=(Sub('"a b"', '"a\tb"'),)),
    case("lf-in-attribute:inserted", agree(VALID), slots={"friendly": "a b"}, edits=(Sub('"a b"', '"a\nb"'),)),
    case("crlf-in-attribute:inserted", agree(VALID), slots={"friendly": "a b"}, edits=(Sub('"a b"', '"a\r\nb"'),)),
    case("tab-ref-in-attribute:inserted", agree(INVALID), slots={"friendly": "a b"}, edits=(Sub('"a b"', '"a&#9;b"'),)),
    # ---- xml:* attributes
    # On children of the signed elements: ordinary attributes of the signed content, for every c14n.
    case(
        "xml-attrs-on-children:signed",
        agree(VALID),
        slots={"nameid_attrs": ' xml:lang="en"', "value_attrs": XML_ATTRIBUTES.format(id="value-xml-id")},
        c14ns=(EXC, C14N10, C14N11),
    ),
    case(
        "xml-attrs-on-children:inserted",
        agree(INVALID),
        edits=(Sub("<saml:NameID>", '<saml:NameID xml:lang="en">'),),
        c14ns=(EXC, C14N10, C14N11),
    ),
    # On the Assertion (the signed element of its signature, a child of the Response's). Exclusive c14n: ordinary
    # attributes. Inclusive: the Assertion's SignedInfo inherits them (fedlib refuses, see xml_inherited).
    case(
        "xml-attrs-on-assertion:signed",
        agree(VALID),
        slots={"assertion_attrs": XML_ATTRIBUTES.format(id="assertion-xml-id")},
        c14ns=(EXC,),
    ),
    case(
        "xml-attrs-on-assertion:signed",
        agree(VALID),
        xml_inherited(VALID),
        slots={"assertion_attrs": XML_ATTRIBUTES.format(id="assertion-xml-id")},
        c14ns=(C14N10, C14N11),
        xmlsec1_signs=True,
    ),
    case(
        "xml-attrs-on-assertion:inserted",
        agree(INVALID),
        edits=(Sub(f'ID="{AID}"', f'ID="{AID}" xml:lang="en"'),),
        c14ns=(EXC,),
    ),
    case(
        "xml-attrs-on-assertion:inserted",
        agree(INVALID),
        xml_inherited(INVALID),
        edits=(Sub(f'ID="{AID}"', f'ID="{AID}" xml:lang="en"'),),
        c14ns=(C14N10, C14N11),
    ),
    # On the Response, the Assertion's ancestor. Exclusive c14n does not inherit them into the Assertion;
    # inclusive c14n does (C14N 1.1 all but xml:id, with xml:base fixed up), also into the Response's SignedInfo.
    case(
        "xml-attrs-on-response:signed",
        agree(VALID),
        slots={"response_attrs": XML_ATTRIBUTES.format(id="response-xml-id")},
        c14ns=(EXC,),
    ),
    case(
        "xml-attrs-on-response:signed",
        xml_inherited(VALID),
        slots={"response_attrs": XML_ATTRIBUTES.format(id="response-xml-id")},
        c14ns=(C14N10, C14N11),
        xmlsec1_signs=True,
    ),
    case(
        "xml-attrs-on-response:inserted",
        agree(INVALID),
        agree(VALID),
        edits=(Sub(f'ID="{RID}"', f'ID="{RID}" xml:lang="en"'),),
        c14ns=(EXC,),
    ),
    case(
        "xml-attrs-on-response:inserted",
        xml_inherited(INVALID),
        edits=(Sub(f'ID="{RID}"', f'ID="{RID}" xml:lang="en"'),),
        c14ns=(C14N10, C14N11),
    ),
]


# --------------------------------------------------------------------------------------------------
# signing


@functools.cache
def _key() -> TestKey:
    return default_key("rsa")


def _document(slots: tuple[tuple[str, str], ...]) -> etree._Element:
    text = TEMPLATE.format_map({**DEFAULT_SLOTS, **dict(slots)})
    parser = etree.XMLParser(strip_cdata=False, remove_blank_text=False, resolve_entities=False)
    return etree.fromstring(text.encode(), parser)


def _serialise(root: etree._Element) -> bytes:
    """The whole document: the prolog and epilog PIs are siblings of the document element."""
    return etree.tostring(root.getroottree(), xml_declaration=True, encoding="UTF-8")


@functools.cache
def _signed(slots: tuple[tuple[str, str], ...], c14n: str, xmlsec1_signs: bool) -> bytes:
    root = _document(slots)
    assertion = root.find(SAML_ASSERTION)
    assert assertion is not None
    sign_element(assertion, _key(), c14n=C14NS[c14n])
    sign_element(root, _key(), c14n=C14NS[c14n])
    if xmlsec1_signs:
        root = _xmlsec1_resign(root)
    return _serialise(root)


_ID_ATTRIBUTES = ("--id-attr:ID", f"{NS_SAMLP}:Response", "--id-attr:ID", f"{NS_SAML}:Assertion")


def _xmlsec1_resign(root: etree._Element) -> etree._Element:
    """Both signatures recomputed by the xmlsec1 CLI (Assertion, then Response), signxml's output as template."""
    assert XMLSEC1 is not None
    pem = _key().private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with tempfile.TemporaryDirectory(prefix="fedlib-lexical-") as workdir:
        key_file, source, output = (os.path.join(workdir, name) for name in ("key.pem", "in.xml", "out.xml"))
        with open(key_file, "wb") as f:
            f.write(pem)
        for target in (Target(assertion=True), Target(assertion=False)):
            _, signature = target.locate(root)
            for value in (
                f"{{{NS_DS}}}SignedInfo/{{{NS_DS}}}Reference/{{{NS_DS}}}DigestValue",
                f"{{{NS_DS}}}SignatureValue",
            ):
                node = signature.find(value)
                assert node is not None
                node.text = ""
            with open(source, "wb") as f:
                f.write(_serialise(root))
            proc = subprocess.run(
                [
                    XMLSEC1,
                    "--sign",
                    "--privkey-pem",
                    key_file,
                    *_ID_ATTRIBUTES,
                    "--node-xpath",
                    target.xpath(),
                    "--output",
                    output,
                    source,
                ],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
            assert proc.returncode == 0, proc.stderr
            with open(output, "rb") as f:
                root = etree.fromstring(f.read())
    return root


def _vector_specs() -> list[tuple[str, Case, str, Target, Expect]]:
    out = []
    for c in CASES:
        for c14n in c.c14ns:
            for target, expect in ((Target(assertion=False), c.response), (Target(assertion=True), c.assertion)):
                where = "A" if target.assertion else "R"
                out.append((f"lexical:{c.name}:{c14n}:{where}", c, c14n, target, expect))
    return out


SPECS = _vector_specs()
EXPECT = {vid: expect for vid, _, _, _, expect in SPECS}
assert len(EXPECT) == len(SPECS), "duplicate vector ids"


def lexical_vectors() -> list[Vector]:
    cert = _key().certificate
    vectors = []
    for vid, c, c14n, target, expect in SPECS:
        xml = _signed(c.slots, c14n, c.xmlsec1_signs)
        for edit in c.edits:
            xml = edit(xml)
        vectors.append(Vector(vid, xml, cert, target, expect.verdict))
    return vectors


# --------------------------------------------------------------------------------------------------
# the rules


def problems(result: Result, expect: Expect) -> list[str]:
    """Every way the three answers on a vector depart from its expectation (module docstring, rules 1-3)."""
    out = []
    if result.fedlib.crashed:
        out.append("fedlib crashed")
    if expect.signxml_blind is not None:
        if result.signxml.verdict is not REFUSED:
            out.append(f"signxml answered where it was expected to be blind ({expect.signxml_blind})")
    elif result.signxml.verdict is not expect.verdict:
        out.append(f"signxml is not {expect.verdict}")
    if result.xmlsec1.verdict is not expect.verdict:
        out.append(f"xmlsec1 is not {expect.verdict}")
    fedlib = result.fedlib
    if expect.fedlib_stricter is None:
        if fedlib.verdict is not expect.verdict:
            out.append(f"fedlib is not {expect.verdict}")
    elif fedlib.verdict is VALID:
        if expect.verdict is not VALID or INVALID in (result.signxml.verdict, result.xmlsec1.verdict):
            out.append("fedlib accepts what the references reject")
    elif expect.fedlib_code is not None and fedlib.code is not expect.fedlib_code:
        out.append(f"fedlib refuses, but not with {expect.fedlib_code.value}")
    return out


@pytest.fixture(scope="module")
def lexical_results() -> dict[str, Result]:
    require(XMLSEC1 is not None, "the xmlsec1 CLI (Debian package xmlsec1)")
    return run_all(lexical_vectors())


_PENDING = pytest.mark.xfail(strict=True, reason="fixed by wt-dos (issue #8 §2)")


@pytest.mark.parametrize(
    "vector_id", [pytest.param(vid, id=vid, marks=[_PENDING] if EXPECT[vid].pending_pi_fix else []) for vid in EXPECT]
)
def test_lexical_vector(vector_id: str, lexical_results: dict[str, Result]) -> None:
    result = lexical_results[vector_id]
    expect = EXPECT[vector_id]
    found = problems(result, expect)
    why = f"\n    fedlib may be stricter: {expect.fedlib_stricter}" if expect.fedlib_stricter else ""
    assert not found, f"{'; '.join(found)}\n{result.describe()}\n    expected: {expect.verdict}{why}"


# --------------------------------------------------------------------------------------------------
# a property: lexical rewrites of a signed document change nobody's answer; a changed character does

_FORMS = ("literal", "decimal", "hex")
_WHITESPACE = st.text(alphabet=" \t\r\n", max_size=3)
_SEPARATOR = st.text(alphabet=" \t\r\n", min_size=1, max_size=3)
NAME_ID = DEFAULT_SLOTS["nameid"]


def _render(text: str, forms: list[str]) -> str:
    """``text`` with each character as itself, a decimal or hex character reference, or a CDATA section."""
    out = []
    for char, form in zip(text, forms, strict=True):
        if form == "decimal":
            out.append(f"&#{ord(char)};")
        elif form == "hex":
            out.append(f"&#x{ord(char):X};")
        elif form == "cdata":
            out.append(f"<![CDATA[{char}]]>")
        else:
            out.append(char)
    return "".join(out)


@settings(max_examples=15, deadline=None, derandomize=True, database=None)
@given(data=st.data())
def test_lexical_rewrites_are_equivalent_and_a_changed_character_is_not(data: st.DataObject) -> None:
    """Character references, CDATA, whitespace in tags and around ``=``, quotes, CRLF, prolog and epilog PIs and
    whitespace, all at once, on the NameID and an Attribute of a signed Response: VALID for every oracle, unless
    one NameID character was changed (in whichever form): then INVALID for every oracle."""
    require(XMLSEC1 is not None, "the xmlsec1 CLI (Debian package xmlsec1)")
    c14n = data.draw(st.sampled_from((EXC, C14N10)), label="c14n")
    name_forms = data.draw(st.lists(st.sampled_from((*_FORMS, "cdata")), min_size=len(NAME_ID), max_size=len(NAME_ID)))
    changed = data.draw(st.none() | st.integers(0, len(NAME_ID) - 1), label="changed character")
    name = NAME_ID if changed is None else NAME_ID[:changed] + chr(ord(NAME_ID[changed]) ^ 1) + NAME_ID[changed + 1 :]
    friendly = _render("mail", data.draw(st.lists(st.sampled_from(_FORMS), min_size=4, max_size=4)))
    quotes = data.draw(st.lists(st.sampled_from("\"'"), min_size=2, max_size=2))
    ws = [data.draw(_WHITESPACE) for _ in range(6)]
    attribute = (
        f"Name{ws[0]}={ws[1]}{quotes[0]}mail{quotes[0]}{data.draw(_SEPARATOR)}"
        f"FriendlyName{ws[2]}={ws[3]}{quotes[1]}{friendly}{quotes[1]}"
    )
    prolog = data.draw(st.sampled_from(("", "\n", f"{PI}\n", f"\n{PI}\t{PI}")))
    epilog = data.draw(st.sampled_from(("", "\n", PI, f"\n{PI}\n")))
    edits = [
        Sub(_NAMEID, f">{_render(name, name_forms)}<"),
        Sub("<saml:NameID>", f"<saml:NameID{ws[4]}>"),
        Sub("</saml:NameID>", f"</saml:NameID{ws[5]}>"),
        Sub(_ATTRIBUTE, attribute),
        Sub(_PROLOG, _PROLOG + prolog),
    ]
    xml = _signed((), c14n, False)
    for edit in edits:
        xml = edit(xml)
    xml += epilog.encode()
    if data.draw(st.booleans(), label="CRLF line ends"):
        xml = xml.replace(b"\n", b"\r\n")
    expect = agree(VALID if changed is None else INVALID)
    event(f"expected {expect.verdict}")
    cert = _key().certificate
    vectors = [Vector(f"rewrite:{t}", xml, cert, t) for t in (Target(assertion=False), Target(assertion=True))]
    for result in run_all(vectors).values():
        found = problems(result, expect)
        assert not found, f"{'; '.join(found)}\n{result.describe()}\n    expected: {expect.verdict}\n{xml.decode()}"
