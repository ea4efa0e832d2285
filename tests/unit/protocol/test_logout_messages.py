"""Single Logout builders: LogoutRequest and LogoutResponse content, OASIS protocol XSD validity, and
signatures over both bindings verified independently (signxml; pyca through fedlib's Redirect verifier)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from html import unescape
from urllib.parse import urlsplit

import pytest
from signxml import XMLVerifier
from tests.vectors.schemas import PROTOCOL, assert_valid

from fedlib._xml.parse import parse_xml
from fedlib.config import SPConfig
from fedlib.constants import NAMEID_PERSISTENT, STATUS_SUCCESS
from fedlib.protocol.bindings import decode_redirect_message, verify_redirect_signature
from fedlib.protocol.logout import STATUS_PARTIAL_LOGOUT, build_logout_request, build_logout_response
from fedlib.testing import TestKey, default_key
from fedlib.xmldsig import Signer, TrustAnchors

NOW = datetime(2026, 11, 21, 12, 0, 0, 123456, tzinfo=UTC)
SP_ID = "https://sp.example.com/saml/metadata"
SLO = "https://idp.example.org/slo"
NS = {"samlp": "urn:oasis:names:tc:SAML:2.0:protocol", "saml": "urn:oasis:names:tc:SAML:2.0:assertion"}


def sp_key() -> TestKey:
    return default_key("rsa", "sp")


SP = SPConfig(
    entity_id=SP_ID,
    acs_url="https://sp.example.com/saml/acs",
    slo_url="https://sp.example.com/saml/logout",
    signing_key=sp_key().private_key,
    signing_certificates=(sp_key().certificate,),
)


def request(**kw: object) -> bytes:
    args: dict[str, object] = {
        "name_id": "u-1",
        "name_id_format": NAMEID_PERSISTENT,
        "name_qualifier": "https://idp.example.org",
        "sp_name_qualifier": SP_ID,
        "session_index": "_s1",
        "now": NOW,
    } | kw
    return build_logout_request(SP, SLO, **args).xml  # type: ignore[arg-type]


def test_logout_request_names_the_session_exactly() -> None:
    root = parse_xml(request())
    assert root.get("Destination") == SLO
    assert root.get("IssueInstant") == "2026-11-21T12:00:00Z"
    assert root.findtext("saml:Issuer", namespaces=NS) == SP_ID
    name = root.find("saml:NameID", NS)
    assert name is not None
    assert name.text == "u-1"
    assert name.get("Format") == NAMEID_PERSISTENT
    assert name.get("NameQualifier") == "https://idp.example.org"
    assert name.get("SPNameQualifier") == SP_ID
    assert [e.text for e in root.findall("samlp:SessionIndex", NS)] == ["_s1"]
    assert_valid(request(), PROTOCOL)


def test_logout_request_leaves_out_what_the_login_did_not_carry() -> None:
    xml = request(name_id_format=None, name_qualifier=None, sp_name_qualifier=None, session_index=None)
    root = parse_xml(xml)
    name = root.find("saml:NameID", NS)
    assert name is not None
    assert dict(name.attrib) == {}
    assert root.find("samlp:SessionIndex", NS) is None
    assert_valid(xml, PROTOCOL)


@pytest.mark.parametrize("partial", [False, True])
def test_logout_response_status(partial: bool) -> None:
    message = build_logout_response(SP, SLO, in_response_to="_req1", now=NOW, partial=partial)
    root = parse_xml(message.xml)
    assert message.parameter == "SAMLResponse"
    assert root.get("InResponseTo") == "_req1"
    assert root.get("Destination") == SLO
    top = root.find("samlp:Status/samlp:StatusCode", NS)
    assert top is not None
    assert top.get("Value") == STATUS_SUCCESS
    second = top.find("samlp:StatusCode", NS)
    assert (second.get("Value") if second is not None else None) == (STATUS_PARTIAL_LOGOUT if partial else None)
    assert_valid(message.xml, PROTOCOL)


def test_bad_arguments_are_value_errors() -> None:
    with pytest.raises(ValueError, match="destination"):
        build_logout_request(SP, "javascript:alert(1)", name_id="u", now=NOW)
    with pytest.raises(ValueError, match="NameID"):
        build_logout_request(SP, SLO, name_id="", now=NOW)
    with pytest.raises(ValueError, match="in_response_to"):
        build_logout_response(SP, SLO, in_response_to="a b", now=NOW)


@pytest.mark.parametrize("kind", ["request", "response"])
def test_both_bindings_carry_a_signature_that_verifies(kind: str) -> None:
    message = (
        build_logout_request(SP, SLO, name_id="u", now=NOW)
        if kind == "request"
        else build_logout_response(SP, SLO, in_response_to="_r", now=NOW)
    )
    signer = Signer(sp_key().private_key, sp_key().certificate)
    url = message.redirect_url(relay_state="abc", signer=signer)
    query = urlsplit(url).query
    assert query.startswith(message.parameter + "=")
    verify_redirect_signature(query, TrustAnchors.from_certificates([sp_key().certificate]))
    assert decode_redirect_message(query) == message.xml
    page = message.post_form(signer=signer)
    value = unescape(page.split(f'name="{message.parameter}" value="')[1].split('"')[0])
    signed = base64.b64decode(value)
    XMLVerifier().verify(signed, x509_cert=sp_key().cert_pem.decode(), id_attribute="ID")
    assert_valid(signed, PROTOCOL)
