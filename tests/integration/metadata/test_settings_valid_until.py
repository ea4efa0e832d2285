"""The settings key ``require_valid_until`` of an [[idps]] entry (issue #10 §2: "an aggregate must carry
validUntil (configurable)"): on for metadata_url and mdq_base, off for local files, changeable either way,
validated, and part of what makes two entries share one provider or one parsed file."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.integration.metadata.test_lifecycle import IDP, NOW, Clock
from tests.integration.metadata.test_settings_sources import settings_data
from tests.metadata_support import aggregate_xml, entity_xml, federation_key, signed_aggregate

from fedlib.errors import ConfigurationError
from fedlib.federation import HTTPFetcher, mdq_url
from fedlib.settings import load_settings, load_settings_toml
from fedlib.testing import default_key


def loopback() -> HTTPFetcher:
    return HTTPFetcher(allow_http=True, connect_timeout=2.0, read_timeout=2.0)


def _load(tmp_path: Path, idp: dict[str, Any]) -> Any:
    return load_settings(settings_data(idp), base_dir=tmp_path, now=NOW, clock=Clock(), fetcher=loopback())


@pytest.fixture
def fed_crt(tmp_path: Path) -> bytes:
    fed = federation_key()
    (tmp_path / "fed.crt").write_bytes(fed.cert_pem)
    return signed_aggregate([entity_xml(IDP, [default_key()])], signer=fed, valid_until=None)


def test_a_remote_aggregate_without_valid_until_is_refused_unless_the_setting_allows_it(
    http_server: Any, tmp_path: Path, fed_crt: bytes
) -> None:
    http_server.script.serve("/fed.xml", fed_crt)
    entry = {"metadata_url": http_server.url("/fed.xml"), "metadata_signing_certificates": ["fed.crt"]}
    with pytest.raises(ConfigurationError, match=r"idps\[0\].*validUntil"):
        _load(tmp_path, entry)
    with pytest.raises(ConfigurationError, match=r"idps\[0\].*validUntil"):
        _load(tmp_path, {**entry, "require_valid_until": True})
    settings = _load(tmp_path, {**entry, "require_valid_until": False})
    assert [i.entity_id for i in settings.tenant().idps] == [IDP]
    (provider,) = settings.metadata_providers
    assert provider.require_valid_until is False
    # it holds for every refresh, not only the first load
    assert provider.refresh_now()


def test_the_setting_is_per_source_two_entries_differing_in_it_do_not_share_a_provider(
    http_server: Any, tmp_path: Path
) -> None:
    fed = federation_key()
    (tmp_path / "fed.crt").write_bytes(fed.cert_pem)
    http_server.script.serve(
        "/fed.xml",
        signed_aggregate([entity_xml(IDP, [default_key()])], signer=fed, valid_until=NOW + timedelta(days=7)),
    )
    entry = {"metadata_url": http_server.url("/fed.xml"), "metadata_signing_certificates": ["fed.crt"]}
    data = {
        "tenants": {
            "strict": settings_data({**entry, "entity_id": IDP}),
            "lenient": {
                "sp": {"entity_id": "https://other.sp.example.test/saml", "acs_url": "https://other.sp.example.test/a"},
                "idps": [{**entry, "entity_id": IDP, "require_valid_until": False}],
            },
        }
    }
    settings = load_settings(data, base_dir=tmp_path, now=NOW, clock=Clock(), fetcher=loopback())
    assert sorted(p.require_valid_until for p in settings.metadata_providers) == [False, True]


def test_a_local_aggregate_keeps_its_historical_rule_unless_the_setting_requires_valid_until(
    tmp_path: Path, fed_crt: bytes
) -> None:
    (tmp_path / "agg.xml").write_bytes(fed_crt)
    (tmp_path / "plain.xml").write_bytes(aggregate_xml([entity_xml(IDP, [default_key()])], valid_until=None))
    signed_entry = {"metadata_file": "agg.xml", "metadata_signing_certificates": ["fed.crt"], "entity_id": IDP}
    assert [i.entity_id for i in _load(tmp_path, signed_entry).tenant().idps] == [IDP]
    with pytest.raises(ConfigurationError, match=r"idps\[0\].*validUntil"):
        _load(tmp_path, {**signed_entry, "require_valid_until": True})
    with pytest.raises(ConfigurationError, match=r"idps\[0\].*validUntil"):
        _load(tmp_path, {"metadata_file": "plain.xml", "entity_id": IDP, "require_valid_until": True})
    xml = fed_crt.decode("utf-8")
    with pytest.raises(ConfigurationError, match=r"idps\[0\].*validUntil"):
        _load(tmp_path, {"metadata_xml": xml, "entity_id": IDP, "require_valid_until": True})
    # one file, two rules: the file is parsed under each rule, not served from the other's cache
    data = {
        "sp": settings_data({})["sp"],
        "idps": [{**signed_entry}, {**signed_entry, "require_valid_until": True}],
    }
    with pytest.raises(ConfigurationError, match=r"idps\[1\].*validUntil"):
        load_settings(data, base_dir=tmp_path, now=NOW)


def test_mdq_answers_follow_the_setting_too(http_server: Any, tmp_path: Path, fed_crt: bytes) -> None:
    """An MDQ service answering with an EntitiesDescriptor around the one entity is an aggregate."""
    http_server.script.serve(mdq_url("", IDP), fed_crt)
    entry = {"mdq_base": http_server.base, "entity_id": IDP, "metadata_signing_certificates": ["fed.crt"]}
    with pytest.raises(ConfigurationError, match=r"idps\[0\].*validUntil"):
        _load(tmp_path, entry)
    assert [i.entity_id for i in _load(tmp_path, {**entry, "require_valid_until": False}).tenant().idps] == [IDP]


@pytest.mark.parametrize("value", ["false", 0, 1, "yes", None, []])
def test_the_setting_must_be_a_boolean(tmp_path: Path, fed_crt: bytes, value: Any) -> None:
    (tmp_path / "agg.xml").write_bytes(fed_crt)
    entry = {"metadata_file": "agg.xml", "entity_id": IDP, "require_valid_until": value}
    with pytest.raises(ConfigurationError, match=r"idps\[0\]\.require_valid_until must be true or false"):
        _load(tmp_path, entry)
    url_entry = {"metadata_url": "https://md.example.org/fed.xml", "require_valid_until": value}
    with pytest.raises(ConfigurationError, match=r"idps\[0\]\.require_valid_until must be true or false"):
        _load(tmp_path, url_entry)  # refused before anything is fetched


def test_the_setting_in_a_toml_file(http_server: Any, tmp_path: Path, fed_crt: bytes) -> None:
    http_server.script.serve("/fed.xml", fed_crt)
    (tmp_path / "fedlib.toml").write_text(
        f"""
[sp]
entity_id = "https://sp.example.test/saml/metadata"
acs_url = "https://sp.example.test/saml/acs"

[[idps]]
metadata_url = "{http_server.url("/fed.xml")}"
metadata_signing_certificates = ["fed.crt"]
require_valid_until = false
"""
    )
    settings = load_settings_toml(tmp_path / "fedlib.toml", now=NOW, clock=Clock(), fetcher=loopback())
    assert [i.entity_id for i in settings.tenant().idps] == [IDP]
