"""fedlib.integrations.starlette through Starlette's TestClient (and FastAPI), with the test IdP on the other
side: the key behaviours of the Flask integration tests, through the same framework-neutral fedlib.web."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from html import unescape
from typing import Any
from urllib.parse import urlsplit

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from fedlib import binding
from fedlib.clock import FixedClock
from fedlib.config import SPConfig
from fedlib.constants import BINDING_HTTP_POST
from fedlib.errors import ConfigurationError, StoreError
from fedlib.integrations.starlette import CSRF_FIELD, SESSION_KEY, FedLibRouter, logout_form
from fedlib.metadata.idp import parse_idp_metadata
from fedlib.sp import LoginResult, ServiceProvider
from fedlib.stores.base import Store
from fedlib.stores.memory import MemoryStore
from fedlib.testing.idp import TestIdP
from fedlib.web import MAX_FORM_FIELDS, session_identity

SP_ID = "https://sp.example.test/saml/metadata"
ACS = "https://sp.example.test/saml/acs"
SLO = "https://sp.example.test/saml/logout"
BASE = "https://sp.example.test"
USER = "ada@example.org"


def make_sp(idp: TestIdP, now: datetime, store: Store | None = None) -> ServiceProvider:
    idp.register_sp(SP_ID, ACS)
    cfg = SPConfig(entity_id=SP_ID, acs_url=ACS, slo_url=SLO)
    metadata = parse_idp_metadata(idp.metadata_xml(), now=now)
    return ServiceProvider(cfg, metadata, store or MemoryStore(), clock=FixedClock(now))


def home(request: Request) -> PlainTextResponse:
    user = request.session.get(SESSION_KEY)
    return PlainTextResponse(f"user={user['name_id'] if user else None}")


def make_app(router: FedLibRouter, *, sessions: bool = True) -> Starlette:
    middleware = [Middleware(SessionMiddleware, secret_key="test-only", https_only=True)] if sessions else []
    return Starlette(routes=[Route("/", home), Mount("/saml", app=router)], middleware=middleware)


def client_for(sp: ServiceProvider, **kwargs: Any) -> TestClient:
    return TestClient(make_app(FedLibRouter(service_provider=sp, **kwargs)), base_url=BASE, follow_redirects=False)


def login(client: TestClient, idp: TestIdP, path: str = "/saml/login", **knobs: Any) -> Any:
    started = client.get(path)
    assert started.status_code == 302, started.text
    form = idp.respond(idp.receive_redirect(started.headers["location"]), None, **knobs)
    return client.post(urlsplit(form.action).path, data=dict(form.fields))


def user(client: TestClient) -> str:
    return client.get("/").text.removeprefix("user=")


def set_cookies(response: Any) -> list[str]:
    return response.headers.get_list("set-cookie")  # type: ignore[no-any-return]


@pytest.fixture
def sp(saml_idp: TestIdP, saml_now: datetime) -> ServiceProvider:
    return make_sp(saml_idp, saml_now)


@pytest.fixture
def client(sp: ServiceProvider, saml_idp: TestIdP) -> TestClient:
    c = client_for(sp)
    assert login(c, saml_idp).status_code == 303
    assert user(c) == USER
    return c


def test_metadata(sp: ServiceProvider) -> None:
    response = client_for(sp).get("/saml/metadata")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/samlmetadata+xml")
    assert ACS.encode() in response.content


def test_sp_initiated_login_sets_the_binding_cookie_and_lands_on_next(sp: ServiceProvider, saml_idp: TestIdP) -> None:
    c = client_for(sp)
    started = c.get("/saml/login?next=/dashboard")
    assert started.status_code == 302
    assert started.headers["cache-control"] == "no-store"
    (header,) = [h for h in set_cookies(started) if h.startswith(binding.COOKIE_PREFIX_HTTPS)]
    assert "HttpOnly" in header
    assert "Secure" in header
    assert "samesite=none" in header.lower()
    assert "Max-Age=600" in header
    form = saml_idp.respond(saml_idp.receive_redirect(started.headers["location"]))
    response = c.post("/saml/acs", data=dict(form.fields))
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard"
    (cleared,) = [h for h in set_cookies(response) if h.startswith(binding.COOKIE_PREFIX_HTTPS)]
    assert "Max-Age=0" in cleared
    assert user(c) == USER


def test_post_binding_login_is_an_auto_posting_form(sp: ServiceProvider) -> None:
    response = client_for(sp, binding=BINDING_HTTP_POST).get("/saml/login")
    assert response.status_code == 200
    assert 'name="SAMLRequest"' in response.text
    assert any(h.startswith(binding.COOKIE_PREFIX_HTTPS) for h in set_cookies(response))


def test_a_response_posted_from_another_browser_is_a_403(sp: ServiceProvider, saml_idp: TestIdP) -> None:
    started = client_for(sp).get("/saml/login")
    form = saml_idp.respond(saml_idp.receive_redirect(started.headers["location"]))
    other = client_for(sp)
    response = other.post("/saml/acs", data=dict(form.fields))
    assert response.status_code == 403
    assert "<code id='error-code'>browser-mismatch</code>" in response.text
    assert user(other) == "None"


def test_open_redirect_in_next_is_dropped(sp: ServiceProvider, saml_idp: TestIdP) -> None:
    response = login(client_for(sp), saml_idp, "/saml/login?next=https://evil.example/")
    assert response.headers["location"] == "/"


def test_idp_initiated(saml_idp: TestIdP, saml_sp_factory: Callable[..., ServiceProvider]) -> None:
    sp = saml_sp_factory(saml_idp, allow_unsolicited=True)
    c = client_for(sp)
    form = saml_idp.initiate(SP_ID, ACS)
    response = c.post("/saml/acs", data=dict(form.fields))
    assert response.status_code == 303
    assert user(c) == USER


def test_rejection_is_a_403_page_with_code_and_hint(sp: ServiceProvider, saml_idp: TestIdP) -> None:
    c = client_for(sp)
    response = login(c, saml_idp, signing="assertion")
    assert response.status_code == 403
    assert "<code id='error-code'>assertion-only-signature</code>" in response.text
    assert "id='error-hint'" in response.text
    assert user(c) == "None"


def test_the_page_renderer_can_be_replaced(sp: ServiceProvider, saml_idp: TestIdP) -> None:
    c = client_for(sp, render_page=lambda page: f"mine {page.status} {page.code} {page.hint is not None}")
    response = login(c, saml_idp, signing="assertion")
    assert response.status_code == 403
    assert response.text == "mine 403 assertion-only-signature True"


@pytest.mark.parametrize("data", [{}, {"RelayState": "/x"}])
def test_post_without_saml_response_is_a_400(sp: ServiceProvider, data: dict[str, str]) -> None:
    response = client_for(sp).post("/saml/acs", data=data)
    assert response.status_code == 400
    assert "no SAMLResponse" in response.text


@pytest.mark.parametrize("data", [{"SAMLResponse": ""}, {"SAMLResponse": "%%%"}, {"SAMLResponse": "PHg+"}])
def test_junk_saml_response_is_a_403(sp: ServiceProvider, data: dict[str, str]) -> None:
    assert client_for(sp).post("/saml/acs", data=data).status_code == 403


def test_a_body_that_is_not_a_form_is_a_4xx(sp: ServiceProvider) -> None:
    c = client_for(sp)
    for content, ctype in [
        (b"SAMLResponse=%ff%fe&RelayState=\xff", "application/x-www-form-urlencoded"),
        (b"--x\r\nbroken", "multipart/form-data; boundary=x"),
        (b"\x00\x01", "application/json"),
    ]:
        response = c.post("/saml/acs", content=content, headers={"content-type": ctype})
        assert 400 <= response.status_code < 500, (ctype, response.status_code)


def test_an_oversized_body_is_a_413_before_parsing(sp: ServiceProvider) -> None:
    c = TestClient(make_app(FedLibRouter(service_provider=sp, max_body_bytes=1000)), base_url=BASE)
    assert c.post("/saml/acs", data={"SAMLResponse": "A" * 2000}).status_code == 413

    def chunks() -> Any:  # no Content-Length: the cap holds on the stream too
        for _ in range(10):
            yield b"A" * 200

    response = c.post("/saml/acs", content=chunks(), headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413


class _DownStore:
    def add(self, key: str, **kwargs: Any) -> bool:
        raise StoreError("store down")

    def consume(self, key: str, **kwargs: Any) -> str | None:
        raise StoreError("store down")

    def close(self) -> None:
        pass


def test_store_outage_is_a_503(saml_idp: TestIdP, saml_now: datetime) -> None:
    c = client_for(make_sp(saml_idp, saml_now, _DownStore()))  # type: ignore[arg-type]
    assert c.get("/saml/login").status_code == 503
    assert c.post("/saml/acs", data={"SAMLResponse": "PHg+"}).status_code in (403, 503)


def test_unexpected_error_is_a_400_not_a_500(sp: ServiceProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("bug")

    monkeypatch.setattr(ServiceProvider, "finish_login", boom)
    response = client_for(sp).post("/saml/acs", data={"SAMLResponse": "PHg+"})
    assert response.status_code == 400
    assert "internal-error" in response.text


def test_the_applications_own_hook_errors_stay_the_applications(sp: ServiceProvider, saml_idp: TestIdP) -> None:
    router = FedLibRouter(service_provider=sp)

    @router.on_login
    def fail(request: Request, result: LoginResult) -> None:
        raise LookupError("the app's own bug")

    c = TestClient(make_app(router), base_url=BASE, follow_redirects=False)
    with pytest.raises(LookupError):
        login(c, saml_idp)


def test_a_hook_response_is_sent_with_the_spent_cookie_cleared(sp: ServiceProvider, saml_idp: TestIdP) -> None:
    router = FedLibRouter(service_provider=sp)

    @router.on_login
    def welcome(request: Request, result: LoginResult) -> Response:
        request.session["me"] = result.authn.name_id
        return PlainTextResponse(f"welcome {result.authn.name_id}")

    c = TestClient(make_app(router), base_url=BASE, follow_redirects=False)
    response = login(c, saml_idp)
    assert response.text == f"welcome {USER}"
    assert any("Max-Age=0" in h for h in set_cookies(response) if h.startswith(binding.COOKIE_PREFIX_HTTPS))


def test_without_session_middleware_a_configuration_error(sp: ServiceProvider) -> None:
    c = TestClient(make_app(FedLibRouter(service_provider=sp), sessions=False), base_url=BASE)
    with pytest.raises(ConfigurationError, match="SessionMiddleware"):
        c.get("/saml/login")


def test_router_needs_exactly_one_sp_source(sp: ServiceProvider) -> None:
    with pytest.raises(ConfigurationError):
        FedLibRouter()
    with pytest.raises(ConfigurationError):
        FedLibRouter(service_provider=sp, tenants=lambda name: sp)


# ---- logout --------------------------------------------------------------------------------------------------


def form_fields(page: str) -> dict[str, str]:
    return {unescape(n): unescape(v) for n, v in re.findall(r'name="([^"]+)" value="([^"]*)"', page)}


def test_get_logout_ends_nothing_and_offers_the_form(client: TestClient) -> None:
    page = client.get("/saml/logout?next=/bye")
    assert page.status_code == 200
    assert page.headers["x-frame-options"] == "DENY"
    assert 'action="/saml/logout"' in page.text
    assert form_fields(page.text)["next"] == "/bye"
    assert user(client) == USER


def test_logout_with_the_token_ends_the_session(client: TestClient) -> None:
    fields = form_fields(client.get("/saml/logout").text)
    response = client.post("/saml/logout", data=fields, headers={"Origin": BASE, "Sec-Fetch-Site": "same-origin"})
    assert response.status_code in (302, 303)
    assert user(client) == "None"


@pytest.mark.parametrize(
    "extra",
    [
        {"data": {}, "headers": {}},
        {"data": {CSRF_FIELD: "x" * 43}, "headers": {}},
        {"data": None, "headers": {"Origin": "https://evil.example"}},
        {"data": None, "headers": {"Sec-Fetch-Site": "cross-site"}},
    ],
)
def test_forged_logout_is_refused(client: TestClient, extra: dict[str, Any]) -> None:
    data = extra["data"] if extra["data"] is not None else form_fields(client.get("/saml/logout").text)
    response = client.post("/saml/logout", data=data, headers=extra["headers"])
    assert response.status_code == 403
    assert user(client) == USER


def test_idp_logout_request_ends_the_session(client: TestClient, saml_idp: TestIdP) -> None:
    url = saml_idp.logout_request_url(SLO, USER, relay_state="/bye")
    response = client.get("/saml/logout?" + urlsplit(url).query)
    assert response.status_code in (302, 303)
    assert user(client) == "None"


def test_idp_logout_request_for_another_user_is_a_403(client: TestClient, saml_idp: TestIdP) -> None:
    url = saml_idp.logout_request_url(SLO, "mallory@example.org")
    response = client.get("/saml/logout?" + urlsplit(url).query)
    assert response.status_code == 403
    assert "error-code" in response.text
    assert user(client) == USER


def test_idp_logout_request_over_post(client: TestClient, saml_idp: TestIdP) -> None:
    form = saml_idp.logout_request_post(SLO, USER, relay_state="/bye")
    response = client.post("/saml/logout", data=dict(form.fields), headers={"Sec-Fetch-Site": "cross-site"})
    assert response.status_code in (200, 302, 303)
    assert user(client) == "None"


def test_garbage_logout_requests_are_4xx(client: TestClient) -> None:
    for path in ["/saml/logout?SAMLRequest=%%%", "/saml/logout?SAMLResponse=x", "/saml/logout?SAMLRequest=\xff"]:
        assert 400 <= client.get(path).status_code < 500


def test_tenants(saml_idp: TestIdP, saml_now: datetime) -> None:
    sp = make_sp(saml_idp, saml_now)

    def lookup(name: str) -> ServiceProvider:
        if name != "a":
            raise ConfigurationError("no such tenant")
        return sp

    c = TestClient(make_app(FedLibRouter(tenants=lookup)), base_url=BASE)
    assert c.get("/saml/a/metadata").status_code == 200
    assert c.get("/saml/b/metadata").status_code == 404


# ---- FastAPI ---------------------------------------------------------------------------------------------------


def test_fastapi_app(sp: ServiceProvider, saml_idp: TestIdP) -> None:
    fastapi = pytest.importorskip("fastapi")
    app = fastapi.FastAPI()
    app.add_middleware(SessionMiddleware, secret_key="test-only", https_only=True)
    app.mount("/saml", FedLibRouter(service_provider=sp))

    @app.get("/")
    def index(request: Request) -> PlainTextResponse:
        return home(request)

    c = TestClient(app, base_url=BASE, follow_redirects=False)
    response = login(c, saml_idp, "/saml/login?next=/")
    assert response.status_code == 303
    assert user(c) == USER
    assert c.post("/saml/acs", data={}).status_code == 400


def test_identity_ends_at_session_not_on_or_after(sp: ServiceProvider, saml_idp: TestIdP, saml_now: datetime) -> None:
    router = FedLibRouter(service_provider=sp)

    @router.on_login
    def remember(request: Request, result: LoginResult) -> None:
        identity = session_identity(result)
        identity["session_not_on_or_after"] = request.query_params.get("until") or saml_now.isoformat()
        request.session[SESSION_KEY] = identity

    def me(request: Request) -> PlainTextResponse:
        identity = router.identity(request)
        return PlainTextResponse(f"{identity['name_id'] if identity else None}|{SESSION_KEY in request.session}")

    app = Starlette(
        routes=[Route("/me", me), Mount("/saml", app=router)],
        middleware=[Middleware(SessionMiddleware, secret_key="test-only", https_only=True)],
    )
    c = TestClient(app, base_url=BASE, follow_redirects=False)
    assert login(c, saml_idp).status_code == 303
    assert c.get("/me").text == "None|False"  # SessionNotOnOrAfter == now: ended, and dropped from the session


def test_logout_form_finds_the_mounted_route(sp: ServiceProvider, saml_idp: TestIdP) -> None:
    def page(request: Request) -> PlainTextResponse:
        return PlainTextResponse(logout_form(request, next="/"))

    app = Starlette(
        routes=[Route("/page", page), Mount("/auth", app=FedLibRouter(service_provider=sp))],
        middleware=[Middleware(SessionMiddleware, secret_key="test-only", https_only=True)],
    )
    html = TestClient(app, base_url=BASE).get("/page").text
    assert 'action="/auth/logout"' in html
    assert f'name="{CSRF_FIELD}"' in html


def test_several_idps_get_the_discovery_page(saml_now: datetime) -> None:
    """Issue #10 §6 through the framework-neutral layer: Starlette serves the same discovery page as Flask."""
    first, second = TestIdP("https://idp-one.example.test/saml"), TestIdP("https://idp-two.example.test/saml")
    for idp in (first, second):
        idp.register_sp(SP_ID, ACS)
    sp = ServiceProvider(
        SPConfig(entity_id=SP_ID, acs_url=ACS),
        [parse_idp_metadata(i.metadata_xml(), now=saml_now) for i in (first, second)],
        MemoryStore(),
        clock=FixedClock(saml_now),
    )
    page = client_for(sp).get("/saml/login?next=/dashboard")
    assert page.status_code == 200
    assert "Content-Security-Policy" in page.headers
    assert "idp-one.example.test" in page.text
    assert "idp-two.example.test" in page.text
    assert client_for(sp).get("/saml/login?idp=https://idp-one.example.test/saml").status_code == 302


