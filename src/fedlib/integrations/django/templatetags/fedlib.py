"""``{% load fedlib %}``: the sign-out form for Django templates.

``{% fedlib_logout_form %}`` writes the ``POST /logout`` form (a button) with this session's fedlib CSRF
token, as :func:`fedlib.integrations.django.views.logout_form` does; ``label``, ``next`` and ``action`` are
its keyword arguments (``{% fedlib_logout_form label="Log out" next="/" %}``). The template's context must
hold the ``request`` (``django.template.context_processors.request`` in ``TEMPLATES``' context processors, or
pass it): a sign-out link (a GET) is never offered, since any other site could trigger one.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.http import HttpRequest
from django.utils.safestring import SafeString, mark_safe

from fedlib.errors import ConfigurationError
from fedlib.integrations.django.views import logout_form

register = template.Library()


@register.simple_tag(takes_context=True)
def fedlib_logout_form(
    context: template.Context, label: str = "Sign out", next: str | None = None, action: str | None = None
) -> SafeString:
    """The sign-out form for this template's request (every value escaped by ``logout_form_html``)."""
    request: Any = context.get("request")
    if not isinstance(request, HttpRequest):
        raise ConfigurationError(
            "{% fedlib_logout_form %} needs the request in the template context: add "
            "'django.template.context_processors.request' to TEMPLATES' context_processors"
        )
    return mark_safe(logout_form(request, label, action=action, next=next))  # noqa: S308 - escaped HTML
