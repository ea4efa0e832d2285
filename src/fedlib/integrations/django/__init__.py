"""Django adapter over the framework-neutral :mod:`fedlib.web`: a reusable app.

::

    # settings.py
    INSTALLED_APPS = [..., "django.contrib.auth", "django.contrib.sessions", "fedlib.integrations.django"]
    AUTHENTICATION_BACKENDS = ["fedlib.integrations.django.backends.FedlibBackend"]
    MIDDLEWARE = [..., "fedlib.integrations.django.middleware.SessionLifetimeMiddleware"]
    FEDLIB_SETTINGS = BASE_DIR / "fedlib.toml"          # or FEDLIB = {...}, the same shape as a dict
    SESSION_COOKIE_SECURE = True

    # urls.py
    urlpatterns = [path("saml/", include("fedlib.integrations.django.urls")), ...]

Routes: ``metadata``, ``login``, ``acs``, ``logout`` under the include's prefix (with several tenants in the
settings: ``<tenant>/metadata`` ...), with exactly the behaviour of the Flask and Starlette adapters: the
browser-binding cookie, RelayState rules, 403 page with the code and the operator hint, 400 for a POST
without ``SAMLResponse``, 503 for a store outage, logout with fedlib's CSRF token, the IdP's LogoutRequest
and LogoutResponse. The default login hook authenticates through ``FedlibBackend`` (user created or updated
from the mapped attributes, roles -> Groups) and calls ``django.contrib.auth.login``; the default logout
hook calls ``django.contrib.auth.logout``. Replace them with ``site.on_login`` / ``site.on_logout``.
Set the SP up in code instead of the settings with ``site.configure(service_provider=sp)``.

Importing this package does not import Django; its modules do.
"""

from __future__ import annotations
