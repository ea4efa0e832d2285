"""URLs of the Django example: fedlib's routes under ``/saml/``, a public home page and a protected page
showing the Django user fedlib created (with its groups, from the IdP's roles)."""

from __future__ import annotations

import html
from urllib.parse import quote

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from fedlib.integrations.django.site import site
from fedlib.integrations.django.views import identity, logout_form

_PAGE = (
    "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{title}</title></head>"
    "<body><h1>{title}</h1>{body}</body></html>"
)
IDP_LABELS: dict[str, str] = {}
"""IdP entity ID -> button label on the home page (run.py fills it)."""


def home(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        body = (
            f"<p>Signed in as <strong id='name-id'>{html.escape(request.user.get_username())}</strong>.</p>"
            "<p><a href='/protected'>Protected page</a></p>" + logout_form(request, next="/")
        )
    else:
        sp = site.service_provider
        labels = IDP_LABELS or {idp: idp for idp in (sp.idps if sp is not None else ())}
        body = "<p>This is the public page.</p>" + "".join(
            f"<p><a class='login' href='/saml/login?idp={quote(entity, safe='')}&amp;next=/protected'>"
            f"Sign in with {html.escape(label)}</a></p>"
            for entity, label in labels.items()
        )
    return HttpResponse(_PAGE.format(title="fedlib Django example", body=body))


@login_required
def protected(request: HttpRequest) -> HttpResponse:
    user = request.user
    groups = ", ".join(sorted(group.name for group in user.groups.all()))
    saml = identity(request) or {}
    rows = "".join(
        f"<tr><th>{html.escape(name)}</th><td>{html.escape(', '.join(values))}</td></tr>"
        for name, values in sorted(saml.get("attributes", {}).items())
    )
    body = (
        f"<p>Welcome, <strong id='name-id'>{html.escape(user.get_username())}</strong> "
        f"({html.escape(user.get_full_name())}, {html.escape(user.email)}).</p>"
        f"<p>Django groups: <span id='groups'>{html.escape(groups) or '(none)'}</span></p>"
        f"<table id='attributes'>{rows}</table>" + logout_form(request, next="/")
    )
    return HttpResponse(_PAGE.format(title="Protected page", body=body))


urlpatterns = [
    path("", home),
    path("protected", protected),
    path("saml/", include("fedlib.integrations.django.urls")),
]
