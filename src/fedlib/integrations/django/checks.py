"""Django system checks of ``fedlib.integrations.django`` (registered by its app config, tag ``fedlib``).

``manage.py check`` (and ``runserver``, ``migrate``...) reports a deployment mistake that would otherwise show
only on the first SAML request, as that request's ``ConfigurationError``. These checks read Django's
settings only: no file is read, no store opened, nothing fetched. ``manage.py check --deploy`` also loads
fedlib's settings exactly as the first request would (files, keys, IdP metadata, which may mean fetching
``metadata_url`` / ``mdq_base``) and reports what that load refuses. The ids are stable (docs/errors.md):

* ``fedlib.E001`` both ``FEDLIB`` and ``FEDLIB_SETTINGS`` are set;
* ``fedlib.E002`` ``FEDLIB`` is not a mapping;
* ``fedlib.E003`` ``FEDLIB_SETTINGS`` is not the path of a file;
* ``fedlib.E004`` ``FEDLIB_USER`` is not a dict, or has unknown keys;
* ``fedlib.E005`` no ``SessionMiddleware`` in ``MIDDLEWARE`` (every fedlib view needs ``request.session``);
* ``fedlib.E010`` (``--deploy``) fedlib's settings do not load;
* ``fedlib.W001`` neither ``FEDLIB`` nor ``FEDLIB_SETTINGS``, and no ``site.configure(...)`` yet;
* ``fedlib.W002`` the default login hook without ``FedlibBackend`` in ``AUTHENTICATION_BACKENDS`` (its
  ``authenticate`` call then finds no user: every login is refused).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register
from django.core.checks import Warning as CheckWarning

from fedlib.errors import ConfigurationError, FedlibError

TAG = "fedlib"
_SESSION_MIDDLEWARE = "django.contrib.sessions.middleware.SessionMiddleware"
_BACKEND = "fedlib.integrations.django.backends.FedlibBackend"


@register(TAG)
def check_settings(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[CheckMessage]:
    """The settings fedlib's views read, without reading anything else."""
    from fedlib.integrations.django.backends import user_options
    from fedlib.integrations.django.site import site

    messages: list[CheckMessage] = []
    mapping = getattr(settings, "FEDLIB", None)
    path = getattr(settings, "FEDLIB_SETTINGS", None)
    if mapping is not None and path is not None:
        messages.append(
            Error(
                "both settings.FEDLIB and settings.FEDLIB_SETTINGS are set",
                hint="Keep one: FEDLIB (fedlib's settings as a dict) or FEDLIB_SETTINGS (the path of a TOML file).",
                id="fedlib.E001",
            )
        )
    elif mapping is None and path is None and not site.configured_in_code:
        messages.append(
            CheckWarning(
                "neither settings.FEDLIB nor settings.FEDLIB_SETTINGS is set: every fedlib view raises a "
                "ConfigurationError until site.configure(...) runs",
                hint="Set FEDLIB_SETTINGS to fedlib's TOML settings file, or call "
                "fedlib.integrations.django.site.site.configure(service_provider=...) at start-up.",
                id="fedlib.W001",
            )
        )
    if mapping is not None and not isinstance(mapping, Mapping):
        messages.append(
            Error(
                f"settings.FEDLIB is a {type(mapping).__name__}, not a mapping of fedlib's settings",
                hint="Give the same shape as fedlib's TOML settings, as a dict (docs/configuration.md).",
                id="fedlib.E002",
            )
        )
    if path is not None and mapping is None and not _is_file(path):
        messages.append(
            Error(
                f"settings.FEDLIB_SETTINGS is not the path of a file: {path!r}",
                hint="Point it at fedlib's TOML settings file (an absolute path, e.g. BASE_DIR / 'fedlib.toml').",
                id="fedlib.E003",
            )
        )
    try:
        user_options()
    except ConfigurationError as exc:
        messages.append(Error(str(exc.message), hint="See docs/getting-started/django.md.", id="fedlib.E004"))
    middleware = getattr(settings, "MIDDLEWARE", None) or ()
    if _SESSION_MIDDLEWARE not in middleware:
        messages.append(
            Error(
                f"{_SESSION_MIDDLEWARE} is not in settings.MIDDLEWARE: every fedlib view needs request.session",
                hint="Add it (before django.contrib.auth's AuthenticationMiddleware).",
                id="fedlib.E005",
            )
        )
    backends = getattr(settings, "AUTHENTICATION_BACKENDS", None) or ()
    if site.login_hook is None and _BACKEND not in backends:
        messages.append(
            CheckWarning(
                f"the default login hook authenticates through {_BACKEND}, which is not in "
                "settings.AUTHENTICATION_BACKENDS: every SAML login would be refused",
                hint="Add it to AUTHENTICATION_BACKENDS, or set your own hook with @site.on_login.",
                id="fedlib.W002",
            )
        )
    return messages


@register(TAG, deploy=True)
def check_settings_load(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[CheckMessage]:
    """``--deploy``: fedlib's settings load as the first request would load them (nothing is kept)."""
    from fedlib.settings import load_settings, load_settings_toml

    mapping = getattr(settings, "FEDLIB", None)
    path = getattr(settings, "FEDLIB_SETTINGS", None)
    if (mapping is None) == (path is None) or (mapping is not None and not isinstance(mapping, Mapping)):
        return []  # E001, W001 or E002 above says what is wrong
    if mapping is None and not _is_file(path):
        return []  # E003
    now = datetime.now(UTC)
    try:
        loaded = load_settings(mapping, now=now) if mapping is not None else load_settings_toml(str(path), now=now)
    except FedlibError as exc:
        detail = f" ({exc.detail})" if exc.detail else ""
        return [
            Error(
                f"fedlib's settings do not load: {exc.message}{detail}",
                hint="Fix the value named above (docs/configuration.md); `fedlib check-metadata` tests an IdP's "
                "metadata on its own.",
                id="fedlib.E010",
            )
        ]
    except Exception as exc:  # a check reports, it never ends `manage.py check` with a traceback
        return [Error(f"fedlib's settings do not load: {type(exc).__name__}: {exc}", id="fedlib.E010")]
    loaded.stop_refresh()  # this copy is not kept: close its metadata providers' HTTP clients
    return []


def _is_file(path: object) -> bool:
    try:
        return isinstance(path, str | os.PathLike) and Path(path).is_file()
    except (OSError, ValueError):  # an unreadable directory, a NUL byte
        return False


__all__ = ["TAG", "check_settings", "check_settings_load"]
