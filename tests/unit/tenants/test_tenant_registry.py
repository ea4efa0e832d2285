"""TenantRegistry: tenants sharing one IdP and one store never accept each other's responses."""

from __future__ import annotations

import base64
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from fedlib.config import SecurityPolicy, SPConfig
from fedlib.errors import ConfigurationError, ErrorCode, ResponseRejected, StoreError
from fedlib.metadata.idp import parse_idp_metadata
from fedlib.settings import Settings, load_settings, load_settings_toml
from fedlib.sp import ServiceProvider
from fedlib.stores.memory import MemoryStore
from fedlib.stores.sqlite import SQLiteStore
from fedlib.tenants import TenantRegistry
from fedlib.testing.idp import TestIdP

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)

TWO_TENANTS = """
store = "sqlite:///./shared.db"

[tenants.acme.sp]
entity_id = "https://acme.example.com/saml/metadata"
acs_url = "https://acme.example.com/saml/acs"
[tenants.acme.sp.policy]
allow_unsolicited = true
[[tenants.acme.idps]]
metadata_file = "idp.xml"

[tenants.globex.sp]
entity_id = "https://globex.example.com/saml/metadata"
acs_url = "https://globex.example.com/saml/acs"
[[tenants.globex.idps]]
metadata_file = "idp.xml"          # the same IdP
allow_unsolicited = true
"""


@pytest.fixture
def idp() -> TestIdP:
    idp = TestIdP()
    for name in ("acme", "globex"):
        idp.register_sp(f"https://{name}.example.com/saml/metadata", f"https://{name}.example.com/saml/acs")
    return idp


@pytest.fixture
def settings(tmp_path: Path, idp: TestIdP) -> Settings:
    (tmp_path / "idp.xml").write_bytes(idp.metadata_xml())
    (tmp_path / "fedlib.toml").write_text(TWO_TENANTS)
    return load_settings_toml(tmp_path / "fedlib.toml", now=NOW)


def sp_initiated(sp: ServiceProvider, idp: TestIdP) -> tuple[dict[str, str], str]:
    """The IdP's answer and the browser secret of the browser that started the login."""
    login = sp.start_login(now=NOW)
    assert login.url is not None
    return dict(idp.respond(idp.receive_redirect(login.url), now=NOW).fields), login.browser_binding


def idp_initiated(sp: ServiceProvider, idp: TestIdP) -> dict[str, str]:
    return dict(idp.initiate(sp.config.entity_id, sp.config.acs_url, now=NOW).fields)


def refused(sp: ServiceProvider, form: dict[str, str], browser: str | None = None) -> ErrorCode:
    with pytest.raises(ResponseRejected) as info:
        sp.finish_login(form, browser_binding=browser, now=NOW)
    return info.value.code


# ---- isolation ----------------------------------------------------------------------------------------


def test_tenants_from_settings_share_one_opened_store(settings: Settings) -> None:
    registry = TenantRegistry.from_settings(settings)
    try:
        acme, globex = registry.get("acme"), registry.get("globex")
        shared = acme.store.inner  # type: ignore[attr-defined]
        assert isinstance(shared, SQLiteStore)
        assert globex.store.inner is shared  # type: ignore[attr-defined]
        assert acme.store.prefix != globex.store.prefix  # type: ignore[attr-defined]
        assert sorted(registry) == ["acme", "globex"]
        assert len(registry) == 2
        assert "acme" in registry
    finally:
        registry.close()


def test_sp_initiated_response_for_one_tenant_is_refused_by_another(settings: Settings, idp: TestIdP) -> None:
    registry = TenantRegistry.from_settings(settings)
    try:
        acme, globex = registry["acme"], registry["globex"]
        form, browser = sp_initiated(acme, idp)
        # globex never sent that request: its namespace of the shared store has no such entry
        assert refused(globex, form, browser) == ErrorCode.UNKNOWN_REQUEST
        # and trying it at globex did not burn acme's request
        assert acme.finish_login(form, browser_binding=browser, now=NOW).authn.name_id == "ada@example.org"
        assert refused(acme, form, browser) == ErrorCode.UNKNOWN_REQUEST  # once only
    finally:
        registry.close()


def test_sp_initiated_response_with_the_acs_rewritten_is_still_refused(settings: Settings, idp: TestIdP) -> None:
    """Even a Response really addressed to globex cannot answer a request that only acme sent."""
    registry = TenantRegistry.from_settings(settings)
    try:
        acme, globex = registry["acme"], registry["globex"]
        login = acme.start_login(now=NOW)
        assert login.url is not None
        request = idp.receive_redirect(login.url)
        # a (malicious or confused) IdP answers acme's request ID but addresses the Response to globex
        xml = idp.response_xml(
            sp_entity_id=globex.config.entity_id, acs_url=globex.config.acs_url, in_response_to=request.id, now=NOW
        )
        form = {"SAMLResponse": base64.b64encode(xml).decode()}
        assert refused(globex, form, login.browser_binding) == ErrorCode.UNKNOWN_REQUEST
    finally:
        registry.close()


