"""[[idps]] entries that trust every IdP of an aggregate passing an entity-attribute filter (issue #10 §4):
entity_categories, assurance_certifications, registration_authorities, entity_attributes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from tests.metadata_support import aggregate_xml, federation_key, signed
from tests.unit.metadata.test_entity_selection import ASSURANCE, CATEGORY, _entity

from fedlib.errors import ConfigurationError
from fedlib.metadata.document import REFEDS_RS, SIRTFI
from fedlib.settings import load_settings, load_settings_toml

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
SP = {"entity_id": "https://app.example.com/saml/metadata", "acs_url": "https://app.example.com/saml/acs"}
A, B, C = "https://a.example.org/idp", "https://b.example.org/idp", "https://c.example.org/idp"


@pytest.fixture
def conf_dir(tmp_path: Path) -> Path:
    fed = federation_key()
    entities = [
        _entity(A, attributes={CATEGORY: [REFEDS_RS], ASSURANCE: [SIRTFI]}, authority="https://fed-x.example"),
        _entity(B, attributes={CATEGORY: [REFEDS_RS], "urn:example:support": ["y"]}, authority="https://fed-y.example"),
        _entity(C, authority="https://fed-x.example"),
    ]
    (tmp_path / "agg.xml").write_bytes(signed(aggregate_xml(entities, valid_until=NOW.replace(year=2027)), fed))
    (tmp_path / "fed.crt").write_bytes(fed.cert_pem)
    return tmp_path


def trusted(conf_dir: Path, **entry: Any) -> list[str]:
    idp = {"metadata_file": "agg.xml", "metadata_signing_certificates": ["fed.crt"], **entry}
    settings = load_settings({"sp": SP, "idps": [idp]}, base_dir=conf_dir, now=NOW)
    return [i.entity_id for i in settings.tenant().idps]


def test_each_filter_key_selects_the_idps_of_the_aggregate(conf_dir: Path) -> None:
    assert trusted(conf_dir, entity_categories=[REFEDS_RS]) == [A, B]
    assert trusted(conf_dir, assurance_certifications=[SIRTFI]) == [A]
    assert trusted(conf_dir, registration_authorities=["https://fed-x.example"]) == [A, C]
    assert trusted(conf_dir, entity_attributes={"urn:example:support": ["x", "y"]}) == [B]
    both = {"entity_categories": [REFEDS_RS], "registration_authorities": ["https://fed-y.example"]}
    assert trusted(conf_dir, **both) == [B]


def test_filter_keys_in_a_toml_file(conf_dir: Path) -> None:
    (conf_dir / "fedlib.toml").write_text(
        f"""
[sp]
entity_id = "{SP["entity_id"]}"
acs_url = "{SP["acs_url"]}"

[[idps]]
metadata_file = "agg.xml"
metadata_signing_certificates = ["fed.crt"]
registration_authorities = ["https://fed-x.example"]
entity_attributes = {{ "{CATEGORY}" = ["{REFEDS_RS}"] }}
allow_unsolicited = true
"""
    )
    settings = load_settings_toml(conf_dir / "fedlib.toml", now=NOW)
    (idp,) = settings.tenant().idps
    assert idp.entity_id == A
    assert idp.policy is not None
    assert idp.policy.allow_unsolicited  # the entry's policy applies to every IdP it selects


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"entity_categories": REFEDS_RS}, r"idps\[0\]\.entity_categories must be a list of non-empty strings"),
        ({"entity_categories": []}, r"idps\[0\]\.entity_categories is empty"),
        ({"registration_authorities": [""]}, r"idps\[0\]\.registration_authorities must be a list"),
        ({"assurance_certifications": [1]}, r"idps\[0\]\.assurance_certifications must be a list"),
        ({"entity_attributes": ["x"]}, r"idps\[0\]\.entity_attributes must be a table"),
        ({"entity_attributes": {}}, r"idps\[0\]\.entity_attributes is empty"),
        ({"entity_attributes": {"urn:n": []}}, r"idps\[0\]\.entity_attributes\.urn:n lists no value"),
        ({"entity_attributes": {"urn:n": "v"}}, r"idps\[0\]\.entity_attributes\.urn:n must be a list"),
        ({"entity_attributes": {"": ["v"]}}, r"idps\[0\]: entity_attributes: attribute names must be non-empty"),
        ({"entity_categories": [REFEDS_RS], "entity_id": A}, r"idps\[0\]: entity_id names one IdP"),
        ({"entity_categories": ["urn:nobody"]}, r"idps\[0\]: no SAML 2.0 IdP of the metadata passes entity_categories"),
        ({"entity_category": [REFEDS_RS]}, r"unknown setting 'idps\[0\]\.entity_category'"),
    ],
)
def test_bad_filter_settings_are_configuration_errors(conf_dir: Path, entry: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        trusted(conf_dir, **entry)


def test_a_filter_does_not_go_with_mdq(conf_dir: Path) -> None:
    idp = {
        "mdq_base": "https://mdq.example.org",
        "entity_id": A,
        "metadata_signing_certificates": ["fed.crt"],
        "entity_categories": [REFEDS_RS],
    }
    with pytest.raises(ConfigurationError, match=r"idps\[0\]: entity_id names one IdP"):
        load_settings({"sp": SP, "idps": [idp]}, base_dir=conf_dir, now=NOW)
    del idp["entity_id"]
    with pytest.raises(ConfigurationError, match=r"idps\[0\]: entity_categories selects IdPs of an aggregate"):
        load_settings({"sp": SP, "idps": [idp]}, base_dir=conf_dir, now=NOW)
