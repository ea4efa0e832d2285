"""SAML 2.0 HTTP bindings (SAML Bindings §3.4 HTTP-Redirect, §3.5 HTTP-POST): encoders and decoders.

Sans-I/O: strings and bytes in, strings out. Adapters put the URL in a ``Location`` header or the HTML
in a response body, and hand the *raw* query string (``QUERY_STRING`` / ``request.query_string``, never
a re-encoded one) to the decoders.

HTTP-Redirect signatures (§3.4.4.1) are over the octets ``SAMLRequest=<v>&RelayState=<v>&SigAlg=<v>``
(``SAMLResponse`` for responses; RelayState only if present) with each value *as URL-encoded on the
wire*. URL-encoding is not canonical (``%2F`` and ``%2f`` are the same character; AD FS and Entra ID
emit lower case), so a verifier that decodes and re-encodes computes different octets and rejects valid
messages. ``parse_redirect_query`` therefore keeps every value's raw text and builds the signed octets
from it, and ``verify_redirect_signature`` verifies exactly those.

Invariants:
- Untrusted queries are capped in length before any work (``MAX_REDIRECT_QUERY_CHARS``, 64 KiB, and
  what ``max_bytes`` needs, whichever is smaller); the message is inflated with an output cap
  (``fedlib._xml.parse.inflate``) and its base64 decoded strictly.
- A parameter the binding defines appearing twice rejects the query (``malformed-xml``): two
  SAMLRequest or two Signature values mean two readings of one URL.
- Signature algorithms come from ``fedlib.xmldsig.algorithms``; SHA-1 only with ``allow_sha1``.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import html
import re
import zlib
from dataclasses import dataclass
from typing import Final, Literal
from urllib.parse import quote, unquote, unquote_plus, urlsplit

from cryptography.hazmat.primitives.asymmetric import ec, utils
from lxml import etree

from fedlib._xml.parse import DEFAULT_MAX_XML_BYTES, b64_text, decode_base64, inflate, parse_xml
from fedlib.constants import URL_ENCODING_DEFLATE
from fedlib.errors import ConfigurationError, ErrorCode, ResponseRejected, SignatureRejected, XMLRejected, reject
from fedlib.xmldsig.algorithms import ECDSA_METHODS, SignatureMethod, allowed_signature_methods
from fedlib.xmldsig.sign import Signer, sign_enveloped
from fedlib.xmldsig.trust import TrustAnchors, TrustedKey
from fedlib.xmldsig.verify import verify_signature_value

MessageParameter = Literal["SAMLRequest", "SAMLResponse"]
"""The form/query parameter that carries the message."""

#: SAML Bindings §3.4.3 / §3.5.3: "RelayState data MUST NOT exceed 80 bytes in length".
MAX_RELAY_STATE_BYTES: Final = 80

_MESSAGE_PARAMETERS: Final = ("SAMLRequest", "SAMLResponse")
_BINDING_PARAMETERS: Final = frozenset({*_MESSAGE_PARAMETERS, "RelayState", "SigAlg", "Signature", "SAMLEncoding"})

#: The one inline script of the POST form. Fixed text, so a page can allow exactly it with
#: ``Content-Security-Policy: script-src 'sha256-...'`` (``POST_FORM_SCRIPT_CSP_SOURCE``), no nonce needed.
POST_FORM_SCRIPT: Final = "document.forms[0].submit();"
POST_FORM_SCRIPT_CSP_SOURCE: Final = (
    "'sha256-" + base64.b64encode(hashlib.sha256(POST_FORM_SCRIPT.encode("ascii")).digest()).decode("ascii") + "'"
)
"""The CSP source expression (``'sha256-…'``) that allows ``POST_FORM_SCRIPT`` and nothing else."""

_SIGNATURE_METHOD_BY_URI: Final = {m.value: m for m in SignatureMethod}


#: Cap on an untrusted HTTP-Redirect query string, in characters, whatever ``max_bytes`` allows. A real
#: Redirect message is a few KB (a deflated AuthnRequest/LogoutRequest/LogoutResponse ~0.5-2 KB in
#: base64, a Signature 344-684 characters, RelayState <= 80 bytes); web servers refuse request lines
#: past 8-16 KB by default (Apache 8190, nginx 8 KiB, IIS 16 KiB). URL-decoding is a Python loop per
#: ``%XX`` escape (~0.5 us), so the old cap (~1 MB, derived from ``max_bytes``) let one query cost
#: ~150 ms before any check (bench/hostile.py "DEFLATE bomb"); 64 KiB bounds it at a few ms.
MAX_REDIRECT_QUERY_CHARS: Final = 64 * 1024


def _max_query_chars(max_bytes: int) -> int:
    # Incompressible worst case: max_bytes of DEFLATE output, base64 (4/3), every character
    # percent-encoded (x3), plus room for RelayState, SigAlg and Signature; never above the fixed cap.
    return min((max_bytes + 2) // 3 * 4 * 3 + 8192, MAX_REDIRECT_QUERY_CHARS)


def _malformed(message: str, detail: str | None = None) -> XMLRejected:
    err = reject(ErrorCode.MALFORMED_XML, message, detail=detail, element="query")
    assert isinstance(err, XMLRejected)
    return err


def _signature_failure(code: ErrorCode, message: str, detail: str | None = None) -> SignatureRejected:
    err = reject(code, message, detail=detail, element="Signature")
    assert isinstance(err, SignatureRejected)
    return err


# --------------------------------------------------------------------------------------------------
# Encoding (outgoing messages)


# Any character for which str.isspace() is true (``\s`` in a str pattern is exactly that set) or below U+0020:
# one C-level scan instead of a Python loop per character (start_login runs this twice, bench/login.py).
_WHITESPACE_OR_CONTROL: Final = re.compile(r"[\x00-\x1f\s]")


@functools.lru_cache(maxsize=256)  # a pure check of a few configured URLs, made for every message sent
def check_destination(url: str) -> str:
    """Return ``url`` if it can be a binding endpoint: absolute http(s), no fragment (``ValueError``).

    This also keeps ``javascript:`` and relative URLs out of the POST form's ``action``.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc or parts.fragment or "#" in url:
        raise ValueError(f"the destination must be an absolute http(s) URL without a fragment, got {url!r}")
    if _WHITESPACE_OR_CONTROL.search(url):
        raise ValueError("the destination URL contains whitespace or control characters")
    return url


