"""How long does it take to validate one SAML Response? fedlib against its peers and the floor.

One process, one run: the same signed test Response (RSA-2048, RSA-SHA256/SHA-256, Response
signed, ~7 KB, 12 attributes), given to every implementation as the base64 ``SAMLResponse`` form
value, timed per call with ``time.perf_counter_ns`` (warm-up first, GC disabled while timing).

Rows:

* fedlib          ``fedlib.validation.pipeline.validate_response`` -> AuthnResult (full SAML checks + replay store)
* python3-saml    ``OneLogin_Saml2_Response(settings, b64).is_valid(request_data)`` (strict, wantMessagesSigned)
* pysaml2         ``Saml2Client.parse_authn_request_response(b64, BINDING_HTTP_POST)`` (xmlsec1 CLI backend)
* signxml         base64-decode + ``XMLVerifier().verify(...)`` of the Response signature only (no SAML checks)
* floor           base64-decode + lxml parse + exclusive c14n + SHA-256 + c14n(SignedInfo) + RSA verify:
                  the least any correct verifier must do with this input

The last line is machine-readable:
``ratios: fedlib/floor=X.XX python3-saml/fedlib=Y.Y pysaml2/fedlib=Z.Z``.

Usage: ``python bench/verify.py [--quick] [-v] [--iterations N] [--pysaml2-iterations N] [--rounds R] [--pool N]``
(``make bench``; ``make bench BENCH_ARGS=--quick`` for a smoke run). See bench/README.md.
"""

from __future__ import annotations

import argparse
import base64
import gc
import hashlib
import logging
import platform
import shutil
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from lxml import etree

IDP_ENTITY_ID = "https://idp.example.com/"
IDP_SSO_URL = "https://idp.example.com/sso"
SP_ENTITY_ID = "https://sp.example.org/saml/metadata"
SP_HOST = "sp.example.org"
SP_ACS_PATH = "/saml/acs"
ACS_URL = f"https://{SP_HOST}{SP_ACS_PATH}"
NAME_ID = "alice.liddell@example.com"
TAMPERED_NAME_ID = "mallory.hatter@example.com"
LIFETIME = timedelta(hours=1)

DS_NS = "http://www.w3.org/2000/09/xmldsig#"
SAML_NS = "urn:oasis:names:tc:SAML:2.0:assertion"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"

# Twelve attributes, the kind a university or corporate IdP releases (urn:oid names, friendly values).
ATTRIBUTES: dict[str, list[str]] = {
    "urn:oid:0.9.2342.19200300.100.1.3": ["alice.liddell@example.com"],  # mail
    "urn:oid:2.5.4.42": ["Alice"],  # givenName
    "urn:oid:2.5.4.4": ["Liddell"],  # sn
    "urn:oid:2.16.840.1.113730.3.1.241": ["Alice Liddell"],  # displayName
    "urn:oid:0.9.2342.19200300.100.1.1": ["aliddell"],  # uid
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.6": ["aliddell@example.com"],  # eduPersonPrincipalName
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.9": ["member@example.com", "staff@example.com"],  # scopedAffiliation
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.10": ["https://idp.example.com/!https://sp.example.org!c2e8f1a9d4b7"],
    "urn:oid:2.5.4.11": ["Research and Development"],  # ou
    "urn:oid:2.5.4.12": ["Senior Engineer"],  # title
    "urn:oid:2.16.840.1.113730.3.1.3": ["E-104729"],  # employeeNumber
    "urn:oid:1.3.6.1.4.1.5923.1.5.1.1": [  # isMemberOf
        "cn=engineering,ou=groups,dc=example,dc=com",
        "cn=saml-admins,ou=groups,dc=example,dc=com",
        "cn=vpn-users,ou=groups,dc=example,dc=com",
        "cn=wiki-editors,ou=groups,dc=example,dc=com",
        "cn=build-farm,ou=groups,dc=example,dc=com",
        "cn=oncall-platform,ou=groups,dc=example,dc=com",
        "cn=security-champions,ou=groups,dc=example,dc=com",
        "cn=staff-all,ou=groups,dc=example,dc=com",
        "cn=design-reviews,ou=groups,dc=example,dc=com",
        "cn=library-access,ou=groups,dc=example,dc=com",
    ],
}


