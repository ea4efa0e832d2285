"""The one way fedlib turns untrusted bytes into an XML tree.

Invariants (tests in tests/unit/xml/ and tests/adversarial/test_parsing.py):
- No DTD is loaded, no entity is resolved, nothing is fetched from the network or the file system: the
  parser is configured so, and a resolver that refuses every request is attached. The resolver is not a
  spare: with these options alone, lxml 6.1 / libxml2 2.14 still opens a ``file:`` external DTD named by
  a DOCTYPE that sits past the early 4 KiB scan (the adversarial suite's file tripwires catch its removal).
- Any DOCTYPE (internal subset or external identifier) rejects the document with ``forbidden-dtd``;
  SAML forbids DTDs in protocol messages (SAML core §1.3, Bindings §3.5.5.2 / §3.4.4).
- Comments are dropped while parsing, so adjacent text is merged and no semantic value (NameID, Issuer,
  attribute value) can be split by a comment (the ``a<!---->b`` class of attacks gives ``ab``). C14N
  without comments leaves comments out too, so what is digested is still what was received.
- Processing instructions are NOT dropped: canonicalisation (with or without comments) keeps PIs, so
  dropping them would digest something other than what was received (a PI inserted into a signed NameID
  used to verify here while xmlsec1 and signxml refuse it). A PI inside the document element rejects the
  message (``malformed-xml``): SAML has no use for one, and it could split a value like a comment. PIs
  before or after the document element (prolog/epilog) are kept in the document but are outside every
  element, so canonicalising an element never includes them (tests/unit/xml pins that); a whole-document
  reference (``URI=""``) over such a document is refused in ``xmldsig.verify``.
- Sizes are capped before parsing: the base64 form value and the decoded XML (``malformed-xml``).
  libxml2's own limits without XML_PARSE_HUGE bound nesting depth (256) and text node size.
- Structure is capped right after parsing, before anything reads the tree (``message-too-complex``,
  ``fedlib._xml.limits``): elements, attributes and namespace declarations per element, declarations in
  scope and per document, signatures, References and PrefixList length. c14n cost grows with these.
"""

from __future__ import annotations

import binascii
import re
import threading
import zlib
from collections.abc import Callable
from typing import Any, Final

import pybase64
from lxml import etree

from fedlib._xml.limits import DEFAULT_XML_LIMITS, XMLLimits, check_structure
from fedlib.errors import ErrorCode, XMLRejected, reject

DEFAULT_MAX_XML_BYTES: Final = 256 * 1024

_WHITESPACE: Final = b" \t\r\n"
_UTF8_BOM: Final = b"\xef\xbb\xbf"


class ExternalResourceRefused(Exception):
    """Raised by the resolver if libxml2 ever asks for an external resource (it should not)."""


class _DenyResolver(etree.Resolver):
    """Refuses every external resource libxml2 might ask for (DTDs, entities, XIncludes)."""

    def resolve(self, system_url: str, public_id: str, context: object) -> None:  # type: ignore[override]
        raise ExternalResourceRefused(system_url)


_local = threading.local()


def _parser() -> etree.XMLParser:
    # lxml parsers must not be shared between threads; one per thread, built once.
    parser: etree.XMLParser | None = getattr(_local, "parser", None)
    if parser is None:
        parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            attribute_defaults=False,
            huge_tree=False,
            remove_comments=True,
            remove_pis=False,  # refused inside the document element instead (module docstring)
            remove_blank_text=False,
            strip_cdata=True,
            collect_ids=False,
        )
        parser.resolvers.add(_DenyResolver())
        _local.parser = parser
    return parser


def _malformed(message: str, detail: str | None = None) -> XMLRejected:
    err = reject(ErrorCode.MALFORMED_XML, message, detail=detail)
    assert isinstance(err, XMLRejected)
    return err


def parsed_by_parse_xml(element: etree._Element) -> bool:
    """True when ``element``'s document came from :func:`parse_xml` in this thread (its parser: comments
    removed, PIs refused inside the document element). A shortcut that relies on that (an element's
    ``.text`` being its whole text) checks it first: a tree parsed otherwise takes the general path."""
    parser = getattr(_local, "parser", None)
    return parser is not None and element.getroottree().parser is parser


