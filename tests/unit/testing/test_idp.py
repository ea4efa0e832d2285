"""TestIdP: every knob produces what a real IdP would send, and fedlib decides it as the policy says."""

from __future__ import annotations

import base64
import zlib
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree

from fedlib import (
    ErrorCode,
    ResponseRejected,
    SecurityPolicy,
    SPConfig,
    open_store,
    parse_idp_metadata,
    validate_response,
)
from fedlib.constants import NS_DS, NS_SAML, NS_SAMLP
from fedlib.protocol.models import AuthnResult
from fedlib.testing import default_key, generate_key
from fedlib.testing.behaviour import KNOBS, IdPBehaviour
from fedlib.testing.encryption import CONTENT_ALGORITHM_URI, decrypt_element, encrypt_element
from fedlib.testing.idp import IdPRefused, PostForm, TestIdP, TestUser
from fedlib.testing.profiles import PROFILES, get_profile

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
SP = "https://sp.example.org/saml/metadata"
ACS = "https://sp.example.org/saml/acs"
XENC = "http://www.w3.org/2001/04/xmlenc#"


def accept(idp: TestIdP, form: PostForm, *, request_id: str | None = None, **policy: object) -> AuthnResult:
    sp = SPConfig(
        entity_id=SP,
        acs_url=ACS,
        policy=SecurityPolicy(allow_unsolicited=request_id is None, **policy),  # type: ignore[arg-type]
    )
    md = parse_idp_metadata(idp.metadata_xml(), now=NOW)
    return validate_response(
        form.saml_response, sp=sp, idp=md, now=NOW, store=open_store("memory://"), request_id=request_id
    )


def refused(idp: TestIdP, form: PostForm, **kw: object) -> ResponseRejected:
    with pytest.raises(ResponseRejected) as info:
        accept(idp, form, **kw)  # type: ignore[arg-type]
    return info.value


def login(**knobs: object) -> tuple[TestIdP, PostForm]:
    idp = TestIdP(**knobs)
    return idp, idp.initiate(SP, ACS, now=NOW)


def test_default_idp_is_accepted_with_every_attribute() -> None:
    idp, form = login()
    result = accept(idp, form)
    assert result.name_id == "ada@example.org"
    assert result.attributes["groups"] == ("admins", "staff")
    assert result.issuer == idp.entity_id


def test_unicode_user_round_trips() -> None:
    idp = TestIdP()
    form = idp.initiate(SP, ACS, user="zoë.ångström@example.org", now=NOW)
    result = accept(idp, form)
    assert result.name_id == "zoë.ångström@example.org"
    assert result.attributes["surname"] == ("Ångström \U0001d538",)


@pytest.mark.parametrize(
    ("signing", "code"),
    [
        ("response", None),
        ("both", None),
        ("assertion", ErrorCode.ASSERTION_ONLY_SIGNATURE),
        ("none", ErrorCode.UNSIGNED_MESSAGE),
    ],
)
def test_signing_modes(signing: str, code: ErrorCode | None) -> None:
    idp, form = login(signing=signing)
    root = etree.fromstring(form.xml)
    response_signed = root.find(f"{{{NS_DS}}}Signature") is not None
    assertion_signed = root.find(f"{{{NS_SAML}}}Assertion/{{{NS_DS}}}Signature") is not None
    assert response_signed == (signing in ("response", "both"))
    assert assertion_signed == (signing in ("assertion", "both"))
    if code is None:
        accept(idp, form)
    else:
        assert refused(idp, form).code == code


@pytest.mark.parametrize(
    ("key_info", "code", "children"),
    [
        ("certificate", None, {"X509Data"}),
        ("certificate+keyvalue", None, {"X509Data", "KeyValue", "KeyName"}),
        ("keyvalue", ErrorCode.MISSING_CERTIFICATE, {"KeyValue"}),
        ("keyname", ErrorCode.MISSING_CERTIFICATE, {"KeyName"}),
        ("none", ErrorCode.MISSING_CERTIFICATE, None),
    ],
)
def test_key_info_modes(key_info: str, code: ErrorCode | None, children: set[str] | None) -> None:
    idp, form = login(key_info=key_info)
    key_info_el = etree.fromstring(form.xml).find(f"{{{NS_DS}}}Signature/{{{NS_DS}}}KeyInfo")
    if children is None:
        assert key_info_el is None
    else:
        assert key_info_el is not None
        assert {etree.QName(c).localname for c in key_info_el} == children
    if code is None:
        accept(idp, form)
    else:
        assert refused(idp, form).code == code


@pytest.mark.parametrize("position", ["after-issuer", "first", "last"])
def test_signature_position(position: str) -> None:
    idp, form = login(signature_position=position)
    root = etree.fromstring(form.xml)
    tags = [etree.QName(c).localname for c in root]
    expected = {"after-issuer": 1, "first": 0, "last": len(tags) - 1}[position]
    assert tags[expected] == "Signature"
    accept(idp, form)