# ------------------------------------------------------------------------------------------------
# Test data


@dataclass(frozen=True)
class Fixture:
    """Everything the implementations are given: the same for all of them."""

    now: datetime
    pool: list[str]  # distinct base64 SAMLResponse values (distinct Response and Assertion IDs)
    tampered: str  # one more, its NameID changed after signing: every implementation must refuse it
    xml_size: int
    metadata_xml: bytes
    cert_pem: bytes
    cert_b64: str
    minted_by: str


def mint_fixture(pool_size: int) -> Fixture:
    """Mint ``pool_size`` distinct signed Responses with fedlib.testing (fedlib's test IdP)."""
    from fedlib.testing import ResponseSpec, generate_key, idp_metadata_xml, mint_response

    # python3-saml and pysaml2 read the real clock, so the Responses are minted at the real time,
    # valid for an hour, and fedlib is given that same `now`.
    now = datetime.now(UTC).replace(microsecond=0)
    key = generate_key("rsa", bits=2048, common_name="fedlib bench IdP")
    pool = []
    for _ in range(pool_size + 1):
        spec = ResponseSpec(
            idp_entity_id=IDP_ENTITY_ID,
            sp_entity_id=SP_ENTITY_ID,
            acs_url=ACS_URL,
            now=now,
            lifetime=LIFETIME,
            name_id=NAME_ID,
            attributes=ATTRIBUTES,
            in_response_to=None,
        )
        xml = mint_response(
            spec,
            key,
            sign_response=True,
            sign_assertion=False,
            signature_algorithm="rsa-sha256",
            digest_algorithm="sha256",
        )
        pool.append(base64.b64encode(xml).decode("ascii"))
    metadata = idp_metadata_xml(IDP_ENTITY_ID, [key.certificate], sso_url=IDP_SSO_URL)
    spare = base64.b64decode(pool.pop())
    if NAME_ID.encode() not in spare:
        raise RuntimeError("the minted Response does not carry the NameID verbatim")
    tampered = spare.replace(NAME_ID.encode(), TAMPERED_NAME_ID.encode())
    return Fixture(
        now=now,
        pool=pool,
        tampered=base64.b64encode(tampered).decode("ascii"),
        xml_size=len(base64.b64decode(pool[0])),
        metadata_xml=metadata,
        cert_pem=key.cert_pem,
        cert_b64=key.cert_b64,
        minted_by="fedlib.testing",
    )


# ------------------------------------------------------------------------------------------------
# Implementations. Each `setup_*` returns (run, new_pass): run(b64) returns the NameID it accepted and
# raises if the Response is rejected; new_pass() is called (untimed) before each pass over the pool.
# Setup is not timed, run is.

Validator = Callable[[str], str]


class Unavailable(Exception):
    """The implementation cannot run here (not installed, or cannot be set up)."""


class Rejected(Exception):
    """The implementation refused the Response (for libraries that return False instead of raising)."""


def setup_fedlib(fx: Fixture) -> tuple[Validator, Callable[[], None]]:
    try:
        from fedlib.config import SecurityPolicy, SPConfig
        from fedlib.metadata.idp import parse_idp_metadata
        from fedlib.stores import open_store
        from fedlib.validation.pipeline import validate_response
    except ImportError as exc:
        raise Unavailable(f"import failed: {exc}") from exc

    sp = SPConfig(entity_id=SP_ENTITY_ID, acs_url=ACS_URL, policy=SecurityPolicy(allow_unsolicited=True))
    idp = parse_idp_metadata(fx.metadata_xml, now=fx.now)
    state: dict[str, Any] = {"store": open_store("memory://")}
    now = fx.now

    def run(b64: str) -> str:
        return validate_response(b64, sp=sp, idp=idp, now=now, store=state["store"]).name_id

    def new_pass() -> None:
        # The replay cache accepts each Assertion ID once: a fresh store before each pass over the
        # pool (outside the timed region), so every timed call is a first use, as in production.
        state["store"].close()
        state["store"] = open_store("memory://")

    return run, new_pass


