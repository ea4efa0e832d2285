"""The Django system checks of fedlib.integrations.django (tag "fedlib"): a deployment mistake shows at
``manage.py check`` with a stable id, not only as the first SAML request's ConfigurationError."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from django.contrib.sessions.middleware import SessionMiddleware
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import modify_settings
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from fedlib.integrations.django.backends import FedlibBackend
from fedlib.integrations.django.site import site
from fedlib.testing.idp import TestIdP

SP_ID = "https://sp.example.test/saml/metadata"


class OwnSessionMiddleware(SessionMiddleware):
    """A project's own session middleware: fedlib's views only need request.session."""


class OwnBackend(FedlibBackend):
    """A project's own subclass of fedlib's backend."""


class BytesPath:
    """A PathLike whose path is bytes (Path() refuses it)."""

    def __fspath__(self) -> bytes:
        return b"/tmp"


ACS = "https://sp.example.test/saml/acs"


@pytest.fixture(autouse=True)
def fresh_site() -> Iterator[None]:
    site.reset()
    yield
    site.reset()


def ids() -> list[str]:
    # With the deployment checks too: fedlib has none, and must not add any that read or fetch anything.
    return sorted(m.id for m in run_checks(tags=["fedlib"], include_deployment_checks=True) if m.id)


def _valid(tmp_path: Path, idp: TestIdP) -> dict[str, Any]:
    (tmp_path / "idp.xml").write_bytes(idp.metadata_xml())
    return {
        "store": "memory://",
        "sp": {"entity_id": SP_ID, "acs_url": ACS},
        "idps": [{"metadata_file": str(tmp_path / "idp.xml")}],
    }


def test_a_good_deployment_has_no_message(tmp_path: Path, saml_idp: TestIdP, settings: Any) -> None:
    del settings.FEDLIB_SETTINGS
    settings.FEDLIB = _valid(tmp_path, saml_idp)
    assert ids() == []


def test_the_same_from_a_toml_file(tmp_path: Path, saml_idp: TestIdP, settings: Any) -> None:
    (tmp_path / "idp.xml").write_bytes(saml_idp.metadata_xml())
    (tmp_path / "fedlib.toml").write_text(
        f'store = "memory://"\n[sp]\nentity_id = "{SP_ID}"\nacs_url = "{ACS}"\n[[idps]]\nmetadata_file = "idp.xml"\n'
    )
    settings.FEDLIB_SETTINGS = tmp_path / "fedlib.toml"  # a Path, as BASE_DIR / "fedlib.toml" gives
    assert ids() == []


def test_both_sources(settings: Any) -> None:
    settings.FEDLIB = {}
    assert "fedlib.E001" in ids()


def test_no_source_is_a_warning_until_configured_in_code(settings: Any, saml_idp: TestIdP, saml_now: datetime) -> None:
    del settings.FEDLIB_SETTINGS
    assert ids() == ["fedlib.W001"]
    from fedlib.config import SPConfig
    from fedlib.metadata.idp import parse_idp_metadata
    from fedlib.sp import ServiceProvider
    from fedlib.stores.memory import MemoryStore

    sp = ServiceProvider(
        SPConfig(entity_id=SP_ID, acs_url=ACS), parse_idp_metadata(saml_idp.metadata_xml(), now=saml_now), MemoryStore()
    )
    site.configure(service_provider=sp)
    assert ids() == []


def test_fedlib_not_a_mapping(settings: Any) -> None:
    del settings.FEDLIB_SETTINGS
    settings.FEDLIB = ["sp"]
    assert ids() == ["fedlib.E002"]


@pytest.mark.parametrize("path", ["/nonexistent/fedlib.toml", "/", "x\0y", 42, BytesPath()])
def test_fedlib_settings_not_a_file(settings: Any, path: object) -> None:
    settings.FEDLIB_SETTINGS = path
    assert ids() == ["fedlib.E003"]


@pytest.mark.parametrize("value", [["username"], {"usrname": "mail"}, {1: "a", "b": "c", None: 0}])
def test_bad_user_options(tmp_path: Path, saml_idp: TestIdP, settings: Any, value: object) -> None:
    del settings.FEDLIB_SETTINGS
    settings.FEDLIB = _valid(tmp_path, saml_idp)
    settings.FEDLIB_USER = value
    assert ids() == ["fedlib.E004"]


def test_no_session_middleware(tmp_path: Path, saml_idp: TestIdP, settings: Any) -> None:
    del settings.FEDLIB_SETTINGS
    settings.FEDLIB = _valid(tmp_path, saml_idp)
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "SessionMiddleware" not in m]
    assert ids() == ["fedlib.E005"]


def test_no_backend_with_the_default_hook(tmp_path: Path, saml_idp: TestIdP, settings: Any) -> None:
    del settings.FEDLIB_SETTINGS
    settings.FEDLIB = _valid(tmp_path, saml_idp)
    settings.AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
    assert ids() == ["fedlib.W002"]
    site.on_login(lambda request, result: None)  # the application's own hook: no backend needed
    assert ids() == []


@pytest.mark.parametrize(
    "change",
    [{"strict": True}, {"sp": {"entity_id": SP_ID}}, {"idps": [{"metadata_file": "/nonexistent/idp.xml"}]}],
)
def test_fedlibs_own_settings_are_not_loaded_by_the_checks(
    tmp_path: Path, saml_idp: TestIdP, settings: Any, change: dict[str, Any]
) -> None:
    """The checks read Django's settings only (no file, no fetch, no store): fedlib's own settings are checked
    when they load, on first use, as before."""
    del settings.FEDLIB_SETTINGS
    settings.FEDLIB = {**_valid(tmp_path, saml_idp), **change}
    assert ids() == []


def test_a_session_middleware_subclass_and_a_tuple(tmp_path: Path, saml_idp: TestIdP, settings: Any) -> None:
    del settings.FEDLIB_SETTINGS
    settings.FEDLIB = _valid(tmp_path, saml_idp)
    settings.MIDDLEWARE = tuple(
        f"{__name__}.OwnSessionMiddleware" if "SessionMiddleware" in m else m for m in settings.MIDDLEWARE
    )
    settings.AUTHENTICATION_BACKENDS = (f"{__name__}.OwnBackend", "no.such.Backend")
    assert ids() == []


@pytest.mark.parametrize("value", [5, None, "django.contrib.sessions.middleware.SessionMiddleware", [1, None]])
def test_middleware_that_is_not_a_list(tmp_path: Path, saml_idp: TestIdP, settings: Any, value: object) -> None:
    del settings.FEDLIB_SETTINGS
    settings.FEDLIB = _valid(tmp_path, saml_idp)
    settings.MIDDLEWARE = value
    settings.AUTHENTICATION_BACKENDS = value
    assert ids() == ["fedlib.E005", "fedlib.W002"]


def test_without_django_contrib_auth(tmp_path: Path, saml_idp: TestIdP, settings: Any) -> None:
    """A project without the auth app (its own hooks) gets no traceback from the checks; with the default hook,
    W002 says the auth app is missing."""
    del settings.FEDLIB_SETTINGS
    settings.FEDLIB = _valid(tmp_path, saml_idp)
    settings.FEDLIB_USER = {"usrname": "x"}
    with modify_settings(INSTALLED_APPS={"remove": ["django.contrib.auth"]}):
        messages = run_checks(tags=["fedlib"])
        assert sorted(m.id for m in messages if m.id) == ["fedlib.E004", "fedlib.W002"]
        assert "django.contrib.auth is not in settings.INSTALLED_APPS" in next(
            m.msg for m in messages if m.id == "fedlib.W002"
        )
        site.on_login(lambda request, result: None)
        assert sorted(m.id for m in run_checks(tags=["fedlib"]) if m.id) == ["fedlib.E004"]


def test_manage_py_check_fails_on_an_error(settings: Any) -> None:
    settings.FEDLIB = {}
    with pytest.raises(SystemCheckError, match=r"fedlib\.E001"):
        call_command("check", tags=["fedlib"])


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["sp", "idps", "store", "tenants", "entity_id", "acs_url", "metadata_xml", "x"]),
            inner,
            max_size=3,
        )
    ),
    max_leaves=8,
)


@hypothesis_settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fedlib=_json, user=_json)
def test_any_settings_value_gives_messages_never_an_exception(settings: Any, fedlib: object, user: object) -> None:
    """Whatever the settings hold, the checks answer with messages of the documented ids."""
    del settings.FEDLIB_SETTINGS
    settings.FEDLIB = fedlib
    settings.FEDLIB_USER = user
    known = {
        "fedlib.E001",
        "fedlib.E002",
        "fedlib.E003",
        "fedlib.E004",
        "fedlib.E005",
        "fedlib.E010",
        "fedlib.W001",
        "fedlib.W002",
    }
    assert set(ids()) <= known
    settings.FEDLIB_SETTINGS = "/nonexistent/fedlib.toml"
