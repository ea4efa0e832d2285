"""Parser-level attacks: comment / PI / CDATA splitting of signed text, DTDs, XXE, entity expansion.

- Comment injection into a signed NameID: Duo Security, "Duo Finds SAML Vulnerabilities Affecting
  Multiple Implementations" (2018; CVE-2017-11427 python-saml, CVE-2017-11428 ruby-saml,
  CVE-2017-11429 clever/saml2, CVE-2017-11430 OmniAuth-SAML, CVE-2018-0489 Shibboleth SP). c14n without
  comments ignores the injected comment, so the signature still verifies; a vulnerable SP then reads
  only the first text node (``admin@x``). fedlib drops comments at parse time and must read the whole
  text (``admin@x.evil.com``).
- XXE / external DTD / parameter entities: OWASP XXE; "billion laughs" (entity expansion DoS).
"""

from __future__ import annotations

import base64
import errno
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from fedlib.errors import ErrorCode, ResponseRejected
from tests.adversarial._forge import assertion_of, one, parse, rejection, resign, to_bytes
from tests.support import World

SIGNED_NAME = "admin@x.evil.com"


@pytest.fixture
def w() -> World:
    return World()


def _minted_with(w: World, name_id: str = SIGNED_NAME, **kwargs: object) -> bytes:
    xml = w.mint(name_id=name_id, **kwargs)
    assert xml.count(name_id.encode()) == 1
    return xml


# --- comment / PI / CDATA splitting inside signed text ---------------------------------------------


@pytest.mark.parametrize(
    "splitter",
    [
        b"<!---->",
        b"<!-- a comment -->",
        b"<![CDATA[]]>",
    ],
)
def test_splitting_a_signed_name_id_reads_the_whole_text(w: World, splitter: bytes) -> None:
    # The IdP signed "admin@x.evil.com"; the attacker inserts a splitter after "admin@x" (Duo 2018).
    # Comments and empty CDATA are gone after fedlib's parse and out of c14n without comments, so the
    # canonical form and the digest are unchanged: the signature verifies and the NameID is the full
    # signed value.
    xml = _minted_with(w)
    tampered = xml.replace(b"admin@x", b"admin@x" + splitter, 1)
    assert tampered != xml
    result = w.check(tampered)
    assert result.name_id == SIGNED_NAME


@pytest.mark.parametrize("splitter", [b"<?pi?>", b"<?evil data?>", b"<!----><?x?><!---->"])
@pytest.mark.parametrize("where", [b"admin@x", b"https://idp.example.org/saml"])
def test_processing_instruction_inserted_into_signed_content_is_refused(
    w: World, splitter: bytes, where: bytes
) -> None:
    # c14n keeps PIs, so the standard digest of the tampered bytes differs and xmlsec1 / signxml reject
    # them; fedlib used to drop PIs at parse time and accept (issue #8, section 2). Now refused at parse.
    xml = _minted_with(w)
    tampered = xml.replace(where, where + splitter, 1)
    assert tampered != xml
    err = rejection(w, tampered)
    assert err.code == ErrorCode.MALFORMED_XML
    assert "processing instruction" in err.message


def test_processing_instructions_outside_the_document_element_leave_the_signed_response_alone(w: World) -> None:
    # Prolog / epilog PIs are outside every element: c14n of the signed Response (URI="#ID") never
    # includes them, so they are harmless and a genuine response carrying them is still accepted.
    xml = _minted_with(w)
    assert xml.startswith(b"<samlp:Response") or xml.startswith(b"<?xml")
    body = xml.split(b"?>", 1)[1] if xml.startswith(b"<?xml") else xml
    tampered = b'<?xml version="1.0" encoding="UTF-8"?>\n<?prolog pi?>' + body + b"<?epilog pi?>"
    assert w.check(tampered).name_id == SIGNED_NAME


def test_comment_split_of_attribute_value_and_issuer(w: World) -> None:
    xml = _minted_with(w, attributes={"role": ["user.admins.example"]})
    tampered = xml.replace(b"user.admins", b"user<!---->.admins", 1)
    tampered = tampered.replace(b"https://idp.example.org/saml", b"https://idp<!---->.example.org/saml")
    result = w.check(tampered)
    assert result.attributes["role"] == ("user.admins.example",)
    assert result.issuer == "https://idp.example.org/saml/metadata"


