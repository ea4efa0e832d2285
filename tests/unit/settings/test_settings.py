"""fedlib.settings: TOML in, frozen Settings out; unknown keys and bad values fail loudly."""

from __future__ import annotations

import re
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from fedlib.config import SecurityPolicy
from fedlib.constants import NAMEID_PERSISTENT
from fedlib.errors import ConfigurationError, ErrorCode, ResponseRejected
from fedlib.settings import (
    DEFAULT_STORE_URL,
    Settings,
    TenantSettings,
    check_tenant_name,
    dump_toml,
    load_settings,
    load_settings_toml,
)
from fedlib.sp import DEFAULT_REQUEST_LIFETIME
from fedlib.stores.memory import MemoryStore
from fedlib.stores.sqlite import SQLiteStore
from fedlib.testing import default_key, idp_metadata_xml
from fedlib.testing.idp import TestIdP

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
SP_ID = "https://app.example.com/saml/metadata"
ACS = "https://app.example.com/saml/acs"


@pytest.fixture
def idp() -> TestIdP:
    idp = TestIdP()
    idp.register_sp(SP_ID, ACS)
    return idp


@pytest.fixture
def conf_dir(tmp_path: Path, idp: TestIdP) -> Path:
    sp_key, sp_next = default_key("rsa", "sp"), default_key("rsa", "sp-next")
    (tmp_path / "idp.xml").write_bytes(idp.metadata_xml())
    (tmp_path / "sp.key").write_bytes(sp_key.key_pem)
    (tmp_path / "sp.crt").write_bytes(sp_key.cert_pem)
    (tmp_path / "sp-next.crt").write_bytes(sp_next.cert_pem)
    return tmp_path


def minimal(**sp: Any) -> dict[str, Any]:
    return {"sp": {"entity_id": SP_ID, "acs_url": ACS, **sp}, "idps": [{"metadata_file": "idp.xml"}]}


FULL_TOML = """
store = "sqlite:///./fedlib.db"

[sp]
entity_id = "https://app.example.com/saml/metadata"
acs_url = "https://app.example.com/saml/acs"
additional_acs_urls = ["https://app.example.com/saml/acs2"]
slo_url = "https://app.example.com/saml/slo"
signing_key = "sp.key"
signing_certificates = ["sp.crt", "sp-next.crt"]
name_id_formats = ["urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"]
relay_state_origins = ["https://app.example.com", "https://admin.example.com:8443/"]
request_lifetime_seconds = 300

[sp.policy]
clock_skew_seconds = 120
allow_unsolicited = false
allow_sha1 = false
max_message_bytes = 200000

[sp.organization]
name = "Example Ltd"
display_name = "Example"
url = "https://www.example.com"

[[sp.contacts]]
contact_type = "technical"
given_name = "Ops"
email_addresses = ["ops@example.com"]

[[idps]]
metadata_file = "idp.xml"
entity_id = "https://idp.example.test/saml"
allow_unsolicited = true
allow_in_response_to_on_unsolicited = true
clock_skew_seconds = 300
"""


def test_minimal_settings_take_the_secure_defaults(conf_dir: Path) -> None:
    settings = load_settings(minimal(), base_dir=conf_dir, now=NOW)
    tenant = settings.tenant()
    assert list(settings.tenants) == ["default"]
    assert tenant.store_url == DEFAULT_STORE_URL == "memory://"
    assert tenant.sp.policy == SecurityPolicy()
    assert tenant.sp.signing_key is None
    assert tenant.request_lifetime == DEFAULT_REQUEST_LIFETIME
    assert tenant.relay_state_origins == ()
    assert [i.entity_id for i in tenant.idps] == ["https://idp.example.test/saml"]
    assert tenant.idps[0].policy is None  # the SP's policy


