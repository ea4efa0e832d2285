"""The three verifiers of the differential test, reduced to one question each.

The question: "does this enveloped ds:Signature, on this element, verify with this certificate?"
Each oracle answers with an :class:`Opinion`:

* ``fedlib``: ``verify_enveloped_signature`` with ``allow_sha1=True`` and TrustAnchors holding only the
  given certificate. Returns: VALID; ``invalid-signature``: INVALID; any other code: REFUSED (a profile
  rule said no before or instead of the crypto). ``missing-certificate`` / ``untrusted-certificate`` are
  trust decisions, not crypto: for those the oracle asks again with the given certificate written into
  KeyInfo (KeyInfo is inside the Signature, which the enveloped transform removes, so this does not touch
  what is digested or signed) and reports that second answer, noting the substitution.
* ``signxml``: ``XMLVerifier.verify`` with ``x509_cert`` (so KeyInfo is never a key source), every
  algorithm allowed (SHA-1 included), the Signature located exactly, certificate dates ignored.
  InvalidDigest / a failed signature check: INVALID; anything else it raises is a refusal of the shape
  (REFUSED, i.e. no opinion), recorded with its message. Three signxml defects are kept out of its answers:
  its XSD rejects every SignedInfo InclusiveNamespaces (schema validation is off: the question is crypto);
  lxml's spurious ``xmlns=""`` in inclusive c14n of a subtree is excised (exact when the document never
  undeclares the default namespace); and inclusive c14n under ancestors carrying ``xml:*`` attributes, which
  signxml computes out of context, is REFUSED.
* ``xmlsec1``: the Debian CLI, ``--verify --pubkey-cert-pem``, with every KeyInfo key source disabled
  (``--enabled-key-data raw-x509-cert``: only a RetrievalMethod of that type could add a key, and none is
  ever followed, see ``--enabled-retrieval-uris``), the start node set by an exact XPath to the very
  Signature under test. ``OK``: VALID; ``FAIL`` (processed, status invalid): INVALID; ``ERROR`` or any
  other failure: REFUSED.
* fedlib's crashes (anything raised but a fedlib rejection) are recorded as ``crashed`` opinions.

Without the KeyInfo lockdown the CLI takes keys from the document: the corpus's HMAC attack
"verifies" with the KeyValue it carries (manifest ``how_verified`` records exactly that).
"""

from __future__ import annotations

import atexit
import enum
import os
import re
import shutil
import subprocess
import tempfile
import threading
import traceback
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree
from signxml import SignatureConfiguration, XMLVerifier
from signxml.algorithms import DigestAlgorithm, SignatureMethod
from signxml.exceptions import InvalidDigest, InvalidSignature

from fedlib._xml.parse import parse_xml
from fedlib.constants import DS_KEY_INFO, DS_SIGNATURE, DS_X509_CERTIFICATE, DS_X509_DATA, NS_DS, NS_SAML, NS_SAMLP
from fedlib.errors import ErrorCode, ResponseRejected, SignatureRejected
from fedlib.xmldsig import TrustAnchors, verify_enveloped_signature

XMLSEC1 = shutil.which("xmlsec1")


class Verdict(enum.StrEnum):
    VALID = "VALID"
    INVALID = "INVALID"
    REFUSED = "REFUSED"
    """fedlib: refused by a profile rule. A reference: refused the shape or errored, i.e. no opinion."""


@dataclass(frozen=True)
class Opinion:
    verdict: Verdict
    detail: str = ""
    code: ErrorCode | None = None
    """fedlib only: the rejection code."""
    rule: str | None = None
    """fedlib only: the function that raised (``profile.parse_transforms``, ``verify.canonicalize``...)."""
    crashed: bool = False
    """fedlib only: it raised something other than a fedlib rejection (always a bug; the test fails)."""

    def __str__(self) -> str:
        text = self.verdict.value
        if self.code is not None:
            text += f" [{self.code.value} @ {self.rule}]"
        if self.detail:
            text += f" ({self.detail})"
        return text


