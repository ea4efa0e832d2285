"""AuthnRequest building: content, schema validity (OASIS protocol XSD), signing, and round trips
through both bindings back to the same request."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta, timezone
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from lxml import etree
from signxml import SignatureConfiguration, XMLVerifier
from tests.vectors.schemas import PROTOCOL, assert_valid

from fedlib._xml.parse import parse_xml
from fedlib.config import SPConfig
from fedlib.constants import BINDING_HTTP_POST, DS_SIGNATURE, NAMEID_PERSISTENT, SAML_ISSUER
from fedlib.protocol import (
    AuthnRequest,
    NameIDPolicy,
    RequestedAuthnContext,
    build_authn_request,
    decode_redirect_message,
    verify_redirect_signature,
)
from fedlib.testing import TestKey, default_key
from fedlib.xmldsig import Signer, TrustAnchors, verify_enveloped_signature

NOW = datetime(2026, 11, 21, 12, 0, 0, 123456, tzinfo=UTC)
SP_ID = "https://sp.example.com/saml/metadata"
ACS = "https://sp.example.com/saml/acs"
ACS2 = "https://sp.example.org/saml/acs"
SSO = "https://idp.example.org/sso"
NS = {
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
}
PPT = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
MFA = "https://refeds.org/profile/mfa"


def sp_key(kind: str = "rsa") -> TestKey:
    return default_key(kind, "sp")  # type: ignore[arg-type]


def make_sp(kind: str | None = None) -> SPConfig:
    key = sp_key(kind) if kind else None
    return SPConfig(
        entity_id=SP_ID,
        acs_url=ACS,
        additional_acs_urls=(ACS2,),
        signing_key=key.private_key if key else None,
        signing_certificates=(key.certificate,) if key else (),
    )


def test_defaults() -> None:
    request = build_authn_request(make_sp(), SSO, now=NOW)
    assert isinstance(request, AuthnRequest)
    assert re.fullmatch(r"_[0-9a-f]{32}", request.id)
    assert request.issue_instant == NOW.replace(microsecond=0)
    assert request.destination == SSO
    assert request.acs_url == ACS
    assert not request.xml.startswith(b"<?xml")
    root = assert_valid(request.xml, PROTOCOL)
    assert root.get("ID") == request.id
    assert root.get("Version") == "2.0"
    assert root.get("IssueInstant") == "2026-11-21T12:00:00Z"
    assert root.get("Destination") == SSO
    assert root.get("AssertionConsumerServiceURL") == ACS
    assert root.get("ProtocolBinding") == BINDING_HTTP_POST
    assert root.get("ForceAuthn") is None
    assert root.get("IsPassive") is None
    assert root.findtext("saml:Issuer", namespaces=NS) == SP_ID
    assert root.find("samlp:NameIDPolicy", NS) is None
    assert root.find("ds:Signature", NS) is None


def test_ids_are_fresh() -> None:
    ids = {build_authn_request(make_sp(), SSO, now=NOW).id for _ in range(50)}
    assert len(ids) == 50


def test_all_options_are_schema_valid() -> None:
    request = build_authn_request(
        make_sp(),
        SSO,
        now=datetime(2026, 11, 21, 14, 0, tzinfo=timezone(timedelta(hours=2))),
        request_id="_abc.DEF-123",
        force_authn=True,
        is_passive=True,
        name_id_policy=NameIDPolicy(format=NAMEID_PERSISTENT, allow_create=False, sp_name_qualifier=SP_ID),
        requested_authn_context=RequestedAuthnContext((MFA, PPT), comparison="minimum"),
        acs_url=ACS2,
    )
    root = assert_valid(request.xml, PROTOCOL)
    assert request.id == "_abc.DEF-123"
    assert root.get("IssueInstant") == "2026-11-21T12:00:00Z"
    assert root.get("ForceAuthn") == "true"
    assert root.get("IsPassive") == "true"
    assert root.get("AssertionConsumerServiceURL") == ACS2
    policy = root.find("samlp:NameIDPolicy", NS)
    assert policy is not None
    assert (policy.get("Format"), policy.get("AllowCreate"), policy.get("SPNameQualifier")) == (
        NAMEID_PERSISTENT,
        "false",
        SP_ID,
    )
    context = root.find("samlp:RequestedAuthnContext", NS)
    assert context is not None
    assert context.get("Comparison") == "minimum"
    assert [e.text for e in context] == [MFA, PPT]


def test_shorthands() -> None:
    root = etree.fromstring(
        build_authn_request(make_sp(), SSO, now=NOW, name_id_policy=NAMEID_PERSISTENT, requested_authn_context=PPT).xml
    )
    assert root.find("samlp:NameIDPolicy", NS).get("Format") == NAMEID_PERSISTENT  # type: ignore[union-attr]
    assert root.find("samlp:NameIDPolicy", NS).get("AllowCreate") == "true"  # type: ignore[union-attr]
    assert root.findtext("samlp:RequestedAuthnContext/saml:AuthnContextClassRef", namespaces=NS) == PPT
    root = etree.fromstring(build_authn_request(make_sp(), SSO, now=NOW, requested_authn_context=[MFA, PPT]).xml)
    assert root.find("samlp:RequestedAuthnContext", NS).get("Comparison") == "exact"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"request_id": "1abc"}, "xs:ID"),
        ({"request_id": "_a b"}, "xs:ID"),
        ({"request_id": "_" + "a" * 300}, "xs:ID"),
        ({"acs_url": "https://evil.example/acs"}, "not one of"),
        ({"now": datetime(2026, 1, 1)}, "naive"),
        ({"name_id_policy": "persistent"}, "absolute URI"),
        ({"requested_authn_context": []}, "at least one"),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = {"now": NOW, **kwargs}
    with pytest.raises(ValueError, match=match):
        build_authn_request(make_sp(), SSO, **args)  # type: ignore[arg-type]


@pytest.mark.parametrize("url", ["/sso", "javascript:alert(1)", "https://idp.example/sso#frag", "ftp://idp/sso"])
def test_bad_idp_url(url: str) -> None:
    with pytest.raises(ValueError, match="destination"):
        build_authn_request(make_sp(), url, now=NOW)


# ---------------------------------------------------------------------------------------------- signing


@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_signed_xml_verifies_with_fedlib_and_signxml(kind: str) -> None:
    sp = make_sp(kind)
    assert sp.signer is not None
    request = build_authn_request(sp, SSO, now=NOW, name_id_policy=NAMEID_PERSISTENT)
    signed = request.signed_xml(sp.signer)
    root = assert_valid(signed, PROTOCOL)
    # Schema position: right after the Issuer.
    assert [child.tag for child in root][:2] == [SAML_ISSUER, DS_SIGNATURE]
    tree = parse_xml(signed)
    result = verify_enveloped_signature(tree, tree[1], TrustAnchors.from_certificates([sp_key(kind).certificate]))
    assert result.element.get("ID") == request.id
    config = SignatureConfiguration(require_x509=True, location="./", expect_references=1)
    XMLVerifier().verify(signed, x509_cert=sp_key(kind).cert_pem.decode(), expect_config=config)


def test_signer_refuses_mismatched_certificate() -> None:
    with pytest.raises(ValueError, match="certificate"):
        Signer(sp_key("rsa").private_key, default_key("rsa", "other").certificate)


# ---------------------------------------------------------------------------------------------- round trips


class _Form(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}
        self.action: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.action = a.get("action")
        if tag == "input" and a.get("name"):
            self.fields[a["name"] or ""] = a.get("value") or ""


def _same_request(xml: bytes, request: AuthnRequest) -> None:
    root = parse_xml(xml)
    assert root.get("ID") == request.id
    assert root.get("Destination") == request.destination
    assert root.get("AssertionConsumerServiceURL") == request.acs_url
    assert root.findtext("saml:Issuer", namespaces=NS) == SP_ID


@pytest.mark.parametrize("kind", [None, "rsa", "ec"])
def test_redirect_round_trip(kind: str | None) -> None:
    sp = make_sp(kind)
    request = build_authn_request(sp, SSO, now=NOW, force_authn=True)
    url = request.redirect_url(relay_state="st-42", signer=sp.signer)
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == SSO
    xml = decode_redirect_message(parts.query)
    assert xml == request.xml  # the Redirect binding carries the unsigned XML; the query is signed
    _same_request(xml, request)
    if sp.signer is not None:
        verified = verify_redirect_signature(parts.query, TrustAnchors.from_certificates(sp.signing_certificates))
        assert verified.query.relay_state == "st-42"
    else:
        assert "Signature=" not in parts.query


@pytest.mark.parametrize("kind", [None, "rsa"])
def test_post_round_trip(kind: str | None) -> None:
    sp = make_sp(kind)
    request = build_authn_request(sp, SSO, now=NOW)
    form = _Form()
    form.feed(request.post_form(relay_state="st-42", signer=sp.signer))
    assert form.action == SSO
    assert form.fields["RelayState"] == "st-42"
    xml = base64.b64decode(form.fields["SAMLRequest"], validate=True)
    assert_valid(xml, PROTOCOL)
    _same_request(xml, request)
    root = parse_xml(xml)
    signature = root.find("ds:Signature", NS)
    if sp.signer is None:
        assert signature is None
    else:
        assert signature is not None
        verify_enveloped_signature(root, signature, TrustAnchors.from_certificates(sp.signing_certificates))
