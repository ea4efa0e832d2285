"""fedlib.testing: minted Responses must verify with independent verifiers (signxml, xmlsec1) and look
exactly the way the ResponseSpec knobs say. fedlib's own verifier is deliberately not used here."""

from __future__ import annotations

import base64
import dataclasses
import os
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from lxml import etree
from signxml.algorithms import DigestAlgorithm, SignatureMethod
from signxml.exceptions import InvalidInput, InvalidSignature
from signxml.verifier import SignatureConfiguration, XMLVerifier

from fedlib.constants import (
    DS_KEY_INFO,
    DS_SIGNATURE,
    DS_SIGNATURE_VALUE,
    DS_SIGNED_INFO,
    DS_X509_CERTIFICATE,
    NAMEID_EMAIL,
    NS_DS,
    NS_MD,
    NS_SAML,
    NS_SAMLP,
    NS_XSI,
    SAML_ASSERTION,
    SAML_ATTRIBUTE_STATEMENT,
    SAML_AUTHN_STATEMENT,
    SAML_CONDITIONS,
    SAML_ISSUER,
    SAML_SUBJECT,
    SAMLP_RESPONSE,
    SAMLP_STATUS,
    STATUS_SUCCESS,
)
from fedlib.testing import (
    ATTRNAME_FORMAT_BASIC,
    OMIT,
    ResponseSpec,
    TestKey,
    build_response,
    default_key,
    generate_key,
    idp_metadata_xml,
    mint_response,
    mint_response_b64,
    new_id,
    serialize,
    sign_element,
)

NOW = datetime(2030, 6, 1, 12, 0, 0, tzinfo=UTC)
IDP = "https://idp.example.com/idp"
SP = "https://sp.example.com/sp"
ACS = "https://sp.example.com/acs"
NS = {"samlp": NS_SAMLP, "saml": NS_SAML, "ds": NS_DS, "md": NS_MD}
XP_RESPONSE_SIG = "/*[local-name()='Response']/*[local-name()='Signature']"
XP_ASSERTION_SIG = "/*[local-name()='Response']/*[local-name()='Assertion']/*[local-name()='Signature']"
SHA1_OK = SignatureConfiguration(
    location="./",
    signature_methods=frozenset(SignatureMethod),
    digest_algorithms=frozenset(DigestAlgorithm),
)
MODES: dict[str, dict[str, bool]] = {
    "response": {"sign_response": True, "sign_assertion": False},
    "assertion": {"sign_response": False, "sign_assertion": True},
    "both": {"sign_response": True, "sign_assertion": True},
}


def make_spec(**overrides: object) -> ResponseSpec:
    fields: dict[str, object] = {
        "idp_entity_id": IDP,
        "sp_entity_id": SP,
        "acs_url": ACS,
        "now": NOW,
        "attributes": {"mail": ["alice@example.com"], "groups": ["staff", "admins"]},
        "in_response_to": "_request-1",
    }
    fields.update(overrides)
    return ResponseSpec(**fields)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def rsa_key() -> TestKey:
    return default_key()


@pytest.fixture(scope="module")
def ec_key() -> TestKey:
    return default_key("ec")


@pytest.fixture(params=["rsa", "ec"])
def any_key(request: pytest.FixtureRequest) -> TestKey:
    return default_key(request.param)


# ------------------------------------------------------------------------------------------------
# independent verifiers


def signxml_verify(
    xml: bytes, key: TestKey, which: str, config: SignatureConfiguration | None = None
) -> etree._Element:
    """Verify the Response's (which="response") or Assertion's own signature with signxml; return
    what it says is signed."""
    location = "./" if which == "response" else f"./{{{NS_SAML}}}Assertion/"
    config = dataclasses.replace(config or SignatureConfiguration(), location=location)
    result = XMLVerifier().verify(xml, x509_cert=key.certificate, id_attribute="ID", expect_config=config)
    assert not isinstance(result, list)
    return result.signed_xml  # type: ignore[return-value]


def require_xmlsec1() -> None:
    """Skip locally, fail in CI (as tests/conftest.py's ``require`` does), when xmlsec1 is missing."""
    if shutil.which("xmlsec1") is not None:
        return
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail("the xmlsec1 command-line tool is missing")
    pytest.skip("the xmlsec1 command-line tool is missing")


