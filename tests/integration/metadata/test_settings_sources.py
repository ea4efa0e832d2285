"""Settings with metadata_url / mdq_base: fetched at load, attached to the tenants' ServiceProviders, refreshed
and swapped atomically in a TenantRegistry without a restart."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from tests.integration.metadata.test_lifecycle import ACS, IDP, NOW, SP_ENTITY, Clock, idp_document, login, refused
from tests.metadata_support import federation_key

from fedlib.errors import ErrorCode
from fedlib.federation import HTTPFetcher, mdq_url
from fedlib.settings import load_settings
from fedlib.tenants import TenantRegistry
from fedlib.testing import default_key


def settings_data(idp: dict[str, Any]) -> dict[str, Any]:
    return {"sp": {"entity_id": SP_ENTITY, "acs_url": ACS}, "idps": [idp]}


def test_metadata_url_in_settings_rotates_in_a_live_registry(http_server: Any, tmp_path: Path) -> None:
    fed, old, new = federation_key(), default_key(), default_key(label="rotated")
    (tmp_path / "fed.crt").write_bytes(fed.cert_pem)
    http_server.script.serve("/idp.xml", idp_document([old], signer=fed))
    clock = Clock()
    settings = load_settings(
        settings_data(
            {
                "metadata_url": http_server.url("/idp.xml"),
                "metadata_signing_certificates": ["fed.crt"],
                "backing_file": "idp-backing.xml",
                "refresh_min_seconds": 60,
                "allow_unsolicited": True,
            }
        ),
        base_dir=tmp_path,
        now=NOW,
        clock=clock,
        fetcher=HTTPFetcher(allow_http=True, read_timeout=2.0),
    )
    assert (tmp_path / "idp-backing.xml").is_file()
    registry = TenantRegistry.from_settings(settings, clock=clock, refresh=False)
    sp = registry.get("default")
    assert login(sp, old, clock).authn.issuer == IDP
    (provider,) = settings.metadata_providers
    http_server.script.serve("/idp.xml", idp_document([new], signer=fed))
    assert provider.refresh_now()
    assert registry.get("default") is sp  # the same live object, new trust
    assert login(sp, new, clock).authn.issuer == IDP
    assert refused(sp, old, clock) == ErrorCode.UNTRUSTED_CERTIFICATE
    assert sp.idp(IDP).policy is not None
    assert sp.idp(IDP).policy.allow_unsolicited is True  # the per-IdP policy survives the swap
    registry.close()


def test_registry_starts_and_stops_the_refresh_threads(http_server: Any, tmp_path: Path) -> None:
    http_server.script.serve("/idp.xml", idp_document([default_key()]))
    settings = load_settings(
        settings_data({"metadata_url": http_server.url("/idp.xml")}),
        base_dir=tmp_path,
        now=NOW,
        fetcher=HTTPFetcher(allow_http=True, read_timeout=2.0),
    )
    registry = TenantRegistry.from_settings(settings)
    (provider,) = settings.metadata_providers
    assert provider._thread is not None
    assert provider._thread.is_alive()
    registry.close()
    assert provider._thread is None


def test_mdq_base_in_settings(http_server: Any, tmp_path: Path) -> None:
    fed, key = federation_key(), default_key()
    (tmp_path / "mdq.crt").write_bytes(fed.cert_pem)
    http_server.script.serve(mdq_url("", IDP), idp_document([key], signer=fed))
    clock = Clock()
    settings = load_settings(
        settings_data({"mdq_base": http_server.base, "entity_id": IDP, "metadata_signing_certificates": ["mdq.crt"]}),
        base_dir=tmp_path,
        now=NOW,
        clock=clock,
        fetcher=HTTPFetcher(allow_http=True, read_timeout=2.0),
    )
    sp = settings.service_provider(clock=clock)
    assert login(sp, key, clock).authn.issuer == IDP
    _, headers = http_server.script.requests[-1]
    assert headers["Accept"].startswith("application/samlmetadata+xml")
    # an unsigned MDQ answer is refused even though it is a single entity
    http_server.script.serve(mdq_url("", IDP), idp_document([key]))
    clock.advance(timedelta(hours=5))
    (provider,) = settings.metadata_providers
    assert not provider.refresh_now()
    assert "signature" in (provider.status().last_error or "")