@pytest.mark.parametrize(
    ("knobs", "code"),
    [
        ({"signature_algorithm": "rsa-sha1"}, ErrorCode.WEAK_ALGORITHM),
        ({"digest_algorithm": "sha1"}, ErrorCode.WEAK_ALGORITHM),
        ({"signature_algorithm": "rsa-sha512", "digest_algorithm": "sha512"}, None),
        ({"signature_algorithm": "sha256-rsa-MGF1"}, None),
        ({"c14n": "c14n"}, None),
    ],
)
def test_algorithms(knobs: dict[str, str], code: ErrorCode | None) -> None:
    idp, form = login(**knobs)
    if code is None:
        accept(idp, form)
    else:
        assert refused(idp, form).code == code
        accept(idp, form, allow_sha1=True)


def test_ec_key() -> None:
    idp = TestIdP(key_kind="ec")
    form = idp.initiate(SP, ACS, now=NOW)
    assert b"ecdsa-sha256" in form.xml
    accept(idp, form)


@pytest.mark.parametrize("knob", ["encrypt_assertion", "encrypt_name_id", "encrypt_attributes"])
@pytest.mark.parametrize("algorithm", sorted(CONTENT_ALGORITHM_URI))
def test_encryption_is_real_and_refused(knob: str, algorithm: str) -> None:
    sp_key = generate_key("rsa", common_name="sp-encryption")
    idp = TestIdP(encryption_certificate=sp_key.certificate, **{knob: True, "encryption_algorithm": algorithm})
    form = idp.initiate(SP, ACS, now=NOW)
    root = etree.fromstring(form.xml)
    data = root.find(f".//{{{XENC}}}EncryptedData")
    assert data is not None
    assert data.find(f"{{{XENC}}}EncryptionMethod").get("Algorithm") == CONTENT_ALGORITHM_URI[algorithm]  # type: ignore[union-attr]
    assert isinstance(sp_key.private_key, rsa.RSAPrivateKey)
    plain = decrypt_element(data, sp_key.private_key)
    expected = {"encrypt_assertion": "Assertion", "encrypt_name_id": "NameID", "encrypt_attributes": "Attribute"}
    assert etree.QName(plain).localname == expected[knob]
    assert refused(idp, form).code == ErrorCode.ENCRYPTED_CLAIMS_UNSUPPORTED


def test_encrypted_assertion_keeps_its_signature_inside() -> None:
    sp_key = generate_key("rsa", common_name="sp-encryption")
    idp = TestIdP(encryption_certificate=sp_key.certificate, encrypt_assertion=True, signing="both")
    root = etree.fromstring(idp.initiate(SP, ACS, now=NOW).xml)
    data = root.find(f"{{{NS_SAML}}}EncryptedAssertion/{{{XENC}}}EncryptedData")
    assert data is not None
    assert isinstance(sp_key.private_key, rsa.RSAPrivateKey)
    assertion = decrypt_element(data, sp_key.private_key)
    assert assertion.find(f"{{{NS_DS}}}Signature") is not None


def test_encrypt_element_refuses_ec_recipient() -> None:
    with pytest.raises(ValueError, match="RSA"):
        encrypt_element(etree.Element("x"), default_key("ec").certificate)


@pytest.mark.parametrize(
    ("status", "message"),
    [("authn-failed", "wrong password"), ("requester", None), ("responder", "down")],
)
def test_status(status: str, message: str | None) -> None:
    idp, form = login(status=status, status_message=message)
    error = refused(idp, form)
    assert error.code == ErrorCode.STATUS_NOT_SUCCESS
    if message:
        assert message in error.message


@pytest.mark.parametrize(
    ("offset", "code"),
    [
        (timedelta(seconds=170), None),
        (timedelta(minutes=10), ErrorCode.NOT_YET_VALID),
        (timedelta(minutes=-10), ErrorCode.EXPIRED),
    ],
)
def test_clock_offset(offset: timedelta, code: ErrorCode | None) -> None:
    idp, form = login(clock_offset=offset)
    if code is None:
        accept(idp, form)
    else:
        assert refused(idp, form).code == code


def test_short_lifetime_expires() -> None:
    idp = TestIdP(lifetime=timedelta(seconds=30))
    form = idp.initiate(SP, ACS, now=NOW - timedelta(minutes=5))
    assert refused(idp, form).code == ErrorCode.EXPIRED