def check_relay_state(relay_state: str | None) -> None:
    """RelayState is at most 80 bytes of UTF-8 (SAML Bindings §3.4.3, §3.5.3) (``ValueError``).

    Keep application state (the page to return to) server-side and send an opaque key.
    """
    if relay_state is not None and len(relay_state.encode("utf-8")) > MAX_RELAY_STATE_BYTES:
        raise ValueError(
            f"RelayState is {len(relay_state.encode('utf-8'))} bytes; SAML allows {MAX_RELAY_STATE_BYTES}. "
            "Store the state server-side and send an opaque reference"
        )


def _check_parameter(parameter: str) -> None:
    if parameter not in _MESSAGE_PARAMETERS:
        raise ValueError(f"parameter must be SAMLRequest or SAMLResponse, not {parameter!r}")


def _url_encode(value: str) -> str:
    # Every reserved character percent-encoded, upper-case hex (RFC 3986 §2.1 recommends upper case).
    return quote(value, safe="")


# What quote(safe="") never encodes (RFC 3986 unreserved): a text of these alone is its own URL encoding.
_UNRESERVED: Final = re.compile(r"[A-Za-z0-9_.~-]*")


def _url_encode_base64(value: str) -> str:
    # _url_encode of a base64 text, whose only reserved characters are these three (same output, no loop).
    return value.replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")


