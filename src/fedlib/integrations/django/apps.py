"""The Django app config of ``fedlib.integrations.django`` (add the package to ``INSTALLED_APPS``)."""

from __future__ import annotations

from django.apps import AppConfig


class FedlibConfig(AppConfig):
    name = "fedlib.integrations.django"
    label = "fedlib"
    verbose_name = "fedlib SAML sign-in"

    def ready(self) -> None:
        # The system checks (tag "fedlib") register themselves on import.
        from fedlib.integrations.django import checks  # noqa: F401