def test_full_file(conf_dir: Path) -> None:
    (conf_dir / "fedlib.toml").write_text(FULL_TOML)
    tenant = load_settings_toml(conf_dir / "fedlib.toml", now=NOW).tenant("default")
    sp = tenant.sp
    assert tenant.store_url == f"sqlite://{conf_dir.resolve()}/fedlib.db"  # relative to the file, not the cwd
    assert sp.acs_urls == (ACS, "https://app.example.com/saml/acs2")
    assert sp.slo_url == "https://app.example.com/saml/slo"
    assert sp.authn_requests_signed
    assert sp.signing_certificates == (default_key("rsa", "sp").certificate, default_key("rsa", "sp-next").certificate)
    assert sp.name_id_formats == (NAMEID_PERSISTENT,)
    assert sp.policy == SecurityPolicy(clock_skew=timedelta(seconds=120), max_message_bytes=200000)
    assert sp.organization is not None
    assert sp.organization.display_name == "Example"
    assert sp.contacts[0].email_addresses == ("ops@example.com",)
    assert tenant.relay_state_origins == ("https://app.example.com", "https://admin.example.com:8443")
    assert tenant.request_lifetime == timedelta(seconds=300)
    idp_policy = tenant.idps[0].policy
    # per-IdP keys override the SP policy; the others are inherited from it
    assert idp_policy == SecurityPolicy(
        clock_skew=timedelta(seconds=300),
        allow_unsolicited=True,
        allow_in_response_to_on_unsolicited=True,
        max_message_bytes=200000,
    )


def test_service_provider_from_settings_logs_in(conf_dir: Path, idp: TestIdP) -> None:
    (conf_dir / "fedlib.toml").write_text(FULL_TOML)
    settings = load_settings_toml(conf_dir / "fedlib.toml", now=NOW)
    idp.register_sp(SP_ID, ACS, [default_key("rsa", "sp").certificate])
    sp = settings.service_provider()
    try:
        assert sp.tenant == "default"
        assert isinstance(sp.store.inner, SQLiteStore)  # type: ignore[attr-defined]
        assert (conf_dir / "fedlib.db").exists()
        login = sp.start_login(now=NOW, relay_state="/home")
        assert login.url is not None
        request = idp.receive_redirect(login.url)
        assert request.signed  # the key from the file signs AuthnRequests
        form = dict(idp.respond(request, now=NOW).fields)
        result = sp.finish_login(form, browser_binding=login.browser_binding, now=NOW)
        assert (result.authn.name_id, result.relay_state) == ("ada@example.org", "/home")
        # the per-IdP policy applies: IdP-initiated login allowed for this IdP, RelayState filtered by origin
        form = dict(idp.initiate(SP_ID, ACS, relay_state="https://admin.example.com:8443/x", now=NOW).fields)
        assert sp.finish_login(form, now=NOW).relay_state == "https://admin.example.com:8443/x"
    finally:
        sp.store.inner.close()  # type: ignore[attr-defined]


def test_service_provider_takes_a_given_store_and_the_tenant_name(conf_dir: Path) -> None:
    store = MemoryStore()
    sp = load_settings(minimal(), base_dir=conf_dir, now=NOW).service_provider("default", store)
    assert sp.store.inner is store  # type: ignore[attr-defined]
    assert sp.tenant == "default"


def test_sp_policy_is_the_default_of_every_idp(conf_dir: Path) -> None:
    data = minimal(policy={"allow_unsolicited": True, "allow_sha1": True})
    data["idps"][0]["allow_sha1"] = False
    idp_policy = load_settings(data, base_dir=conf_dir, now=NOW).tenant().idps[0].policy
    assert idp_policy == SecurityPolicy(allow_unsolicited=True, allow_sha1=False)


def test_inline_pem_and_metadata(conf_dir: Path, idp: TestIdP) -> None:
    key = default_key("rsa", "sp")
    data: dict[str, Any] = {
        "sp": {
            "entity_id": SP_ID,
            "acs_url": ACS,
            "signing_key_pem": key.key_pem.decode(),
            "signing_certificates_pem": [key.cert_pem.decode()],
        },
        "idps": [{"metadata_xml": idp.metadata_xml().decode()}],
    }
    tenant = load_settings(data, now=NOW).tenant()  # no file: no base_dir needed
    assert tenant.sp.signing_certificates == (key.certificate,)