def test_idp_initiated_response_for_one_tenant_is_refused_by_another(settings: Settings, idp: TestIdP) -> None:
    registry = TenantRegistry.from_settings(settings)
    try:
        acme, globex = registry["acme"], registry["globex"]
        for issued_for, other in ((acme, globex), (globex, acme)):
            form = idp_initiated(issued_for, idp)
            assert refused(other, form) in (ErrorCode.WRONG_DESTINATION, ErrorCode.WRONG_AUDIENCE)
            assert issued_for.finish_login(form, now=NOW).solicited is False
            assert refused(issued_for, form) == ErrorCode.REPLAYED
            assert refused(other, form) in (ErrorCode.WRONG_DESTINATION, ErrorCode.WRONG_AUDIENCE)
    finally:
        registry.close()


def test_isolation_holds_across_separately_opened_stores_on_one_database(settings: Settings, idp: TestIdP) -> None:
    """Two workers: each opens the same SQLite file itself (Settings.service_provider opens store_url)."""
    acme, globex = settings.service_provider("acme"), settings.service_provider("globex")
    try:
        assert acme.store.inner is not globex.store.inner  # type: ignore[attr-defined]
        form, browser = sp_initiated(acme, idp)
        assert refused(globex, form, browser) == ErrorCode.UNKNOWN_REQUEST
        # a second acme worker on the same database can answer it (the request is in the shared store) ...
        acme_worker_2 = settings.service_provider("acme")
        try:
            assert acme_worker_2.finish_login(form, browser_binding=browser, now=NOW).solicited
        finally:
            acme_worker_2.store.inner.close()  # type: ignore[attr-defined]
        assert refused(acme, form, browser) == ErrorCode.UNKNOWN_REQUEST  # ... once
        unsolicited = idp_initiated(globex, idp)
        assert refused(acme, unsolicited) in (ErrorCode.WRONG_DESTINATION, ErrorCode.WRONG_AUDIENCE)
        assert not globex.finish_login(unsolicited, now=NOW).solicited
    finally:
        acme.store.inner.close()  # type: ignore[attr-defined]
        globex.store.inner.close()  # type: ignore[attr-defined]


def test_from_settings_with_an_explicit_store(settings: Settings, idp: TestIdP) -> None:
    store = MemoryStore()
    registry = TenantRegistry.from_settings(settings, store=store)
    acme, globex = registry["acme"], registry["globex"]
    assert acme.store.inner is store
    assert globex.store.inner is store
    assert refused(globex, *sp_initiated(acme, idp)) == ErrorCode.UNKNOWN_REQUEST
    registry.close()  # not its store: left open
    assert store.add("k", expires_at=NOW.replace(year=2027), now=NOW)


def test_unknown_and_invalid_tenants(settings: Settings) -> None:
    registry = TenantRegistry.from_settings(settings, store=MemoryStore())
    with pytest.raises(ConfigurationError, match="unknown tenant 'initech'"):
        registry.get("initech")
    for bad in ("ACME", "../acme", "", "a" * 64, "acme\n"):
        with pytest.raises(ConfigurationError, match="invalid tenant name"):
            registry.get(bad)
    with pytest.raises(ConfigurationError, match="fixed settings"):
        registry.invalidate("acme")


# ---- loader-backed --------------------------------------------------------------------------------------


class Loader:
    """A stand-in for a database of tenants."""

    def __init__(self, idp: TestIdP, store: MemoryStore) -> None:
        self.idp, self.store = idp, store
        self.metadata = parse_idp_metadata(idp.metadata_xml(), now=NOW)
        self.known = {"acme", "globex", "initech"}
        self.calls: list[str] = []

    def __call__(self, name: str) -> ServiceProvider | None:
        self.calls.append(name)
        if name not in self.known:
            return None
        entity, acs = f"https://{name}.example.com/saml/metadata", f"https://{name}.example.com/saml/acs"
        self.idp.register_sp(entity, acs)
        config = SPConfig(entity_id=entity, acs_url=acs, policy=SecurityPolicy(allow_unsolicited=True))
        return ServiceProvider(config, self.metadata, self.store, tenant=name)


