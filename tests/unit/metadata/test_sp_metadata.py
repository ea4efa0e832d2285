"""SP metadata: schema validity (official OASIS XSD, offline), content, signatures (signxml and fedlib),
and the SPConfig fields it is rendered from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree
from signxml import SignatureConfiguration, XMLVerifier
from signxml.exceptions import InvalidSignature
from tests.vectors.schemas import METADATA, assert_valid

from fedlib._xml.parse import parse_xml
from fedlib.config import ContactPerson, Organization, SPConfig
from fedlib.constants import (
    BINDING_HTTP_POST,
    BINDING_HTTP_REDIRECT,
    DS_SIGNATURE,
    NAMEID_EMAIL,
    NAMEID_PERSISTENT,
    PROTOCOL_SAML2,
)
from fedlib.errors import ConfigurationError, ErrorCode, ResponseRejected
from fedlib.metadata import render_sp_metadata
from fedlib.metadata.sp import format_duration
from fedlib.testing import TestKey, default_key
from fedlib.xmldsig import Signer, TrustAnchors, verify_enveloped_signature

SP_ID = "https://sp.example.com/saml/metadata"
ACS = "https://sp.example.com/saml/acs"
NS = {"md": "urn:oasis:names:tc:SAML:2.0:metadata", "ds": "http://www.w3.org/2000/09/xmldsig#"}


def current() -> TestKey:
    return default_key("rsa", "sp")


def nxt() -> TestKey:
    return default_key("rsa", "sp-next")


def sp_config(n_certs: int = 1, *, with_key: bool = True, **kwargs: object) -> SPConfig:
    certs = (current().certificate, nxt().certificate)[:n_certs]
    key = current().private_key if with_key and n_certs else None
    return SPConfig(entity_id=SP_ID, acs_url=ACS, signing_key=key, signing_certificates=certs, **kwargs)  # type: ignore[arg-type]


def full_config(n_certs: int = 2) -> SPConfig:
    return sp_config(
        n_certs,
        additional_acs_urls=("https://sp2.example.com/saml/acs",),
        slo_url="https://sp.example.com/saml/slo",
        name_id_formats=(NAMEID_PERSISTENT, NAMEID_EMAIL),
        organization=Organization(name="Example Ltd", display_name="Example", url="https://example.com/"),
        contacts=(
            ContactPerson(contact_type="technical", given_name="Ada", email_addresses=("ops@example.com",)),
            ContactPerson(contact_type="support", company="Example Ltd", telephone_numbers=("+1 555 0100",)),
        ),
    )


def _certs_in(root: etree._Element) -> list[str]:
    return [
        "".join(t.split())
        for t in root.xpath(
            "md:SPSSODescriptor/md:KeyDescriptor/ds:KeyInfo/ds:X509Data/ds:X509Certificate/text()", namespaces=NS
        )
    ]


# ---------------------------------------------------------------------------------------------- schema


@pytest.mark.parametrize("n_certs", [0, 1, 2])
def test_minimal_metadata_is_schema_valid(n_certs: int) -> None:
    sp = sp_config(n_certs)
    root = assert_valid(render_sp_metadata(sp), METADATA)
    assert len(root.findall("md:SPSSODescriptor/md:KeyDescriptor", NS)) == n_certs


@pytest.mark.parametrize("n_certs", [0, 1, 2])
def test_full_metadata_is_schema_valid(n_certs: int) -> None:
    xml = render_sp_metadata(
        full_config(n_certs),
        valid_until=datetime(2027, 1, 1, tzinfo=UTC),
        cache_duration=timedelta(days=1, hours=2),
    )
    assert_valid(xml, METADATA)


@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_signed_metadata_is_schema_valid(kind: str) -> None:
    key = default_key(kind, "sp")  # type: ignore[arg-type]
    xml = render_sp_metadata(full_config(1), sign_with=Signer(key.private_key, key.certificate))
    root = assert_valid(xml, METADATA)
    assert root[0].tag == DS_SIGNATURE


def test_the_schema_is_really_checked() -> None:
    root = etree.fromstring(render_sp_metadata(sp_config(1)))
    sso = root[0]
    sso.append(sso.find("md:KeyDescriptor", NS))  # KeyDescriptor after the ACS: out of schema order
    with pytest.raises(AssertionError, match="not valid"):
        assert_valid(etree.tostring(root), METADATA)


def test_schema_resolution_never_leaves_the_directory() -> None:
    from tests.vectors.schemas import SchemaFetchRefused, _parser

    remote = b"""<schema xmlns="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:x">
      <import namespace="urn:y" schemaLocation="http://example.invalid/y.xsd"/></schema>"""
    with pytest.raises((SchemaFetchRefused, etree.XMLSchemaParseError)):
        etree.XMLSchema(etree.fromstring(remote, _parser()))


# ---------------------------------------------------------------------------------------------- content


def test_content_of_full_metadata() -> None:
    root = etree.fromstring(render_sp_metadata(full_config(2)))
    assert root.get("entityID") == SP_ID
    assert root.get("ID") is None  # only signed metadata needs one
    (sso,) = root.findall("md:SPSSODescriptor", NS)
    assert sso.get("protocolSupportEnumeration") == PROTOCOL_SAML2
    assert sso.get("AuthnRequestsSigned") == "true"
    assert sso.get("WantAssertionsSigned") == "false"
    # Signing keys only, current first, each with an explicit use (no use would also mean encryption).
    assert [k.get("use") for k in sso.findall("md:KeyDescriptor", NS)] == ["signing", "signing"]
    assert _certs_in(root) == [current().cert_b64, nxt().cert_b64]
    assert not root.xpath("//md:KeyDescriptor[not(@use) or @use!='signing']", namespaces=NS)
    assert not root.xpath("//md:EncryptionMethod", namespaces=NS)
    slo = [(e.get("Binding"), e.get("Location")) for e in sso.findall("md:SingleLogoutService", NS)]
    assert slo == [
        (BINDING_HTTP_REDIRECT, "https://sp.example.com/saml/slo"),
        (BINDING_HTTP_POST, "https://sp.example.com/saml/slo"),
    ]
    assert [e.text for e in sso.findall("md:NameIDFormat", NS)] == [NAMEID_PERSISTENT, NAMEID_EMAIL]
    acs = [
        (e.get("Binding"), e.get("Location"), e.get("index"), e.get("isDefault"))
        for e in sso.findall("md:AssertionConsumerService", NS)
    ]
    assert acs == [
        (BINDING_HTTP_POST, ACS, "0", "true"),
        (BINDING_HTTP_POST, "https://sp2.example.com/saml/acs", "1", None),
    ]
    assert root.findtext("md:Organization/md:OrganizationURL", namespaces=NS) == "https://example.com/"
    contacts = root.findall("md:ContactPerson", NS)
    assert [c.get("contactType") for c in contacts] == ["technical", "support"]
    assert contacts[0].findtext("md:EmailAddress", namespaces=NS) == "mailto:ops@example.com"


def test_without_key_requests_are_not_signed_and_slo_is_absent() -> None:
    root = etree.fromstring(render_sp_metadata(sp_config(1, with_key=False)))
    sso = root.find("md:SPSSODescriptor", NS)
    assert sso is not None
    assert sso.get("AuthnRequestsSigned") == "false"
    assert sso.get("WantAssertionsSigned") == "false"
    assert sso.find("md:SingleLogoutService", NS) is None
    assert _certs_in(root) == [current().cert_b64]


def test_valid_until_and_cache_duration() -> None:
    root = etree.fromstring(
        render_sp_metadata(
            sp_config(), valid_until=datetime(2027, 1, 1, 12, tzinfo=UTC), cache_duration=timedelta(hours=6)
        )
    )
    assert root.get("validUntil") == "2027-01-01T12:00:00Z"
    assert root.get("cacheDuration") == "PT6H"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(seconds=1), "PT1S"),
        (timedelta(minutes=30), "PT30M"),
        (timedelta(days=7), "P7D"),
        (timedelta(days=1, hours=2, minutes=3, seconds=4), "P1DT2H3M4S"),
    ],
)
def test_format_duration(value: timedelta, text: str) -> None:
    assert format_duration(value) == text


@pytest.mark.parametrize("value", [timedelta(0), timedelta(seconds=-1), timedelta(milliseconds=1500)])
def test_bad_cache_duration(value: timedelta) -> None:
    with pytest.raises(ConfigurationError):
        render_sp_metadata(sp_config(), cache_duration=value)


def test_naive_valid_until_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        render_sp_metadata(sp_config(), valid_until=datetime(2027, 1, 1))


def test_overlong_entity_id() -> None:
    with pytest.raises(ConfigurationError, match="1024"):
        render_sp_metadata(SPConfig(entity_id="urn:x:" + "a" * 1100, acs_url=ACS))


def test_hostile_values_are_escaped_by_the_serializer() -> None:
    org = Organization(name='A & B <"x">', display_name="<script>", url="https://example.com/?a=1&b=2")
    xml = render_sp_metadata(sp_config(organization=org))
    root = assert_valid(xml, METADATA)
    assert root.findtext("md:Organization/md:OrganizationName", namespaces=NS) == 'A & B <"x">'
    assert b"<script>" not in xml


# ---------------------------------------------------------------------------------------------- signatures


def _signxml_verify(xml: bytes, key: TestKey) -> bytes:
    config = SignatureConfiguration(require_x509=True, location="./", expect_references=1)
    result = XMLVerifier().verify(xml, x509_cert=key.cert_pem.decode(), expect_config=config)
    return etree.tostring(result.signed_xml)


@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_signed_metadata_verifies_with_signxml_and_fedlib(kind: str) -> None:
    key = default_key(kind, "sp")  # type: ignore[arg-type]
    xml = render_sp_metadata(full_config(2), sign_with=Signer(key.private_key, key.certificate))
    signed = _signxml_verify(xml, key)
    assert b"SPSSODescriptor" in signed

    root = parse_xml(xml)
    verified = verify_enveloped_signature(root, root[0], TrustAnchors.from_certificates([key.certificate]))
    assert verified.element.get("entityID") == SP_ID
    assert verified.trusted_key.certificate == key.certificate


def test_signed_with_sp_signer_uses_current_certificate() -> None:
    sp = full_config(2)
    assert sp.signer is not None
    root = etree.fromstring(render_sp_metadata(sp, sign_with=sp.signer))
    ki = root.findtext("ds:Signature/ds:KeyInfo/ds:X509Data/ds:X509Certificate", namespaces=NS)
    assert ki == current().cert_b64
    assert root.get("ID", "").startswith("_")
    assert root.find("ds:Signature/ds:SignedInfo/ds:Reference", NS).get("URI") == "#" + root.get("ID")  # type: ignore[union-attr]


def test_tampered_signed_metadata_is_refused_by_both() -> None:
    key = current()
    xml = render_sp_metadata(full_config(1), sign_with=Signer(key.private_key, key.certificate))
    tampered = xml.replace(ACS.encode(), b"https://evil.example/acs")
    with pytest.raises(InvalidSignature):
        _signxml_verify(tampered, key)
    root = parse_xml(tampered)
    with pytest.raises(ResponseRejected) as info:
        verify_enveloped_signature(root, root[0], TrustAnchors.from_certificates([key.certificate]))
    assert info.value.code is ErrorCode.INVALID_SIGNATURE


# ---------------------------------------------------------------------------------------------- SPConfig


def test_existing_defaults_are_unchanged() -> None:
    sp = SPConfig(entity_id=SP_ID, acs_url=ACS)
    assert sp.signing_key is None
    assert sp.signer is None
    assert sp.authn_requests_signed is False
    assert sp.signing_certificates == ()
    assert sp.acs_urls == (ACS,)
    assert "signing_key" not in repr(sp)  # never printed, even as an object


def test_pem_key_is_loaded() -> None:
    sp = SPConfig(
        entity_id=SP_ID, acs_url=ACS, signing_key=current().key_pem, signing_certificates=[current().certificate]
    )  # type: ignore[arg-type]
    assert isinstance(sp.signing_key, rsa.RSAPrivateKey)
    assert sp.signing_certificates == (current().certificate,)
    assert sp.authn_requests_signed
    assert "PRIVATE KEY" not in repr(sp)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"signing_key": "KEY"}, "signing_key"),
        ({"signing_key": b"not a pem"}, "PEM"),
        ({"signing_key": "K", "signing_certificates": ()}, "signing_key"),
        ({"slo_url": "/slo"}, "slo_url"),
        ({"additional_acs_urls": (ACS,)}, "distinct"),
        ({"additional_acs_urls": ("javascript:alert(1)",)}, "additional_acs_urls"),
        ({"name_id_formats": ("persistent",)}, "absolute URI"),
        ({"name_id_formats": (NAMEID_EMAIL, NAMEID_EMAIL)}, "twice"),
    ],
)
def test_config_validation(kwargs: dict[str, object], match: str) -> None:
    if kwargs.get("signing_key") == "K":
        kwargs = {**kwargs, "signing_key": current().private_key}
    with pytest.raises(ConfigurationError, match=match):
        SPConfig(entity_id=SP_ID, acs_url=ACS, **kwargs)  # type: ignore[arg-type]


def test_key_must_match_the_current_certificate() -> None:
    with pytest.raises(ConfigurationError, match="current"):
        SPConfig(
            entity_id=SP_ID,
            acs_url=ACS,
            signing_key=current().private_key,
            signing_certificates=(nxt().certificate, current().certificate),
        )
    with pytest.raises(ConfigurationError, match="twice"):
        SPConfig(entity_id=SP_ID, acs_url=ACS, signing_certificates=(nxt().certificate, nxt().certificate))


def test_weak_and_encrypted_keys_are_refused() -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - the point of the test
    with pytest.raises(ConfigurationError, match="2048"):
        SPConfig(entity_id=SP_ID, acs_url=ACS, signing_key=weak)
    encrypted = current().private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw"),
    )
    with pytest.raises(ConfigurationError, match="encrypted"):
        SPConfig(entity_id=SP_ID, acs_url=ACS, signing_key=encrypted, signing_certificates=(current().certificate,))


def test_contacts_and_organization_validation() -> None:
    with pytest.raises(ConfigurationError, match="contact_type"):
        ContactPerson(contact_type="sales", email_addresses=("a@example.com",))
    with pytest.raises(ConfigurationError, match="at least"):
        ContactPerson(contact_type="technical")
    with pytest.raises(ConfigurationError, match="email"):
        ContactPerson(contact_type="technical", email_addresses=("nobody",))
    with pytest.raises(ConfigurationError, match="url"):
        Organization(name="x", display_name="x", url="example.com")
    contact = ContactPerson(contact_type="other", email_addresses=["mailto:a@example.com"])  # type: ignore[arg-type]
    assert contact.email_addresses == ("mailto:a@example.com",)
    root = etree.fromstring(render_sp_metadata(sp_config(contacts=(contact,))))
    assert root.findtext("md:ContactPerson/md:EmailAddress", namespaces=NS) == "mailto:a@example.com"