def parse_xml(
    untrusted_xml: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_XML_BYTES,
    limits: XMLLimits = DEFAULT_XML_LIMITS,
    structure: Callable[[etree._Element, bytes, XMLLimits], object] = check_structure,
) -> etree._Element:
    """Parse untrusted XML bytes and return the document element.

    ``limits`` caps the structure (``fedlib._xml.limits``); the default suits SAML protocol messages,
    IdP metadata passes ``METADATA_XML_LIMITS``. ``structure`` is the pass that enforces them, right after
    parsing: ``check_structure``, or for a large document (metadata) a function built on
    ``check_large_document`` (the same limits in fewer passes; it must raise as ``check_structure`` would).

    Raises:
        XMLRejected: ``malformed-xml`` (too large, not well-formed, not one document element, a
            processing instruction inside the document element), ``forbidden-dtd`` (any DOCTYPE) or
            ``message-too-complex`` (over one of ``limits``).
    """
    if len(untrusted_xml) > max_bytes:
        raise _malformed(
            f"the XML message is {len(untrusted_xml)} bytes, over the {max_bytes}-byte limit",
        )
    if not untrusted_xml.strip():
        raise _malformed("the XML message is empty")
    # Cheap early refusal before libxml2 sees the internal subset at all; the tree check below is the
    # authority (it also covers other encodings). First a search for the byte "!" (memchr: ~0.1 us where the
    # 9-byte needle takes ~1.2 us on every login, bench/verify.py): a head without it holds no "<!DOCTYPE".
    if untrusted_xml.find(b"!", 0, 4096) != -1 and untrusted_xml.find(b"<!DOCTYPE", 0, 4096) != -1:
        head = untrusted_xml[:4096]
        root_start = _first_element_start(head)
        if root_start is None or head.find(b"<!DOCTYPE") < root_start:
            raise reject(ErrorCode.FORBIDDEN_DTD, "the XML message contains a DOCTYPE; SAML messages must not")
    try:
        parser: etree.XMLParser | None = getattr(_local, "parser", None)  # _parser(), its common case inline
        root = etree.fromstring(untrusted_xml, parser if parser is not None else _parser())
    except etree.XMLSyntaxError as exc:
        if _doctype_in_prolog(untrusted_xml):
            # e.g. billion laughs behind a long prolog or in UTF-16: libxml2 stops on the amplification
            # limit before the tree check can see the DOCTYPE, but the cause is the DOCTYPE.
            raise reject(
                ErrorCode.FORBIDDEN_DTD, "the XML message contains a DOCTYPE; SAML messages must not"
            ) from None
        raise _malformed("the XML message is not well-formed", detail=str(exc)[:300]) from None
    except ExternalResourceRefused:
        raise reject(ErrorCode.FORBIDDEN_DTD, "the XML message refers to an external resource") from None
    except (ValueError, MemoryError, RecursionError) as exc:
        raise _malformed("the XML message could not be parsed", detail=repr(exc)[:300]) from None
    docinfo: Any = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise reject(ErrorCode.FORBIDDEN_DTD, "the XML message contains a DOCTYPE; SAML messages must not")
    if next(root.iter(etree.PI), None) is not None:
        raise _malformed(
            "the XML message contains a processing instruction inside its document element; SAML messages "
            "have none, and canonicalization would sign it"
        )
    structure(root, untrusted_xml, limits)
    return root


_PROLOG_MISC: Final = re.compile(r"(?:[ \t\r\n]+|<\?.*?\?>|<!--.*?-->)*", re.DOTALL)


def _doctype_in_prolog(untrusted_xml: bytes) -> bool:
    """Whether a DOCTYPE stands in the prolog (before the first element), in any encoding libxml2 reads:
    UTF-8, or UTF-16/32 recognised by BOM or by the zero bytes around '<'. Linear in the input."""
    data = untrusted_xml
    encoding = "utf-8"
    for bom, name in (
        (b"\xff\xfe\x00\x00", "utf-32-le"),
        (b"\x00\x00\xfe\xff", "utf-32-be"),
        (b"\xff\xfe", "utf-16-le"),
        (b"\xfe\xff", "utf-16-be"),
    ):
        if data.startswith(bom):
            encoding = name
            data = data[len(bom) :]
            break
    else:
        if data[:2] == b"<\x00":
            encoding = "utf-16-le"
        elif data[:2] == b"\x00<":
            encoding = "utf-16-be"
    text = data.decode(encoding, errors="replace").lstrip("\ufeff")
    # One regex over the prolog's whitespace, PIs and comments (C speed; a Python loop per character cost
    # ~25 ms on a 256 KiB prolog). Nothing follows the starred group, so the match never backtracks.
    end = _PROLOG_MISC.match(text)
    return text.startswith("<!DOCTYPE", end.end() if end is not None else 0)


