"""The pytest plugin loads in a fresh project (via the pytest11 entry point) and its fixtures work."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

ENTRA_TEST = """
import pytest
from fedlib import ResponseRejected

def test_entra_default_is_refused(saml_idp_factory, saml_sp_factory):
    idp = saml_idp_factory(profile="entra")
    sp = saml_sp_factory(idp)
    login = sp.start_login()
    form = idp.respond(idp.receive_redirect(login.url))
    with pytest.raises(ResponseRejected) as refused:
        sp.finish_login(form.fields)
    assert refused.value.code == "assertion-only-signature"
    assert "Sign SAML response and assertion" in refused.value.message
"""

FIXTURES_TEST = """
import pytest
from fedlib import ResponseRejected

def test_login_round_trip(saml_idp, saml_sp):
    login = saml_sp.start_login(relay_state="/after")
    form = saml_idp.respond(saml_idp.receive_redirect(login.url), "grace@example.org")
    result = saml_sp.finish_login(form.fields, browser_binding=login.browser_binding)
    assert result.authn.name_id == "grace@example.org"
    assert result.relay_state == "/after"
    with pytest.raises(ResponseRejected) as again:
        saml_sp.finish_login(form.fields, browser_binding=login.browser_binding)
    assert again.value.code == "unknown-request"

def test_another_browser_cannot_finish_the_login(saml_idp, saml_sp):
    login = saml_sp.start_login()
    form = saml_idp.respond(saml_idp.receive_redirect(login.url))
    with pytest.raises(ResponseRejected) as refused:
        saml_sp.finish_login(form.fields)
    assert refused.value.code == "browser-mismatch"

def test_saml_response_is_unsolicited_by_default(saml_sp, saml_response):
    with pytest.raises(ResponseRejected) as refused:
        saml_sp.finish_login({"SAMLResponse": saml_response()})
    assert refused.value.code == "unsolicited-not-allowed"

def test_knobs_reach_the_idp(saml_sp_factory, saml_idp, saml_now):
    sp = saml_sp_factory(saml_idp, allow_unsolicited=True)
    form = saml_idp.initiate(sp.config.entity_id, sp.config.acs_url, key_info="none")
    with pytest.raises(ResponseRejected) as refused:
        sp.finish_login(form.fields)
    assert refused.value.code == "missing-certificate"
    ok = sp.finish_login(saml_idp.initiate(sp.config.entity_id, sp.config.acs_url).fields)
    assert ok.authn.not_on_or_after > saml_now
"""


FLASK_LOGIN_TEST = """
import flask
from fedlib import ResponseRejected

def make_app(sp):
    app = flask.Flask(__name__)

    @app.get("/saml/login")
    def login():
        started = sp.start_login(relay_state="/home")
        response = flask.redirect(started.url)
        cookie = started.binding_cookie
        response.set_cookie(cookie.name, cookie.value, max_age=cookie.max_age, path=cookie.path,
                            secure=cookie.secure, httponly=cookie.http_only, samesite=cookie.same_site)
        return response

    @app.post("/saml/acs")
    def acs():
        try:
            result = sp.finish_login(flask.request.form, browser_binding=flask.request.cookies)
        except ResponseRejected as exc:
            return exc.code, 403
        return f"{result.authn.name_id} -> {result.relay_state}"

    return app

def test_full_login_through_the_test_client(saml_sp, saml_login):
    response = saml_login(make_app(saml_sp).test_client(), user="grace@example.org")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "grace@example.org -> /home"

def test_knobs_through_the_test_client(saml_sp, saml_login):
    response = saml_login(make_app(saml_sp).test_client(), signing="assertion")
    assert response.status_code == 403
    assert response.get_data(as_text=True) == "assertion-only-signature"
"""


STARLETTE_LOGIN_TEST = """
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from fedlib import ResponseRejected

def make_app(sp):
    def login(request):
        started = sp.start_login(relay_state="/home")
        response = RedirectResponse(started.url, status_code=302)
        cookie = started.binding_cookie
        response.set_cookie(cookie.name, cookie.value, max_age=cookie.max_age, path=cookie.path,
                            secure=cookie.secure, httponly=cookie.http_only, samesite=cookie.same_site)
        return response

    async def acs(request):
        form = await request.form()
        try:
            result = sp.finish_login(dict(form), browser_binding=request.cookies)
        except ResponseRejected as exc:
            return PlainTextResponse(exc.code, status_code=403)
        return RedirectResponse(result.relay_state, status_code=303)

    async def home(request):
        return PlainTextResponse("home")

    return Starlette(routes=[Route("/saml/login", login), Route("/saml/acs", acs, methods=["POST"]),
                             Route("/home", home)])

def client(sp, base_url="https://testserver"):
    return TestClient(make_app(sp), base_url=base_url)

def test_full_login_through_the_starlette_client(saml_sp, saml_login):
    response = saml_login(client(saml_sp), user="grace@example.org")
    assert response.status_code == 303  # the ACS response itself, not followed
    assert response.headers["location"] == "/home"

def test_knobs_through_the_starlette_client(saml_sp, saml_login_starlette):
    response = saml_login_starlette(client(saml_sp), signing="assertion")
    assert response.status_code == 403
    assert response.text == "assertion-only-signature"

def test_plain_http_base_url_is_named(saml_sp, saml_login):
    with pytest.raises(AssertionError, match="https://testserver"):
        saml_login(client(saml_sp, base_url="http://testserver"))

def test_unknown_client_kind_is_named(saml_login):
    class Client:
        def get(self, path, **kwargs): ...
        def post(self, path, **kwargs): ...
    with pytest.raises(TypeError, match="framework="):
        saml_login(Client())
    with pytest.raises(ValueError, match="unknown framework"):
        saml_login(Client(), framework="tornado")
