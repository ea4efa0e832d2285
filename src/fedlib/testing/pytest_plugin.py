"""pytest fixtures for testing SAML login code against a real test IdP (loaded automatically via the
``pytest11`` entry point once fedlib is installed).

Fixtures:

``saml_now``
    A fixed, aware "now" shared by the IdP and the SP of a test (override it to move time).
``saml_idp``
    A :class:`~fedlib.testing.TestIdP` behaving like a well-configured generic IdP.
``saml_idp_factory``
    ``saml_idp_factory(profile="okta", **knobs)`` -> a TestIdP with a vendor's defaults and your knobs.
``saml_sp``
    A :class:`fedlib.ServiceProvider` wired to ``saml_idp``: memory store, fixed clock, IdP registered.
``saml_sp_factory``
    ``saml_sp_factory(idp, allow_unsolicited=False, **policy)`` -> a ServiceProvider trusting ``idp``.
``saml_response``
    ``saml_response(user=None, in_response_to=None, idp=None, **knobs)`` -> the base64 ``SAMLResponse``
    form value the IdP would post to ``saml_sp``'s ACS.
``saml_login``
    ``saml_login(client, login_path="/saml/login", idp=None, user=None, framework=None, **knobs)`` drives a
    whole SP-initiated login through a framework's test client: GET the login path (without following
    redirects), take the redirect to the IdP, let the IdP answer, POST the form to the ACS; returns the ACS
    response (the framework's own response object). The client keeps the login's browser-binding cookie
    between the two, as a browser does. The client kind is detected from its class (Flask's ``FlaskClient``
    or any Werkzeug test client: ``"flask"``; Starlette's ``TestClient``, which FastAPI uses too:
    ``"starlette"``; Django's ``django.test.Client``: ``"django"``) or given as ``framework=``. A Starlette
    client must use an ``https://`` base URL (``TestClient(app, base_url="https://testserver")``) when
    the app sets ``Secure`` cookies, as fedlib's browser-binding cookie is: httpx, like a browser, does not
    send them back over ``http://``. Django's client sends every cookie over any scheme, so with it the
    helper makes both requests as https (``secure=True``), as a browser must for a ``Secure`` cookie.
``saml_login_flask`` / ``saml_login_starlette`` / ``saml_login_django``
    The same with the client kind fixed.

Calling ``ServiceProvider.finish_login`` yourself after an SP-initiated ``start_login``: pass the browser
back, ``finish_login(form.fields, browser_binding=login.browser_binding)`` (without it the login is refused
as ``browser-mismatch``, as a Response posted from another browser would be; see fedlib.binding).

Example (a 10-line test that an Entra ID default fails with the right code and workaround)::

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

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

import pytest

if TYPE_CHECKING:
    from fedlib.sp import ServiceProvider
    from fedlib.testing.idp import TestIdP, TestUser

# This module is imported by every pytest run in every project that installs fedlib (the ``pytest11``
# entry point), so it imports nothing of fedlib at start-up: the fixtures load the SP and the test IdP
# when a test uses them (``tests/unit/testing/test_pytest_plugin_lazy.py`` holds it to that).

SP_ENTITY_ID = "https://sp.example.test/saml/metadata"
SP_ACS_URL = "https://sp.example.test/saml/acs"


class _Client(Protocol):
    """What ``saml_login`` needs of a test client (Flask's, Werkzeug's, Starlette's and Django's all fit)."""

    def get(self, path: str, **kwargs: Any) -> Any: ...
    def post(self, path: str, **kwargs: Any) -> Any: ...


_REDIRECTS = (301, 302, 303, 307, 308)

# Module prefixes of test-client classes -> the framework whose driver handles them. Checked along the
# client's MRO, so subclasses are recognised; no framework is imported to tell (the plugin stays cheap).
# A new framework adds a prefix here and a driver in _DRIVERS.
_CLIENT_MODULES = (
    ("flask.", "flask"),
    ("werkzeug.", "flask"),
    ("starlette.", "starlette"),
    ("fastapi.", "starlette"),
    ("django.", "django"),
)


def _framework_of(client: object) -> str:
    """The framework of a test client, from its class's module (or a TypeError naming the choices)."""
    for cls in type(client).__mro__:
        module = f"{cls.__module__}."
        for prefix, framework in _CLIENT_MODULES:
            if module.startswith(prefix):
                return framework
    raise TypeError(
        f"saml_login: cannot tell the framework of {type(client).__qualname__}; "
        f"pass framework= one of {sorted(_DRIVERS)}"
    )


