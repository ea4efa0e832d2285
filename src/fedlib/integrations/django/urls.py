"""fedlib's SAML routes for ``include()``: ``path("saml/", include("fedlib.integrations.django.urls"))``.

``urlpatterns`` holds both forms: ``metadata``, ``login``, ``acs``, ``logout`` for one SP and
``<tenant>/metadata`` ... for several (the settings decide which answers; the other is a 404). The names
are the same for both (``fedlib_metadata``, ``fedlib_login``, ``fedlib_acs``, ``fedlib_logout``):
``reverse("fedlib_logout")`` or ``reverse("fedlib_logout", kwargs={"tenant": "a"})``.
"""

from __future__ import annotations

from django.urls import URLPattern, path

from fedlib.integrations.django import views

single_urlpatterns: list[URLPattern] = [
    path("metadata", views.metadata, name="fedlib_metadata"),
    path("login", views.login, name="fedlib_login"),
    path("acs", views.acs, name="fedlib_acs"),
    path("logout", views.logout, name="fedlib_logout"),
]

tenant_urlpatterns: list[URLPattern] = [
    path("<str:tenant>/metadata", views.metadata, name="fedlib_metadata"),
    path("<str:tenant>/login", views.login, name="fedlib_login"),
    path("<str:tenant>/acs", views.acs, name="fedlib_acs"),
    path("<str:tenant>/logout", views.logout, name="fedlib_logout"),
]

urlpatterns: list[URLPattern] = single_urlpatterns + tenant_urlpatterns