def test_loader_results_are_cached_and_bounded(idp: TestIdP) -> None:
    loader = Loader(idp, MemoryStore())
    registry = TenantRegistry(loader, max_cached=2)
    acme = registry.get("acme")
    assert registry.get("acme") is acme
    assert loader.calls == ["acme"]
    registry.get("globex")
    registry.get("acme")  # acme is now the most recently used
    registry.get("initech")  # evicts globex
    assert "globex" not in registry
    assert "acme" in registry
    assert len(registry) == 2
    registry.get("globex")
    assert loader.calls == ["acme", "globex", "initech", "globex"]
    with pytest.raises(ConfigurationError, match="unknown tenant 'hooli'"):
        registry.get("hooli")
    with pytest.raises(ConfigurationError, match="unknown tenant 'hooli'"):
        registry.get("hooli")
    assert loader.calls.count("hooli") == 2  # unknown tenants are not cached: a new one appears at once


def test_invalid_names_never_reach_the_loader(idp: TestIdP) -> None:
    loader = Loader(idp, MemoryStore())
    registry = TenantRegistry(loader)
    for bad in ("Acme", "acme'; DROP TABLE tenants; --", "x" * 200):
        with pytest.raises(ConfigurationError, match="invalid tenant name"):
            registry.get(bad)
    assert loader.calls == []


def test_invalidate(idp: TestIdP) -> None:
    loader = Loader(idp, MemoryStore())
    registry = TenantRegistry(loader)
    first = registry.get("acme")
    registry.invalidate("acme")
    assert registry.get("acme") is not first
    registry.get("globex")
    registry.invalidate()
    assert len(registry) == 0


def test_loader_must_namespace_by_the_requested_tenant(idp: TestIdP) -> None:
    loader = Loader(idp, MemoryStore())
    registry = TenantRegistry(lambda name: loader("acme"))
    with pytest.raises(ConfigurationError, match="returned the ServiceProvider of tenant 'acme' for 'globex'"):
        registry.get("globex")
    wrong: Any = lambda name: "not a provider"  # noqa: E731
    with pytest.raises(ConfigurationError, match="returned a str"):
        TenantRegistry(wrong).get("acme")


def test_loader_tenants_sharing_a_store_are_isolated(idp: TestIdP) -> None:
    shared = MemoryStore()
    registry = TenantRegistry(Loader(idp, shared))
    acme, globex = registry.get("acme"), registry.get("globex")
    assert refused(globex, *sp_initiated(acme, idp)) == ErrorCode.UNKNOWN_REQUEST
    assert refused(acme, idp_initiated(globex, idp)) in (ErrorCode.WRONG_DESTINATION, ErrorCode.WRONG_AUDIENCE)


def test_concurrent_gets_return_one_instance(idp: TestIdP) -> None:
    loader = Loader(idp, MemoryStore())
    registry = TenantRegistry(loader)
    seen: list[ServiceProvider] = []
    threads = [threading.Thread(target=lambda: seen.append(registry.get("acme"))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(sp) for sp in seen}) == 1


def test_from_mapping(idp: TestIdP) -> None:
    loader = Loader(idp, MemoryStore())
    acme = loader("acme")
    assert acme is not None
    registry = TenantRegistry.from_mapping({"acme": acme})
    assert registry.get("acme") is acme
    with pytest.raises(ConfigurationError, match="unknown tenant"):
        registry.get("globex")
    with pytest.raises(ConfigurationError, match="returned the ServiceProvider of tenant 'acme' for 'other'"):
        TenantRegistry.from_mapping({"other": acme})


@pytest.mark.parametrize("bad", [0, -1, True, 1.5])
def test_max_cached_must_be_positive(idp: TestIdP, bad: Any) -> None:
    with pytest.raises(ConfigurationError, match="max_cached"):
        TenantRegistry(Loader(idp, MemoryStore()), max_cached=bad)


def test_from_settings_closes_what_it_opened_when_a_tenant_fails(tmp_path: Path, idp: TestIdP) -> None:
    (tmp_path / "idp.xml").write_bytes(idp.metadata_xml())
    data = {
        "tenants": {
            "acme": {
                "store": "sqlite:///./a.db",
                "sp": {"entity_id": "https://a.example/sp", "acs_url": "https://a.example/acs"},
                "idps": [{"metadata_file": "idp.xml"}],
            },
            "globex": {
                "store": f"sqlite:///{tmp_path}/missing-dir/g.db",
                "sp": {"entity_id": "https://g.example/sp", "acs_url": "https://g.example/acs"},
                "idps": [{"metadata_file": "idp.xml"}],
            },
        }
    }
    settings = load_settings(data, base_dir=tmp_path, now=NOW)
    with pytest.raises(StoreError):
        TenantRegistry.from_settings(settings)