"""

FASTAPI_LOGIN_TEST = """
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from starlette.middleware.sessions import SessionMiddleware
from fedlib.integrations.starlette import FedLibRouter

def make_client(sp):
    app = FastAPI()
    app.add_middleware(SessionMiddleware, secret_key="test-only", https_only=True)
    saml = FedLibRouter(service_provider=sp)
    app.mount("/saml", saml)

    @app.get("/me")
    def me(request: Request) -> dict:
        user = saml.identity(request)
        return {"user": user["name_id"] if user else None}

    return TestClient(app, base_url="https://testserver")

def test_full_login_through_the_fastapi_client(saml_sp, saml_login):
    client = make_client(saml_sp)
    response = saml_login(client, login_path="/saml/login?next=/me", user="grace@example.org")
    assert response.status_code == 303
    assert client.get("/me").json() == {"user": "grace@example.org"}

def test_entra_default_gets_the_403_page(saml_sp_factory, saml_idp_factory, saml_login):
    entra = saml_idp_factory(profile="entra")
    client = make_client(saml_sp_factory(entra))
    response = saml_login(client, idp=entra)
    assert response.status_code == 403
    assert "assertion-only-signature" in response.text
    assert client.get("/me").json() == {"user": None}

def test_explicit_flask_helper_refuses_a_starlette_client_cleanly(saml_sp, saml_login_flask):
    # told the wrong kind, the Flask driver gets Starlette's followed redirect: a clear assertion, no hang
    import pytest
    with pytest.raises(AssertionError, match="did not redirect"):
        saml_login_flask(make_client(saml_sp))
"""

DJANGO_CONFTEST = """
import django
from django.conf import settings

settings.configure(
    SECRET_KEY="test-only-not-secret",
    ALLOWED_HOSTS=["testserver"],
    INSTALLED_APPS=[
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "django.contrib.sessions",
        "fedlib.integrations.django",
    ],
    MIDDLEWARE=[
        "django.middleware.security.SecurityMiddleware",
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
    ],
    SECURE_SSL_REDIRECT=True,  # production-like: plain http is redirected, so the helper must speak https
    AUTHENTICATION_BACKENDS=["fedlib.integrations.django.backends.FedlibBackend"],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    ROOT_URLCONF="user_urls",
    SESSION_COOKIE_SECURE=True,
    USE_TZ=True,
    DEFAULT_AUTO_FIELD="django.db.models.AutoField",
    FEDLIB_SETTINGS="/nonexistent/fedlib.toml",
)
django.setup()
"""

DJANGO_URLS = """
from django.http import HttpResponse
from django.urls import include, path

def me(request):
    user = request.user
    return HttpResponse(user.get_username() if user.is_authenticated else "None", content_type="text/plain")

urlpatterns = [path("me", me), path("saml/", include("fedlib.integrations.django.urls"))]
"""

DJANGO_LOGIN_TEST = """
import pytest
from django.test import Client
from fedlib.integrations.django.site import site

pytestmark = pytest.mark.django_db

@pytest.fixture(autouse=True)
def fresh_site():
    site.reset()
    yield
    site.reset()

def make_client(sp):
    site.configure(service_provider=sp)
    return Client(enforce_csrf_checks=True)

def test_full_login_through_the_django_client(saml_sp, saml_login):
    client = make_client(saml_sp)
    response = saml_login(client, login_path="/saml/login?next=/me", user="grace@example.org")
    assert response.status_code == 303
    assert response["Location"] == "/me"
    assert client.get("/me", secure=True).content == b"grace@example.org"

def test_entra_default_gets_the_403_page(saml_sp_factory, saml_idp_factory, saml_login_django):
    entra = saml_idp_factory(profile="entra")
    client = make_client(saml_sp_factory(entra))
    response = saml_login_django(client, idp=entra)
    assert response.status_code == 403
    assert b"assertion-only-signature" in response.content
    assert client.get("/me", secure=True).content == b"None"

def test_the_binding_cookie_is_secure_and_plain_http_is_redirected(saml_sp):
    # why the driver speaks https: the app sets Secure cookies (a browser returns them over https only)
    # and, like a production site, redirects plain http to https
    client = make_client(saml_sp)
    started = client.get("/saml/login", secure=True)
    assert started.status_code == 302
    assert started.cookies and all(morsel["secure"] for morsel in started.cookies.values())
    assert client.get("/saml/login")["Location"].startswith("https://testserver/")
"""


def test_django_client_in_a_fresh_project(pytester: pytest.Pytester) -> None:
    pytest.importorskip("django")
    pytest.importorskip("pytest_django")
    pytester.makeconftest(DJANGO_CONFTEST)
    pytester.makepyfile(user_urls=DJANGO_URLS, test_user_project=DJANGO_LOGIN_TEST)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0, result.stdout.str()
    assert outcomes["passed"] == DJANGO_LOGIN_TEST.count("def test_")


@pytest.mark.parametrize(
    "source",
    [ENTRA_TEST, FIXTURES_TEST, FLASK_LOGIN_TEST, STARLETTE_LOGIN_TEST, FASTAPI_LOGIN_TEST],
    ids=["entra-10-lines", "fixtures", "flask-client", "starlette-client", "fastapi-client"],
)
def test_plugin_in_a_fresh_project(pytester: pytest.Pytester, source: str) -> None:
    pytester.makepyfile(test_user_project=source)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0, result.stdout.str()
    assert outcomes["passed"] == source.count("def test_")
