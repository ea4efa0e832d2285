from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from fedlib.integrations.django.views import logout_form


def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not user.is_authenticated:
        return HttpResponse("user=None", content_type="text/plain")
    groups = ",".join(sorted(g.name for g in user.groups.all()))  # type: ignore[union-attr]
    return HttpResponse(f"user={user.get_username()}|groups={groups}", content_type="text/plain")


def page(request: HttpRequest) -> HttpResponse:
    return HttpResponse(logout_form(request, next="/"))


urlpatterns = [
    path("", home),
    path("page", page),
    path("saml/", include("fedlib.integrations.django.urls")),
]