def deflate_and_encode(xml: bytes) -> str:
    """Raw DEFLATE (RFC 1951, no zlib header) then base64: the HTTP-Redirect message encoding.

    A 4 KiB window (``wbits=-12``, ``memLevel=4``): a raw DEFLATE stream does not state its window, and
    any inflater decodes it (distances stay within what every window size allows). Setting up zlib's
    default 32 KiB window and 128 KiB of hash tables cost ~50 µs per message, more than the rest of a
    login request; the ~1 KB requests and logout messages compress the same."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -12, 4)
    # base64.b64encode's own call (binascii, no newline), without its Python-level frame
    return binascii.b2a_base64(compressor.compress(xml) + compressor.flush(), newline=False).decode("ascii")


def redirect_query(
    xml: bytes,
    *,
    parameter: MessageParameter = "SAMLRequest",
    relay_state: str | None = None,
    signer: Signer | None = None,
) -> str:
    """The HTTP-Redirect query string (without ``?``) carrying ``xml``.

    ``SAMLRequest`` (or ``SAMLResponse``), then ``RelayState`` if given, then with a ``signer``
    ``SigAlg`` and ``Signature``, the signature computed over exactly the preceding octets
    (SAML Bindings §3.4.4.1). ``xml`` must not carry an XML signature of its own (the binding forbids it).

    Raises:
        ValueError: unknown parameter, RelayState over 80 bytes.
    """
    _check_parameter(parameter)
    check_relay_state(relay_state)
    query = f"{parameter}={_url_encode_base64(deflate_and_encode(xml))}"
    if relay_state is not None:
        query += f"&RelayState={_url_encode(relay_state)}"
    if signer is not None:
        query += f"&SigAlg={_url_encode(signer.method.value)}"
        signature = base64.b64encode(signer.sign(query.encode("ascii"))).decode("ascii")
        query += f"&Signature={_url_encode_base64(signature)}"
    return query


def encode_redirect(
    destination: str,
    xml: bytes,
    *,
    parameter: MessageParameter = "SAMLRequest",
    relay_state: str | None = None,
    signer: Signer | None = None,
) -> str:
    """The URL to redirect the browser to: ``destination`` plus ``redirect_query(...)``.

    A query already in ``destination`` is kept (the binding parameters are appended after it; they are
    the only ones signed).

    Raises:
        ValueError: a destination that is not an absolute http(s) URL, or see ``redirect_query``.
    """
    check_destination(destination)
    # The usual query (start_login's: unsigned, a RelayState of unreserved characters, which quote leaves as
    # they are) without redirect_query's calls; anything else is built by it. The same text either way
    # (tests/unit/protocol/test_request_fast_paths.py).
    if (
        signer is None
        and parameter in _MESSAGE_PARAMETERS
        and (
            relay_state is None
            or (
                type(relay_state) is str
                and len(relay_state) <= MAX_RELAY_STATE_BYTES
                and _UNRESERVED.fullmatch(relay_state) is not None
            )
        )
    ):
        # _url_encode_base64, inline
        query = parameter + "=" + deflate_and_encode(xml).replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")
        if relay_state is not None:
            query += "&RelayState=" + relay_state
    else:
        query = redirect_query(xml, parameter=parameter, relay_state=relay_state, signer=signer)
    if "?" not in destination:
        return f"{destination}?{query}"
    return f"{destination}{'' if destination.endswith(('?', '&')) else '&'}{query}"


def encode_post_form(
    destination: str,
    xml: bytes,
    *,
    parameter: MessageParameter = "SAMLRequest",
    relay_state: str | None = None,
    auto_submit: bool = True,
    script_nonce: str | None = None,
) -> str:
    """An HTML page that POSTs ``xml`` (base64) to ``destination`` (SAML Bindings §3.5).

    The page works in three situations:

    - scripts run: one fixed inline script submits the form on load. It is ``POST_FORM_SCRIPT``; serve
      the page with ``Content-Security-Policy: script-src POST_FORM_SCRIPT_CSP_SOURCE`` (its hash), or
      pass ``script_nonce`` to tag it with your CSP nonce. There are no inline event handlers;
    - scripts disabled: a ``<noscript>`` note asks the user to press the button;
    - scripts blocked by CSP (``script-src 'none'``, or a policy that does not allow the script): the
      browser then still counts scripting as *enabled* and does not render ``<noscript>``, so the submit
      button is always visible rather than hidden inside ``<noscript>``; pressing it submits the form.
      ``auto_submit=False`` leaves the script out altogether.

    Every value is HTML-escaped (attribute context, quotes included); the form's action must be an
    absolute http(s) URL. With a signing key, sign the XML first (``AuthnRequest.post_form`` does).

    Raises:
        ValueError: bad destination, unknown parameter, RelayState over 80 bytes, or a nonce that is
            not a plain token.
    """
    check_destination(destination)
    # The usual page (start_login's: the default options, a RelayState with nothing to escape) is its cached
    # frame around the two values, without the calls below; anything else is built by them. The same text
    # either way (tests/unit/protocol/test_request_fast_paths.py).
    if (
        auto_submit
        and script_nonce is None
        and type(relay_state) is str
        and relay_state.isascii()
        and len(relay_state) <= MAX_RELAY_STATE_BYTES
        and _PLAIN_ATTRIBUTE_VALUE.fullmatch(relay_state) is not None
        and parameter in _MESSAGE_PARAMETERS
    ):
        head, middle, tail = _post_form_frame(destination, parameter)
        return head + binascii.b2a_base64(xml, newline=False).decode("ascii") + middle + relay_state + tail
    _check_parameter(parameter)
    check_relay_state(relay_state)
    if script_nonce is not None and (
        not script_nonce or not all(c.isascii() and (c.isalnum() or c in "+/=-_") for c in script_nonce)
    ):
        raise ValueError("script_nonce must be a base64 / base64url token")
    esc = html.escape
    script = ""
    if auto_submit:
        nonce = f' nonce="{esc(script_nonce)}"' if script_nonce is not None else ""
        script = f"<script{nonce}>{POST_FORM_SCRIPT}</script>\n"
    # base64 text has nothing to escape in an attribute value ([A-Za-z0-9+/=])
    message = base64.b64encode(xml).decode("ascii")
    return _post_form_page(
        esc(destination), parameter, message, None if relay_state is None else esc(relay_state), script
    )


# A RelayState that html.escape (quote=True) leaves as it is: none of & < > " '.
_PLAIN_ATTRIBUTE_VALUE: Final = re.compile(r"[^&<>\"']*")
_DEFAULT_SCRIPT: Final = f"<script>{POST_FORM_SCRIPT}</script>\n"


def _post_form_page(
    escaped_destination: str, parameter: str, message: str, escaped_relay: str | None, script: str
) -> str:
    """The POST binding's page around its already escaped values (``encode_post_form``)."""
    fields = [f'<input type="hidden" name="{parameter}" value="{message}">']
    if escaped_relay is not None:
        fields.append(f'<input type="hidden" name="RelayState" value="{escaped_relay}">')
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n'
        "<head>\n"
        '<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="referrer" content="no-referrer">\n'
        "<title>Continue to sign in</title>\n"
        "</head>\n"
        "<body>\n"
        f'<form method="post" action="{escaped_destination}">\n'
        + "\n".join(fields)
        + "\n<noscript><p>JavaScript is turned off in this browser. Press Continue to go on.</p></noscript>\n"
        '<button type="submit">Continue</button>\n'
        "</form>\n" + script + "</body>\n"
        "</html>\n"
    )


