"""Settings of the Django example project (``examples/django_app``): fedlib's reusable app, its auth backend
and the session-lifetime middleware. ``run.py`` (``make demo FRAMEWORK=django``) sets the SP up in code
against the bundled test IdPs; with your own IdP, point ``FEDLIB_SETTINGS`` at a fedlib TOML file
(``FEDLIB_SETTINGS=/path/fedlib.toml python examples/django_app/manage.py runserver``).

Demo settings: the secret key is random per run and the cookies are not ``Secure`` because the demo is plain
HTTP on 127.0.0.1. In production: a fixed secret, ``SESSION_COOKIE_SECURE = True``, HTTPS.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

BASE_DIR = Path(os.environ.get("FEDLIB_DEMO_DIR", Path(__file__).resolve().parent))
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or secrets.token_hex(32)
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "fedlib.integrations.django",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "fedlib.integrations.django.middleware.SessionLifetimeMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
AUTHENTICATION_BACKENDS = ["fedlib.integrations.django.backends.FedlibBackend"]
ROOT_URLCONF = "examples.django_app.urls"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
USE_TZ = True
SESSION_COOKIE_SAMESITE = "Lax"
LOGIN_URL = "/"

# fedlib: a TOML settings file (or FEDLIB = {...}, the same shape as a dict). run.py configures in code instead.
if os.environ.get("FEDLIB_SETTINGS"):
    FEDLIB_SETTINGS = os.environ["FEDLIB_SETTINGS"]
# The user fedlib creates: username = NameID, email/given_name/surname copied, roles -> Groups.
FEDLIB_USER = {"create_groups": True}