def test_aggregate_selection_by_entity_id(tmp_path: Path) -> None:
    one, two = TestIdP("https://one.example/idp"), TestIdP("https://two.example/idp")
    body = b"".join(x.metadata_xml().split(b"?>", 1)[-1] for x in (one, two))
    aggregate = b'<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata">' + body
    aggregate += b"</md:EntitiesDescriptor>"
    (tmp_path / "fed.xml").write_bytes(aggregate)
    data = {"sp": {"entity_id": SP_ID, "acs_url": ACS}, "idps": [{"metadata_file": "fed.xml"}]}
    with pytest.raises(ConfigurationError, match=r"idps\[0\]: .*holds 2 SAML 2.0 IdPs"):
        load_settings(data, base_dir=tmp_path, now=NOW)
    data["idps"] = [
        {"metadata_file": "fed.xml", "entity_id": "https://two.example/idp"},
        {"metadata_file": "fed.xml", "entity_id": "https://one.example/idp"},
    ]
    idps = load_settings(data, base_dir=tmp_path, now=NOW).tenant().idps
    assert [i.entity_id for i in idps] == ["https://two.example/idp", "https://one.example/idp"]


def test_metadata_signature_can_be_required(conf_dir: Path) -> None:
    data = minimal()
    data["idps"][0]["metadata_signing_certificates"] = ["sp.crt"]
    with pytest.raises(ConfigurationError, match="exactly one signature"):
        load_settings(data, base_dir=conf_dir, now=NOW)


def test_expired_metadata_is_refused(tmp_path: Path) -> None:
    xml = idp_metadata_xml(
        "https://idp.example.test/saml",
        [default_key()],
        sso_url="https://idp.example.test/saml/sso",
        valid_until=NOW - timedelta(seconds=1),
    )
    data = {"sp": {"entity_id": SP_ID, "acs_url": ACS}, "idps": [{"metadata_xml": xml.decode()}]}
    with pytest.raises(ConfigurationError, match="expired"):
        load_settings(data, now=NOW)


# ---- unknown keys ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mutate", "named"),
    [
        (lambda d: d.update(stor="memory://"), "'stor'"),
        (lambda d: d["sp"].update(want_messages_signed=False), "'sp.want_messages_signed'"),
        (lambda d: d["sp"].update(wantAssertionsSigned=False), "'sp.wantAssertionsSigned'"),
        (lambda d: d.update(strict=False), "'strict'"),
        (lambda d: d["sp"].update(policy={"want_messages_signed": False}), "'sp.policy.want_messages_signed'"),
        (lambda d: d["sp"].update(policy={"clock_skew": 10}), "'sp.policy.clock_skew'"),
        (lambda d: d["idps"][0].update(want_response_signed=False), "'idps[0].want_response_signed'"),
        (lambda d: d["idps"][0].update(max_message_bytes=5000), "'idps[0].max_message_bytes'"),
        (lambda d: d["sp"].update(organization={"name": "x", "nme": "y"}), "'sp.organization.nme'"),
        (lambda d: d["sp"].update(contacts=[{"contact_type": "other", "email": "a@b"}]), "'sp.contacts[0].email'"),
        (lambda d: d["sp"].update(encryption_key="sp.key"), "'sp.encryption_key'"),
    ],
)
def test_an_unknown_key_anywhere_is_an_error_naming_it(conf_dir: Path, mutate: Any, named: str) -> None:
    data = minimal()
    mutate(data)
    with pytest.raises(ConfigurationError, match=re.escape(f"unknown setting {named}")):
        load_settings(data, base_dir=conf_dir, now=NOW)


def test_no_switch_makes_the_signature_optional(conf_dir: Path) -> None:
    data = minimal(want_messages_signed=False)
    with pytest.raises(ConfigurationError) as info:
        load_settings(data, base_dir=conf_dir, now=NOW)
    assert "always requires a valid signature on the Response" in info.value.message


