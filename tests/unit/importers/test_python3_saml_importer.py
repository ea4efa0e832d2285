"""The python3-saml importer: what carries over works end to end; what cannot is reported, setting by setting."""

from __future__ import annotations

import base64
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from tests.unit.importers import python3_saml_fixture as fixture

from fedlib.config import SecurityPolicy
from fedlib.constants import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, NAMEID_EMAIL
from fedlib.errors import ConfigurationError, ErrorCode, ResponseRejected
from fedlib.importers import ImportReport, import_python3_saml
from fedlib.settings import load_settings, load_settings_toml
from fedlib.testing import default_key
from fedlib.testing.idp import TestIdP

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def run(settings: dict[str, Any] | None = None, advanced: dict[str, Any] | None = None, **kw: Any) -> ImportReport:
    return import_python3_saml(settings or fixture.settings(), advanced, now=NOW, **kw)


def reported(report: ImportReport) -> dict[str, str]:
    return dict(report.not_honoured)


def test_the_fixture_imports() -> None:
    report = run(fixture.settings(), fixture.advanced_settings())
    tenant = report.settings.tenant()
    sp = tenant.sp
    assert (sp.entity_id, sp.acs_url, sp.slo_url) == (
        fixture.SP_ENTITY_ID,
        fixture.SP_ACS,
        "https://app.example.com/saml/?sls",
    )
    assert sp.name_id_formats == (NAMEID_EMAIL,)
    # x509cert then x509certNew: the current certificate first, the rollover one next
    assert sp.signing_certificates == (fixture.sp_key().certificate, fixture.sp_next_key().certificate)
    assert sp.authn_requests_signed  # authnRequestsSigned = true and a key (bare base64 PKCS#1)
    assert sp.policy == SecurityPolicy()  # secure defaults, nothing relaxed
    assert [c.contact_type for c in sp.contacts] == ["technical", "support"]
    assert sp.contacts[0].email_addresses == ("platform@example.com",)
    assert sp.organization is not None
    assert (sp.organization.lang, sp.organization.display_name) == ("en-US", "Example Ltd")
    (idp,) = tenant.idps
    assert idp.entity_id == "https://idp.example.test/saml"
    assert idp.policy is None
    # x509certMulti.signing wins over x509cert, as in python3-saml: both rollover certificates are trusted
    assert idp.metadata.signing_certificates == (default_key("rsa").certificate, fixture.idp_next_key().certificate)
    sso = idp.metadata.sso_endpoint(BINDING_HTTP_REDIRECT)
    assert sso is not None
    assert sso.location == "https://idp.example.test/saml/sso"
    slo = idp.metadata.slo_endpoint(BINDING_HTTP_REDIRECT)
    assert slo is not None
    assert slo.response_location == "https://idp.example.test/saml/slo/return"


def test_what_is_not_honoured_is_reported() -> None:
    issues = reported(run(fixture.settings(), fixture.advanced_settings()))
    assert set(issues) == {
        "security.wantMessagesSigned",
        "security.wantAssertionsSigned",
        "security.logoutRequestSigned",  # false in the fixture: fedlib signs its logout messages anyway
        "security.logoutResponseSigned",
        "idp.x509certMulti.encryption",
    }
    assert "always requires a valid signature on the Response" in issues["security.wantMessagesSigned"]


def test_python3_saml_defaults_are_reported_when_fedlib_differs() -> None:
    """Without advanced settings, python3-saml's own defaults apply, and several are laxer than fedlib."""
    issues = reported(run(fixture.settings()))
    assert "python3-saml's default" in issues["security.wantMessagesSigned"]
    assert "SHA-1" in issues["security.rejectDeprecatedAlgorithm"]
    assert "merges" in issues["security.allowRepeatAttributeName"]
    assert "without attributes" in issues["security.wantAttributeStatement"]
    assert "start_login(requested_authn_context=" in issues["security.requestedAuthnContext"]
    assert "security.wantAssertionsSigned" not in issues
    assert "always signs its logout messages" in issues["security.logoutRequestSigned"]


def test_signed_logout_messages_are_honoured() -> None:
    base = fixture.advanced_settings()
    base["security"] = dict(base["security"], logoutRequestSigned=True, logoutResponseSigned=True)
    issues = reported(run(fixture.settings(), base))
    assert "security.logoutRequestSigned" not in issues
    assert "security.logoutResponseSigned" not in issues


