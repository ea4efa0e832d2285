"""``max_assertion_age_seconds``: settable from settings, in [sp.policy] and per IdP, validated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from fedlib.errors import ConfigurationError
from fedlib.settings import load_settings, load_settings_toml
from fedlib.testing.idp import TestIdP

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
SP_ID = "https://app.example.com/saml/metadata"
ACS = "https://app.example.com/saml/acs"


@pytest.fixture
def conf_dir(tmp_path: Path) -> Path:
    idp = TestIdP()
    idp.register_sp(SP_ID, ACS)
    (tmp_path / "idp.xml").write_bytes(idp.metadata_xml())
    return tmp_path


def settings(conf_dir: Path, policy: dict[str, Any], idp: dict[str, Any] | None = None) -> Any:
    data = {
        "sp": {"entity_id": SP_ID, "acs_url": ACS, "policy": policy},
        "idps": [{"metadata_file": "idp.xml", **(idp or {})}],
    }
    return load_settings(data, base_dir=conf_dir, now=NOW).tenant()


def test_default_and_sp_wide_value(conf_dir: Path) -> None:
    assert settings(conf_dir, {}).sp.policy.max_assertion_age == timedelta(minutes=10)
    tenant = settings(conf_dir, {"max_assertion_age_seconds": 1800})
    assert tenant.sp.policy.max_assertion_age == timedelta(minutes=30)
    assert tenant.idps[0].policy is None  # the IdP inherits the SP policy


def test_per_idp_value(conf_dir: Path) -> None:
    tenant = settings(conf_dir, {}, {"max_assertion_age_seconds": 120})
    assert tenant.sp.policy.max_assertion_age == timedelta(minutes=10)
    assert tenant.idps[0].policy.max_assertion_age == timedelta(minutes=2)


def test_from_toml(conf_dir: Path) -> None:
    (conf_dir / "fedlib.toml").write_text(
        f'[sp]\nentity_id = "{SP_ID}"\nacs_url = "{ACS}"\n[sp.policy]\nmax_assertion_age_seconds = 300\n'
        '[[idps]]\nmetadata_file = "idp.xml"\n'
    )
    loaded = load_settings_toml(conf_dir / "fedlib.toml", now=NOW)
    assert loaded.tenant().sp.policy.max_assertion_age == timedelta(minutes=5)


@pytest.mark.parametrize("value", [0, 59, 86401, True, "600", float("nan")])
def test_bad_values_are_configuration_errors(conf_dir: Path, value: object) -> None:
    with pytest.raises(ConfigurationError, match="max_assertion_age_seconds"):
        settings(conf_dir, {"max_assertion_age_seconds": value})
    with pytest.raises(ConfigurationError, match=r"idps\[0\].max_assertion_age_seconds"):
        settings(conf_dir, {}, {"max_assertion_age_seconds": value})