def _start_flask(client: _Client, path: str) -> Any:
    return client.get(path)  # Werkzeug's client does not follow redirects unless told to


def _start_starlette(client: _Client, path: str) -> Any:
    started = client.get(path, follow_redirects=False)  # Starlette's TestClient follows them by default
    base = getattr(client, "base_url", None)
    secure = any(
        part.strip().lower() == "secure"
        for cookie in started.headers.get_list("set-cookie")
        for part in cookie.split(";")[1:]
    )
    if secure and base is not None and base.scheme == "http":
        raise AssertionError(
            f"{path} set a Secure cookie, which the test client will not send to {base}; "
            'use TestClient(app, base_url="https://testserver")'
        )
    return started


def _start_django(client: _Client, path: str) -> Any:
    # Django's Client does not follow redirects unless told to, and sends every cookie, Secure or not, over
    # any scheme; a browser sends Secure cookies over https only, so the helper speaks https (secure=True):
    # the app sees request.is_secure() as it does behind TLS, and a Secure cookie travels as it would there.
    return client.get(path, secure=True)


def _post_form(client: _Client, path: str, fields: dict[str, str], framework: str) -> Any:
    if framework == "starlette":
        return client.post(path, data=fields, follow_redirects=False)
    if framework == "django":
        return client.post(path, data=fields, secure=True)
    return client.post(path, data=fields)


_DRIVERS: dict[str, Callable[[_Client, str], Any]] = {
    "flask": _start_flask,
    "starlette": _start_starlette,
    "django": _start_django,
}


def drive_login(
    client: _Client,
    issuer: TestIdP,
    *,
    login_path: str = "/saml/login",
    user: TestUser | str | None = None,
    framework: str | None = None,
    **knobs: Any,
) -> Any:
    """Start a login at ``login_path`` through ``client``, let ``issuer`` answer, POST to the ACS.

    Returns the ACS response of the client's framework (not followed if it redirects)."""
    kind = framework or _framework_of(client)
    if kind not in _DRIVERS:
        raise ValueError(f"saml_login: unknown framework {kind!r}; one of {sorted(_DRIVERS)}")
    started = _DRIVERS[kind](client, login_path)
    location = started.headers.get("Location")
    if started.status_code not in _REDIRECTS or not location:
        raise AssertionError(f"{login_path} did not redirect to the IdP (status {started.status_code})")
    form = issuer.respond(issuer.receive_redirect(location), user, **knobs)
    return _post_form(client, urlsplit(form.action).path, dict(form.fields), kind)


def _test_idp_class() -> type[TestIdP]:
    """fedlib.testing.TestIdP, or a test failure that says to install the ``testing`` extra."""
    try:
        from fedlib.testing.idp import TestIdP
    except ModuleNotFoundError as exc:
        if exc.name != "signxml":
            raise
        missing = str(exc)
    else:
        return TestIdP
    pytest.fail(missing, pytrace=False)


@pytest.fixture
def saml_now() -> datetime:
    """The fixed time of this test (whole seconds, UTC)."""
    return datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def saml_idp_factory(saml_now: datetime) -> Callable[..., TestIdP]:
    """Make TestIdPs: ``saml_idp_factory(profile="entra", signing="both", ...)``."""
    test_idp = _test_idp_class()

    def make(profile: str | None = None, **kwargs: Any) -> TestIdP:
        kwargs.setdefault("clock", lambda: saml_now)
        return test_idp(profile=profile, **kwargs)

    return make


@pytest.fixture
def saml_idp(saml_idp_factory: Callable[..., TestIdP]) -> TestIdP:
    """A generic, well-behaved TestIdP."""
    return saml_idp_factory()