@pytest.mark.parametrize(
    ("security", "key"),
    [
        ({"wantAssertionsEncrypted": True}, "security.wantAssertionsEncrypted"),
        ({"wantNameIdEncrypted": True}, "security.wantNameIdEncrypted"),
        ({"nameIdEncrypted": True}, "security.nameIdEncrypted"),
        ({"logoutRequestSigned": False}, "security.logoutRequestSigned"),
        ({"logoutResponseSigned": False}, "security.logoutResponseSigned"),
        ({"wantNameId": False}, "security.wantNameId"),
        ({"failOnAuthnContextMismatch": True}, "security.failOnAuthnContextMismatch"),
        ({"signMetadata": True}, "security.signMetadata"),
        ({"signMetadata": {"keyFileName": "m.key", "certFileName": "m.crt"}}, "security.signMetadata"),
        ({"metadataValidUntil": "2030-01-01T00:00:00Z"}, "security.metadataValidUntil"),
        ({"metadataCacheDuration": "PT518400S"}, "security.metadataCacheDuration"),
        ({"signatureAlgorithm": "http://www.w3.org/2000/09/xmldsig#rsa-sha1"}, "security.signatureAlgorithm"),
        ({"digestAlgorithm": "http://www.w3.org/2000/09/xmldsig#sha1"}, "security.digestAlgorithm"),
        ({"rejectUnsolicitedResponsesWithInResponseTo": False}, "security.rejectUnsolicitedResponsesWithInResponseTo"),
        (
            {"requestedAuthnContext": ["urn:x"], "requestedAuthnContextComparison": "minimum"},
            "security.requestedAuthnContextComparison",
        ),
        ({"wantMessagesSigend": True}, "security.wantMessagesSigend"),
    ],
)
def test_each_unsupported_security_setting_is_reported(security: dict[str, Any], key: str) -> None:
    base = {
        "wantMessagesSigned": True,
        "wantAttributeStatement": False,
        "allowRepeatAttributeName": True,
        "rejectDeprecatedAlgorithm": True,
        "requestedAuthnContext": False,
    }
    report = run(fixture.settings(), {"security": {**base, **security}})
    assert key in reported(report)
    assert report.settings.tenant().sp.policy == SecurityPolicy()  # never a relaxation


def test_a_strict_configuration_reports_nothing_about_security() -> None:
    security = {
        "authnRequestsSigned": True,
        "wantMessagesSigned": True,
        "wantAttributeStatement": False,
        "allowRepeatAttributeName": True,
        "rejectDeprecatedAlgorithm": True,
        "requestedAuthnContext": False,
        "rejectUnsolicitedResponsesWithInResponseTo": True,
        "logoutRequestSigned": True,
        "logoutResponseSigned": True,
    }
    settings = fixture.settings()
    del settings["idp"]["x509certMulti"]
    assert run(settings, {"security": security}).not_honoured == ()


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (lambda s: s.update(strict=False), "strict"),
        (lambda s: s.update(unknownTop=1), "unknownTop"),
        (lambda s: s["sp"].update(attributeConsumingService={"serviceName": "x"}), "sp.attributeConsumingService"),
        (lambda s: s["sp"]["assertionConsumerService"].update(binding="urn:x"), "sp.assertionConsumerService.binding"),
        (
            lambda s: s["sp"]["singleLogoutService"].update(responseUrl="https://x/y"),
            "sp.singleLogoutService.responseUrl",
        ),
        (lambda s: s["idp"].update(certFingerprint="AB:CD"), "idp.certFingerprint"),
        (lambda s: s["idp"].update(certFingerprintAlgorithm="sha256"), "idp.certFingerprintAlgorithm"),
        (lambda s: s["idp"]["singleSignOnService"].update(binding="urn:artifact"), "idp.singleSignOnService.binding"),
        (lambda s: s["idp"].update(typo=1), "idp.typo"),
        (
            lambda s: s.update(organization={"en": {"name": "a", "displayname": "A", "url": "https://a"}, "fr": {}}),
            "organization.fr",
        ),
    ],
)
def test_other_unsupported_settings_are_reported(change: Any, key: str) -> None:
    settings = fixture.settings()
    change(settings)
    assert key in reported(run(settings))


