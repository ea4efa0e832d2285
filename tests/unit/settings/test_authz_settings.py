"""Issue #11 §2-3 settings: require_mfa (per application and per IdP), the Entra MFA claim switch, the
authn context order and the attribute map, from TOML; unknown or bad values refused."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from fedlib.authn_context import DEFAULT_AUTHN_CONTEXT_ORDER, REFEDS_MFA
from fedlib.errors import ConfigurationError, ErrorCode, ResponseRejected
from fedlib.settings import load_settings
from fedlib.testing.idp import TestIdP

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
SP_ID = "https://app.example.com/saml/metadata"
ACS = "https://app.example.com/saml/acs"
PPT = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"

TOML = f"""
[sp]
entity_id = "{SP_ID}"
acs_url = "{ACS}"
require_mfa = true
authn_context_order = ["{PPT}", ["urn:example:otp", "{REFEDS_MFA}"]]

[sp.policy]
allow_unsolicited = true

[sp.attribute_map]
preset = "entra"
names = {{ "email" = "email", "groups" = "groups" }}
required = ["email"]
roles = [{{ attribute = "groups", values = ["admins"], role = "admin" }}]

[[idps]]
metadata_file = "idp.xml"
require_mfa = true
mfa_from_authn_methods_references = true
"""


def load(tmp_path: Path, text: str = TOML) -> Any:
    idp = TestIdP(authn_context_class_ref="urn:example:otp")
    idp.register_sp(SP_ID, ACS)
    (tmp_path / "idp.xml").write_bytes(idp.metadata_xml())
    return idp, load_settings(tomllib.loads(text), base_dir=tmp_path, now=NOW)


def test_authz_settings_are_loaded_and_reach_the_service_provider(tmp_path: Path) -> None:
    idp, settings = load(tmp_path)
    tenant = settings.tenant()
    assert tenant.require_mfa
    assert tenant.authn_context_order.mfa == frozenset({"urn:example:otp", REFEDS_MFA})
    assert tenant.idps[0].require_mfa
    assert tenant.idps[0].mfa_from_authn_methods_references
    sp = settings.service_provider()
    assert sp.require_mfa
    assert sp.attribute_map is not None
    result = sp.finish_login(dict(idp.initiate(SP_ID, ACS, now=NOW).fields), now=NOW)
    assert result.authn.mapped("email") == "ada@example.org"
    assert result.authn.roles == frozenset({"admin"})


def test_without_the_keys_nothing_changes(tmp_path: Path) -> None:
    text = f'[sp]\nentity_id = "{SP_ID}"\nacs_url = "{ACS}"\n[[idps]]\nmetadata_file = "idp.xml"\n'
    _, settings = load(tmp_path, text)
    tenant = settings.tenant()
    assert not tenant.require_mfa
    assert tenant.attribute_map is None
    assert tenant.authn_context_order is DEFAULT_AUTHN_CONTEXT_ORDER
    assert not tenant.idps[0].require_mfa


def test_require_mfa_from_settings_is_enforced(tmp_path: Path) -> None:
    text = TOML.replace(f', ["urn:example:otp", "{REFEDS_MFA}"]', f', "{REFEDS_MFA}"')
    text = text.replace('"{PPT}"', f'"{PPT}", "urn:example:otp"')
    idp, settings = load(tmp_path, text)
    with pytest.raises(ResponseRejected) as info:
        settings.service_provider().finish_login(dict(idp.initiate(SP_ID, ACS, now=NOW).fields), now=NOW)
    assert info.value.code == ErrorCode.AUTHN_CONTEXT_NOT_SATISFIED


@pytest.mark.parametrize(
    ("old", "new", "match"),
    [
        ("require_mfa = true\nauthn", 'require_mfa = "yes"\nauthn', r"sp\.require_mfa must be true or false"),
        ("mfa_from_authn_methods_references = true", "mfa_from_authn_methods_references = 1", "idps"),
        (f'authn_context_order = ["{PPT}"', f'authn_context_order = ["{PPT}", "{PPT}"', "ranked twice"),
        ('preset = "entra"', 'preset = "azure"', r"sp\.attribute_map: unknown preset"),
        ('required = ["email"]', 'required = ["email"]\nsecret = 1', "unknown key"),
        ("require_mfa = true\nmfa_from", "require_mfa = true\nrequire_mfa_for_admins = true\nmfa_from", "unknown"),
    ],
)
def test_bad_values_are_refused_with_their_path(tmp_path: Path, old: str, new: str, match: str) -> None:
    assert old in TOML
    with pytest.raises(ConfigurationError, match=match):
        load(tmp_path, TOML.replace(old, new, 1))