@dataclass(frozen=True)
class Target:
    """Which Signature to verify: the ``index``-th ds:Signature child of the document element
    (``assertion=False``) or of the document element's first saml:Assertion child (``assertion=True``)."""

    assertion: bool = False
    index: int = 0

    def __str__(self) -> str:
        where = "Assertion" if self.assertion else "Response"
        return f"{where}/Signature[{self.index + 1}]"

    def locate(self, root: etree._Element) -> tuple[etree._Element, etree._Element]:
        parent = root.find(f"{{{NS_SAML}}}Assertion") if self.assertion else root
        if parent is None:
            raise LookupError(f"no {self}")
        signatures = [child for child in parent if child.tag == DS_SIGNATURE]
        if len(signatures) <= self.index:
            raise LookupError(f"no {self}")
        return parent, signatures[self.index]

    def xpath(self) -> str:
        """An XPath 1.0 expression for xmlsec1 --node-xpath that selects exactly this Signature."""
        sig = f"*[local-name()='Signature' and namespace-uri()='{NS_DS}'][{self.index + 1}]"
        if self.assertion:
            return f"/*/*[local-name()='Assertion' and namespace-uri()='{NS_SAML}'][1]/{sig}"
        return f"/*/{sig}"

    def signxml_location(self) -> str | None:
        """signxml finds the first ds:Signature under ``location``; None when that is not this one."""
        if self.index != 0:
            return None
        return f"./{{{NS_SAML}}}Assertion/" if self.assertion else "./"