def test_metadata_url_must_be_https(conf_dir: Path) -> None:
    """metadata_url is fetched (tests/integration/metadata/test_settings_sources.py); plain http is refused
    before any request is made."""
    data = minimal()
    data["idps"] = [{"metadata_url": "http://idp.example.test/metadata"}]
    with pytest.raises(ConfigurationError, match=r"idps\[0\]: metadata URL must be an absolute https URL"):
        load_settings(data, base_dir=conf_dir, now=NOW)
    data["idps"] = [{"metadata_file": "idp.xml", "backing_file": "x.xml"}]
    with pytest.raises(ConfigurationError, match=r"idps\[0\]: backing_file needs metadata_url or mdq_base"):
        load_settings(data, base_dir=conf_dir, now=NOW)
    data["idps"] = [{"mdq_base": "https://mdq.example.test", "entity_id": "https://idp.example.test/"}]
    with pytest.raises(ConfigurationError, match=r"idps\[0\]: mdq_base needs entity_id and metadata_signing"):
        load_settings(data, base_dir=conf_dir, now=NOW)


# ---- bad values --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["sp"].pop("entity_id"), r"sp.entity_id is required"),
        (lambda d: d["sp"].update(acs_url="/saml/acs"), r"sp: acs_url must be an absolute http\(s\) URL"),
        (lambda d: d["sp"].update(entity_id=7), r"sp.entity_id must be a non-empty string"),
        (lambda d: d["sp"].update(name_id_formats="x:y"), r"sp.name_id_formats must be a list"),
        (lambda d: d["sp"].update(policy={"clock_skew_seconds": -1}), r"clock_skew_seconds must be between 0 and"),
        (lambda d: d["sp"].update(policy={"clock_skew_seconds": 4000}), r"clock_skew_seconds must be between"),
        (lambda d: d["sp"].update(policy={"clock_skew_seconds": True}), r"clock_skew_seconds must be a number"),
        (lambda d: d["sp"].update(policy={"allow_sha1": "no"}), r"sp.policy.allow_sha1 must be true or false"),
        (lambda d: d["sp"].update(policy={"max_message_bytes": 10}), r"max_message_bytes must be between"),
        (lambda d: d["sp"].update(policy=[]), r"sp.policy must be a table"),
        (
            lambda d: d["sp"].update(policy={"allow_in_response_to_on_unsolicited": True}),
            r"allow_in_response_to_on_unsolicited needs allow_unsolicited = true",
        ),
        (
            lambda d: d["idps"][0].update(allow_in_response_to_on_unsolicited=True),
            r"idps\[0\].allow_in_response_to_on_unsolicited needs allow_unsolicited",
        ),
        (lambda d: d["sp"].update(request_lifetime_seconds=0), r"request_lifetime_seconds must be between 1 and"),
        (lambda d: d["sp"].update(relay_state_origins=["https://a.example/path"]), r"is not an origin"),
        (lambda d: d["sp"].update(relay_state_origins=["javascript:x"]), r"is not an origin"),
        (lambda d: d.update(idps=[]), r"at least one trusted IdP"),
        (lambda d: d.pop("idps"), r"at least one trusted IdP"),
        (lambda d: d.pop("sp"), r"\[sp\] is required"),
        (
            lambda d: d["idps"][0].update(metadata_xml="<x/>"),
            r"exactly one of metadata_file, metadata_xml, metadata_url, mdq_base",
        ),
        (
            lambda d: d["idps"][0].pop("metadata_file"),
            r"exactly one of metadata_file, metadata_xml, metadata_url, mdq_base",
        ),
        (lambda d: d["idps"][0].update(metadata_file="missing.xml"), r"idps\[0\].metadata_file: cannot read"),
        (lambda d: d.update(idps=[{"metadata_file": "idp.xml"}] * 2), r"configured twice"),
        (lambda d: d["idps"][0].update(entity_id="https://other"), r"idps\[0\]: the metadata has no entity"),
        (lambda d: d["sp"].update(signing_key="sp.crt"), r"sp.signing_key: not a PEM private key"),
        (lambda d: d["sp"].update(signing_key="sp.key"), r"needs its certificate in signing_certificates"),
        (
            lambda d: d["sp"].update(signing_key="sp.key", signing_certificates=["sp-next.crt"]),
            r"does not carry signing_key's public key",
        ),
        (
            lambda d: d["sp"].update(signing_key="sp.key", signing_key_pem="x"),
            r"signing_key \(a file\) or signing_key_pem, not both",
        ),
        (lambda d: d["sp"].update(signing_certificates=["sp.key"]), r"signing_certificates\[0\]: not a PEM cert"),
        (lambda d: d["sp"].update(organization={"name": "x"}), r"sp.organization.display_name is required"),
        (lambda d: d["sp"].update(contacts=[{"contact_type": "boss", "given_name": "x"}]), r"contact_type must be"),
        (lambda d: d["sp"].update(contacts={"contact_type": "other"}), r"must be an array of tables"),
        (lambda d: d.update(store=""), r"store must be a non-empty string"),
        (lambda d: d.update(store="postgres://db/x"), r"store: 'postgres://db/x' is not a store URL"),
        (lambda d: d.update(store="mysql://user:pw@host/x"), r"store: 'mysql://\*\*\*' is not"),
    ],
)
def test_bad_values_are_configuration_errors(conf_dir: Path, mutate: Any, message: str) -> None:
    data = minimal()
    mutate(data)
    with pytest.raises(ConfigurationError, match=message):
        load_settings(data, base_dir=conf_dir, now=NOW)