@functools.lru_cache(maxsize=256)  # a few configured endpoints
def _post_form_frame(destination: str, parameter: str) -> tuple[str, str, str]:
    """The usual page for ``destination`` (checked: no control characters) cut around the message and the
    RelayState: the page written with the two control characters in their places, split there."""
    page = _post_form_page(html.escape(destination), parameter, "\x00", "\x01", _DEFAULT_SCRIPT)
    head, rest = page.split("\x00")
    middle, tail = rest.split("\x01")
    return head, middle, tail


class OutgoingMessage:
    """Mixin of the SP's built messages (``AuthnRequest``, ``LogoutMessage``): unsigned ``xml`` for
    ``destination``, signed by the binding that sends it (the query for HTTP-Redirect, an enveloped
    signature for HTTP-POST) when given a ``Signer``."""

    __slots__ = ()
    xml: bytes
    destination: str

    @property
    def message_parameter(self) -> MessageParameter:
        """``SAMLRequest`` (requests) or ``SAMLResponse`` (responses)."""
        return "SAMLRequest"

    def signed_xml(self, signer: Signer) -> bytes:
        """The message with an enveloped signature after its Issuer (for the HTTP-POST binding)."""
        root = parse_xml(self.xml)
        sign_enveloped(root, signer)
        return etree.tostring(root, encoding="UTF-8", xml_declaration=False)

    def redirect_url(self, *, relay_state: str | None = None, signer: Signer | None = None) -> str:
        """The HTTP-Redirect URL for this message; with a ``signer`` (``sp.signer``) the query is signed.

        Raises:
            ValueError: RelayState over 80 bytes.
        """
        return encode_redirect(
            self.destination, self.xml, parameter=self.message_parameter, relay_state=relay_state, signer=signer
        )

    def post_form(
        self,
        *,
        relay_state: str | None = None,
        signer: Signer | None = None,
        auto_submit: bool = True,
        script_nonce: str | None = None,
    ) -> str:
        """The HTTP-POST page for this message; with a ``signer`` the XML carries an enveloped signature.

        See ``encode_post_form`` for the page and its CSP.
        """
        xml = self.signed_xml(signer) if signer is not None else self.xml
        return encode_post_form(
            self.destination,
            xml,
            parameter=self.message_parameter,
            relay_state=relay_state,
            auto_submit=auto_submit,
            script_nonce=script_nonce,
        )