def test_rippling_style_in_response_to_on_unsolicited() -> None:
    idp, form = login(in_response_to_on_unsolicited="_rippling")
    assert b'InResponseTo="_rippling"' in form.xml
    assert refused(idp, form).code in (ErrorCode.WRONG_IN_RESPONSE_TO, ErrorCode.UNSOLICITED_NOT_ALLOWED)
    result = accept(idp, form, allow_in_response_to_on_unsolicited=True)
    assert result.name_id == "ada@example.org"


def test_name_id_and_attribute_naming() -> None:
    idp, form = login(
        name_id_format=None,
        attribute_names={"email": "urn:oid:0.9.2342.19200300.100.1.3"},
        attribute_name_format=None,
        authn_context_class_ref="urn:x",
        session_index=False,
    )
    result = accept(idp, form)
    assert result.name_id_format is None
    assert result.attributes["urn:oid:0.9.2342.19200300.100.1.3"] == ("ada@example.org",)
    assert result.authn_context_class == "urn:x"
    assert result.session_index is None


def test_custom_users() -> None:
    idp = TestIdP(users=[TestUser("bob", {"role": ["a", "b"]})])
    result = accept(idp, idp.initiate(SP, ACS, now=NOW))
    assert result.name_id == "bob"
    assert result.attributes["role"] == ("a", "b")
    with pytest.raises(IdPRefused, match="unknown user"):
        idp.initiate(SP, ACS, user="nobody", now=NOW)


def test_idp_initiated_can_be_switched_off() -> None:
    idp = TestIdP(idp_initiated=False)
    with pytest.raises(IdPRefused) as info:
        idp.initiate(SP, ACS, now=NOW)
    assert info.value.knob == "idp_initiated"


def test_unknown_knob_is_named() -> None:
    with pytest.raises(TypeError, match="sign_everything"):
        TestIdP(sign_everything=True)
    with pytest.raises(ValueError, match="unknown status"):
        IdPBehaviour(status="maybe")  # type: ignore[arg-type]


def test_metadata_lists_sso_and_slo_for_both_bindings() -> None:
    idp = TestIdP()
    md = parse_idp_metadata(idp.metadata_xml(), now=NOW)
    assert md.entity_id == idp.entity_id
    assert len(md.trust) == 1
    xml = idp.metadata_xml().decode()
    assert xml.count("SingleSignOnService") == 2
    assert xml.count("<md:SingleLogoutService") == 2
    assert {e.binding.rsplit(":", 1)[1] for e in md.slo_endpoints} == {"HTTP-Redirect", "HTTP-POST"}


# ---- receiving AuthnRequests (hand-built here, independent of fedlib's own request builder) ----


def _authn_request(issuer: str = SP, acs: str | None = ACS, request_id: str = "_req1") -> bytes:
    root = etree.Element(f"{{{NS_SAMLP}}}AuthnRequest", nsmap={"samlp": NS_SAMLP, "saml": NS_SAML})
    root.set("ID", request_id)
    root.set("Version", "2.0")
    root.set("IssueInstant", "2026-06-01T12:00:00Z")
    root.set("ForceAuthn", "true")
    if acs:
        root.set("AssertionConsumerServiceURL", acs)
    etree.SubElement(root, f"{{{NS_SAML}}}Issuer").text = issuer
    return etree.tostring(root)


def _redirect_query(xml: bytes, relay_state: str | None = None) -> str:
    c = zlib.compressobj(wbits=-15)
    query = "SAMLRequest=" + quote(base64.b64encode(c.compress(xml) + c.flush()).decode(), safe="")
    if relay_state:
        query += "&RelayState=" + quote(relay_state, safe="")
    return query


def test_sp_initiated_over_redirect() -> None:
    idp = TestIdP()
    info = idp.receive_redirect(idp.sso_url + "?" + _redirect_query(_authn_request(), "/next?a=1"))
    assert (info.id, info.issuer, info.acs_url, info.relay_state, info.force_authn) == (
        "_req1",
        SP,
        ACS,
        "/next?a=1",
        True,
    )
    form = idp.respond(info, now=NOW)
    assert form.relay_state == "/next?a=1"
    assert accept(idp, form, request_id="_req1").in_response_to == "_req1"


def test_sp_initiated_over_post() -> None:
    idp = TestIdP()
    info = idp.receive_post(base64.b64encode(_authn_request()).decode(), relay_state="r")
    assert info.binding.endswith("HTTP-POST")
    accept(idp, idp.respond(info, now=NOW), request_id="_req1")


def test_respond_only_to_registered_acs() -> None:
    idp = TestIdP()
    idp.register_sp(SP, ACS)
    info = idp.receive_redirect(_redirect_query(_authn_request(acs="https://evil.example/acs")))
    with pytest.raises(IdPRefused, match="not an ACS URL"):
        idp.respond(info, now=NOW)
    info = idp.receive_redirect(_redirect_query(_authn_request(acs=None)))
    assert idp.respond(info, now=NOW).action == ACS


