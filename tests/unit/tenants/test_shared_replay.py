"""Issue #8 section 7: an assertion is accepted once across workers with skewed clocks and across tenants.

* Two workers (ServiceProviders) share one SQLite file; the clock of one is ahead. The ahead worker's
  store activity must not purge the replay entry while the other would still accept the assertion.
* Tenants configured with the same SP entity ID share replay entries (keyed by SP identity, outside the
  tenant prefix); tenants that an IdP cannot tell apart (same entity ID and ACS URL) are refused.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from fedlib.config import SecurityPolicy, SPConfig
from fedlib.errors import ConfigurationError, ErrorCode, ResponseRejected
from fedlib.metadata.idp import IdPMetadata, parse_idp_metadata
from fedlib.settings import load_settings
from fedlib.sp import ServiceProvider
from fedlib.stores.memory import MemoryStore
from fedlib.stores.sqlite import SQLiteStore
from fedlib.tenants import TenantRegistry
from fedlib.testing.idp import TestIdP

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
ENTITY = "https://shared.example.com/saml/metadata"
ACS = "https://shared.example.com/saml/acs"
UNSOLICITED = SecurityPolicy(allow_unsolicited=True)  # default clock skew: 180 s


@pytest.fixture
def idp() -> TestIdP:
    idp = TestIdP()
    idp.register_sp(ENTITY, ACS)
    return idp


@pytest.fixture
def metadata(idp: TestIdP) -> IdPMetadata:
    return parse_idp_metadata(idp.metadata_xml(), now=NOW)


def code_of(sp: ServiceProvider, form: dict[str, str], now: datetime) -> ErrorCode:
    with pytest.raises(ResponseRejected) as info:
        sp.finish_login(form, now=now)
    return info.value.code


# ---- workers with skewed clocks ------------------------------------------------------------------------


@pytest.mark.parametrize("offset", [timedelta(seconds=31), timedelta(seconds=120), timedelta(seconds=180)], ids=str)
def test_replay_refused_by_a_worker_whose_clock_is_behind(
    tmp_path: Path, idp: TestIdP, metadata: IdPMetadata, offset: timedelta
) -> None:
    """Before the fix, a worker 31 s ahead purged the replay entry and the assertion was accepted again."""
    config = SPConfig(entity_id=ENTITY, acs_url=ACS, policy=UNSOLICITED)
    path = tmp_path / "shared.db"
    behind = ServiceProvider(config, metadata, SQLiteStore(path))
    ahead = ServiceProvider(config, metadata, SQLiteStore(path))
    try:
        form = dict(idp.initiate(ENTITY, ACS, now=NOW).fields)  # NotOnOrAfter = NOW + 5 min
        assert behind.finish_login(form, now=NOW).authn.name_id == "ada@example.org"
        replay_expires = NOW + timedelta(minutes=5) + UNSOLICITED.clock_skew  # NotOnOrAfter + skew
        # real time passes: the ahead worker's clock passes replay_expires while the other's has not
        now_behind = replay_expires - offset + timedelta(seconds=1)
        now_ahead = now_behind + offset
        for _ in range(3):  # logins started there write to the shared store, purging what they may
            ahead.start_login(now=now_ahead)
        assert code_of(ahead, form, now_ahead) == ErrorCode.EXPIRED  # too late on its own clock
        # still valid on the behind worker's clock: refused only because it was already used
        assert code_of(behind, form, now_behind) == ErrorCode.REPLAYED
    finally:
        behind.store.inner.close()  # type: ignore[attr-defined]
        ahead.store.inner.close()  # type: ignore[attr-defined]


# ---- tenants sharing an SP identity --------------------------------------------------------------------


def test_tenants_with_one_sp_identity_accept_an_assertion_once(idp: TestIdP, metadata: IdPMetadata) -> None:
    """Built directly (no registry to refuse the configuration): the replay entry is keyed by the SP entity
    ID outside the tenant prefixes, so the second tenant refuses what the first accepted."""
    store = MemoryStore()
    config = SPConfig(entity_id=ENTITY, acs_url=ACS, policy=UNSOLICITED)
    first = ServiceProvider(config, metadata, store, tenant="first")
    second = ServiceProvider(config, metadata, store, tenant="second")
    form = dict(idp.initiate(ENTITY, ACS, now=NOW).fields)
    assert not first.finish_login(form, now=NOW).solicited
    assert code_of(second, form, NOW) == ErrorCode.REPLAYED
    assert code_of(first, form, NOW) == ErrorCode.REPLAYED
    # pending login requests stay per tenant
    login = first.start_login(now=NOW)
    assert login.url is not None
    answer = dict(idp.respond(idp.receive_redirect(login.url), now=NOW).fields)
    assert code_of(second, answer, NOW) == ErrorCode.UNKNOWN_REQUEST
    assert first.finish_login(answer, now=NOW, browser_binding=login.browser_binding).solicited


def test_same_entity_id_with_other_acs_urls_shares_replay_entries(idp: TestIdP, metadata: IdPMetadata) -> None:
    """Allowed configuration (one SAML entity, one ACS per tenant): still one use per assertion."""
    store = MemoryStore()
    idp.register_sp(ENTITY, [ACS, ACS + "/b"])
    a = ServiceProvider(SPConfig(entity_id=ENTITY, acs_url=ACS, policy=UNSOLICITED), metadata, store, tenant="a")
    b_config = SPConfig(entity_id=ENTITY, acs_url=ACS + "/b", policy=UNSOLICITED)
    b = ServiceProvider(b_config, metadata, store, tenant="b")
    form = dict(idp.initiate(ENTITY, ACS, now=NOW).fields)
    assert code_of(b, form, NOW) == ErrorCode.WRONG_DESTINATION  # addressed to a's ACS
    assert a.finish_login(form, now=NOW)
    assert code_of(a, form, NOW) == ErrorCode.REPLAYED


def test_other_entity_ids_do_not_share_replay_entries(idp: TestIdP, metadata: IdPMetadata) -> None:
    """The replay key names the SP: the same assertion ID from the same IdP for another SP is not a replay."""
    from fedlib.validation.pipeline import _replay_key

    assert _replay_key(ENTITY, "idp", "_a1") != _replay_key(ENTITY + "x", "idp", "_a1")


# ---- the registry refuses tenants an IdP cannot tell apart ---------------------------------------------


def _tenants(tmp_path: Path, idp: TestIdP, **acs: Any) -> dict[str, Any]:
    (tmp_path / "idp.xml").write_bytes(idp.metadata_xml())
    return {
        "store": "memory://",
        "tenants": {
            name: {"sp": {"entity_id": ENTITY, **sp}, "idps": [{"metadata_file": "idp.xml"}]}
            for name, sp in acs.items()
        },
    }


def test_settings_refuse_two_tenants_with_one_entity_id_and_acs_url(tmp_path: Path, idp: TestIdP) -> None:
    data = _tenants(tmp_path, idp, acme={"acs_url": ACS}, globex={"acs_url": ACS})
    with pytest.raises(ConfigurationError, match="tenants 'acme' and 'globex' both use SP entity ID"):
        load_settings(data, base_dir=tmp_path, now=NOW)


def test_settings_refuse_an_overlapping_additional_acs_url(tmp_path: Path, idp: TestIdP) -> None:
    data = _tenants(
        tmp_path,
        idp,
        acme={"acs_url": ACS, "additional_acs_urls": [ACS + "/2"]},
        globex={"acs_url": ACS + "/3", "additional_acs_urls": [ACS + "/2"]},
    )
    with pytest.raises(ConfigurationError, match=r"'acme' and 'globex'.*/saml/acs/2"):
        load_settings(data, base_dir=tmp_path, now=NOW)


def test_settings_allow_one_entity_id_with_distinct_acs_urls(tmp_path: Path, idp: TestIdP) -> None:
    data = _tenants(tmp_path, idp, acme={"acs_url": ACS}, globex={"acs_url": ACS + "/globex"})
    registry = TenantRegistry.from_settings(load_settings(data, base_dir=tmp_path, now=NOW))
    assert sorted(registry) == ["acme", "globex"]
    registry.close()


class Loader:
    """A tenant database in which two tenants were (mis)configured with one SP identity."""

    def __init__(self, metadata: IdPMetadata, acs: dict[str, str]) -> None:
        self.metadata, self.acs, self.store = metadata, acs, MemoryStore()

    def __call__(self, name: str) -> ServiceProvider | None:
        if name not in self.acs:
            return None
        config = SPConfig(entity_id=ENTITY, acs_url=self.acs[name], policy=UNSOLICITED)
        return ServiceProvider(config, self.metadata, self.store, tenant=name)


def test_loader_registry_refuses_the_second_tenant_with_one_identity(metadata: IdPMetadata) -> None:
    loader = Loader(metadata, {"acme": ACS, "globex": ACS, "initech": ACS + "/initech"})
    registry = TenantRegistry(loader, max_cached=1)
    acme = registry.get("acme")
    with pytest.raises(ConfigurationError, match="tenants 'acme' and 'globex' both use SP entity ID"):
        registry.get("globex")
    registry.get("initech")  # same entity ID, own ACS URL: fine; evicts acme from the cache ...
    assert "acme" not in registry
    with pytest.raises(ConfigurationError, match="'acme' and 'globex'"):  # ... whose identity is still held
        registry.get("globex")
    assert registry.get("acme") is not acme  # reloading acme itself is fine
    registry.invalidate("acme")  # acme's configuration changed (say, it was removed)
    loader.acs.pop("acme")
    assert registry.get("globex").tenant == "globex"
    with pytest.raises(ConfigurationError, match="unknown tenant 'acme'"):
        registry.get("acme")


def test_loader_registry_invalidate_all_releases_identities(metadata: IdPMetadata) -> None:
    loader = Loader(metadata, {"acme": ACS, "globex": ACS})
    registry = TenantRegistry(loader)
    registry.get("acme")
    registry.invalidate()
    loader.acs["acme"] = ACS + "/moved"
    registry.get("globex")
    registry.get("acme")


def test_from_mapping_refuses_one_identity_twice(metadata: IdPMetadata) -> None:
    loader = Loader(metadata, {"acme": ACS, "globex": ACS})
    acme, globex = loader("acme"), loader("globex")
    assert acme is not None
    assert globex is not None
    with pytest.raises(ConfigurationError, match="'acme' and 'globex'"):
        TenantRegistry.from_mapping({"acme": acme, "globex": globex})