# --------------------------------------------------------------------------------------------------
# Decoding (incoming messages: logout, and IdP-side tests)


@dataclass(frozen=True, slots=True, kw_only=True)
class RedirectQuery:
    """The binding parameters of an HTTP-Redirect query, split without re-encoding anything.

    ``*_raw`` fields are the text exactly as received (still URL-encoded); the others are decoded.
    Nothing here is verified: see ``verify_redirect_signature``.
    """

    parameter: MessageParameter
    """Which parameter carried the message."""

    message: str
    """The base64 message (URL-decoded; still DEFLATE-compressed)."""

    relay_state: str | None
    """RelayState, URL-decoded (``+`` read as a space, as HTML forms encode it); None if absent."""

    sig_alg: str | None
    """The SigAlg URI, URL-decoded; None if absent."""

    signature: str | None
    """The base64 Signature, URL-decoded; None if absent."""

    signed_octets: bytes
    """``<parameter>=<raw>[&RelayState=<raw>][&SigAlg=<raw>]``: what a Redirect signature covers."""

    def decode(self, *, max_bytes: int = DEFAULT_MAX_XML_BYTES) -> bytes:
        """The message XML: strict base64, then inflate with an output cap (``malformed-xml``). Not parsed."""
        deflated = decode_base64(self.message, max_bytes=max_bytes)
        return inflate(deflated, max_bytes=max_bytes)


def _unquote(raw: str, *, plus_is_space: bool = False) -> str:
    try:
        return unquote_plus(raw, errors="strict") if plus_is_space else unquote(raw, errors="strict")
    except UnicodeDecodeError:
        raise _malformed("a query parameter is not valid UTF-8 once URL-decoded") from None


