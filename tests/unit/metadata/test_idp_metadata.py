"""IdP metadata parsing: selection, certificates, endpoints, validUntil, signed aggregates, bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fedlib.constants import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from fedlib.errors import ConfigurationError
from fedlib.metadata.idp import parse_idp_metadata
from fedlib.testing import default_key, idp_metadata_xml
from fedlib.testing.responses import sign_element

NOW = datetime(2026, 1, 1, tzinfo=UTC)
MD = "urn:oasis:names:tc:SAML:2.0:metadata"
DS = "http://www.w3.org/2000/09/xmldsig#"


def _entity(entity_id: str, cert_b64: str, *, use: str | None = "signing", protocol: str | None = None) -> str:
    use_attr = f' use="{use}"' if use else ""
    proto = protocol or "urn:oasis:names:tc:SAML:2.0:protocol"
    return f"""<md:EntityDescriptor xmlns:md="{MD}" xmlns:ds="{DS}" entityID="{entity_id}">
  <md:IDPSSODescriptor protocolSupportEnumeration="{proto}" WantAuthnRequestsSigned="true">
    <md:KeyDescriptor{use_attr}><ds:KeyInfo><ds:X509Data><ds:X509Certificate>
      {cert_b64}
    </ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:SingleLogoutService Binding="{BINDING_HTTP_REDIRECT}" Location="https://idp.example/slo"/>
    <md:SingleSignOnService Binding="{BINDING_HTTP_REDIRECT}" Location="https://idp.example/sso"/>
    <md:SingleSignOnService Binding="{BINDING_HTTP_POST}" Location="https://idp.example/sso-post"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>"""


def test_entity_descriptor() -> None:
    key = default_key()
    md = parse_idp_metadata(_entity("https://idp.example/", key.cert_b64).encode(), now=NOW)
    assert md.entity_id == "https://idp.example/"
    assert md.signing_certificates == (key.certificate,)
    assert md.want_authn_requests_signed is True
    assert md.sso_endpoint(BINDING_HTTP_POST).location == "https://idp.example/sso-post"  # type: ignore[union-attr]
    assert md.slo_endpoint(BINDING_HTTP_REDIRECT).location == "https://idp.example/slo"  # type: ignore[union-attr]
    assert len(md.trust) == 1


def test_rollover_certificates_and_use() -> None:
    a, b = default_key(), default_key(label="next")
    xml = idp_metadata_xml("https://idp.example/", [a, b], sso_url="https://idp.example/sso")
    assert parse_idp_metadata(xml, now=NOW).signing_certificates == (a.certificate, b.certificate)
    no_use = _entity("https://idp.example/", a.cert_b64, use=None).encode()
    assert parse_idp_metadata(no_use, now=NOW).signing_certificates == (a.certificate,)
    enc_only = _entity("https://idp.example/", a.cert_b64, use="encryption").encode()
    with pytest.raises(ConfigurationError, match="no signing certificate"):
        parse_idp_metadata(enc_only, now=NOW)


def test_aggregate_selection() -> None:
    a, b = default_key(), default_key(label="next")
    agg = (
        f'<md:EntitiesDescriptor xmlns:md="{MD}">'
        + _entity("https://a.example/", a.cert_b64)
        + f"<md:EntitiesDescriptor>{_entity('https://b.example/', b.cert_b64)}</md:EntitiesDescriptor>"
        + "</md:EntitiesDescriptor>"
    ).encode()
    assert parse_idp_metadata(agg, now=NOW, entity_id="https://b.example/").signing_certificates == (b.certificate,)
    with pytest.raises(ConfigurationError, match="name the one"):
        parse_idp_metadata(agg, now=NOW)
    with pytest.raises(ConfigurationError, match="no entity"):
        parse_idp_metadata(agg, now=NOW, entity_id="https://c.example/")


def test_valid_until() -> None:
    key = default_key()
    xml = idp_metadata_xml("https://idp.example/", [key], sso_url="https://idp.example/sso", valid_until=NOW)
    with pytest.raises(ConfigurationError, match="expired"):
        parse_idp_metadata(xml, now=NOW)
    md = parse_idp_metadata(xml, now=NOW - timedelta(seconds=1))
    assert md.valid_until == NOW


@pytest.mark.parametrize(
    "xml",
    [
        b"",
        b"<not-metadata/>",
        b'<!DOCTYPE x><md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="e"/>',
        b'<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="e"/>',
    ],
)
def test_bad_metadata_is_a_configuration_error(xml: bytes) -> None:
    with pytest.raises(ConfigurationError):
        parse_idp_metadata(xml, now=NOW)


def test_saml1_only_idp_is_refused() -> None:
    xml = _entity("e", default_key().cert_b64, protocol="urn:oasis:names:tc:SAML:1.1:protocol").encode()
    with pytest.raises(ConfigurationError):
        parse_idp_metadata(xml, now=NOW, entity_id="e")


@pytest.mark.parametrize("cert", ["!!!notbase64", "aGVsbG8="])
def test_bad_certificate(cert: str) -> None:
    with pytest.raises(ConfigurationError, match="X509Certificate"):
        parse_idp_metadata(_entity("e", cert).encode(), now=NOW)


def test_signed_aggregate() -> None:
    from lxml import etree

    federation, other = default_key(label="federation"), default_key(label="other")
    idp = default_key()
    agg = etree.fromstring(
        f'<md:EntitiesDescriptor xmlns:md="{MD}" ID="agg1">{_entity("https://a.example/", idp.cert_b64)}'
        "</md:EntitiesDescriptor>".encode()
    )
    sign_element(agg, federation)
    signed = etree.tostring(agg)
    md = parse_idp_metadata(signed, now=NOW, entity_id="https://a.example/", signed_by=[federation.certificate])
    assert md.signing_certificates == (idp.certificate,)
    with pytest.raises(ConfigurationError, match="signature is not valid"):
        parse_idp_metadata(signed, now=NOW, entity_id="https://a.example/", signed_by=[other.certificate])
    tampered = signed.replace(b"https://a.example/", b"https://evil.example/")
    with pytest.raises(ConfigurationError, match="signature is not valid"):
        parse_idp_metadata(tampered, now=NOW, entity_id="https://evil.example/", signed_by=[federation.certificate])
    with pytest.raises(ConfigurationError, match="exactly one signature"):
        parse_idp_metadata(
            _entity("https://a.example/", idp.cert_b64).encode(), now=NOW, signed_by=[federation.certificate]
        )


@pytest.mark.filterwarnings("ignore:Parsed a serial number")
def test_every_interop_metadata_file_parses(shared_dir: Path) -> None:
    files = sorted((shared_dir / "interop" / "peers" / "metadata").glob("*.xml"))
    assert len(files) >= 30
    for path in files:
        md = parse_idp_metadata(path.read_bytes(), now=NOW)
        assert md.entity_id
        assert md.signing_certificates