def test_a_fingerprint_alone_is_not_enough() -> None:
    settings = fixture.settings()
    del settings["idp"]["x509cert"], settings["idp"]["x509certMulti"]
    settings["idp"]["certFingerprint"] = "C1:6F:..."
    with pytest.raises(ConfigurationError, match="does not accept certificate fingerprints"):
        run(settings)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s.pop("sp"), "sp is required"),
        (lambda s: s.pop("idp"), "idp is required"),
        (lambda s: s["sp"].pop("entityId"), "sp.entityId is required"),
        (lambda s: s["sp"].pop("assertionConsumerService"), "sp.assertionConsumerService is required"),
        (lambda s: s["sp"]["assertionConsumerService"].pop("url"), "assertionConsumerService.url is required"),
        (lambda s: s["idp"].pop("singleSignOnService"), "idp.singleSignOnService is required"),
        (lambda s: s["idp"].update(x509cert="", x509certMulti={}), "the IdP has no certificate"),
        (lambda s: s["idp"].update(x509certMulti={"signing": ["bm90IGEgY2VydA=="]}), "not an X.509 certificate"),
        (lambda s: s["idp"].update(x509certMulti={"signing": ["not base64!"]}), "neither PEM nor base64"),
        (lambda s: s["sp"].update(privateKey="bm90IGEga2V5"), "sp.privateKey: not a private key"),
        (lambda s: s["sp"].update(privateKey=""), "no SP private key"),
        (lambda s: s["sp"].update(x509cert="", x509certNew=""), "no SP certificate"),
        (lambda s: s["sp"].update(x509cert=""), "x509certNew is set but sp.x509cert is not"),
        (lambda s: s["sp"].update(entityId=3), "sp.entityId must be a string"),
        (
            lambda s: s["sp"].update(x509certNew=s["sp"]["x509cert"]),
            "lists one certificate twice",
        ),
        (lambda s: s["sp"].update(assertionConsumerService={"url": "/acs"}), "acs_url must be an absolute"),
    ],
)
def test_unusable_settings_are_configuration_errors(change: Any, message: str) -> None:
    settings = fixture.settings()
    change(settings)
    with pytest.raises(ConfigurationError, match=message):
        run(settings, {"security": {"authnRequestsSigned": True}})


def test_the_key_is_left_out_when_python3_saml_did_not_sign() -> None:
    report = run(fixture.settings(), {"security": {"authnRequestsSigned": False}})
    assert not report.settings.tenant().sp.authn_requests_signed
    assert "signing_key_pem" not in report.data["sp"]
    assert "not imported" in dict(report.notes)["sp.privateKey"]
    assert len(report.settings.tenant().sp.signing_certificates) == 2  # still published in the metadata


def test_pem_key_and_pkcs8_base64_key_are_accepted() -> None:
    key = fixture.sp_key()
    for text in (key.key_pem.decode(), "".join(key.key_pem.decode().splitlines()[1:-1])):
        settings = fixture.settings()
        settings["sp"]["privateKey"] = text
        assert run(settings, {"security": {"authnRequestsSigned": True}}).settings.tenant().sp.authn_requests_signed


def test_certs_folder(tmp_path: Path) -> None:
    """python3-saml reads certs/sp.crt, sp.key, sp_new.crt and idp.crt when the inline values are empty."""
    sp, nxt = fixture.sp_key(), fixture.sp_next_key()
    (tmp_path / "sp.crt").write_bytes(sp.cert_pem)
    (tmp_path / "sp.key").write_bytes(sp.key_pem)
    (tmp_path / "sp_new.crt").write_bytes(nxt.cert_pem)
    (tmp_path / "idp.crt").write_bytes(default_key("rsa").cert_pem)
    settings = fixture.settings()
    settings["sp"].update(x509cert="", x509certNew="", privateKey="")
    del settings["idp"]["x509cert"], settings["idp"]["x509certMulti"]
    report = run(settings, {"security": {"authnRequestsSigned": True}}, certs_dir=tmp_path)
    assert report.data["sp"]["signing_key"] == str((tmp_path / "sp.key").resolve())  # a reference, not a copy
    assert "signing_key_pem" not in report.data["sp"]
    tenant = report.settings.tenant()
    assert tenant.sp.signing_certificates == (sp.certificate, nxt.certificate)
    assert tenant.idps[0].metadata.signing_certificates == (default_key("rsa").certificate,)