def signature_targets(xml: bytes) -> list[Target]:
    """Every enveloped-signature position of interest in a Response: its own, then its Assertion's."""
    try:
        root = etree.fromstring(xml, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return []
    out = [Target(False, i) for i, _ in enumerate(root.iterchildren(DS_SIGNATURE))]
    assertion = root.find(f"{{{NS_SAML}}}Assertion")
    if assertion is not None:
        out += [Target(True, i) for i, _ in enumerate(assertion.iterchildren(DS_SIGNATURE))]
    return out


# --------------------------------------------------------------------------------------------------
# fedlib


def _raising_rule(exc: BaseException) -> str:
    """``module.function`` of the frame that raised (rules do ``raise _fail(...)``, so it is the rule)."""
    frames = traceback.extract_tb(exc.__traceback__)
    last = frames[-1]
    return f"{Path(last.filename).stem}.{last.name}"


def _with_certificate(xml: bytes, target: Target, cert: x509.Certificate) -> bytes:
    """The same document with the target signature's KeyInfo replaced by one X509Certificate."""
    root = parse_xml(xml)
    _, signature = target.locate(root)
    for key_info in signature.findall(DS_KEY_INFO):
        signature.remove(key_info)  # lxml removes its tail text too: inside the Signature, so never digested
    key_info = etree.SubElement(signature, DS_KEY_INFO)
    data = etree.SubElement(key_info, DS_X509_DATA)
    der = cert.public_bytes(Encoding.DER)
    etree.SubElement(data, DS_X509_CERTIFICATE).text = __import__("base64").b64encode(der).decode()
    return etree.tostring(root)


def fedlib_opinion(xml: bytes, cert: x509.Certificate, target: Target, *, _substituted: str = "") -> Opinion:
    try:
        root = parse_xml(xml)
        parent, signature = target.locate(root)
        verify_enveloped_signature(parent, signature, TrustAnchors.from_certificates([cert]), allow_sha1=True)
    except SignatureRejected as exc:
        rule = _raising_rule(exc)
        if exc.code in (ErrorCode.MISSING_CERTIFICATE, ErrorCode.UNTRUSTED_CERTIFICATE) and not _substituted:
            again = fedlib_opinion(_with_certificate(xml, target, cert), cert, target, _substituted=exc.code.value)
            return again
        verdict = Verdict.INVALID if exc.code is ErrorCode.INVALID_SIGNATURE else Verdict.REFUSED
        note = f"{exc.message}" + (f"; KeyInfo := given cert (was {_substituted})" if _substituted else "")
        return Opinion(verdict, note, code=exc.code, rule=rule)
    except ResponseRejected as exc:  # XML-level refusal (malformed, DTD)
        return Opinion(Verdict.REFUSED, exc.message, code=exc.code, rule=_raising_rule(exc))
    except Exception as exc:  # a crash: recorded (and failed by the test) without hiding the other vectors
        detail = f"CRASH {type(exc).__name__}: {str(exc)[:200]}"
        return Opinion(Verdict.REFUSED, detail, rule=_raising_rule(exc), crashed=True)
    note = f"KeyInfo := given cert (was {_substituted})" if _substituted else ""
    return Opinion(Verdict.VALID, note)


# --------------------------------------------------------------------------------------------------
# signxml

_ALL_SIGNATURE_METHODS = frozenset(SignatureMethod)
_ALL_DIGESTS = frozenset(DigestAlgorithm)


_XML_ATTRIBUTE = "{http://www.w3.org/XML/1998/namespace}"
_EXCLUSIVE_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
_ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
_EMPTY_DEFAULT_NAMESPACE = re.compile(rb"""xmlns\s*=\s*(""|'')""")


def _inherits_xml_attributes(element: etree._Element) -> bool:
    return any(str(name).startswith(_XML_ATTRIBUTE) for above in element.iterancestors() for name in above.attrib)


def _inclusive(algorithm: str | None) -> bool:
    return algorithm is not None and not algorithm.startswith(_EXCLUSIVE_C14N)


def _signxml_blind_spot(xml: bytes, target: Target) -> str | None:
    """Why signxml's answer would not be about this signature, or None.

    signxml canonicalises SignedInfo and the referenced element from *serialised copies* (``verifier.py``:
    ``self._fromstring(self._tostring(...))``), so inclusive c14n of either loses the ``xml:*`` attributes of
    their ancestors, which C14N 1.0 §2.4 / 1.1 §2.4 make part of the canonical form (its own signer does the
    same, so its signatures agree with it and with nobody else). That is a question signxml cannot answer.
    """
    try:
        root = etree.fromstring(xml, etree.XMLParser(resolve_entities=False, no_network=True))
        parent, signature = target.locate(root)
    except (etree.XMLSyntaxError, LookupError):
        return None
    signed_info = signature.find(f"{{{NS_DS}}}SignedInfo")
    if signed_info is None:
        return None
    method = signed_info.find(f"{{{NS_DS}}}CanonicalizationMethod")
    if method is not None and _inclusive(method.get("Algorithm")) and _inherits_xml_attributes(signed_info):
        return "signxml drops the xml:* attributes SignedInfo inherits (inclusive c14n out of context)"
    transforms = signed_info.findall(f"{{{NS_DS}}}Reference/{{{NS_DS}}}Transforms/{{{NS_DS}}}Transform")
    c14n = [t.get("Algorithm") for t in transforms if t.get("Algorithm") != _ENVELOPED]
    if (not c14n or _inclusive(c14n[0])) and _inherits_xml_attributes(parent):
        return "signxml drops the xml:* attributes the signed element inherits (inclusive c14n out of context)"
    return None


def signxml_opinion(xml: bytes, cert: x509.Certificate, target: Target) -> Opinion:
    location = target.signxml_location()
    if location is None:
        return Opinion(Verdict.REFUSED, "signxml can only address the first ds:Signature at a location")
    blind_spot = _signxml_blind_spot(xml, target)
    if blind_spot is not None:
        return Opinion(Verdict.REFUSED, blind_spot)
    # Any instant inside the certificate's validity: signxml checks dates even for a pinned x509_cert.
    moment = cert.not_valid_before_utc + (cert.not_valid_after_utc - cert.not_valid_before_utc) / 2
    config = SignatureConfiguration(
        require_x509=True,
        location=location,
        expect_references=1,
        signature_methods=_ALL_SIGNATURE_METHODS,
        digest_algorithms=_ALL_DIGESTS,
        ignore_ambiguous_key_info=True,
        verification_time=moment,
    )
    verifier = XMLVerifier()
    # lxml's inclusive c14n of a non-root element emits a spurious xmlns="" on grandchildren when a default
    # namespace is declared above it (the defect fedlib works around, see docs/architecture.md); signxml hits
    # it for SignedInfo and for inclusively canonicalised references (e.g. the corpus's Beeline response).
    # signxml's own switch deletes every xmlns="" from inclusive output, which is exact when the document
    # never undeclares the default namespace (then no xmlns="" belongs in any canonical form).
    verifier.excise_empty_xmlns_declarations = _EMPTY_DEFAULT_NAMESPACE.search(xml) is None
    try:
        # validate_schema=False: signxml's bundled XSD has no declaration for ec:InclusiveNamespaces and
        # CanonicalizationMethod's wildcard is strict, so with it every SignedInfo PrefixList is "schema-invalid".
        # The question here is cryptographic; fedlib's profile judges shapes.
        verifier.verify(xml, x509_cert=cert, expect_config=config, validate_schema=False)
    except InvalidDigest as exc:
        return Opinion(Verdict.INVALID, f"InvalidDigest: {exc}")
    except InvalidSignature as exc:
        message = str(exc)
        if message.startswith("Signature verification failed") or "byte SignatureValue" in message:
            return Opinion(Verdict.INVALID, f"InvalidSignature: {message}")
        return Opinion(Verdict.REFUSED, f"InvalidSignature: {message}")
    except Exception as exc:  # InvalidInput, lxml errors...: signxml has no opinion
        return Opinion(Verdict.REFUSED, f"{type(exc).__name__}: {str(exc)[:200]}")
    return Opinion(Verdict.VALID)


# --------------------------------------------------------------------------------------------------
# xmlsec1

_XMLSEC1_BASE = (
    "--verify",
    "--enabled-key-data",
    "raw-x509-cert",
    "--enabled-reference-uris",
    "empty,same-doc",
    "--id-attr:ID",
    f"{NS_SAMLP}:Response",
    "--id-attr:ID",
    f"{NS_SAML}:Assertion",
)
_NOISE = re.compile(r"x509vfy\.c|^\s*$")
# No certificate chain is ever verified (the key comes from --pubkey-cert-pem, X509Data is disabled), yet at start-up
# OpenSSL would load the system CA bundle: ~35 of the ~40 ms CPU each call costs. Point it at nothing.
_XMLSEC1_ENV = {**os.environ, "SSL_CERT_FILE": os.devnull, "SSL_CERT_DIR": os.devnull}
_workdir_lock = threading.Lock()
_workdir: Path | None = None


def _tmp() -> Path:
    global _workdir
    with _workdir_lock:
        if _workdir is None:
            _workdir = Path(tempfile.mkdtemp(prefix="fedlib-differential-"))
            atexit.register(shutil.rmtree, _workdir, True)
        return _workdir


def xmlsec1_opinion(xml: bytes, cert: x509.Certificate, target: Target) -> Opinion:
    assert XMLSEC1 is not None
    fd, name = tempfile.mkstemp(suffix=".xml", dir=_tmp())
    with os.fdopen(fd, "wb") as f:
        f.write(xml)
    cert_fd, cert_name = tempfile.mkstemp(suffix=".pem", dir=_tmp())
    with os.fdopen(cert_fd, "wb") as f:
        f.write(cert.public_bytes(Encoding.PEM))
    try:
        proc = subprocess.run(
            [XMLSEC1, *_XMLSEC1_BASE, "--node-xpath", target.xpath(), "--pubkey-cert-pem", cert_name, name],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            env=_XMLSEC1_ENV,
        )
    finally:
        os.unlink(name)
        os.unlink(cert_name)
    lines = [line.strip() for line in proc.stderr.splitlines() if not _NOISE.search(line)]
    status = next((line for line in lines if line in ("OK", "FAIL", "ERROR")), None)
    errors = [line for line in lines if line.startswith(("func=", "Error:"))]
    detail = "; ".join(_short(line) for line in errors[:3])
    if status == "OK" and proc.returncode == 0:
        return Opinion(Verdict.VALID)
    if status == "FAIL":
        return Opinion(Verdict.INVALID, detail)
    return Opinion(Verdict.REFUSED, f"rc={proc.returncode} {status or ''} {detail}".strip())


def _short(line: str) -> str:
    match = re.search(r"error=\d+:([^:]*(?::[^:]*)?)", line)
    return match.group(1) if match else line[:160]


# --------------------------------------------------------------------------------------------------
# running all three


@dataclass(frozen=True)
class Vector:
    id: str
    xml: bytes
    cert: x509.Certificate
    target: Target = field(default_factory=Target)
    expect: Verdict | None = None
    """What the vector was built to be (generated vectors), or None (corpus)."""


@dataclass(frozen=True)
class Result:
    vector: Vector
    fedlib: Opinion
    signxml: Opinion
    xmlsec1: Opinion

    def describe(self) -> str:
        return (
            f"{self.vector.id} <{self.vector.target}>\n"
            f"    fedlib : {self.fedlib}\n"
            f"    signxml: {self.signxml}\n"
            f"    xmlsec1: {self.xmlsec1}"
        )


def run_all(vectors: Sequence[Vector]) -> dict[str, Result]:
    """All three opinions on every vector; xmlsec1 subprocesses run in a thread pool meanwhile."""
    with ThreadPoolExecutor(max_workers=max(4, (os.cpu_count() or 2) * 2)) as pool:
        futures = [pool.submit(xmlsec1_opinion, v.xml, v.cert, v.target) for v in vectors]
        out: dict[str, Result] = {}
        for vector, future in zip(vectors, futures, strict=True):
            fed = fedlib_opinion(vector.xml, vector.cert, vector.target)
            sx = signxml_opinion(vector.xml, vector.cert, vector.target)
            assert vector.id not in out, f"duplicate vector id {vector.id}"
            out[vector.id] = Result(vector, fed, sx, future.result())
    return out


def ids(vectors: Iterable[Vector]) -> list[str]:
    return [v.id for v in vectors]