def _first_element_start(head: bytes) -> int | None:
    """Index of the first '<' that opens an element (not '<?' or '<!'), or None."""
    i = head.find(b"<")
    while i != -1 and i + 1 < len(head):
        nxt = head[i + 1 : i + 2]
        if nxt not in (b"?", b"!"):
            return i
        i = head.find(b"<", i + 1)
    return None


def _encoded_limit(max_bytes: int) -> int:
    """The longest base64 text accepted for ``max_bytes`` of XML: the 4/3 expansion, plus room for line breaks
    every 64-76 characters."""
    return (max_bytes + 2) // 3 * 4 * 2 + 1024


def _canonical_text(text: str) -> bytes | None:
    """pybase64's strict decoding of ``text`` when it has the canonical shape (ASCII, a multiple of 4 long, ``=``
    nowhere but in the last two places), else None; None also when pybase64 refuses it. A None leaves the
    decision to the caller's stdlib path: pybase64's validate mode agrees with strict binascii on every text
    of this shape (decode_base64's fast path, on bytes, takes the same shape)."""
    size = len(text)
    if size % 4 or not text.isascii() or text.find("=", 0, size - 2) != -1:
        return None
    try:
        return pybase64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def decode_base64(untrusted_b64: bytes | str, *, max_bytes: int = DEFAULT_MAX_XML_BYTES) -> bytes:
    """Strictly decode a base64 form value: ASCII whitespace is tolerated, anything else rejected.

    The encoded length is capped at what ``max_bytes`` of XML needs (plus whitespace) before decoding.

    Raises:
        XMLRejected: ``malformed-xml``.
    """
    if isinstance(untrusted_b64, str):
        try:
            untrusted_b64 = untrusted_b64.encode("ascii")
        except UnicodeEncodeError:  # non-ASCII, lone surrogates included
            raise _malformed("the SAML message is not valid base64 (non-ASCII characters)") from None
    elif not isinstance(untrusted_b64, bytes | bytearray | memoryview):
        raise _malformed(f"the SAML message is a {type(untrusted_b64).__name__}, not text")
    else:
        untrusted_b64 = bytes(untrusted_b64)
    if len(untrusted_b64) > _encoded_limit(max_bytes):
        raise _malformed(f"the encoded SAML message is {len(untrusted_b64)} bytes, over the limit")
    if not untrusted_b64.strip():
        raise _malformed("the SAML message is empty")
    try:
        # Fast path: most form values carry no whitespace. pybase64 (SIMD) decodes a 9 KB SAMLResponse in
        # ~1 us where binascii takes ~20 us (bench/verify.py). It answers only for the canonical shape (a
        # multiple of 4, ``=`` nowhere but in the last two places); its validate mode refuses every byte
        # outside the alphabet and is stricter than the stdlib on padding (it refuses ``QUFB====``, which
        # strict binascii takes), so any refusal falls through to the stdlib below, which decides.
        # tests/unit/xml/test_base64_strict.py holds the result to binascii's strict decisions and bytes.
        if len(untrusted_b64) % 4 == 0 and untrusted_b64.find(b"=", 0, len(untrusted_b64) - 2) == -1:
            decoded = pybase64.b64decode(untrusted_b64, validate=True)
        else:
            decoded = binascii.a2b_base64(untrusted_b64, strict_mode=True)
    except (binascii.Error, ValueError):
        compact = untrusted_b64.translate(None, _WHITESPACE)
        try:
            decoded = binascii.a2b_base64(compact, strict_mode=True)
        except (binascii.Error, ValueError):
            raise _malformed("the SAML message is not valid base64") from None
    if len(decoded) > max_bytes:
        raise _malformed(f"the decoded SAML message is {len(decoded)} bytes, over the {max_bytes}-byte limit")
    return decoded


