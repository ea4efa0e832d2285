"""The configured fedlib of a Django project: the SP (or tenants), the framework-neutral routes and the hooks.

Loaded on first use from ``settings.FEDLIB`` (a mapping of the shape of fedlib's TOML settings; see
``fedlib.settings.load_settings``) or ``settings.FEDLIB_SETTINGS`` (the path of a TOML file). One tenant
answers under ``<prefix>/metadata``..., several under ``<prefix>/<tenant>/metadata``.... ``site.configure``
sets it up in code instead (an SP you built, or a tenant lookup).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.http import HttpRequest

from fedlib.errors import ConfigurationError
from fedlib.sp import LoginResult, ServiceProvider
from fedlib.web import LoginOptions, LogoutEvent, PageRenderer, SamlRoutes, default_render_page

LoginHook = Callable[[HttpRequest, LoginResult], Any]
LogoutHook = Callable[[HttpRequest, LogoutEvent], Any]
TenantLookup = Callable[[str], ServiceProvider]


class FedlibSite:
    """What the views of ``fedlib.integrations.django`` serve. The module-level :data:`site` is the one
    they use; hooks are set with its ``on_login`` / ``on_logout`` decorators."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loaded = False
        self._from_settings = False
        self.service_provider: ServiceProvider | None = None
        self.tenants: TenantLookup | None = None
        self.registry: Any = None
        """The ``TenantRegistry`` built from the settings (None when configured in code)."""
        self.routes_ = SamlRoutes()
        self.login_hook: LoginHook | None = None
        self.logout_hook: LogoutHook | None = None

    def configure(
        self,
        *,
        service_provider: ServiceProvider | None = None,
        tenants: TenantLookup | None = None,
        binding: str | None = None,
        login_options: Mapping[str, LoginOptions] | None = None,
        single_logout: bool = True,
        render_page: PageRenderer = default_render_page,
    ) -> None:
        """Serve this SP (or this tenant lookup) instead of the one in the settings; the route options
        (``binding``, ``login_options``, ``single_logout``, ``render_page``) as in the other adapters.
        Without an SP source, the settings are loaded (on first use) with these route options."""
        if service_provider is not None and tenants is not None:
            raise ConfigurationError("give site.configure at most one of service_provider= or tenants=")
        with self._lock:
            self._close_registry()
            self.routes_ = SamlRoutes(
                binding=binding, login_options=login_options, single_logout=single_logout, render_page=render_page
            )
            self.service_provider = service_provider
            self.tenants = tenants
            self._loaded = service_provider is not None or tenants is not None
            self._from_settings = False

    @property
    def configured_in_code(self) -> bool:
        """True once ``configure`` gave an SP or a tenant lookup (the settings are then not read)."""
        return self._loaded and not self._from_settings

    def on_login(self, hook: LoginHook) -> LoginHook:
        """Decorator: ``hook(request, result)`` runs after a verified login instead of the default (which
        authenticates through ``FedlibBackend`` and calls ``django.contrib.auth.login``); return an
        ``HttpResponse`` to send it, or None to redirect to the (safe) RelayState or ``/``."""
        self.login_hook = hook
        return hook

    def on_logout(self, hook: LogoutHook) -> LogoutHook:
        """Decorator: ``hook(request, event)`` runs on every sign-out instead of the default (which calls
        ``django.contrib.auth.logout``); return ``PARTIAL`` or an ``HttpResponse``."""
        self.logout_hook = hook
        return hook

    def reset(self) -> None:
        """Forget the SP, the hooks and the route options (the settings are read again on next use)."""
        with self._lock:
            self._close_registry()
            self.__init__()  # type: ignore[misc]

    def sp_for(self, tenant: str | None) -> ServiceProvider | None:
        """The SP serving this request's ``tenant`` (None for the route form that does not apply)."""
        self._ensure_loaded()
        if self.service_provider is not None:
            return self.service_provider if tenant is None else None
        if tenant is None or self.tenants is None:
            return None
        try:
            return self.tenants(tenant)
        except ConfigurationError:
            return None

    # ---- loading -----------------------------------------------------------------------------------------

    def _ensure_loaded(self) -> None:
        if self._loaded:
            return
        with self._lock:
            if not self._loaded:  # another thread may have loaded them meanwhile
                self._load()

    def _load(self) -> None:
        from fedlib.settings import load_settings, load_settings_toml
        from fedlib.tenants import TenantRegistry

        mapping = getattr(settings, "FEDLIB", None)
        path = getattr(settings, "FEDLIB_SETTINGS", None)
        if (mapping is None) == (path is None):
            raise ConfigurationError(
                "fedlib.integrations.django needs exactly one of settings.FEDLIB (a mapping of fedlib's "
                "settings) or settings.FEDLIB_SETTINGS (the path of a TOML file)"
            )
        now = datetime.now(UTC)
        if mapping is not None:
            if not isinstance(mapping, Mapping):
                raise ConfigurationError("settings.FEDLIB must be a mapping (dict) of fedlib's settings")
            loaded = load_settings(mapping, now=now)
        else:
            loaded = load_settings_toml(str(path), now=now)
        registry = TenantRegistry.from_settings(loaded)
        if len(loaded.tenants) == 1:
            self.service_provider = registry.get(next(iter(loaded.tenants)))
        else:
            self.tenants = registry.get
        self.registry = registry
        self._loaded = True
        self._from_settings = True

    def _close_registry(self) -> None:
        if self.registry is not None:
            self.registry.close()
            self.registry = None

    def _settings_changed(self, setting: str, **kwargs: Any) -> None:
        if setting in ("FEDLIB", "FEDLIB_SETTINGS") and self._from_settings:
            with self._lock:
                self._close_registry()
                self.service_provider = None
                self.tenants = None
                self._loaded = False
                self._from_settings = False


site = FedlibSite()
"""The fedlib of this Django project (see :class:`FedlibSite`)."""


def _on_setting_changed(setting: str, **kwargs: Any) -> None:
    site._settings_changed(setting)


setting_changed.connect(_on_setting_changed, dispatch_uid="fedlib.integrations.django.site")