def test_signed_redirect_request_is_checked_against_the_sp_certificate() -> None:
    from fedlib.testing.idp import _encode, _sign_octets

    sp_key = default_key("rsa", "sp")
    idp = TestIdP(want_authn_requests_signed=True)
    idp.register_sp(SP, ACS, [sp_key.certificate])
    alg = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
    for lower in (False, True):
        query = _redirect_query(_authn_request(), "rs") + "&SigAlg=" + _encode(alg, lowercase=lower)
        signature = base64.b64encode(_sign_octets(sp_key, alg, query.encode())).decode()
        info = idp.receive_redirect(query + "&Signature=" + _encode(signature, lowercase=lower))
        assert info.signed
    other = default_key("rsa", "attacker")
    query = _redirect_query(_authn_request()) + "&SigAlg=" + quote(alg, safe="")
    bad = base64.b64encode(_sign_octets(other, alg, query.encode())).decode()
    with pytest.raises(IdPRefused, match="does not verify"):
        idp.receive_redirect(query + "&Signature=" + quote(bad, safe=""))
    with pytest.raises(IdPRefused) as info_err:
        idp.receive_redirect(_redirect_query(_authn_request()))
    assert info_err.value.knob == "want_authn_requests_signed"


def test_logout_request_uses_lowercase_escapes_when_asked() -> None:
    for lower in (False, True):
        idp = TestIdP(lowercase_percent_encoding=lower)
        url = idp.logout_request_url("https://sp.example.org/slo", "ada", relay_state="/a b/", now=NOW)
        query = urlsplit(url).query
        escapes = {query[i + 1 : i + 3] for i in range(len(query)) if query[i] == "%"}
        assert escapes
        assert all(e == (e.lower() if lower else e.upper()) for e in escapes)
        assert set(parse_qs(query)) == {"SAMLRequest", "RelayState", "SigAlg", "Signature"}


# ---- vendor profiles ----

EXPECTED_IDP_INITIATED = {
    "entra": ErrorCode.ASSERTION_ONLY_SIGNATURE,
    "okta": None,
    "adfs": "idp_initiated",
    "google": ErrorCode.ASSERTION_ONLY_SIGNATURE,
    "onelogin": ErrorCode.ASSERTION_ONLY_SIGNATURE,
    "keycloak": "idp_initiated",
    "shibboleth": ErrorCode.ENCRYPTED_CLAIMS_UNSUPPORTED,
    "pingfederate": ErrorCode.MISSING_CERTIFICATE,
    "auth0": ErrorCode.ASSERTION_ONLY_SIGNATURE,
    "salesforce": None,
    "simplesamlphp": None,
    "rippling": ErrorCode.WRONG_IN_RESPONSE_TO,  # validate_response directly; through the SP: unknown-request
}


def test_every_profile_has_an_expectation() -> None:
    assert set(EXPECTED_IDP_INITIATED) == set(PROFILES)


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_profile_defaults_as_documented(name: str) -> None:
    expected = EXPECTED_IDP_INITIATED[name]
    idp = TestIdP(profile=name)
    if isinstance(expected, str) and expected in KNOBS:
        with pytest.raises(IdPRefused) as info:
            idp.initiate(SP, ACS, now=NOW)
        assert info.value.knob == expected
        return
    form = idp.initiate(SP, ACS, now=NOW)
    if expected is None:
        accept(idp, form)
    else:
        assert refused(idp, form).code == expected


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_profile_settings_make_it_work(name: str) -> None:
    """Applying every documented setting to the vendor defaults gives an IdP fedlib accepts."""
    profile = get_profile(name)
    changes = {s.knob: s.value for s in profile.settings}
    idp = TestIdP(profile=name, **changes)
    sp_side = {s.key: True for s in profile.sp_settings}  # fedlib-side quirk settings (Rippling)
    accept(idp, idp.initiate(SP, ACS, now=NOW), **sp_side)
    for setting in profile.sp_settings:
        assert setting.setting
        assert setting.source
    for setting in profile.settings:
        assert setting.setting
        assert setting.source


def test_profile_facts_from_the_design_note() -> None:
    assert get_profile("entra").defaults.lowercase_percent_encoding
    assert get_profile("adfs").defaults.lowercase_percent_encoding
    assert get_profile("keycloak").defaults.key_info == "certificate+keyvalue"
    assert "Signing Option = Sign SAML response and assertion" in get_profile("entra").setting_for("signing").setting  # type: ignore[union-attr]
    ping = get_profile("pingfederate").setting_for("key_info")
    assert ping is not None
    assert "Include the certificate in the signature <KeyInfo> element" in ping.setting
    with pytest.raises(ValueError, match="known"):
        get_profile("nope")
