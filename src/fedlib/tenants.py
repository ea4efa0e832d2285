"""``TenantRegistry``: tenant name -> :class:`~fedlib.sp.ServiceProvider`, for multi-tenant applications.

Two ways to fill it:

* :meth:`TenantRegistry.from_settings` builds every tenant of a :class:`~fedlib.settings.Settings` up front
  (bad configuration stops start-up). Tenants whose store URLs are equal share one opened store.
* ``TenantRegistry(loader)`` asks ``loader(name)`` (a database lookup, say) the first time a tenant is
  seen and keeps at most ``max_cached`` answers (least recently used first out); ``invalidate`` forgets
  one after its configuration changed.

Tenants can share one store safely: each ServiceProvider keeps its pending requests under its own
tenant prefix (:class:`~fedlib.stores.prefixed.PrefixedStore`), so a request sent by one tenant cannot
be answered at another. Replay entries are keyed by SP entity ID instead, outside the tenant prefixes:
an assertion is accepted once by all the tenants (and workers) sharing a store, whichever receives it.
The registry checks that what a loader returns is namespaced under the name it was asked for, and
refuses two tenants with the same SP entity ID and an ACS URL in common (an IdP could not tell them
apart: an assertion issued for one would log in at the other); for a loader-backed registry, against
every tenant loaded since the last :meth:`~TenantRegistry.invalidate` of it, cached or not.

Tenant names are validated (``[a-z0-9][a-z0-9-]{0,62}``) before any lookup, so a name taken from a URL
or a Host header never reaches the loader unchecked.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from typing import Final

from fedlib.clock import Clock
from fedlib.errors import ConfigurationError
from fedlib.settings import Settings, SPIdentity, check_tenant_name, sp_identities, sp_identity_conflict
from fedlib.sp import ServiceProvider
from fedlib.stores.base import Store
from fedlib.stores.url import open_store

DEFAULT_MAX_CACHED: Final = 1024

Loader = Callable[[str], ServiceProvider | None]
"""Returns the ServiceProvider of a tenant (built with ``tenant=name``), or None for an unknown tenant."""


class TenantRegistry:
    """Tenant name -> ServiceProvider (thread-safe).

    Args:
        loader: called with a valid tenant name on a cache miss; returns its ServiceProvider or None.
        max_cached: how many ServiceProviders to keep (least recently used evicted first).
    """

    def __init__(self, loader: Loader, *, max_cached: int = DEFAULT_MAX_CACHED) -> None:
        if isinstance(max_cached, bool) or not isinstance(max_cached, int) or max_cached < 1:
            raise ConfigurationError("max_cached must be a positive integer")
        self._loader = loader
        self._max_cached = max_cached
        self._cache: OrderedDict[str, ServiceProvider] = OrderedDict()
        self._lock = threading.Lock()
        self._owned_stores: list[Store] = []
        self._settings: Settings | None = None
        self._pinned = False
        # (SP entity ID, ACS URL) -> tenant, for every tenant loaded since it was last invalidated (kept
        # when the cache evicts it, so that a conflicting tenant is refused whatever the load order).
        self._identities: dict[SPIdentity, str] = {}

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        store: Store | None = None,
        clock: Clock | None = None,
        refresh: bool = True,
    ) -> TenantRegistry:
        """Every tenant of ``settings``, built now. With ``store``, all tenants use it (each under its own
        prefix); otherwise each distinct ``store_url`` is opened once and shared by the tenants naming it
        (:meth:`close` closes those). IdPs from ``metadata_url`` / ``mdq_base`` are refreshed in background
        threads (``refresh=False``: not started) and swapped atomically in the live ServiceProviders;
        :meth:`close` stops them. The registry takes ``settings`` over: if it cannot be built, the stores it
        opened and the settings' metadata providers (their HTTP clients) are closed before the error goes up."""
        opened: dict[str, Store] = {}
        providers: dict[str, ServiceProvider] = {}
        try:
            for name, tenant in settings.tenants.items():
                tenant_store = store
                if tenant_store is None:
                    if tenant.store_url not in opened:
                        opened[tenant.store_url] = open_store(tenant.store_url)
                    tenant_store = opened[tenant.store_url]
                providers[name] = tenant.service_provider(tenant_store, clock=clock)
            registry = cls(providers.get, max_cached=max(len(providers), 1))
            for name, provider in providers.items():
                registry._claim_identities(name, provider)
        except BaseException:
            for s in opened.values():
                s.close()
            settings.stop_refresh()  # nothing else will close them: the caller hands the settings over
            raise
        registry._cache.update(providers)
        registry._owned_stores = list(opened.values())
        registry._pinned = True  # everything is loaded: never evict, and the loader only says "unknown"
        if refresh and settings.metadata_providers:
            registry._settings = settings
            settings.start_refresh()
        return registry

    @classmethod
    def from_mapping(cls, providers: Mapping[str, ServiceProvider]) -> TenantRegistry:
        """A fixed set of already-built ServiceProviders (each must have been built with its name)."""
        registry = cls(dict(providers).get, max_cached=max(len(providers), 1))
        for name in providers:
            registry.get(name)
        registry._pinned = True
        return registry

    def get(self, tenant: str) -> ServiceProvider:
        """The ServiceProvider of ``tenant``.

        Raises:
            ConfigurationError: the name is invalid, the tenant is unknown, the loader returned a
                ServiceProvider built for another tenant, or one with the SP entity ID and an ACS URL of
                another tenant loaded before.
        """
        check_tenant_name(tenant)
        with self._lock:
            cached = self._cache.get(tenant)
            if cached is not None:
                self._cache.move_to_end(tenant)
                return cached
        provider = self._loader(tenant)  # outside the lock: a slow lookup must not stall other tenants
        if provider is None:
            raise ConfigurationError(f"unknown tenant {tenant!r}")
        if not isinstance(provider, ServiceProvider):
            raise ConfigurationError(f"the tenant loader returned a {type(provider).__name__} for {tenant!r}")
        if provider.tenant != tenant:
            raise ConfigurationError(
                f"the tenant loader returned the ServiceProvider of tenant {provider.tenant!r} for {tenant!r}: "
                "build it with ServiceProvider(..., tenant=name) so its store keys are namespaced by tenant"
            )
        with self._lock:
            existing = self._cache.get(tenant)
            if existing is not None:  # another thread loaded it meanwhile: keep one instance
                return existing
            self._claim_identities(tenant, provider)
            self._cache[tenant] = provider
            while len(self._cache) > self._max_cached and not self._pinned:
                self._cache.popitem(last=False)
        return provider

    def __getitem__(self, tenant: str) -> ServiceProvider:
        return self.get(tenant)

    def __contains__(self, tenant: object) -> bool:
        """Whether ``tenant`` is cached now (a loader-backed registry may know more tenants)."""
        with self._lock:
            return tenant in self._cache

    def __iter__(self) -> Iterator[str]:
        """The cached tenant names (for a registry built from settings: all of them)."""
        with self._lock:
            return iter(list(self._cache))

    def __len__(self) -> int:
        with self._lock:
            return len(self._cache)

    def invalidate(self, tenant: str | None = None) -> None:
        """Forget ``tenant`` (or every tenant): the next ``get`` asks the loader again. A registry built
        from settings or a mapping cannot be invalidated (its loader knows only what it was built with)."""
        if self._pinned:
            raise ConfigurationError("this registry was built from fixed settings; build a new one to reload")
        with self._lock:
            if tenant is None:
                self._cache.clear()
                self._identities.clear()
            else:
                self._cache.pop(tenant, None)
                self._release_identities(tenant)

    def _claim_identities(self, tenant: str, provider: ServiceProvider) -> None:
        """Record ``tenant``'s (entity ID, ACS URL) pairs, refusing one another tenant holds. Call with the
        lock held (or before the registry is shared)."""
        claimed = sorted(sp_identities(provider.config))
        for identity in claimed:
            owner = self._identities.get(identity, tenant)
            if owner != tenant:
                raise sp_identity_conflict(owner, tenant, identity)
        self._release_identities(tenant)  # a reload after eviction may have changed them
        for identity in claimed:
            self._identities[identity] = tenant

    def _release_identities(self, tenant: str) -> None:
        for identity in [i for i, owner in self._identities.items() if owner == tenant]:
            del self._identities[identity]

    def close(self) -> None:
        """Close the stores this registry opened (``from_settings`` without a ``store``) and stop the
        metadata refresh threads it started."""
        if self._settings is not None:
            self._settings.stop_refresh()
            self._settings = None
        for store in self._owned_stores:
            store.close()
        self._owned_stores = []


__all__ = ["DEFAULT_MAX_CACHED", "Loader", "TenantRegistry"]
