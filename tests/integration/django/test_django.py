"""fedlib.integrations.django through Django's test Client (pytest-django's test database), with the test IdP
on the other side: the key behaviours of the Flask and Starlette integration tests, through the same
framework-neutral fedlib.web, plus the auth backend (user created/updated, roles -> Groups)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from django.contrib.auth.models import Group, User
from django.http import HttpRequest, HttpResponse
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from fedlib import binding
from fedlib.attributes import AttributeMap
from fedlib.clock import FixedClock
from fedlib.config import SPConfig
from fedlib.errors import ConfigurationError, StoreError
from fedlib.integrations.django.site import site
from fedlib.integrations.django.views import logout_form
from fedlib.metadata.idp import parse_idp_metadata
from fedlib.sp import LoginResult, ServiceProvider
from fedlib.stores.base import Store
from fedlib.stores.memory import MemoryStore
from fedlib.testing.idp import TestIdP
from fedlib.web import CSRF_FIELD, SESSION_KEY

pytestmark = pytest.mark.django_db

SP_ID = "https://sp.example.test/saml/metadata"
ACS = "https://sp.example.test/saml/acs"
SLO = "https://sp.example.test/saml/logout"
HOST = "sp.example.test"
BASE = f"https://{HOST}"
USER = "ada@example.org"
ROLES = AttributeMap.from_dict(
    {
        "roles": [
            {"attribute": "groups", "values": ["admins"], "role": "admin"},
            {"attribute": "groups", "values": ["staff"], "role": "staff"},
        ],
        "keep_unmapped": True,
    }
)


def make_sp(idp: TestIdP, now: datetime, store: Store | None = None, **kwargs: Any) -> ServiceProvider:
    idp.register_sp(SP_ID, ACS)
    cfg = SPConfig(entity_id=SP_ID, acs_url=ACS, slo_url=SLO)
    metadata = parse_idp_metadata(idp.metadata_xml(), now=now)
    return ServiceProvider(cfg, metadata, store or MemoryStore(), clock=FixedClock(now), attribute_map=ROLES, **kwargs)


def new_client() -> Client:
    return Client(enforce_csrf_checks=True, HTTP_HOST=HOST, **{"wsgi.url_scheme": "https"})


def login(client: Client, idp: TestIdP, path: str = "/saml/login", **knobs: Any) -> Any:
    started = client.get(path)
    assert started.status_code == 302, started.content
    form = idp.respond(idp.receive_redirect(started["Location"]), None, **knobs)
    return client.post(urlsplit(form.action).path, data=dict(form.fields))


def whoami(client: Client) -> str:
    return client.get("/").content.decode()


def set_cookies(response: Any) -> dict[str, Any]:
    return dict(response.cookies.items())


@pytest.fixture(autouse=True)
def fresh_site() -> Iterator[None]:
    site.reset()
    yield
    site.reset()


@pytest.fixture
def sp(saml_idp: TestIdP, saml_now: datetime) -> ServiceProvider:
    sp = make_sp(saml_idp, saml_now)
    site.configure(service_provider=sp)
    return sp


@pytest.fixture
def client(sp: ServiceProvider, saml_idp: TestIdP) -> Client:
    c = new_client()
    assert login(c, saml_idp).status_code == 303
    assert whoami(c).startswith(f"user={USER}|")
    return c


def test_metadata(sp: ServiceProvider) -> None:
    response = new_client().get("/saml/metadata")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/samlmetadata+xml")
    assert ACS.encode() in response.content


def test_sp_initiated_login_sets_the_binding_cookie_and_lands_on_next(sp: ServiceProvider, saml_idp: TestIdP) -> None:
    c = new_client()
    started = c.get("/saml/login?next=/dashboard")
    assert started.status_code == 302
    assert started["Cache-Control"] == "no-store"
    (name,) = [n for n in set_cookies(started) if n.startswith(binding.COOKIE_PREFIX_HTTPS)]
    morsel = started.cookies[name]
    assert morsel["httponly"]
    assert morsel["secure"]
    assert morsel["samesite"].lower() == "none"
    assert str(morsel["max-age"]) == "600"
    assert morsel["path"] == "/"
    form = saml_idp.respond(saml_idp.receive_redirect(started["Location"]))
    response = c.post("/saml/acs", data=dict(form.fields))  # cross-site POST: no Django CSRF token
    assert response.status_code == 303
    assert response["Location"] == "/dashboard"
    assert str(response.cookies[name]["max-age"]) == "0"
    assert whoami(c) == f"user={USER}|groups=admin,staff"


def test_a_response_posted_from_another_browser_is_a_403(sp: ServiceProvider, saml_idp: TestIdP) -> None:
    started = new_client().get("/saml/login")
    form = saml_idp.respond(saml_idp.receive_redirect(started["Location"]))
    other = new_client()
    response = other.post("/saml/acs", data=dict(form.fields))
    assert response.status_code == 403
    assert b"<code id='error-code'>browser-mismatch</code>" in response.content
    assert whoami(other) == "user=None"


def test_open_redirect_in_next_is_dropped(sp: ServiceProvider, saml_idp: TestIdP) -> None:
    response = login(new_client(), saml_idp, "/saml/login?next=https://evil.example/")
    assert response["Location"] == "/"


def test_idp_initiated(saml_idp: TestIdP, saml_now: datetime) -> None:
    from fedlib.config import SecurityPolicy

    saml_idp.register_sp(SP_ID, ACS)
    cfg = SPConfig(entity_id=SP_ID, acs_url=ACS, slo_url=SLO, policy=SecurityPolicy(allow_unsolicited=True))
    metadata = parse_idp_metadata(saml_idp.metadata_xml(), now=saml_now)
    site.configure(service_provider=ServiceProvider(cfg, metadata, MemoryStore(), clock=FixedClock(saml_now)))
    c = new_client()
    response = c.post("/saml/acs", data=dict(saml_idp.initiate(SP_ID, ACS).fields))
    assert response.status_code == 303
    assert whoami(c) == f"user={USER}|groups="


def test_rejection_is_a_403_page_with_code_and_hint(sp: ServiceProvider, saml_idp: TestIdP) -> None:
    c = new_client()
    response = login(c, saml_idp, signing="assertion")
    assert response.status_code == 403
    assert b"<code id='error-code'>assertion-only-signature</code>" in response.content
    assert b"id='error-hint'" in response.content
    assert whoami(c) == "user=None"
    assert not User.objects.exists()


@pytest.mark.parametrize("data", [{}, {"RelayState": "/x"}])
def test_post_without_saml_response_is_a_400(sp: ServiceProvider, data: dict[str, str]) -> None:
    response = new_client().post("/saml/acs", data=data)
    assert response.status_code == 400
    assert b"no SAMLResponse" in response.content


@pytest.mark.parametrize("data", [{"SAMLResponse": ""}, {"SAMLResponse": "%%%"}, {"SAMLResponse": "PHg+"}])
def test_junk_saml_response_is_a_403(sp: ServiceProvider, data: dict[str, str]) -> None:
    assert new_client().post("/saml/acs", data=data).status_code == 403


def test_a_body_that_is_not_a_form_is_a_4xx(sp: ServiceProvider) -> None:
    c = new_client()
    for content, ctype in [
        (b"SAMLResponse=%ff%fe&RelayState=\xff", "application/x-www-form-urlencoded"),
        (b"--x\r\nbroken", "multipart/form-data; boundary=x"),
        (b"\x00\x01", "application/json"),
    ]:
        response = c.post("/saml/acs", data=content, content_type=ctype)
        assert 400 <= response.status_code < 500, (ctype, response.status_code)


def test_an_oversized_body_is_a_413(sp: ServiceProvider, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = new_client().post("/saml/acs", data={"SAMLResponse": "A" * 2000})
    assert response.status_code == 413


@pytest.mark.parametrize("max_fields", [1000, None])
def test_a_form_of_too_many_fields_is_a_413(sp: ServiceProvider, settings: Any, max_fields: int | None) -> None:
    """More than fedlib.web.MAX_FORM_FIELDS fields is a 413 before Django parses the form, also where a site
    lifted DATA_UPLOAD_MAX_NUMBER_FIELDS (a million one-byte fields would then take seconds to parse)."""
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = max_fields
    body = b"SAMLResponse=x" + b"&a" * (1024 * 1024 - 8)
    response = new_client().post("/saml/acs", data=body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 413


def test_wrong_methods_are_405(sp: ServiceProvider) -> None:
    c = new_client()
    assert c.get("/saml/acs").status_code == 405
    assert c.post("/saml/login").status_code in (403, 405)  # Django's CSRF middleware answers first
    assert c.put("/saml/logout").status_code == 405


class _DownStore:
    def add(self, key: str, **kwargs: Any) -> bool:
        raise StoreError("store down")

    def consume(self, key: str, **kwargs: Any) -> str | None:
        raise StoreError("store down")

    def close(self) -> None:
        pass


def test_store_outage_is_a_503(saml_idp: TestIdP, saml_now: datetime) -> None:
    site.configure(service_provider=make_sp(saml_idp, saml_now, _DownStore()))  # type: ignore[arg-type]
    c = new_client()
    assert c.get("/saml/login").status_code == 503
    assert c.post("/saml/acs", data={"SAMLResponse": "PHg+"}).status_code in (403, 503)
    unsolicited = dict(saml_idp.initiate(SP_ID, ACS).fields)
    assert c.post("/saml/acs", data=unsolicited).status_code in (403, 503)
    assert whoami(c) == "user=None"


def test_unexpected_error_is_a_400_not_a_500(sp: ServiceProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("bug")

    monkeypatch.setattr(ServiceProvider, "finish_login", boom)
    response = new_client().post("/saml/acs", data={"SAMLResponse": "PHg+"})
    assert response.status_code == 400
    assert b"internal-error" in response.content


def test_the_applications_own_hook_errors_stay_the_applications(sp: ServiceProvider, saml_idp: TestIdP) -> None:
    @site.on_login
    def fail(request: HttpRequest, result: LoginResult) -> None:
        raise LookupError("the app's own bug")

    with pytest.raises(LookupError):
        login(new_client(), saml_idp)


def test_a_hook_response_is_sent_with_the_spent_cookie_cleared(sp: ServiceProvider, saml_idp: TestIdP) -> None:
    @site.on_login
    def welcome(request: HttpRequest, result: LoginResult) -> HttpResponse:
        return HttpResponse(f"welcome {result.authn.name_id}")

    response = login(new_client(), saml_idp)
    assert response.content.decode() == f"welcome {USER}"
    spent = [m for n, m in set_cookies(response).items() if n.startswith(binding.COOKIE_PREFIX_HTTPS)]
    assert spent
    assert str(spent[0]["max-age"]) == "0"
    assert not User.objects.exists()


def test_without_settings_a_configuration_error(settings: Any) -> None:
    del settings.FEDLIB_SETTINGS
    with pytest.raises(ConfigurationError, match="FEDLIB"):
        new_client().get("/saml/metadata")


def test_without_session_middleware_a_configuration_error(sp: ServiceProvider, settings: Any) -> None:
    settings.MIDDLEWARE = []
    with pytest.raises(ConfigurationError, match="SessionMiddleware"):
        new_client().get("/saml/login")


# ---- the auth backend ---------------------------------------------------------------------------------------


def test_user_is_created_then_updated_and_groups_follow_roles(
    saml_idp_factory: Callable[..., TestIdP], saml_now: datetime, sp: ServiceProvider, saml_idp: TestIdP
) -> None:
    c = new_client()
    assert login(c, saml_idp).status_code == 303
    ada = User.objects.get(username=USER)
    assert (ada.email, ada.first_name, ada.last_name) == (USER, "Ada", "Lovelace")
    assert not ada.has_usable_password()
    assert sorted(g.name for g in ada.groups.all()) == ["admin", "staff"]
    # The next login updates the user: a stale name and a group the IdP no longer grants are replaced.
    ada.first_name = "Stale"
    ada.save()
    ada.groups.add(Group.objects.create(name="former"))
    c2 = new_client()
    assert login(c2, saml_idp).status_code == 303
    ada.refresh_from_db()
    assert ada.first_name == "Ada"
    assert sorted(g.name for g in ada.groups.all()) == ["admin", "staff"]
    assert User.objects.count() == 1


def test_group_creation_can_be_turned_off(sp: ServiceProvider, saml_idp: TestIdP, settings: Any) -> None:
    settings.FEDLIB_USER = {"create_groups": False}
    Group.objects.create(name="staff")
    c = new_client()
    assert login(c, saml_idp).status_code == 303
    assert whoami(c) == f"user={USER}|groups=staff"
    assert not Group.objects.filter(name="admin").exists()


def test_user_creation_can_be_turned_off(sp: ServiceProvider, saml_idp: TestIdP, settings: Any) -> None:
    settings.FEDLIB_USER = {"create_users": False}
    c = new_client()
    response = login(c, saml_idp)
    assert response.status_code == 403
    assert whoami(c) == "user=None"
    User.objects.create_user(USER)
    assert login(c, saml_idp).status_code == 303
    assert whoami(c).startswith(f"user={USER}|")


def test_an_inactive_user_is_refused(sp: ServiceProvider, saml_idp: TestIdP) -> None:
    User.objects.create_user(USER, is_active=False)
    c = new_client()
    assert login(c, saml_idp).status_code == 403
    assert whoami(c) == "user=None"


def test_username_from_a_mapped_attribute_and_a_groups_hook(
    sp: ServiceProvider, saml_idp: TestIdP, settings: Any
) -> None:
    settings.FEDLIB_USER = {
        "username": "given_name",
        "groups_hook": "test_django.only_admins",
    }
    c = new_client()
    assert login(c, saml_idp).status_code == 303
    assert whoami(c) == "user=Ada|groups=admins-only"


def only_admins(user: Any, roles: frozenset[str], result: LoginResult) -> None:
    if "admin" in roles:
        user.groups.set([Group.objects.get_or_create(name="admins-only")[0]])


def test_unknown_user_options_are_a_configuration_error(sp: ServiceProvider, saml_idp: TestIdP, settings: Any) -> None:
    settings.FEDLIB_USER = {"usrname": "email"}
    with pytest.raises(ConfigurationError, match="usrname"):
        login(new_client(), saml_idp)


def test_an_overlong_username_is_refused(sp: ServiceProvider, saml_idp: TestIdP, settings: Any) -> None:
    settings.FEDLIB_USER = {"username": "surname"}
    # The test IdP's users are fixed: shrink the model's username field below "Lovelace" instead.
    field = User._meta.get_field("username")
    original = field.max_length
    field.max_length = 3
    try:
        c = new_client()
        assert login(c, saml_idp).status_code == 403
        assert not User.objects.exists()
    finally:
        field.max_length = original


# ---- logout -----------------------------------------------------------------------------------------------


def form_fields(page: str) -> dict[str, str]:
    return {unescape(n): unescape(v) for n, v in re.findall(r'name="([^"]+)" value="([^"]*)"', page)}


def test_get_logout_ends_nothing_and_offers_the_form(client: Client) -> None:
    page = client.get("/saml/logout?next=/bye")
    assert page.status_code == 200
    assert page["X-Frame-Options"] == "DENY"
    assert b'action="/saml/logout"' in page.content
    assert form_fields(page.content.decode())["next"] == "/bye"
    assert whoami(client).startswith(f"user={USER}|")


def test_logout_with_the_token_ends_the_session(client: Client) -> None:
    fields = form_fields(client.get("/saml/logout").content.decode())
    response = client.post("/saml/logout", data=fields, headers={"Origin": BASE, "Sec-Fetch-Site": "same-origin"})
    assert response.status_code in (302, 303)
    assert whoami(client) == "user=None"


@pytest.mark.parametrize(
    "extra",
    [
        {"data": {}, "headers": {}},
        {"data": {CSRF_FIELD: "x" * 43}, "headers": {}},
        {"data": None, "headers": {"Origin": "https://evil.example"}},
        {"data": None, "headers": {"Sec-Fetch-Site": "cross-site"}},
    ],
)
def test_forged_logout_is_refused(client: Client, extra: dict[str, Any]) -> None:
    data = extra["data"] if extra["data"] is not None else form_fields(client.get("/saml/logout").content.decode())
    response = client.post("/saml/logout", data=data, headers=extra["headers"])
    assert response.status_code == 403
    assert whoami(client).startswith(f"user={USER}|")


def test_logout_form_helper_for_templates(client: Client) -> None:
    html = client.get("/page").content.decode()
    assert 'action="/saml/logout"' in html
    assert f'name="{CSRF_FIELD}"' in html
    response = client.post("/saml/logout", data=form_fields(html), headers={"Origin": BASE})
    assert response.status_code in (302, 303)
    assert whoami(client) == "user=None"


def test_logout_form_helper_outside_fedlib_views() -> None:
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.session = {}  # type: ignore[assignment]
    assert 'action="/saml/logout"' in logout_form(request)


def test_idp_logout_request_ends_the_session(client: Client, saml_idp: TestIdP) -> None:
    url = saml_idp.logout_request_url(SLO, USER, relay_state="/bye")
    response = client.get("/saml/logout?" + urlsplit(url).query)
    assert response.status_code in (302, 303)
    assert whoami(client) == "user=None"


def test_idp_logout_request_for_another_user_is_a_403(client: Client, saml_idp: TestIdP) -> None:
    url = saml_idp.logout_request_url(SLO, "mallory@example.org")
    response = client.get("/saml/logout?" + urlsplit(url).query)
    assert response.status_code == 403
    assert b"error-code" in response.content
    assert whoami(client).startswith(f"user={USER}|")


def test_idp_logout_request_over_post(client: Client, saml_idp: TestIdP) -> None:
    form = saml_idp.logout_request_post(SLO, USER, relay_state="/bye")
    response = client.post("/saml/logout", data=dict(form.fields), headers={"Sec-Fetch-Site": "cross-site"})
    assert response.status_code in (200, 302, 303)
    assert whoami(client) == "user=None"


def test_garbage_logout_requests_are_4xx(client: Client) -> None:
    for path in ["/saml/logout?SAMLRequest=%%%", "/saml/logout?SAMLResponse=x", "/saml/logout?SAMLRequest=%ff"]:
        assert 400 <= client.get(path).status_code < 500


def test_session_ends_at_session_not_on_or_after(client: Client, sp: ServiceProvider) -> None:
    until = datetime.fromisoformat(client.session[SESSION_KEY]["session_not_on_or_after"])
    sp.clock = FixedClock(until)
    assert whoami(client) == "user=None"
    assert SESSION_KEY not in client.session


# ---- settings and tenants ---------------------------------------------------------------------------------


def _toml(tmp_path: Path, idp: TestIdP, tenants: list[str]) -> Path:
    (tmp_path / "idp.xml").write_bytes(idp.metadata_xml())
    text = 'store = "memory://"\n'
    for tenant in tenants:
        prefix = f"/saml/{tenant}" if len(tenants) > 1 else "/saml"
        entity, acs = f"https://{HOST}{prefix}/metadata", f"https://{HOST}{prefix}/acs"
        idp.register_sp(entity, acs)
        table = f"tenants.{tenant}." if len(tenants) > 1 else ""
        text += f'[{table}sp]\nentity_id = "{entity}"\nacs_url = "{acs}"\n[[{table}idps]]\nmetadata_file = "idp.xml"\n'
    (tmp_path / "fedlib.toml").write_text(text)
    return tmp_path / "fedlib.toml"


def test_settings_from_a_toml_path(tmp_path: Path, saml_idp: TestIdP, settings: Any) -> None:
    settings.FEDLIB_SETTINGS = str(_toml(tmp_path, saml_idp, ["default"]))
    c = new_client()
    assert login(c, saml_idp).status_code == 303
    assert whoami(c) == f"user={USER}|groups="
    assert c.get("/saml/a/metadata").status_code == 404


def test_settings_from_a_dict(tmp_path: Path, saml_idp: TestIdP, settings: Any) -> None:
    saml_idp.register_sp(SP_ID, ACS)
    (tmp_path / "idp.xml").write_bytes(saml_idp.metadata_xml())
    del settings.FEDLIB_SETTINGS
    settings.FEDLIB = {
        "store": "memory://",
        "sp": {"entity_id": SP_ID, "acs_url": ACS},
        "idps": [{"metadata_file": str(tmp_path / "idp.xml")}],
    }
    c = new_client()
    assert SP_ID.encode() in c.get("/saml/metadata").content
    assert login(c, saml_idp).status_code == 303


def test_both_settings_are_a_configuration_error(settings: Any) -> None:
    settings.FEDLIB = {}
    with pytest.raises(ConfigurationError, match="exactly one"):
        new_client().get("/saml/metadata")


def test_tenants_from_settings(tmp_path: Path, saml_idp: TestIdP, settings: Any) -> None:
    settings.FEDLIB_SETTINGS = str(_toml(tmp_path, saml_idp, ["a", "b"]))
    c = new_client()
    assert b"/saml/a/acs" in c.get("/saml/a/metadata").content
    assert b"/saml/b/acs" in c.get("/saml/b/metadata").content
    assert c.get("/saml/c/metadata").status_code == 404
    assert c.get("/saml/metadata").status_code == 404
    assert login(c, saml_idp, "/saml/b/login").status_code == 303
    assert whoami(c).startswith(f"user={USER}|")
    page = c.get("/saml/b/logout").content.decode()
    assert 'action="/saml/b/logout"' in page
    response = c.post("/saml/b/logout", data=form_fields(page), headers={"Origin": BASE})
    assert response.status_code in (302, 303)
    assert whoami(c) == "user=None"


# ---- hostile input: never a 5xx ---------------------------------------------------------------------------

_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=200)


@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    query=_text,
    fields=st.dictionaries(st.sampled_from(["SAMLResponse", "SAMLRequest", "RelayState", CSRF_FIELD, "next"]), _text),
)
def test_hostile_input_is_never_a_5xx(sp: ServiceProvider, query: str, fields: dict[str, str]) -> None:
    c = new_client()
    assert c.get("/saml/logout?" + quote(query, safe="=&%")).status_code < 500
    assert c.get("/saml/login?" + quote(query, safe="=&%")).status_code < 500
    assert c.post("/saml/acs", data=fields).status_code < 500
    assert c.post("/saml/logout", data=fields).status_code < 500


def test_the_logout_token_from_before_the_login_is_renewed(sp: ServiceProvider, saml_idp: TestIdP) -> None:
    client = new_client()
    before = form_fields(client.get("/saml/logout").content.decode())[CSRF_FIELD]
    assert login(client, saml_idp).status_code == 303
    after = form_fields(client.get("/saml/logout").content.decode())[CSRF_FIELD]
    assert after != before
    refused = client.post(
        "/saml/logout", data={CSRF_FIELD: before}, headers={"Origin": BASE, "Sec-Fetch-Site": "same-origin"}
    )
    assert refused.status_code == 403
    assert whoami(client).startswith(f"user={USER}|")


def _template(source: str) -> Any:
    from django.template import Engine

    engine = Engine(libraries={"fedlib": "fedlib.integrations.django.templatetags.fedlib"})
    return engine.from_string("{% load fedlib %}" + source)


def test_the_logout_form_template_tag(client: Client) -> None:
    from django.template import Context

    page_request = client.get("/page").wsgi_request
    html = _template('{% fedlib_logout_form label="Log <out>" next="/bye" %}').render(
        Context({"request": page_request})
    )
    fields = form_fields(html)
    assert 'action="/saml/logout"' in html
    assert "Log &lt;out&gt;" in html
    assert fields["next"] == "/bye"
    response = client.post("/saml/logout", data=fields, headers={"Origin": BASE})
    assert response.status_code in (302, 303)
    assert whoami(client) == "user=None"


def test_the_logout_form_template_tag_without_the_request_is_a_configuration_error() -> None:
    from django.template import Context

    with pytest.raises(ConfigurationError, match=r"context_processors\.request"):
        _template("{% fedlib_logout_form %}").render(Context({}))
