"""``settings.FEDLIB_USER``: its defaults and its validation, without importing ``django.contrib.auth``'s models
(used by ``backends.FedlibBackend`` at login and by the system checks at start-up)."""

from __future__ import annotations

from typing import Any

DEFAULTS: dict[str, Any] = {
    "username": None,
    "email": "email",
    "first_name": "given_name",
    "last_name": "surname",
    "create_users": True,
    "create_groups": True,
    "groups_hook": None,
}


def user_options_problem(given: object) -> str | None:
    """Why ``given`` (the value of ``settings.FEDLIB_USER``; None or empty: the defaults) is refused, or None."""
    if not given:
        return None
    if not isinstance(given, dict):
        return "settings.FEDLIB_USER must be a dict"
    unknown = sorted((key for key in given if key not in DEFAULTS), key=repr)  # keys of any type: repr sorts all
    if unknown:
        return f"settings.FEDLIB_USER: unknown keys {unknown} (allowed: {sorted(DEFAULTS)})"
    return None


__all__ = ["DEFAULTS", "user_options_problem"]