def parse_redirect_query(raw_query: str | bytes, *, max_bytes: int = DEFAULT_MAX_XML_BYTES) -> RedirectQuery:
    """Split a raw HTTP-Redirect query string (with or without the leading ``?``).

    Parameters other than the binding's (``SAMLRequest``/``SAMLResponse``, ``RelayState``, ``SigAlg``,
    ``Signature``, ``SAMLEncoding``) are ignored; they are not covered by the signature.

    Raises:
        XMLRejected: ``malformed-xml``: too long, not ASCII, no message or two of them, a binding
            parameter repeated, or a ``SAMLEncoding`` other than DEFLATE.
    """
    if isinstance(raw_query, bytes | bytearray):
        try:
            raw_query = bytes(raw_query).decode("ascii")
        except UnicodeDecodeError:
            raise _malformed("the query string contains bytes that are not URL-encoded") from None
    if not isinstance(raw_query, str):
        raise _malformed(f"the query string is a {type(raw_query).__name__}, not text")
    if raw_query.startswith("?"):
        raw_query = raw_query[1:]
    if len(raw_query) > _max_query_chars(max_bytes):
        raise _malformed(f"the query string is {len(raw_query)} characters, over the limit")
    if not raw_query.isascii():
        raise _malformed("the query string contains characters that are not URL-encoded")
    raw: dict[str, str] = {}
    for piece in raw_query.split("&"):
        if not piece:
            continue
        raw_name, _, raw_value = piece.partition("=")
        name = _unquote(raw_name)
        if name not in _BINDING_PARAMETERS:
            continue
        if name in raw:
            raise _malformed(f"the query carries {name} more than once")
        raw[name] = raw_value
    present = [p for p in _MESSAGE_PARAMETERS if p in raw]
    if len(present) != 1:
        raise _malformed(
            "the query carries no SAMLRequest or SAMLResponse"
            if not present
            else "the query carries both SAMLRequest and SAMLResponse"
        )
    parameter: MessageParameter = "SAMLRequest" if present[0] == "SAMLRequest" else "SAMLResponse"
    if "SAMLEncoding" in raw and _unquote(raw["SAMLEncoding"]) != URL_ENCODING_DEFLATE:
        raise _malformed("the message uses a SAMLEncoding other than DEFLATE, which fedlib does not read")
    signed = f"{parameter}={raw[parameter]}"
    if "RelayState" in raw:
        signed += f"&RelayState={raw['RelayState']}"
    if "SigAlg" in raw:
        signed += f"&SigAlg={raw['SigAlg']}"
    return RedirectQuery(
        parameter=parameter,
        message=_unquote(raw[parameter]),
        relay_state=_unquote(raw["RelayState"], plus_is_space=True) if "RelayState" in raw else None,
        sig_alg=_unquote(raw["SigAlg"]) if "SigAlg" in raw else None,
        signature=_unquote(raw["Signature"]) if "Signature" in raw else None,
        signed_octets=signed.encode("ascii"),
    )


def decode_redirect_message(raw_query: str, *, max_bytes: int = DEFAULT_MAX_XML_BYTES) -> bytes:
    """The XML of an HTTP-Redirect message: split, strict base64, inflate capped at ``max_bytes``.

    The XML is neither parsed nor verified; verify the query first when it is signed.

    Raises:
        XMLRejected: ``malformed-xml``.
    """
    return parse_redirect_query(raw_query, max_bytes=max_bytes).decode(max_bytes=max_bytes)


@dataclass(frozen=True, slots=True)
class VerifiedRedirect:
    """An HTTP-Redirect query whose signature verified with a trusted key."""

    query: RedirectQuery
    trusted_key: TrustedKey
    signature_method: SignatureMethod