def setup_python3_saml(fx: Fixture) -> tuple[Validator, Callable[[], None]]:
    try:
        from onelogin.saml2.response import OneLogin_Saml2_Response
        from onelogin.saml2.settings import OneLogin_Saml2_Settings
    except Exception as exc:  # ImportError, or xmlsec's libxml2 mismatch (xmlsec.InternalError)
        raise Unavailable(f"import failed: {type(exc).__name__}: {exc}") from exc

    settings = OneLogin_Saml2_Settings(
        {
            "strict": True,
            "debug": False,
            "sp": {
                "entityId": SP_ENTITY_ID,
                "assertionConsumerService": {
                    "url": ACS_URL,
                    "binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST",
                },
                "NameIDFormat": "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
            },
            "idp": {
                "entityId": IDP_ENTITY_ID,
                "singleSignOnService": {
                    "url": IDP_SSO_URL,
                    "binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect",
                },
                "x509cert": fx.cert_b64,
            },
            "security": {
                "wantMessagesSigned": True,
                "wantAssertionsSigned": False,
                "wantAssertionsEncrypted": False,
                "wantNameId": True,
                "wantAttributeStatement": True,
                "rejectDeprecatedAlgorithm": True,
            },
        },
        sp_validation_only=True,
    )
    request_data = {
        "https": "on",
        "http_host": SP_HOST,
        "server_port": "443",
        "script_name": SP_ACS_PATH,
        "get_data": {},
        "post_data": {},
    }

    def run(b64: str) -> str:
        response = OneLogin_Saml2_Response(settings, b64)
        if not response.is_valid(request_data, request_id=None):
            raise Rejected(f"is_valid() is False: {response.get_error()}")
        return str(response.get_nameid())

    return run, _nothing


def setup_pysaml2(fx: Fixture) -> tuple[Validator, Callable[[], None]]:
    try:
        from saml2 import BINDING_HTTP_POST
        from saml2.client import Saml2Client
        from saml2.config import SPConfig as Saml2SPConfig
    except ImportError as exc:
        raise Unavailable(f"import failed: {exc}") from exc
    xmlsec1 = shutil.which("xmlsec1")
    if xmlsec1 is None:
        raise Unavailable("the xmlsec1 binary is not installed (make sysdeps)")

    config = Saml2SPConfig()
    config.load(
        {
            "entityid": SP_ENTITY_ID,
            "xmlsec_binary": xmlsec1,
            "crypto_backend": "xmlsec1",
            "metadata": {"inline": [fx.metadata_xml.decode("utf-8")]},
            "service": {
                "sp": {
                    "endpoints": {"assertion_consumer_service": [(ACS_URL, BINDING_HTTP_POST)]},
                    "want_response_signed": True,
                    "want_assertions_signed": False,
                    "want_assertions_or_response_signed": True,
                    "allow_unsolicited": True,
                    "authn_requests_signed": False,
                },
            },
            "accepted_time_diff": 180,
        }
    )
    client = Saml2Client(config=config)

    def run(b64: str) -> str:
        response = client.parse_authn_request_response(b64, BINDING_HTTP_POST)
        if response is None or response.name_id is None:
            raise Rejected("parse_authn_request_response returned no response / no NameID")
        return str(response.name_id.text)

    return run, _nothing


def setup_signxml(fx: Fixture) -> tuple[Validator, Callable[[], None]]:
    try:
        from signxml.algorithms import DigestAlgorithm, SignatureMethod
        from signxml.verifier import SignatureConfiguration, XMLVerifier
    except ImportError as exc:
        raise Unavailable(f"import failed: {exc}") from exc

    config = SignatureConfiguration(
        require_x509=True,
        expect_references=1,
        signature_methods=frozenset({SignatureMethod.RSA_SHA256}),
        digest_algorithms=frozenset({DigestAlgorithm.SHA256}),
    )
    cert = fx.cert_pem.decode("ascii")

    def run(b64: str) -> str:
        xml = base64.b64decode(b64, validate=True)
        result = XMLVerifier().verify(xml, x509_cert=cert, expect_config=config)
        signed = None if isinstance(result, list) else result.signed_xml
        if signed is None or etree.QName(signed).localname != "Response":
            raise Rejected("signxml verified something other than the Response")
        # Only what was signed may be read: the NameID from signxml's verified tree.
        return signed.findtext(f".//{{{SAML_NS}}}NameID") or ""

    return run, _nothing