def xmlsec_verify(xml: bytes, cert_pem: bytes, tmp_path: Path, node_xpath: str) -> subprocess.CompletedProcess[str]:
    """Verify with the xmlsec1 CLI, trusting only ``cert_pem`` (embedded KeyInfo keys are not used)."""
    require_xmlsec1()
    doc, pem = tmp_path / "doc.xml", tmp_path / "cert.pem"
    doc.write_bytes(xml)
    pem.write_bytes(cert_pem)
    return subprocess.run(
        [
            "xmlsec1",
            "--verify",
            "--enabled-key-data",
            "key-name",
            "--pubkey-cert-pem",
            str(pem),
            "--id-attr:ID",
            f"{NS_SAMLP}:Response",
            "--id-attr:ID",
            f"{NS_SAML}:Assertion",
            "--node-xpath",
            node_xpath,
            str(doc),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def assert_xmlsec_ok(xml: bytes, key: TestKey, tmp_path: Path, node_xpath: str) -> None:
    proc = xmlsec_verify(xml, key.cert_pem, tmp_path, node_xpath)
    assert proc.returncode == 0, proc.stderr
    assert "SignedInfo References (ok/all): 1/1" in proc.stderr


def attrib_of(element: etree._Element | None) -> dict[str, str]:
    assert element is not None
    return {str(k): str(v) for k, v in element.attrib.items()}


def signatures(xml: bytes) -> tuple[etree._Element | None, etree._Element | None]:
    root = etree.fromstring(xml)
    return root.find(DS_SIGNATURE), root.find(f"{SAML_ASSERTION}/{DS_SIGNATURE}")


# ------------------------------------------------------------------------------------------------
# signatures verify independently, in every mode, for RSA and EC


@pytest.mark.parametrize("mode", list(MODES))
def test_signxml_verifies_each_signature(any_key: TestKey, mode: str) -> None:
    xml = mint_response(
        make_spec(), any_key, sign_response=MODES[mode]["sign_response"], sign_assertion=MODES[mode]["sign_assertion"]
    )
    response_sig, assertion_sig = signatures(xml)
    assert (response_sig is not None) == MODES[mode]["sign_response"]
    assert (assertion_sig is not None) == MODES[mode]["sign_assertion"]
    if response_sig is not None:
        assert signxml_verify(xml, any_key, "response").tag == SAMLP_RESPONSE
    if assertion_sig is not None:
        assert signxml_verify(xml, any_key, "assertion").tag == SAML_ASSERTION


@pytest.mark.parametrize("mode", list(MODES))
def test_xmlsec1_verifies_each_signature(any_key: TestKey, mode: str, tmp_path: Path) -> None:
    xml = mint_response(
        make_spec(), any_key, sign_response=MODES[mode]["sign_response"], sign_assertion=MODES[mode]["sign_assertion"]
    )
    if MODES[mode]["sign_response"]:
        assert_xmlsec_ok(xml, any_key, tmp_path, XP_RESPONSE_SIG)
    if MODES[mode]["sign_assertion"]:
        assert_xmlsec_ok(xml, any_key, tmp_path, XP_ASSERTION_SIG)


def test_response_digest_covers_assertion_signature(rsa_key: TestKey) -> None:
    xml = mint_response(make_spec(), rsa_key, sign_response=True, sign_assertion=True)
    signed = signxml_verify(xml, rsa_key, "response")
    assert signed.find(f"{SAML_ASSERTION}/{DS_SIGNATURE}") is not None
    # Re-signing the assertion with other bytes must break the response signature.
    root = etree.fromstring(xml)
    value = root.find(f"{SAML_ASSERTION}/{DS_SIGNATURE}/{DS_SIGNATURE_VALUE}")
    assert value is not None
    assert value.text is not None
    value.text = base64.b64encode(b"\x00" * 256).decode()
    with pytest.raises(InvalidSignature):
        signxml_verify(serialize(root), rsa_key, "response")


def test_verifiers_reject_tampering_and_wrong_keys(rsa_key: TestKey, ec_key: TestKey, tmp_path: Path) -> None:
    """Negative controls: the positive checks above are only meaningful if these fail."""
    xml = mint_response(make_spec(), rsa_key, sign_assertion=True)
    tampered = xml.replace(b">alice@example.com<", b">mallory@example.com<")
    assert tampered != xml
    with pytest.raises(InvalidSignature):
        signxml_verify(tampered, rsa_key, "response")
    with pytest.raises(InvalidSignature):
        signxml_verify(tampered, rsa_key, "assertion")
    assert xmlsec_verify(tampered, rsa_key.cert_pem, tmp_path, XP_RESPONSE_SIG).returncode != 0
    assert xmlsec_verify(tampered, rsa_key.cert_pem, tmp_path, XP_ASSERTION_SIG).returncode != 0
    assert xmlsec_verify(xml, ec_key.cert_pem, tmp_path, XP_RESPONSE_SIG).returncode != 0


# ------------------------------------------------------------------------------------------------
# algorithms, canonicalisation, KeyInfo


@pytest.mark.parametrize(
    ("kind", "algorithm", "digest", "c14n"),
    [
        ("rsa", "rsa-sha256", "sha256", "exc"),
        ("rsa", "rsa-sha384", "sha384", "exc"),
        ("rsa", "rsa-sha512", "sha512", "c14n"),
        ("rsa", "rsa-sha256", "sha512", "c14n11"),
        ("rsa", "rsa-sha256", "sha256", "exc-with-comments"),
        ("ec", "ecdsa-sha256", "sha256", "exc"),
        ("ec", "ecdsa-sha384", "sha384", "exc"),
        ("ec", "ecdsa-sha512", "sha512", "c14n"),
    ],
)
def test_algorithm_matrix(kind: str, algorithm: str, digest: str, c14n: str, tmp_path: Path) -> None:
    key = default_key("rsa" if kind == "rsa" else "ec")
    xml = mint_response(
        make_spec(),
        key,
        sign_assertion=True,
        signature_algorithm=algorithm,
        digest_algorithm=digest,
        c14n=c14n,
    )
    response_sig, _ = signatures(xml)
    assert response_sig is not None
    method = response_sig.find("ds:SignedInfo/ds:SignatureMethod", NS)
    assert method is not None
    assert method.get("Algorithm", "").endswith("#" + algorithm)
    digest_method = response_sig.find("ds:SignedInfo/ds:Reference/ds:DigestMethod", NS)
    assert digest_method is not None
    assert digest_method.get("Algorithm", "").endswith("#" + digest)
    signxml_verify(xml, key, "response")
    signxml_verify(xml, key, "assertion")
    assert_xmlsec_ok(xml, key, tmp_path, XP_RESPONSE_SIG)
    assert_xmlsec_ok(xml, key, tmp_path, XP_ASSERTION_SIG)


def test_default_algorithm_follows_key_kind(rsa_key: TestKey, ec_key: TestKey) -> None:
    for key, expected in ((rsa_key, "#rsa-sha256"), (ec_key, "#ecdsa-sha256")):
        sig, _ = signatures(mint_response(make_spec(), key))
        assert sig is not None
        method = sig.find("ds:SignedInfo/ds:SignatureMethod", NS)
        assert method is not None
        assert method.get("Algorithm", "").endswith(expected)
        c14n = sig.find("ds:SignedInfo/ds:CanonicalizationMethod", NS)
        assert c14n is not None
        assert c14n.get("Algorithm") == "http://www.w3.org/2001/10/xml-exc-c14n#"
        transforms = [t.get("Algorithm") for t in sig.iterfind("ds:SignedInfo/ds:Reference/ds:Transforms/*", NS)]
        assert transforms == [
            "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
            "http://www.w3.org/2001/10/xml-exc-c14n#",
        ]


@pytest.mark.parametrize(
    ("algorithm", "digest"), [("rsa-sha1", "sha1"), ("rsa-sha256", "sha1"), ("rsa-sha1", "sha256")]
)
def test_sha1_vectors(rsa_key: TestKey, algorithm: str, digest: str, tmp_path: Path) -> None:
    xml = mint_response(make_spec(), rsa_key, signature_algorithm=algorithm, digest_algorithm=digest)
    # Standards-conformant: verifies where SHA-1 is allowed ...
    signxml_verify(xml, rsa_key, "response", SHA1_OK)
    assert_xmlsec_ok(xml, rsa_key, tmp_path, XP_RESPONSE_SIG)
    # ... and really is SHA-1: signxml's default policy refuses it.
    with pytest.raises(InvalidInput):
        signxml_verify(xml, rsa_key, "response")


def test_ecdsa_sha1_vector(ec_key: TestKey, tmp_path: Path) -> None:
    xml = mint_response(make_spec(), ec_key, signature_algorithm="ecdsa-sha1", digest_algorithm="sha1")
    signxml_verify(xml, ec_key, "response", SHA1_OK)
    assert_xmlsec_ok(xml, ec_key, tmp_path, XP_RESPONSE_SIG)


@pytest.mark.parametrize("algorithm", ["rsa-pss-sha256", "sha512-rsa-MGF1"])
def test_rsa_pss(rsa_key: TestKey, algorithm: str) -> None:
    """xmlsec1 1.2 lacks RSA-PSS, so check with signxml and by hand (exc-c14n SignedInfo + PSS)."""
    xml = mint_response(make_spec(), rsa_key, signature_algorithm=algorithm)
    signxml_verify(xml, rsa_key, "response")
    sig, _ = signatures(xml)
    assert sig is not None
    signed_info = sig.find(DS_SIGNED_INFO)
    value = sig.find(DS_SIGNATURE_VALUE)
    assert signed_info is not None
    assert value is not None
    assert value.text is not None
    algo: hashes.HashAlgorithm = hashes.SHA512() if "sha512" in algorithm else hashes.SHA256()
    public_key = rsa_key.private_key.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    public_key.verify(
        base64.b64decode(value.text),
        etree.tostring(signed_info, method="c14n", exclusive=True),
        padding.PSS(mgf=padding.MGF1(algo), salt_length=algo.digest_size),
        algo,
    )


def test_hmac_key_confusion_vector(rsa_key: TestKey) -> None:
    """An HMAC 'signature' keyed with the public certificate: a classic key-confusion attack vector."""
    root = build_response(make_spec())
    sign_element(root, rsa_key.cert_der, signature_algorithm="hmac-sha256")
    xml = serialize(root)
    sig, _ = signatures(xml)
    assert sig is not None
    assert sig.find(DS_KEY_INFO) is None
    result = XMLVerifier().verify(
        xml,
        hmac_key=rsa_key.cert_der,
        id_attribute="ID",
        expect_config=SignatureConfiguration(require_x509=False, location="./"),
    )
    assert not isinstance(result, list)


def test_key_value_instead_of_certificate(any_key: TestKey, tmp_path: Path) -> None:
    xml = mint_response(make_spec(), any_key, sign_assertion=True, include_cert=False)
    for sig in signatures(xml):
        assert sig is not None
        assert sig.find("ds:KeyInfo/ds:X509Data", NS) is None
        assert sig.find("ds:KeyInfo/ds:KeyValue", NS) is not None
    signxml_verify(xml, any_key, "response")
    signxml_verify(xml, any_key, "assertion")
    assert_xmlsec_ok(xml, any_key, tmp_path, XP_RESPONSE_SIG)
    assert_xmlsec_ok(xml, any_key, tmp_path, XP_ASSERTION_SIG)


def test_no_key_info_and_foreign_certificate(rsa_key: TestKey, ec_key: TestKey, tmp_path: Path) -> None:
    root = build_response(make_spec())
    sign_element(root, rsa_key, include_key_info=False)
    xml = serialize(root)
    sig, _ = signatures(xml)
    assert sig is not None
    assert sig.find(DS_KEY_INFO) is None
    signxml_verify(xml, rsa_key, "response")
    assert_xmlsec_ok(xml, rsa_key, tmp_path, XP_RESPONSE_SIG)

    # Signed by one key while KeyInfo advertises another key's certificate.
    root = build_response(make_spec())
    sign_element(root, rsa_key, certificates=[ec_key.certificate], key_name="idp-2030")
    sig = root.find(DS_SIGNATURE)
    assert sig is not None
    assert sig.findtext("ds:KeyInfo/ds:X509Data/ds:X509Certificate", namespaces=NS) == ec_key.cert_b64
    assert sig.findtext("ds:KeyInfo/ds:KeyName", namespaces=NS) == "idp-2030"
    signxml_verify(serialize(root), rsa_key, "response")


def test_x509_certificate_content(rsa_key: TestKey, tmp_path: Path) -> None:
    sig, _ = signatures(mint_response(make_spec(), rsa_key))
    assert sig is not None
    path = f"{DS_KEY_INFO}/ds:X509Data/{DS_X509_CERTIFICATE}"
    assert sig.findtext(path, namespaces=NS) == rsa_key.cert_b64  # one line by default
    root = build_response(make_spec())
    sign_element(root, rsa_key, wrap_certificates=True)
    sig = root.find(DS_SIGNATURE)
    assert sig is not None
    text = sig.findtext(path, namespaces=NS)
    assert text is not None
    assert "\n" in text.strip()
    assert base64.b64decode("".join(text.split())) == rsa_key.cert_der
    xml = serialize(root)
    signxml_verify(xml, rsa_key, "response")
    assert_xmlsec_ok(xml, rsa_key, tmp_path, XP_RESPONSE_SIG)


# ------------------------------------------------------------------------------------------------
# placement and in-place signing


def test_signature_placed_after_issuer(rsa_key: TestKey) -> None:
    root = etree.fromstring(mint_response(make_spec(), rsa_key, sign_assertion=True))
    assert [c.tag for c in root] == [SAML_ISSUER, DS_SIGNATURE, SAMLP_STATUS, SAML_ASSERTION]
    assertion = root.find(SAML_ASSERTION)
    assert assertion is not None
    assert [c.tag for c in assertion] == [
        SAML_ISSUER,
        DS_SIGNATURE,
        SAML_SUBJECT,
        SAML_CONDITIONS,
        SAML_AUTHN_STATEMENT,
        SAML_ATTRIBUTE_STATEMENT,
    ]
    for sig in root.iter(DS_SIGNATURE):
        assert sig.get("Id") is None
        reference = sig.find("ds:SignedInfo/ds:Reference", NS)
        parent = sig.getparent()
        assert reference is not None
        assert parent is not None
        assert reference.get("URI") == "#" + parent.get("ID", "")


def test_signature_first_when_no_issuer(rsa_key: TestKey, tmp_path: Path) -> None:
    xml = mint_response(make_spec(response_issuer=OMIT), rsa_key)
    root = etree.fromstring(xml)
    assert [c.tag for c in root][:2] == [DS_SIGNATURE, SAMLP_STATUS]
    signxml_verify(xml, rsa_key, "response")
    assert_xmlsec_ok(xml, rsa_key, tmp_path, XP_RESPONSE_SIG)


def test_sign_element_is_in_place(rsa_key: TestKey) -> None:
    root = build_response(make_spec())
    assertion = root.find(SAML_ASSERTION)
    assert assertion is not None
    assert sign_element(assertion, rsa_key) is assertion
    assert root.find(SAML_ASSERTION) is assertion
    assert assertion[1].tag == DS_SIGNATURE
    assert sign_element(root, rsa_key) is root


def test_sign_element_errors(rsa_key: TestKey, ec_key: TestKey) -> None:
    root = build_response(make_spec())
    with pytest.raises(ValueError, match="needs an EC key"):
        sign_element(root, rsa_key, signature_algorithm="ecdsa-sha256")
    with pytest.raises(ValueError, match="needs an RSA key"):
        sign_element(root, ec_key, signature_algorithm="rsa-sha256")
    with pytest.raises(ValueError, match="unknown signature algorithm"):
        sign_element(root, rsa_key, signature_algorithm="rsa-md4")
    with pytest.raises(ValueError, match="unknown canonicalization"):
        sign_element(root, rsa_key, c14n="c14n2")
    assert root.find(DS_SIGNATURE) is None  # failed attempts leave no placeholder behind
    del root.attrib["ID"]
    with pytest.raises(ValueError, match="no ID"):
        sign_element(root, rsa_key)
    with pytest.raises(ValueError, match="no Assertion"):
        mint_response(
            make_spec(status_code="urn:oasis:names:tc:SAML:2.0:status:Requester"), rsa_key, sign_assertion=True
        )


# ------------------------------------------------------------------------------------------------
# structure follows the knobs


def test_default_structure() -> None:
    spec = make_spec()
    root = build_response(spec)
    assert root.tag == SAMLP_RESPONSE
    assert root.nsmap == {"samlp": NS_SAMLP, "saml": NS_SAML}
    assert attrib_of(root) == {
        "ID": spec.response_id,
        "Version": "2.0",
        "IssueInstant": "2030-06-01T12:00:00Z",
        "Destination": ACS,
        "InResponseTo": "_request-1",
    }
    assert root.findtext("saml:Issuer", namespaces=NS) == IDP
    assert root.find("samlp:Status/samlp:StatusCode", NS).get("Value") == STATUS_SUCCESS  # type: ignore[union-attr]
    a = root.find("saml:Assertion", NS)
    assert a is not None
    assert attrib_of(a) == {"ID": spec.assertion_id, "Version": "2.0", "IssueInstant": "2030-06-01T12:00:00Z"}
    assert a.findtext("saml:Issuer", namespaces=NS) == IDP
    name_id = a.find("saml:Subject/saml:NameID", NS)
    assert name_id is not None
    assert name_id.text == "alice@example.com"
    assert attrib_of(name_id) == {"Format": NAMEID_EMAIL}
    sc = a.find("saml:Subject/saml:SubjectConfirmation", NS)
    assert sc is not None
    assert sc.get("Method") == "urn:oasis:names:tc:SAML:2.0:cm:bearer"
    scd = sc.find("saml:SubjectConfirmationData", NS)
    assert scd is not None
    assert attrib_of(scd) == {
        "NotOnOrAfter": "2030-06-01T12:05:00Z",
        "Recipient": ACS,
        "InResponseTo": "_request-1",
    }
    conditions = a.find("saml:Conditions", NS)
    assert conditions is not None
    assert attrib_of(conditions) == {"NotBefore": "2030-06-01T12:00:00Z", "NotOnOrAfter": "2030-06-01T12:05:00Z"}
    assert [e.text for e in conditions.iterfind("saml:AudienceRestriction/saml:Audience", NS)] == [SP]
    authn = a.find("saml:AuthnStatement", NS)
    assert authn is not None
    assert attrib_of(authn) == {"AuthnInstant": "2030-06-01T12:00:00Z", "SessionIndex": spec.assertion_id}
    assert (
        authn.findtext("saml:AuthnContext/saml:AuthnContextClassRef", namespaces=NS)
        == "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
    )
    attrs = {
        at.get("Name"): (at.get("NameFormat"), [v.text for v in at.iterfind("saml:AttributeValue", NS)])
        for at in a.iterfind("saml:AttributeStatement/saml:Attribute", NS)
    }
    assert attrs == {
        "mail": (ATTRNAME_FORMAT_BASIC, ["alice@example.com"]),
        "groups": (ATTRNAME_FORMAT_BASIC, ["staff", "admins"]),
    }
    assert spec.response_id.startswith("_")
    assert len(spec.response_id) == 33


def test_unsolicited_and_omissions() -> None:
    spec = make_spec(
        in_response_to=None,
        destination=OMIT,
        recipient=OMIT,
        response_issuer=OMIT,
        not_before=OMIT,
        subject_not_on_or_after=OMIT,
        session_index=OMIT,
        name_id_format=None,
        attribute_name_format=None,
        attributes={},
        audiences=[],
    )
    root = build_response(spec)
    assert "InResponseTo" not in root.attrib
    assert "Destination" not in root.attrib
    assert root.find(SAML_ISSUER) is None
    a = root.find(SAML_ASSERTION)
    assert a is not None
    assert a.find("saml:Issuer", NS) is not None  # required by the schema, still there
    assert attrib_of(a.find("saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData", NS)) == {}
    assert "Format" not in a.find("saml:Subject/saml:NameID", NS).attrib  # type: ignore[union-attr]
    conditions = a.find("saml:Conditions", NS)
    assert conditions is not None
    assert attrib_of(conditions) == {"NotOnOrAfter": "2030-06-01T12:05:00Z"}
    assert len(conditions) == 0
    assert "SessionIndex" not in a.find("saml:AuthnStatement", NS).attrib  # type: ignore[union-attr]
    assert a.find("saml:AttributeStatement", NS) is None


def test_overrides() -> None:
    later = NOW + timedelta(hours=1)
    spec = make_spec(
        destination="https://elsewhere.example/acs",
        recipient="https://other.example/acs",
        audiences=["urn:a", "urn:b"],
        response_issuer="https://evil.example/",
        assertion_issuer="https://other-idp.example/",
        issuer_format="urn:oasis:names:tc:SAML:2.0:nameid-format:entity",
        issue_instant_offset=timedelta(seconds=-90),
        lifetime=timedelta(minutes=10),
        not_before=later,
        subject_not_before=NOW,
        authn_instant=NOW - timedelta(minutes=30),
        session_index="_sess-7",
        session_not_on_or_after=later,
        authn_context_class_ref="urn:oasis:names:tc:SAML:2.0:ac:classes:X509",
        name_id="bob",
        name_id_format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
        name_id_name_qualifier=IDP,
        name_id_sp_name_qualifier=SP,
        subject_confirmation_method="urn:oasis:names:tc:SAML:2.0:cm:holder-of-key",
        version="1.1",
        attribute_value_xsi_type="xs:string",
    )
    root = build_response(spec)
    assert root.get("Destination") == "https://elsewhere.example/acs"
    assert root.get("IssueInstant") == "2030-06-01T11:58:30Z"
    assert root.get("Version") == "1.1"
    issuer = root.find(SAML_ISSUER)
    assert issuer is not None
    assert issuer.text == "https://evil.example/"
    assert issuer.get("Format") == "urn:oasis:names:tc:SAML:2.0:nameid-format:entity"
    a = root.find(SAML_ASSERTION)
    assert a is not None
    assert a.get("Version") == "1.1"
    assert a.get("IssueInstant") == "2030-06-01T11:58:30Z"
    assert a.findtext("saml:Issuer", namespaces=NS) == "https://other-idp.example/"
    name_id = a.find("saml:Subject/saml:NameID", NS)
    assert name_id is not None
    assert name_id.text == "bob"
    assert name_id.get("NameQualifier") == IDP
    assert name_id.get("SPNameQualifier") == SP
    sc = a.find("saml:Subject/saml:SubjectConfirmation", NS)
    assert sc is not None
    assert sc.get("Method") == "urn:oasis:names:tc:SAML:2.0:cm:holder-of-key"
    scd = sc.find("saml:SubjectConfirmationData", NS)
    assert scd is not None
    assert scd.get("Recipient") == "https://other.example/acs"
    assert scd.get("NotBefore") == "2030-06-01T12:00:00Z"
    assert scd.get("NotOnOrAfter") == "2030-06-01T12:10:00Z"
    conditions = a.find("saml:Conditions", NS)
    assert conditions is not None
    assert conditions.get("NotBefore") == "2030-06-01T13:00:00Z"
    assert conditions.get("NotOnOrAfter") == "2030-06-01T12:10:00Z"
    assert [e.text for e in conditions.iterfind(".//saml:Audience", NS)] == ["urn:a", "urn:b"]
    authn = a.find("saml:AuthnStatement", NS)
    assert authn is not None
    assert authn.get("AuthnInstant") == "2030-06-01T11:30:00Z"
    assert authn.get("SessionIndex") == "_sess-7"
    assert authn.get("SessionNotOnOrAfter") == "2030-06-01T13:00:00Z"
    assert (
        authn.findtext(".//saml:AuthnContextClassRef", namespaces=NS) == "urn:oasis:names:tc:SAML:2.0:ac:classes:X509"
    )
    value = a.find(".//saml:AttributeValue", NS)
    assert value is not None
    assert value.get(f"{{{NS_XSI}}}type") == "xs:string"
    assert value.nsmap["xs"] == "http://www.w3.org/2001/XMLSchema"


def test_error_status() -> None:
    spec = make_spec(
        status_code="urn:oasis:names:tc:SAML:2.0:status:Responder",
        second_status_code="urn:oasis:names:tc:SAML:2.0:status:AuthnFailed",
        status_message="wrong password",
    )
    assert not spec.has_assertion
    root = build_response(spec)
    code = root.find("samlp:Status/samlp:StatusCode", NS)
    assert code is not None
    assert code.get("Value") == "urn:oasis:names:tc:SAML:2.0:status:Responder"
    nested = code.find("samlp:StatusCode", NS)
    assert nested is not None
    assert nested.get("Value") == "urn:oasis:names:tc:SAML:2.0:status:AuthnFailed"
    assert root.findtext("samlp:Status/samlp:StatusMessage", namespaces=NS) == "wrong password"
    assert root.find(SAML_ASSERTION) is None
    # An assertion can be forced in (a defect the SP must catch), and dropped from a Success.
    forced = build_response(dataclasses.replace(spec, include_assertion=True))
    assert forced.find(SAML_ASSERTION) is not None
    assert build_response(make_spec(include_assertion=False)).find(SAML_ASSERTION) is None


def test_optional_statements() -> None:
    a = build_response(make_spec(include_conditions=False, include_authn_statement=False)).find(SAML_ASSERTION)
    assert a is not None
    assert [c.tag for c in a] == [SAML_ISSUER, SAML_SUBJECT, SAML_ATTRIBUTE_STATEMENT]


def test_spec_validation() -> None:
    with pytest.raises(ValueError, match="naive"):
        make_spec(now=datetime(2030, 1, 1))
    with pytest.raises(TypeError, match="bare string"):
        make_spec(attributes={"mail": "alice@example.com"})


# ------------------------------------------------------------------------------------------------
# determinism and serialisation


def test_building_is_deterministic(rsa_key: TestKey) -> None:
    spec = make_spec(response_id="_r1", assertion_id="_a1")
    assert etree.tostring(build_response(spec)) == etree.tostring(build_response(spec))
    # RSA PKCS#1 v1.5 is deterministic too, so whole signed messages repeat byte for byte.
    assert mint_response(spec, rsa_key, sign_assertion=True) == mint_response(spec, rsa_key, sign_assertion=True)
    # IDs are drawn once per spec; replace() keeps them; new specs get new ones.
    fresh = make_spec()
    assert dataclasses.replace(fresh, name_id="x").response_id == fresh.response_id
    assert make_spec().response_id != fresh.response_id
    assert new_id() != new_id()


def test_serialisation_and_b64(rsa_key: TestKey) -> None:
    spec = make_spec(name_id="zoë@example.com")
    xml = mint_response(spec, rsa_key)
    assert xml.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    assert "zoë".encode() in xml
    b64 = mint_response_b64(spec, rsa_key)
    assert "\n" not in b64
    assert base64.b64decode(b64) == xml  # deterministic RSA signatures make these equal
    unsigned = mint_response(spec, rsa_key, sign_response=False)
    assert signatures(unsigned) == (None, None)


# ------------------------------------------------------------------------------------------------
# keys and metadata


def test_test_key_properties(rsa_key: TestKey, ec_key: TestKey) -> None:
    for key in (rsa_key, ec_key):
        assert x509.load_der_x509_certificate(key.cert_der) == key.certificate
        assert x509.load_pem_x509_certificate(key.cert_pem) == key.certificate
        assert base64.b64decode(key.cert_b64) == key.cert_der
        assert "\n" not in key.cert_b64
        loaded = serialization.load_pem_private_key(key.key_pem, password=None)
        assert loaded.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ) == key.certificate.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        assert key.certificate.issuer == key.certificate.subject
    assert rsa_key.kind == "rsa"
    assert ec_key.kind == "ec"
    assert isinstance(rsa_key.private_key, rsa.RSAPrivateKey)
    assert rsa_key.private_key.key_size == 2048
    assert default_key() is rsa_key
    assert default_key("rsa", "attacker") is not rsa_key
    assert TestKey.__test__ is False


def test_generate_key_options() -> None:
    start = datetime(2020, 1, 1, tzinfo=UTC)
    key = generate_key("ec", curve="P-384", common_name="other IdP", not_before=start, days=10)
    assert isinstance(key.private_key, ec.EllipticCurvePrivateKey)
    assert key.private_key.curve.name == "secp384r1"
    assert key.certificate.not_valid_before_utc == start
    assert key.certificate.not_valid_after_utc == start + timedelta(days=10)
    assert key.certificate.subject.rfc4514_string() == "CN=other IdP"
    with pytest.raises(ValueError, match="curve"):
        generate_key("ec", curve="P-192")
    with pytest.raises(ValueError, match="kind"):
        generate_key("dsa")  # type: ignore[arg-type]


def test_p384_key_signs_and_verifies(tmp_path: Path) -> None:
    key = generate_key("ec", curve="P-384")
    xml = mint_response(make_spec(), key, signature_algorithm="ecdsa-sha384", digest_algorithm="sha384")
    signxml_verify(xml, key, "response")
    assert_xmlsec_ok(xml, key, tmp_path, XP_RESPONSE_SIG)


def test_idp_metadata(rsa_key: TestKey, ec_key: TestKey) -> None:
    md = idp_metadata_xml(
        IDP,
        [rsa_key.certificate, ec_key],
        sso_url="https://idp.example.com/sso",
        slo_url="https://idp.example.com/slo",
        want_authn_requests_signed=True,
        valid_until=NOW,
    )
    assert md.startswith(b"<?xml")
    root = etree.fromstring(md)
    assert root.tag == f"{{{NS_MD}}}EntityDescriptor"
    assert root.get("entityID") == IDP
    assert root.get("validUntil") == "2030-06-01T12:00:00Z"
    idp = root.find("md:IDPSSODescriptor", NS)
    assert idp is not None
    assert idp.get("protocolSupportEnumeration") == NS_SAMLP
    assert idp.get("WantAuthnRequestsSigned") == "true"
    kds = idp.findall("md:KeyDescriptor", NS)
    assert [kd.get("use") for kd in kds] == ["signing", "signing"]
    certs = [kd.findtext("ds:KeyInfo/ds:X509Data/ds:X509Certificate", namespaces=NS) for kd in kds]
    assert certs == [rsa_key.cert_b64, ec_key.cert_b64]
    assert [x509.load_der_x509_certificate(base64.b64decode(c or "")) for c in certs] == [
        rsa_key.certificate,
        ec_key.certificate,
    ]
    sso = [(e.get("Binding"), e.get("Location")) for e in idp.iterfind("md:SingleSignOnService", NS)]
    assert sso == [
        ("urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect", "https://idp.example.com/sso"),
        ("urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST", "https://idp.example.com/sso"),
    ]
    slos = idp.findall("md:SingleLogoutService", NS)
    assert [(s.get("Binding"), s.get("Location")) for s in slos] == [
        ("urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect", "https://idp.example.com/slo"),
        ("urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST", "https://idp.example.com/slo"),
    ]
    # Schema order: KeyDescriptor*, SingleLogoutService*, NameIDFormat*, SingleSignOnService+.
    assert [etree.QName(c).localname for c in idp] == [
        "KeyDescriptor",
        "KeyDescriptor",
        "SingleLogoutService",
        "SingleLogoutService",
        "SingleSignOnService",
        "SingleSignOnService",
    ]


def test_idp_metadata_minimal(rsa_key: TestKey) -> None:
    root = etree.fromstring(idp_metadata_xml(IDP, [rsa_key], sso_url="https://idp/sso", use=None))
    assert root.get("validUntil") is None
    idp = root.find("md:IDPSSODescriptor", NS)
    assert idp is not None
    assert idp.get("WantAuthnRequestsSigned") == "false"
    assert idp.find("md:SingleLogoutService", NS) is None
    kd = idp.find("md:KeyDescriptor", NS)
    assert kd is not None
    assert "use" not in kd.attrib


def test_default_key_is_the_same_however_it_is_called() -> None:
    """functools.cache keys on the call's spelling: default_key() and default_key("rsa") must not differ."""
    from fedlib.testing import default_key

    assert default_key() is default_key("rsa") is default_key(kind="rsa") is default_key("rsa", "idp")
    assert default_key("rsa", "attacker") is default_key(label="attacker")
    assert default_key("rsa", "attacker") is not default_key()