def test_the_toml_reloads_to_the_same_settings(tmp_path: Path) -> None:
    report = run(fixture.settings(), fixture.advanced_settings())
    text = report.toml()
    assert text.startswith("# fedlib settings imported from a python3-saml configuration")
    assert "#   security.wantMessagesSigned: false (python3-saml's default)" in text
    assert tomllib.loads(text) == report.data
    (tmp_path / "fedlib.toml").write_text(text)
    reloaded = load_settings_toml(tmp_path / "fedlib.toml", now=NOW)
    got, want = reloaded.tenant(), report.settings.tenant()
    assert got.sp.signing_certificates == want.sp.signing_certificates
    assert (got.sp.entity_id, got.sp.acs_url, got.sp.slo_url) == (want.sp.entity_id, want.sp.acs_url, want.sp.slo_url)
    assert (got.sp.organization, got.sp.contacts, got.sp.policy) == (
        want.sp.organization,
        want.sp.contacts,
        want.sp.policy,
    )
    assert got.sp.authn_requests_signed
    assert got.idps == want.idps


def test_the_imported_sp_logs_in_against_the_idp_python3_saml_described() -> None:
    report = run(fixture.settings(), fixture.advanced_settings())
    idp = TestIdP()  # entity ID, SSO URL and key as in the fixture's idp section
    idp.register_sp(fixture.SP_ENTITY_ID, fixture.SP_ACS, [fixture.sp_key().certificate])
    sp = report.settings.service_provider()
    login = sp.start_login(now=NOW, relay_state="/dashboard")
    assert login.url is not None
    assert login.url.startswith("https://idp.example.test/saml/sso?")
    request = idp.receive_redirect(login.url)
    assert request.signed  # authnRequestsSigned carried over
    form = dict(idp.respond(request, now=NOW).fields)
    result = sp.finish_login(form, browser_binding=login.browser_binding, now=NOW)
    assert (result.authn.name_id, result.relay_state) == ("ada@example.org", "/dashboard")
    # wantMessagesSigned was false in python3-saml: an assertion-only signature is now refused
    login = sp.start_login(now=NOW)
    assert login.url is not None
    bad = idp.respond(idp.receive_redirect(login.url), now=NOW, signing="assertion")
    with pytest.raises(ResponseRejected) as info:
        sp.finish_login(dict(bad.fields), now=NOW)
    assert info.value.code == ErrorCode.ASSERTION_ONLY_SIGNATURE


def test_idp_post_binding_is_published_beside_redirect() -> None:
    settings = fixture.settings()
    settings["idp"]["singleSignOnService"]["binding"] = BINDING_HTTP_POST
    metadata = run(settings).settings.tenant().idps[0].metadata
    assert {e.binding for e in metadata.sso_endpoints} == {BINDING_HTTP_REDIRECT, BINDING_HTTP_POST}


def test_advanced_settings_merge_at_the_top_level_like_python3_saml() -> None:
    settings = fixture.settings()
    settings["security"] = {"wantMessagesSigned": True}
    # python3-saml does settings.update(advanced): the advanced "security" replaces the whole table
    report = run(settings, {"security": {"authnRequestsSigned": True}})
    assert "security.wantMessagesSigned" in reported(report)


def test_inputs_must_be_objects() -> None:
    with pytest.raises(ConfigurationError, match="settings must be an object"):
        import_python3_saml([], now=NOW)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=r"security\.authnRequestsSigned must be true or false"):
        run(fixture.settings(), {"security": {"authnRequestsSigned": "yes"}})


def test_imported_data_is_plain_settings() -> None:
    report = run(fixture.settings(), fixture.advanced_settings())
    again = load_settings(report.data, now=NOW)
    assert again.tenant().sp.signing_certificates == report.settings.tenant().sp.signing_certificates
    xml = report.data["idps"][0]["metadata_xml"]
    assert base64.b64encode(fixture.idp_next_key().cert_der).decode() in xml