def _signature_forms(signature: bytes, method: SignatureMethod, key: object) -> tuple[bytes, ...]:
    """The SignatureValue forms to try. ECDSA Redirect signatures arrive as ``r || s`` (the XML-DSig form
    the SigAlg URI defines, which fedlib sends) or DER-encoded (Java stacks sign the query with plain
    JCA); both carry the same (r, s), so a value that parses as DER is also tried as ``r || s``."""
    if method not in ECDSA_METHODS or not isinstance(key, ec.EllipticCurvePublicKey) or signature[:1] != b"\x30":
        return (signature,)
    size = (key.curve.key_size + 7) // 8
    try:
        r, s = utils.decode_dss_signature(signature)
    except ValueError:
        return (signature,)
    if r.bit_length() > 8 * size or s.bit_length() > 8 * size:
        return (signature,)
    return (signature, r.to_bytes(size, "big") + s.to_bytes(size, "big"))


def verify_redirect_signature(
    raw_query: str,
    trust: TrustAnchors,
    *,
    allow_sha1: bool = False,
    max_bytes: int = DEFAULT_MAX_XML_BYTES,
) -> VerifiedRedirect:
    """Verify an HTTP-Redirect signature (SAML Bindings §3.4.4.1) over the octets exactly as received.

    The query carries no key information, so each trusted key (the peer's metadata certificates,
    current and next) whose type fits ``SigAlg`` is tried. ECDSA values are accepted as ``r || s`` or DER.

    Raises:
        SignatureRejected: ``unsigned-message`` (no Signature), ``weak-algorithm`` (SigAlg unknown, or
            SHA-1 without ``allow_sha1``), ``invalid-signature`` (no SigAlg, Signature not base64, or
            no trusted key verifies it).
        XMLRejected: ``malformed-xml`` (see ``parse_redirect_query``).
        ConfigurationError: ``trust`` holds no certificate.
    """
    query = parse_redirect_query(raw_query, max_bytes=max_bytes)
    if query.signature is None:
        raise _signature_failure(
            ErrorCode.UNSIGNED_MESSAGE, f"the HTTP-Redirect {query.parameter} is not signed (no Signature parameter)"
        )
    if query.sig_alg is None:
        raise _signature_failure(ErrorCode.INVALID_SIGNATURE, "the query has a Signature but no SigAlg")
    method = _SIGNATURE_METHOD_BY_URI.get(query.sig_alg)
    if method is None or method not in allowed_signature_methods(allow_sha1=allow_sha1):
        raise _signature_failure(
            ErrorCode.WEAK_ALGORITHM,
            "the query is signed with an algorithm fedlib refuses (it accepts RSA-SHA256/384/512, RSA-PSS and "
            "ECDSA-SHA256/384/512; RSA-SHA1 only where SHA-1 is explicitly allowed)",
            detail=f"SigAlg: {query.sig_alg[:200]!r}",
        )
    signature = b64_text(query.signature)
    if signature is None:
        raise _signature_failure(ErrorCode.INVALID_SIGNATURE, "the Signature parameter is not valid base64")
    if len(trust) == 0:
        raise ConfigurationError("no trusted certificate to verify the HTTP-Redirect signature with")
    for trusted in trust.by_der.values():
        for value in _signature_forms(signature, method, trusted.public_key):
            try:
                verify_signature_value(method, trusted.public_key, value, query.signed_octets)
            except ResponseRejected:
                continue
            return VerifiedRedirect(query=query, trusted_key=trusted, signature_method=method)
    raise _signature_failure(
        ErrorCode.INVALID_SIGNATURE,
        "the HTTP-Redirect signature does not verify with any certificate in the peer's metadata: the query "
        "was altered (or re-encoded) after signing, or signed with another key",
    )


__all__ = [
    "MAX_REDIRECT_QUERY_CHARS",
    "MAX_RELAY_STATE_BYTES",
    "POST_FORM_SCRIPT",
    "POST_FORM_SCRIPT_CSP_SOURCE",
    "MessageParameter",
    "OutgoingMessage",
    "RedirectQuery",
    "VerifiedRedirect",
    "check_destination",
    "check_relay_state",
    "decode_redirect_message",
    "deflate_and_encode",
    "encode_post_form",
    "encode_redirect",
    "parse_redirect_query",
    "redirect_query",
    "verify_redirect_signature",
]