def test_comment_inserted_in_the_response_signature_still_verifies(w: World) -> None:
    # Comments anywhere (even inside SignedInfo) are removed before anything is canonicalised.
    xml = _minted_with(w)
    tampered = xml.replace(b"<ds:SignedInfo>", b"<ds:SignedInfo><!-- x -->", 1)
    assert w.check(tampered).name_id == SIGNED_NAME


def test_character_reference_is_the_same_text(w: World) -> None:
    # "&#46;" is "." after parsing and in c14n: same digest, same value.
    xml = _minted_with(w)
    tampered = xml.replace(b"admin@x.evil", b"admin@x&#46;evil", 1)
    assert w.check(tampered).name_id == SIGNED_NAME


def test_text_outside_the_comment_is_still_signed(w: World) -> None:
    # Control: what is *outside* a comment is content; moving text into a comment changes the digest.
    xml = _minted_with(w)
    tampered = xml.replace(b"admin@x.evil.com", b"admin@x<!--.evil.com-->", 1)
    assert rejection(w, tampered).code == ErrorCode.INVALID_SIGNATURE


def test_signed_processing_instruction_is_not_trusted(w: World) -> None:
    # An IdP that signs a document containing a PI (its c14n includes the PI, so the signature is
    # genuine): fedlib refuses PIs inside the document element whatever the signature says.
    root = parse(w.mint(name_id=SIGNED_NAME))
    name_id = one(assertion_of(root), "saml:Subject/saml:NameID")
    name_id.text = "admin@x"
    pi = etree.ProcessingInstruction("pi", "data")
    pi.tail = ".evil.com"
    name_id.append(pi)
    resign(root, w.key)
    assert rejection(w, to_bytes(root)).code == ErrorCode.MALFORMED_XML


def test_child_element_splitting_name_id_reads_all_text(w: World) -> None:
    # An IdP-signed NameID with mixed content: all descendant text is the value (never only .text).
    root = parse(w.mint(name_id=SIGNED_NAME))
    name_id = one(assertion_of(root), "saml:Subject/saml:NameID")
    name_id.text = "admin@x"
    child = etree.SubElement(name_id, "{urn:example:x}b")
    child.text = ".evil"
    child.tail = ".com"
    resign(root, w.key)
    assert w.check(to_bytes(root)).name_id == SIGNED_NAME


# --- DTDs, XXE, entity expansion ---------------------------------------------------------------------

MARKER = "FEDLIB-XXE-MARKER-7f3b9c"


class Tripwire:
    """A named pipe standing in for a file: it records whether anything ever opened it for reading.

    A poller keeps trying a non-blocking open of the write end, which only succeeds once a reader has
    the pipe open; it then feeds the reader ``content`` and closes, so a reader never hangs. This sees
    libxml2's own C-level file I/O, which Python audit hooks do not.
    """

    def __init__(self, path: Path, content: str) -> None:
        os.mkfifo(path)
        self.path = path
        self.content = content.encode()
        self.opened = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.is_set():
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:
                if exc.errno != errno.ENXIO:  # pragma: no cover
                    raise
                time.sleep(0.0005)
                continue
            self.opened.set()
            try:
                os.write(fd, self.content)
            except OSError:  # pragma: no cover - reader went away
                pass
            finally:
                os.close(fd)
            return  # one-shot: the reader then sees end-of-file

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


@pytest.fixture
def secret_file(tmp_path: Path) -> Iterator[Tripwire]:
    wire = Tripwire(tmp_path / "secret.txt", MARKER)
    yield wire
    wire.close()


@pytest.fixture
def evil_dtd(tmp_path: Path) -> Iterator[Tripwire]:
    wire = Tripwire(tmp_path / "evil.dtd", f'<!ENTITY xxe "{MARKER}">\n')
    yield wire
    wire.close()


def test_control_the_tripwire_sees_an_unsafe_parser_read(secret_file: Tripwire) -> None:
    # Control for the XXE tests: an lxml parser that does resolve external entities trips the wire.
    doc = f'<!DOCTYPE r [<!ENTITY xxe SYSTEM "{secret_file.path.as_uri()}">]><r>&xxe;</r>'.encode()
    unsafe = etree.XMLParser(resolve_entities=True, no_network=True, load_dtd=True)
    root = etree.fromstring(doc, unsafe)
    assert secret_file.opened.is_set()
    assert root.text == MARKER