@pytest.fixture
def saml_sp_factory(saml_now: datetime) -> Callable[..., ServiceProvider]:
    """Make ServiceProviders trusting a TestIdP: ``saml_sp_factory(idp, allow_unsolicited=True)``."""
    from fedlib.clock import FixedClock
    from fedlib.config import SecurityPolicy, SPConfig
    from fedlib.metadata.idp import parse_idp_metadata
    from fedlib.sp import ServiceProvider
    from fedlib.stores.memory import MemoryStore

    def make(
        idp: TestIdP,
        *,
        entity_id: str = SP_ENTITY_ID,
        acs_url: str = SP_ACS_URL,
        tenant: str = "default",
        **policy: Any,
    ) -> ServiceProvider:
        idp.register_sp(entity_id, acs_url)
        config = SPConfig(entity_id=entity_id, acs_url=acs_url, policy=SecurityPolicy(**policy))
        metadata = parse_idp_metadata(idp.metadata_xml(), now=saml_now)
        return ServiceProvider(config, metadata, MemoryStore(), tenant=tenant, clock=FixedClock(saml_now))

    return make


@pytest.fixture
def saml_sp(saml_idp: TestIdP, saml_sp_factory: Callable[..., ServiceProvider]) -> ServiceProvider:
    """A ServiceProvider trusting ``saml_idp`` (SP-initiated only, as by default)."""
    return saml_sp_factory(saml_idp)


@pytest.fixture
def saml_response(saml_idp: TestIdP, saml_sp: ServiceProvider, saml_now: datetime) -> Callable[..., str]:
    """Mint the SAMLResponse form value an IdP would post to ``saml_sp``."""

    def mint(
        user: TestUser | str | None = None,
        *,
        in_response_to: str | None = None,
        idp: TestIdP | None = None,
        **knobs: Any,
    ) -> str:
        issuer = idp or saml_idp
        behaviour = issuer.behaviour.replace(**knobs) if knobs else issuer.behaviour
        xml = issuer.response_xml(
            sp_entity_id=saml_sp.config.entity_id,
            acs_url=saml_sp.config.acs_url,
            in_response_to=in_response_to,
            user=user,
            now=saml_now,
            behaviour=behaviour,
        )
        return base64.b64encode(xml).decode("ascii")

    return mint


def _login_fixture(saml_idp: TestIdP, framework: str | None) -> Callable[..., Any]:
    def login(
        client: _Client,
        *,
        login_path: str = "/saml/login",
        idp: TestIdP | None = None,
        user: TestUser | str | None = None,
        **knobs: Any,
    ) -> Any:
        knobs.setdefault("framework", framework)
        return drive_login(client, idp or saml_idp, login_path=login_path, user=user, **knobs)

    return login


@pytest.fixture
def saml_login(saml_idp: TestIdP) -> Callable[..., Any]:
    """Drive an SP-initiated login through a Flask, Starlette/FastAPI or Django test client (detected, or
    ``framework=``); returns the ACS's response."""
    return _login_fixture(saml_idp, None)


@pytest.fixture
def saml_login_flask(saml_idp: TestIdP) -> Callable[..., Any]:
    """``saml_login`` for a Flask / Werkzeug test client."""
    return _login_fixture(saml_idp, "flask")


@pytest.fixture
def saml_login_starlette(saml_idp: TestIdP) -> Callable[..., Any]:
    """``saml_login`` for a Starlette (or FastAPI) ``TestClient``."""
    return _login_fixture(saml_idp, "starlette")


@pytest.fixture
def saml_login_django(saml_idp: TestIdP) -> Callable[..., Any]:
    """``saml_login`` for Django's ``django.test.Client`` (requests made as https: ``secure=True``)."""
    return _login_fixture(saml_idp, "django")


__all__ = [
    "SP_ACS_URL",
    "SP_ENTITY_ID",
    "drive_login",
    "saml_idp",
    "saml_idp_factory",
    "saml_login",
    "saml_login_django",
    "saml_login_flask",
    "saml_login_starlette",
    "saml_now",
    "saml_response",
    "saml_sp",
    "saml_sp_factory",
]
