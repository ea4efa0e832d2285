"""``FedlibBackend``: a ``django.contrib.auth`` backend for the users fedlib verified.

``settings.AUTHENTICATION_BACKENDS = ["fedlib.integrations.django.backends.FedlibBackend", ...]``; the
default login hook calls ``authenticate(request, saml_result=result)``. Options in ``settings.FEDLIB_USER``
(all optional)::

    FEDLIB_USER = {
        "username": None,          # a mapped attribute name for the username; None: the NameID
        "email": "email",          # mapped attribute names copied to the user on every login ("" to skip)
        "first_name": "given_name",
        "last_name": "surname",
        "create_users": True,      # False: only users that already exist may sign in
        "create_groups": True,     # False: roles without an existing Group are ignored
        "groups_hook": None,       # "package.module.function": (user, roles, result) -> None, replaces the default
    }

Roles (``result.authn.roles``, from fedlib's role mapping) become the user's Groups: by default the user's
groups are set to exactly the Groups named like its roles (the IdP is the source of truth for them).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import AbstractBaseUser, Group
from django.core.exceptions import FieldDoesNotExist
from django.db import transaction
from django.http import HttpRequest
from django.utils.module_loading import import_string

from fedlib.errors import ConfigurationError
from fedlib.integrations.django.user_options import DEFAULTS, user_options_problem
from fedlib.sp import LoginResult

log = logging.getLogger("fedlib.django")

GroupsHook = Callable[[Any, frozenset[str], LoginResult], None]


def user_options() -> dict[str, Any]:
    """``settings.FEDLIB_USER`` over :data:`DEFAULTS` (unknown keys are a ``ConfigurationError``)."""
    given = getattr(settings, "FEDLIB_USER", None) or {}
    problem = user_options_problem(given)
    if problem is not None:
        raise ConfigurationError(problem)
    return {**DEFAULTS, **given}


def default_groups_hook(user: Any, roles: frozenset[str], result: LoginResult, *, create: bool = True) -> None:
    """The user's groups := the Groups named like its roles (created when missing, unless ``create``
    is False: then roles without a Group are skipped)."""
    groups: list[Group] = []
    for role in sorted(roles):
        if not role or len(role) > Group._meta.get_field("name").max_length:
            log.warning("fedlib: role %r cannot be a Django Group name; skipped", role)
            continue
        if create:
            groups.append(Group.objects.get_or_create(name=role)[0])
        else:
            group = Group.objects.filter(name=role).first()
            if group is not None:
                groups.append(group)
    user.groups.set(groups)


def _first(values: Iterable[str] | None) -> str | None:
    for value in values or ():
        if isinstance(value, str) and value:
            return value
    return None


class FedlibBackend(ModelBackend):
    """Creates or updates the Django user of a verified fedlib login (see the module doc)."""

    def authenticate(
        self, request: HttpRequest | None, saml_result: LoginResult | None = None, **kwargs: Any
    ) -> AbstractBaseUser | None:
        if not isinstance(saml_result, LoginResult):
            return None  # not a fedlib login: another backend's business
        options = user_options()
        authn = saml_result.authn
        mapped = authn.mapped_attributes
        username = authn.name_id if options["username"] is None else _first(mapped.get(options["username"]))
        model = get_user_model()
        field = model._meta.get_field(model.USERNAME_FIELD)
        max_length = getattr(field, "max_length", None)
        if not username or (max_length is not None and len(username) > max_length):
            log.warning("fedlib: no usable username (%r) in the verified login; refused", username)
            return None
        with transaction.atomic():
            try:
                user = model._default_manager.get_by_natural_key(username)
            except model.DoesNotExist:
                if not options["create_users"]:
                    log.warning("fedlib: no Django user %r and create_users is off; refused", username)
                    return None
                user = model(**{model.USERNAME_FIELD: username})
                user.set_unusable_password()
            self.update_user(user, saml_result, options)
            user.save()
            self.update_groups(user, saml_result, options)
        return user if self.user_can_authenticate(user) else None

    def update_user(self, user: Any, result: LoginResult, options: dict[str, Any]) -> None:
        """Copy the configured mapped attributes (email, first and last name) onto the user."""
        mapped = result.authn.mapped_attributes
        for field_name in ("email", "first_name", "last_name"):
            source = options[field_name]
            if not source:
                continue
            value = _first(mapped.get(source))
            if value is None:
                continue
            try:
                max_length = getattr(user._meta.get_field(field_name), "max_length", None)
            except FieldDoesNotExist:
                log.debug("fedlib: the user model has no %s field; not copied", field_name)
                continue
            if max_length is not None and len(value) > max_length:
                log.warning("fedlib: %s of %r is longer than %d; not copied", field_name, user, max_length)
                continue
            setattr(user, field_name, value)

    def update_groups(self, user: Any, result: LoginResult, options: dict[str, Any]) -> None:
        """Roles -> Groups: ``groups_hook`` when set, else :func:`default_groups_hook`."""
        roles = frozenset(result.authn.roles)
        if options["groups_hook"]:
            hook: GroupsHook = import_string(options["groups_hook"])
            hook(user, roles, result)
        else:
            default_groups_hook(user, roles, result, create=bool(options["create_groups"]))