def _body(w: World, name_id: str = "&xxe;") -> bytes:
    """A signed Response (without its XML declaration) whose NameID is ``name_id`` (raw XML)."""
    xml = w.mint(name_id="PLACEHOLDER@example.com")
    body = xml.split(b"?>", 1)[1]
    return body.replace(b"PLACEHOLDER@example.com", name_id.encode())


def _assert_no_leak(exc: ResponseRejected) -> None:
    for text in (str(exc), exc.message, exc.detail or "", repr(exc), repr(exc.__cause__), repr(exc.__context__)):
        assert MARKER not in text


def _doctypes(secret: Tripwire, dtd: Tripwire) -> dict[str, str]:
    s, d = secret.path.as_uri(), dtd.path.as_uri()
    return {
        "xxe-system": f'<!DOCTYPE samlp:Response [<!ENTITY xxe SYSTEM "{s}">]>',
        "xxe-public": f'<!DOCTYPE samlp:Response [<!ENTITY xxe PUBLIC "-//x//y" "{s}">]>',
        "external-dtd": f'<!DOCTYPE samlp:Response SYSTEM "{d}">',
        "external-dtd-public": f'<!DOCTYPE samlp:Response PUBLIC "-//x//y" "{d}">',
        "parameter-entity": f'<!DOCTYPE samlp:Response [<!ENTITY % p SYSTEM "{d}"> %p;]>',
        "parameter-entity-file": f'<!DOCTYPE samlp:Response [<!ENTITY % file SYSTEM "{s}"> %file;]>',
        "parameter-entity-network": '<!DOCTYPE samlp:Response [<!ENTITY % n SYSTEM "http://127.0.0.1:9/x.dtd"> %n;]>',
        "internal-entity": f'<!DOCTYPE samlp:Response [<!ENTITY xxe "{MARKER}">]>',
        "billion-laughs": (
            '<!DOCTYPE samlp:Response [<!ENTITY l0 "lol">'
            + "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
            + '<!ENTITY xxe "&l9;">]>'
        ),
        "empty-doctype": "<!DOCTYPE samlp:Response>",
    }


DOCTYPE_NAMES = [
    "xxe-system",
    "xxe-public",
    "external-dtd",
    "external-dtd-public",
    "parameter-entity",
    "parameter-entity-file",
    "parameter-entity-network",
    "internal-entity",
    "billion-laughs",
    "empty-doctype",
]


def _variants(doctype: str, body: bytes) -> dict[str, bytes]:
    head = b"<?xml version='1.0' encoding='UTF-8'?>\n"
    dt = doctype.encode()
    # The early byte scan looks at the first 4 KiB only; a long comment or PI before the DOCTYPE (both
    # allowed in the prolog) pushes it out of that window, and UTF-16 hides the ASCII bytes.
    padding = b"<!--" + b"x" * 5000 + b"-->\n"
    utf16 = ("<?xml version='1.0' encoding='UTF-16'?>\n" + doctype + body.decode()).encode("utf-16-le")
    return {
        "plain": head + dt + body,
        "no-declaration": dt + body,
        "after-4k-comment": head + padding + dt + body,
        "after-4k-pi": head + b"<?pad " + b"y" * 5000 + b"?>\n" + dt + body,
        "utf-16le": utf16,
        "base64": base64.b64encode(head + padding + dt + body),
    }


USES_XXE = {"xxe-system", "xxe-public", "internal-entity", "billion-laughs"}
VARIANTS = ["plain", "no-declaration", "after-4k-comment", "after-4k-pi", "utf-16le", "base64"]
# Variants that get past parse.py's early byte scan (first 4 KiB, ASCII), leaving the decision to libxml2
# and the docinfo check.
PAST_EARLY_SCAN = {"after-4k-comment", "after-4k-pi", "utf-16le", "base64"}