def inflate(untrusted_deflated: bytes, *, max_bytes: int = DEFAULT_MAX_XML_BYTES) -> bytes:
    """Inflate a raw DEFLATE stream (HTTP-Redirect binding, RFC 1951) with an output cap.

    Raises:
        XMLRejected: ``malformed-xml`` if the stream is corrupt, truncated, has trailing garbage, or
            would inflate past ``max_bytes`` (a deflate bomb is stopped after ``max_bytes + 1`` bytes).
    """
    inflater = zlib.decompressobj(wbits=-15)
    try:
        out = inflater.decompress(untrusted_deflated, max_bytes + 1)
    except zlib.error:
        raise _malformed("the SAML message is not a valid DEFLATE stream") from None
    if len(out) > max_bytes:
        raise _malformed(f"the SAML message inflates past the {max_bytes}-byte limit")
    if not inflater.eof or inflater.unused_data:
        raise _malformed("the DEFLATE stream is truncated or has trailing data")
    return out


def text_content(element: etree._Element) -> str:
    """The element's full text content, all descendant text nodes joined (comments are gone at parse
    time and PIs refused, so ``a<!---->b`` reads as ``ab``, never as ``a``)."""
    if len(element) == 0:
        # Fast path: no children, so (comments gone, PIs refused by parse_xml) .text is the whole content.
        return element.text or ""
    return "".join(str(t) for t in element.itertext())


def b64_text(text: str | None) -> bytes | None:
    """Strictly decode base64 element text (DigestValue, X509Certificate...); None if absent or invalid."""
    if not text:
        return None
    # Fast path, the usual element text (one line, ``=`` nowhere but in the last two places): pybase64, as for
    # the form value (decode_base64), where binascii's strict loop costs ~1 µs per SignatureValue on every
    # login and has slow placements in memory (bench/README.md). Any refusal falls through to binascii, which
    # decides. tests/unit/xml/test_base64_strict.py holds b64_text to the stdlib's decisions and bytes.
    decoded = _canonical_text(text)
    if decoded is not None:
        return decoded
    try:
        raw = text.encode("ascii").translate(None, _WHITESPACE)
        return binascii.a2b_base64(raw, strict_mode=True) if raw else None
    except (UnicodeEncodeError, binascii.Error, ValueError):
        return None


def looks_like_xml(untrusted: bytes) -> bool:
    """True when the input is raw XML rather than a base64 form value (first non-blank byte is '<')."""
    stripped = untrusted.lstrip(_UTF8_BOM).lstrip(_WHITESPACE)
    return stripped[:1] == b"<"


def decode_message(untrusted: bytes | str, *, max_bytes: int = DEFAULT_MAX_XML_BYTES) -> bytes:
    """Autodetect raw XML vs a base64 form value and return the XML bytes (not yet parsed).

    Raises:
        XMLRejected: ``malformed-xml``: not ``str``/``bytes`` (e.g. None or a list from a form dict), a
            ``str`` that is not encodable as UTF-8 (a lone surrogate, as a WSGI server or a decoding with
            ``errors="surrogateescape"`` can produce), or see ``decode_base64``.
    """
    if type(untrusted) is str:
        # Fast path, the usual SAMLResponse: a canonical base64 str (decode_base64's fast-path shape, under its
        # cap on the encoded length), decoded by pybase64 straight from the str, without a UTF-8 copy of the
        # ~9 KB value or decode_base64's call (~4 µs per login with b64_text's, bench/verify.py). A base64 str
        # never reads as XML (no "<", no whitespace), and anything pybase64 refuses, or a result over
        # max_bytes, goes the general way below, which decides (test_base64_strict.py compares the two).
        decoded = _canonical_text(untrusted) if 0 < len(untrusted) <= _encoded_limit(max_bytes) else None
        if decoded is not None and len(decoded) <= max_bytes:
            return decoded
    if isinstance(untrusted, str):
        try:
            raw = untrusted.encode("utf-8")
        except UnicodeEncodeError:
            raise _malformed("the SAML message is not valid text (it holds a lone surrogate)") from None
    elif isinstance(untrusted, bytes | bytearray | memoryview):
        raw = bytes(untrusted)
    else:
        raise _malformed(f"the SAML message is a {type(untrusted).__name__}, not text")
    if raw.lstrip(_UTF8_BOM).lstrip(_WHITESPACE)[:1] == b"<":  # looks_like_xml(raw), inline
        return raw
    return decode_base64(raw, max_bytes=max_bytes)