def setup_floor(fx: Fixture) -> tuple[Validator, Callable[[], None]]:
    return floor_validator(fx.cert_pem), _nothing


def floor_validator(cert_pem: bytes) -> Validator:
    """The floor for the IdP certificate ``cert_pem``: a function of a base64 SAMLResponse value that does
    the crypto and XML work every Response signature check needs, and nothing else (bench/acs_app.py's
    ``example_floor`` runs it inside the example app too). Returns the NameID; raises Rejected."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    public_key = x509.load_pem_x509_certificate(cert_pem).public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise Unavailable("the bench key is not RSA")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    pkcs1 = padding.PKCS1v15()
    sha256 = hashes.SHA256()

    def run(b64: str) -> str:
        xml = base64.b64decode(b64, validate=True)
        root = etree.fromstring(xml, parser)
        signature = root.find(f"{{{DS_NS}}}Signature")
        if signature is None:
            raise Rejected("no Response signature")
        signed_info = signature.find(f"{{{DS_NS}}}SignedInfo")
        if signed_info is None:
            raise Rejected("no SignedInfo")
        reference = signed_info.find(f"{{{DS_NS}}}Reference")
        if reference is None or reference.get("URI") != "#" + (root.get("ID") or ""):
            raise Rejected("the Reference does not point at the Response")
        prefixes = _inclusive_prefixes(reference)
        digest_value = base64.b64decode(reference.findtext(f"{{{DS_NS}}}DigestValue") or "")
        signature_value = base64.b64decode(signature.findtext(f"{{{DS_NS}}}SignatureValue") or "")
        signed_info_c14n = etree.tostring(signed_info, method="c14n", exclusive=True, with_comments=False)
        root.remove(signature)  # the enveloped-signature transform
        body = etree.tostring(root, method="c14n", exclusive=True, with_comments=False, inclusive_ns_prefixes=prefixes)
        if hashlib.sha256(body).digest() != digest_value:
            raise Rejected("digest mismatch")
        public_key.verify(signature_value, signed_info_c14n, pkcs1, sha256)  # raises InvalidSignature
        # The floor reads the NameID from the tree it digested (the Signature removed, nothing else).
        return root.findtext(f".//{{{SAML_NS}}}NameID") or ""

    return run


def _inclusive_prefixes(reference: etree._Element) -> list[str] | None:
    for transform in reference.iterfind(f"{{{DS_NS}}}Transforms/{{{DS_NS}}}Transform"):
        if transform.get("Algorithm") == EXC_C14N:
            inc = transform.find(f"{{{EXC_C14N}}}InclusiveNamespaces")
            if inc is not None:
                return (inc.get("PrefixList") or "").split() or None
    return None


def _nothing() -> None:
    return None


# ------------------------------------------------------------------------------------------------
# Timing


@dataclass
class Row:
    name: str
    what: str
    setup: Callable[[Fixture], tuple[Validator, Callable[[], None]]]
    iterations: int
    run: Validator | None = None
    new_pass: Callable[[], None] = _nothing
    samples_ns: list[int] = field(default_factory=list)
    unavailable: str | None = None
    refusal: str = ""  # how it refused the tampered Response

    @property
    def median_us(self) -> float:
        return statistics.median(self.samples_ns) / 1000

    @property
    def p90_us(self) -> float:
        ordered = sorted(self.samples_ns)
        return ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))] / 1000


CHUNK = 50


def time_interleaved(rows: Sequence[Row], pool: Sequence[str], rounds: int, chunk: int = CHUNK) -> None:
    """Time every available row side by side in turns: each turn times ``chunk`` consecutive calls of each
    row that is due (a row with fewer iterations, pysaml2, is due at evenly spread turns), the rows in a
    rotating order, each cycling through the pool on its own cursor (``new_pass`` untimed when it wraps).

    Why turns: batches of hundreds of calls of one row at a time let a busy phase of a shared machine fall on
    one row only (the fedlib/floor ratio moved by +-0.3 between runs here); one call per turn measures each
    call right after another library's (python3-saml's, pysaml2's) evicted its working set from the CPU
    caches, which no steady state does either. Turns of ``chunk`` calls (a few to a few tens of
    milliseconds) keep the rows in the same machine phase and each in its own warm state (the median is a
    warm call). GC is off while timing and collected ``rounds`` times. A row that fails is marked
    unavailable and dropped."""
    active = [row for row in rows if row.run is not None]
    if not active:
        return
    turns = -(-max(row.iterations for row in active) // chunk)
    done = {row.name: 0 for row in active}
    cursors = {row.name: 0 for row in active}
    collect_every = max(1, turns // max(1, rounds))
    clock = time.perf_counter_ns
    gc.collect()
    gc.disable()
    try:
        for turn in range(turns):
            if turn and turn % collect_every == 0:
                gc.collect()
            shift = turn % len(active)
            for row in active[shift:] + active[:shift]:
                due = min(row.iterations, -(-(turn + 1) * row.iterations // turns))
                while row.run is not None and done[row.name] < due:
                    cursor = cursors[row.name]
                    if cursor == len(pool):
                        cursor = 0
                        row.new_pass()  # untimed
                    b64 = pool[cursor]
                    cursors[row.name] = cursor + 1
                    try:
                        t0 = clock()
                        name_id = row.run(b64)
                        row.samples_ns.append(clock() - t0)
                        if name_id != NAME_ID:
                            raise Rejected(f"accepted, but returned NameID {name_id!r}")
                    except Exception as exc:
                        row.unavailable = f"failed while timing: {type(exc).__name__}: {exc}"
                        row.run = None
                        break
                    done[row.name] += 1
    finally:
        gc.enable()


def check_and_warm_up(row: Row, fx: Fixture, warmup: int) -> str | None:
    """Set the row up, prove it really validates, warm it up. Returns why it cannot run, or None."""
    try:
        row.run, row.new_pass = row.setup(fx)
    except Unavailable as exc:
        return str(exc)
    except Exception as exc:
        return f"setup failed: {type(exc).__name__}: {exc}"
    run = row.run
    row.new_pass()
    # 1. It must refuse a Response whose NameID was changed after signing (it really verifies).
    try:
        got = run(fx.tampered)
    except Exception as exc:  # each library has its own exception types; any refusal will do
        row.refusal = f"{type(exc).__name__}: {str(exc)[:80]}"
    else:
        return f"ACCEPTED A TAMPERED RESPONSE (NameID {got!r}): not a validator, not timed"
    # 2. It must accept the genuine ones, with the right NameID; these calls are also the warm-up.
    try:
        for b64 in fx.pool[: max(1, warmup)]:
            got = run(b64)
            if got != NAME_ID:
                return f"accepted the test Response but returned NameID {got!r}"
    except Exception as exc:
        return f"does not accept the test Response: {type(exc).__name__}: {exc}"
    row.new_pass()
    return None


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smoke run: few iterations")
    ap.add_argument("--iterations", type=int, help="timed calls per implementation (default 1000; quick 20)")
    ap.add_argument("--pysaml2-iterations", type=int, help="timed calls for pysaml2 (default 100; quick 5)")
    ap.add_argument("--rounds", type=int, help="garbage collections spread over the timed calls (default 4)")
    ap.add_argument("--pool", type=int, default=200, help="distinct Responses minted (default 200)")
    ap.add_argument("-v", "--verbose", action="store_true", help="also show how each refused the tampered copy")
    args = ap.parse_args(argv)

    iterations = args.iterations or (20 if args.quick else 1000)
    slow_iterations = args.pysaml2_iterations or (5 if args.quick else 100)
    rounds = max(1, args.rounds or (1 if args.quick else 4))
    warmup = 3 if args.quick else 20
    pool_size = max(1, min(args.pool, 20) if args.quick else args.pool)

    # pysaml2 and python3-saml log every refusal (the tampered-Response check): keep the table readable.
    for name in ("saml2", "onelogin"):
        logging.getLogger(name).addHandler(logging.NullHandler())
        logging.getLogger(name).propagate = False

    t0 = time.perf_counter()
    try:
        fx = mint_fixture(pool_size)
    except ImportError as exc:
        print(f"cannot mint the test Responses: fedlib.testing is not importable ({exc})", file=sys.stderr)
        return 2
    mint_s = time.perf_counter() - t0

    rows = [
        Row("fedlib", "validate_response (full SAML checks, replay store)", setup_fedlib, iterations),
        Row("python3-saml", "Response(...).is_valid(), strict", setup_python3_saml, iterations),
        Row("pysaml2", "parse_authn_request_response (xmlsec1 CLI)", setup_pysaml2, slow_iterations),
        Row("signxml", "XMLVerifier.verify, signature only", setup_signxml, iterations),
        Row("floor", "b64 + parse + c14n + sha256 + RSA verify", setup_floor, iterations),
    ]

    print(f"fedlib bench: Python {platform.python_version()} on {platform.machine()}, lxml {etree.__version__}")
    print(
        f"test Response: {fx.xml_size} bytes XML, {len(ATTRIBUTES)} attributes, RSA-2048, RSA-SHA256/SHA-256, "
        f"Response signed; {len(fx.pool)} distinct copies minted by {fx.minted_by} in {mint_s:.1f} s"
    )
    print(
        f"timing: {warmup} warm-up calls, then {iterations} timed calls each "
        f"(pysaml2: {slow_iterations}), side by side in turns of {CHUNK} calls per row; GC off while timing"
    )

    for row in rows:
        row.unavailable = check_and_warm_up(row, fx, warmup)
        if row.unavailable:
            row.run = None

    checked = [row.name for row in rows if row.run is not None]
    print(
        f"checked first: {', '.join(checked) or 'none'} refused a copy tampered after signing and accepted "
        "the genuine Responses with the right NameID"
    )
    sys.stdout.flush()

    time_interleaved(rows, fx.pool, rounds)

    by_name = {row.name: row for row in rows}
    floor = by_name["floor"]
    floor_us = floor.median_us if floor.run is not None else None
    verbose = args.verbose

    print()
    print(f"{'implementation':<14} {'median µs':>11} {'p90 µs':>11} {'x floor':>8}  {'n':>4}  what")
    for row in rows:
        if row.run is None:
            print(f"{row.name:<14} unavailable: {row.unavailable}")
            continue
        x_floor = f"{row.median_us / floor_us:.2f}" if floor_us else "n/a"
        print(
            f"{row.name:<14} {row.median_us:>11,.0f} {row.p90_us:>11,.0f} {x_floor:>8}  "
            f"{len(row.samples_ns):>4}  {row.what}"
        )
    print()
    if verbose:
        for row in rows:
            if row.refusal:
                print(f"{row.name} refused the tampered copy with {row.refusal}")
        print()

    def ratio(num: str, den: str, digits: int) -> str:
        a, b = by_name[num], by_name[den]
        if a.run is None or b.run is None:
            return "n/a"
        return f"{a.median_us / b.median_us:.{digits}f}"

    print(
        f"ratios: fedlib/floor={ratio('fedlib', 'floor', 2)} "
        f"python3-saml/fedlib={ratio('python3-saml', 'fedlib', 1)} "
        f"pysaml2/fedlib={ratio('pysaml2', 'fedlib', 1)}"
    )
    # A missing peer is reported in its row; fedlib or the floor failing is an error.
    return 0 if by_name["fedlib"].run is not None and floor.run is not None else 1


if __name__ == "__main__":
    sys.exit(main())