def _cases() -> list[object]:
    # Regression: before 6649e08 a billion-laughs DOCTYPE in the PAST_EARLY_SCAN variants was reported as
    # malformed-xml (libxml2 stops on its entity-amplification limit before the docinfo check runs).
    return [pytest.param(kind, variant, id=f"{kind}-{variant}") for kind in DOCTYPE_NAMES for variant in VARIANTS]


@pytest.mark.parametrize(("kind", "variant"), _cases())
def test_any_doctype_is_forbidden_and_nothing_is_read(
    w: World, secret_file: Tripwire, evil_dtd: Tripwire, kind: str, variant: str
) -> None:
    doctype = _doctypes(secret_file, evil_dtd)[kind]
    message = _variants(doctype, _body(w, "&xxe;" if kind in USES_XXE else "bob@example.com"))[variant]
    exc = rejection(w, message)  # the tripwires below prove nothing was fetched or read
    assert not secret_file.opened.is_set()
    assert not evil_dtd.opened.is_set()
    _assert_no_leak(exc)
    assert exc.code == ErrorCode.FORBIDDEN_DTD


def test_utf16_with_bom_is_not_taken_for_xml(w: World, secret_file: Tripwire) -> None:
    # Raw-XML autodetection only knows UTF-8 (optionally with BOM); a UTF-16 BOM makes the input a
    # (bad) base64 form value. Rejected before any parsing.
    doctype = f'<!DOCTYPE samlp:Response [<!ENTITY xxe SYSTEM "{secret_file.path.as_uri()}">]>'
    message = ("<?xml version='1.0' encoding='UTF-16'?>" + doctype + _body(w).decode()).encode("utf-16")
    exc = rejection(w, message)
    assert exc.code == ErrorCode.MALFORMED_XML
    assert not secret_file.opened.is_set()


def test_billion_laughs_inside_attribute_is_refused_quickly(w: World) -> None:
    laughs = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 12))
    doctype = f'<!DOCTYPE samlp:Response [<!ENTITY l0 "lol">{laughs}]>'
    body = _body(w, "x").replace(b'Version="2.0"', b'Version="&l11;"', 1)
    assert rejection(w, doctype.encode() + body).code == ErrorCode.FORBIDDEN_DTD


def test_undeclared_entity_without_doctype_is_malformed(w: World) -> None:
    assert rejection(w, _body(w, "&xxe;")).code == ErrorCode.MALFORMED_XML


def test_doctype_after_the_root_is_malformed(w: World) -> None:
    message = _body(w, "alice@example.com") + b"<!DOCTYPE x>"
    assert rejection(w, message).code == ErrorCode.MALFORMED_XML


def test_xinclude_is_not_processed(w: World, secret_file: Tripwire) -> None:
    # An IdP-signed document with an xi:include: fedlib never runs XInclude, so the file is not read
    # and the NameID is only its text. (A conforming verifier does not run XInclude either.)
    root = parse(w.mint(name_id="bob@example.com"))
    name_id = one(assertion_of(root), "saml:Subject/saml:NameID")
    include = etree.SubElement(name_id, "{http://www.w3.org/2001/XInclude}include")
    include.set("href", secret_file.path.as_uri())
    include.set("parse", "text")
    resign(root, w.key)
    result = w.check(to_bytes(root))
    assert result.name_id == "bob@example.com"
    assert MARKER not in repr(result)
    assert not secret_file.opened.is_set()


def test_excessive_nesting_is_malformed(w: World) -> None:
    # libxml2's depth limit (256 without XML_PARSE_HUGE) stops deep-nesting DoS.
    depth = 300
    deep = "".join("<x:a>" for _ in range(depth)) + "".join("</x:a>" for _ in range(depth))
    body = _body(w, "bob@example.com").replace(
        b"<samlp:Status>", b'<samlp:Extensions xmlns:x="urn:x">' + deep.encode() + b"</samlp:Extensions><samlp:Status>"
    )
    assert rejection(w, body).code == ErrorCode.MALFORMED_XML


def test_oversized_message_is_malformed_before_parsing(w: World) -> None:
    filler = b"<!--" + b"z" * (300 * 1024) + b"-->"
    message = _body(w, "bob@example.com") + filler
    assert rejection(w, message).code == ErrorCode.MALFORMED_XML
    assert rejection(w, base64.b64encode(message)).code == ErrorCode.MALFORMED_XML
