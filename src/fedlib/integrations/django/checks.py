"""Django system checks of ``fedlib.integrations.django`` (registered by its app config, tag ``fedlib``).

``manage.py check`` (and ``runserver``, ``migrate``...) reports a deployment mistake that would otherwise show
only on the first SAML request, as that request's ``ConfigurationError``. These checks read Django's
settings only: no file is read or written, no store opened, nothing fetched, and no model imported (a project
without ``django.contrib.auth`` that brings its own hooks keeps working). fedlib's own settings are checked
when they load, on first use; ``fedlib check-metadata`` tests an IdP's metadata. The ids are stable
(docs/errors.md):

* ``fedlib.E001`` both ``FEDLIB`` and ``FEDLIB_SETTINGS`` are set;
* ``fedlib.E002`` ``FEDLIB`` is not a mapping;
* ``fedlib.E003`` ``FEDLIB_SETTINGS`` is not the path of a file;
* ``fedlib.E004`` ``FEDLIB_USER`` is not a dict, or has unknown keys;
* ``fedlib.E005`` no ``SessionMiddleware`` (or subclass) in ``MIDDLEWARE`` (every fedlib view needs
  ``request.session``);
* ``fedlib.W001`` neither ``FEDLIB`` nor ``FEDLIB_SETTINGS``, and no ``site.configure(...)`` yet;
* ``fedlib.W002`` the default login hook without ``django.contrib.auth`` installed or without ``FedlibBackend``
  (or subclass) in ``AUTHENTICATION_BACKENDS`` (its ``authenticate`` call then finds no user: every login
  is refused).

W001 and W002 look at ``site`` as it is when the checks run: configure it (``site.configure``,
``@site.on_login``) in an ``AppConfig.ready()``, not in a module that only the URLconf imports.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.checks import CheckMessage, Error, register
from django.core.checks import Warning as CheckWarning
from django.utils.module_loading import import_string

from fedlib.integrations.django.user_options import user_options_problem

TAG = "fedlib"
_SESSION_MIDDLEWARE = "django.contrib.sessions.middleware.SessionMiddleware"
_BACKEND = "fedlib.integrations.django.backends.FedlibBackend"
_CONFIGURE_HINT = "Configure fedlib's site in an AppConfig.ready() (not in a module only the URLconf imports)."


@register(TAG)
def check_settings(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[CheckMessage]:
    """The settings fedlib's views read, without reading anything else."""
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
                hint="Set FEDLIB_SETTINGS to fedlib's TOML settings file, or call site.configure(service_provider="
                "...) at start-up. " + _CONFIGURE_HINT,
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
    # What backends.user_options would refuse, without importing the backends module (it imports
    # django.contrib.auth's models).
    user_error = user_options_problem(getattr(settings, "FEDLIB_USER", None))
    if user_error is not None:
        messages.append(Error(user_error, hint="See docs/getting-started/django.md.", id="fedlib.E004"))
    if not _has_subclass(getattr(settings, "MIDDLEWARE", None), _SESSION_MIDDLEWARE):
        messages.append(
            Error(
                f"{_SESSION_MIDDLEWARE} (or a subclass) is not in settings.MIDDLEWARE: every fedlib view needs "
                "request.session",
                hint="Add it (before django.contrib.auth's AuthenticationMiddleware).",
                id="fedlib.E005",
            )
        )
    if site.login_hook is None:
        if not apps.is_installed("django.contrib.auth"):
            missing = "django.contrib.auth is not in settings.INSTALLED_APPS"
        elif not _has_subclass(getattr(settings, "AUTHENTICATION_BACKENDS", None), _BACKEND):
            missing = f"{_BACKEND} (or a subclass) is not in settings.AUTHENTICATION_BACKENDS"
        else:
            missing = ""
        if missing:
            messages.append(
                CheckWarning(
                    f"the default login hook authenticates through {_BACKEND}, but {missing}: every SAML login "
                    "would be refused",
                    hint="Install django.contrib.auth and add the backend, or set your own hook with "
                    "@site.on_login. " + _CONFIGURE_HINT,
                    id="fedlib.W002",
                )
            )
    return messages


def _has_subclass(entries: object, dotted: str) -> bool:
    """Whether ``entries`` (a list or tuple of dotted paths) names the class ``dotted`` or a subclass of it.
    An entry that does not import is not it (Django reports it itself when it loads the entry)."""
    if not isinstance(entries, list | tuple):
        return False
    if dotted in entries:
        return True
    try:
        base = import_string(dotted)
    except Exception:  # e.g. django.contrib.sessions not importable: no entry can subclass it
        return False
    for entry in entries:
        if not isinstance(entry, str):
            continue
        try:
            found = import_string(entry)
        except Exception:  # a check reports; it never ends `manage.py check` with a traceback
            found = None
        if isinstance(found, type) and issubclass(found, base):
            return True
    return False


def _is_file(path: object) -> bool:
    try:
        return isinstance(path, str | os.PathLike) and Path(path).is_file()
    except (OSError, ValueError, TypeError):  # an unreadable directory, a NUL byte, a PathLike giving bytes
        return False


__all__ = ["TAG", "check_settings"]