@pytest.mark.parametrize("separator", [b"&", b";"])
def test_a_form_of_too_many_fields_is_a_413_before_parsing(sp: ServiceProvider, separator: bytes) -> None:
    """A million one-byte fields (2 MiB, under the size cap) take seconds to parse: more than
    fedlib.web.MAX_FORM_FIELDS fields is a 413 before Starlette's parser sees the body."""
    c = client_for(sp)
    body = b"SAMLResponse=x" + (separator + b"a") * (1024 * 1024 - 8)
    headers = {"content-type": "application/x-www-form-urlencoded"}
    assert c.post("/saml/acs", content=body, headers=headers).status_code == 413
    few = b"SAMLResponse=x" + (separator + b"a") * (MAX_FORM_FIELDS - 2)
    assert c.post("/saml/acs", content=few, headers=headers).status_code != 413


def test_the_logout_token_from_before_the_login_is_renewed(sp: ServiceProvider, saml_idp: TestIdP) -> None:
    client = client_for(sp)
    before = form_fields(client.get("/saml/logout").text)[CSRF_FIELD]
    assert login(client, saml_idp).status_code == 303
    after = form_fields(client.get("/saml/logout").text)[CSRF_FIELD]
    assert after != before
    refused = client.post(
        "/saml/logout", data={CSRF_FIELD: before}, headers={"Origin": BASE, "Sec-Fetch-Site": "same-origin"}
    )
    assert refused.status_code == 403
    assert user(client) == USER
