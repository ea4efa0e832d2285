"""Django is configured here, for this directory only (no DJANGO_SETTINGS_MODULE for the rest of the suite):
pytest-django then sees configured settings and gives these tests its ``db`` fixture and test database."""

from __future__ import annotations

import django
from django.conf import settings

if not settings.configured:
    settings.configure(
        SECRET_KEY="test-only-not-secret",
        DEBUG=False,
        ALLOWED_HOSTS=["sp.example.test", "app.example.test", "testserver"],
        INSTALLED_APPS=[
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "fedlib.integrations.django",
        ],
        MIDDLEWARE=[
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "fedlib.integrations.django.middleware.SessionLifetimeMiddleware",
        ],
        AUTHENTICATION_BACKENDS=["fedlib.integrations.django.backends.FedlibBackend"],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        ROOT_URLCONF="django_test_urls",
        SESSION_COOKIE_SECURE=True,
        USE_TZ=True,
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        FEDLIB_SETTINGS="/nonexistent/fedlib.toml",
    )
    django.setup()