def test_encrypted_key_is_explained(conf_dir: Path) -> None:
    key = default_key("rsa", "sp").private_key
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"),
    )
    (conf_dir / "enc.key").write_bytes(pem)
    with pytest.raises(ConfigurationError, match="encrypted PEM"):
        load_settings(minimal(signing_key="enc.key", signing_certificates=["sp.crt"]), base_dir=conf_dir, now=NOW)


def test_relative_paths_need_a_base_dir(conf_dir: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"idps\[0\].metadata_file: relative path 'idp.xml' needs a base"):
        load_settings(minimal(), now=NOW)
    data = minimal()
    data["idps"][0]["metadata_file"] = str(conf_dir / "idp.xml")
    assert load_settings(data, now=NOW).tenant().idps


def test_toml_errors(tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text("[sp\n")
    with pytest.raises(ConfigurationError, match="not valid TOML"):
        load_settings_toml(tmp_path / "bad.toml", now=NOW)
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_settings_toml(tmp_path / "missing.toml", now=NOW)


# ---- tenants -----------------------------------------------------------------------------------------


def test_several_tenants(conf_dir: Path) -> None:
    data = {
        "store": "memory://",
        "tenants": {
            "acme": {
                "sp": {"entity_id": "https://acme.example/sp", "acs_url": "https://acme.example/acs"},
                "idps": [{"metadata_file": "idp.xml"}],
            },
            "globex-2": {
                "store": "sqlite:///./globex.db",
                "sp": {"entity_id": "https://globex.example/sp", "acs_url": "https://globex.example/acs"},
                "idps": [{"metadata_file": "idp.xml", "allow_unsolicited": True}],
            },
        },
    }
    settings = load_settings(data, base_dir=conf_dir, now=NOW)
    assert list(settings.tenants) == ["acme", "globex-2"]
    assert settings.tenant("acme").store_url == "memory://"
    assert settings.tenant("globex-2").store_url == f"sqlite://{conf_dir}/globex.db"
    sp = settings.service_provider("acme")
    assert (sp.tenant, sp.config.entity_id) == ("acme", "https://acme.example/sp")
    with pytest.raises(ConfigurationError, match="unknown tenant 'default'"):
        settings.service_provider()


@pytest.mark.parametrize(
    ("tenants", "message"),
    [
        ({}, "defines no tenant"),
        ({"Acme": {}}, "invalid tenant name 'Acme'"),
        ({"-x": {}}, "invalid tenant name"),
        ({"a" * 64: {}}, "invalid tenant name"),
        ({"acme": {"sp": {}, "idps": [], "extra": 1}}, "unknown setting 'tenants.acme.extra'"),
        ({"acme": {"idps": []}}, r"\[tenants.acme.sp\] is required"),
        ({"acme": []}, "tenants.acme must be a table"),
    ],
)
def test_bad_tenants(conf_dir: Path, tenants: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        load_settings({"tenants": tenants}, base_dir=conf_dir, now=NOW)


def test_one_tenant_or_many_not_both(conf_dir: Path) -> None:
    data = {**minimal(), "tenants": {}}
    with pytest.raises(ConfigurationError, match="not both"):
        load_settings(data, base_dir=conf_dir, now=NOW)


@pytest.mark.parametrize("name", ["a", "acme", "acme-2", "0", "a" * 63])
def test_valid_tenant_names(name: str) -> None:
    assert check_tenant_name(name) == name


@pytest.mark.parametrize("name", ["", "A", "-a", "a_b", "a.b", "a/b", "a" * 64, "é", None, 3])
def test_invalid_tenant_names(name: object) -> None:
    with pytest.raises(ConfigurationError, match="invalid tenant name"):
        check_tenant_name(name)


def test_hand_built_settings_are_checked(conf_dir: Path) -> None:
    tenant = load_settings(minimal(), base_dir=conf_dir, now=NOW).tenant()
    with pytest.raises(ConfigurationError, match="no tenant"):
        Settings({})
    with pytest.raises(ConfigurationError, match="under another name"):
        Settings({"other": tenant})
    with pytest.raises(ConfigurationError, match="trusts no IdP"):
        TenantSettings(sp=tenant.sp, idps=())
    with pytest.raises(ConfigurationError, match="request_lifetime"):
        TenantSettings(sp=tenant.sp, idps=tenant.idps, request_lifetime=timedelta(0))


def test_settings_are_frozen(conf_dir: Path) -> None:
    settings = load_settings(minimal(), base_dir=conf_dir, now=NOW)
    with pytest.raises(TypeError):
        settings.tenants["x"] = settings.tenant()  # type: ignore[index]
    with pytest.raises(AttributeError):
        settings.tenant().store_url = "redis://x"  # type: ignore[misc]


# ---- the TOML writer -----------------------------------------------------------------------------------


def test_dump_toml_round_trips() -> None:
    data: dict[str, Any] = {
        "store": "memory://",
        "n": 3,
        "f": 1.5,
        "flag": False,
        "empty": [],
        "skipped": None,
        "sp": {
            "entity_id": 'https://x/"quoted"\\',
            "pem": "-----BEGIN X-----\nabc\n-----END X-----\n",
            "ends_with_quote": "line\nit's'",
            "has_triple": "a\n'''b",
            "control": "a\x01b\x7fc",
            "unicode": "Zoë 東京",
            "list": ["a", "b\nc"],
            "policy": {"allow_sha1": True},
            "contacts": [{"contact_type": "technical", "email_addresses": ["a@b.c"]}, {"contact_type": "other"}],
        },
        "tenants": {"a-b": {"sp": {"x": 1}}, "dotted.key": {"y": "z"}},
        "idps": [{"metadata_xml": "<a>\n</a>\n", "nested": {"k": 1}}],
    }
    text = dump_toml(data)
    expected = {k: v for k, v in data.items() if k != "skipped"}
    assert tomllib.loads(text) == expected
    assert "'''\n-----BEGIN X-----" in text  # PEM stays readable


def test_dump_toml_refuses_what_toml_cannot_hold() -> None:
    with pytest.raises(ValueError, match="finite"):
        dump_toml({"x": float("inf")})
    with pytest.raises(ValueError, match="cannot write"):
        dump_toml({"x": object()})


def test_rejected_response_still_reports_codes_through_settings(conf_dir: Path, idp: TestIdP) -> None:
    """The facade built from settings is the real one: an assertion-only signature is refused."""
    sp = load_settings(minimal(), base_dir=conf_dir, now=NOW).service_provider()
    login = sp.start_login(now=NOW)
    assert login.url is not None
    bad = idp.respond(idp.receive_redirect(login.url), now=NOW, signing="assertion")
    with pytest.raises(ResponseRejected) as info:
        sp.finish_login(dict(bad.fields), browser_binding=login.browser_binding, now=NOW)
    assert info.value.code == ErrorCode.ASSERTION_ONLY_SIGNATURE
