"""The Django system checks of fedlib.integrations.django (tag "fedlib"): a deployment mistake shows at
``manage.py check`` with a stable id, not only as the first SAML request's ConfigurationError."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from fedlib.integrations.django.site import site
from fedlib.testing.idp import TestIdP

SP_ID = "https://sp.example.test/saml/metadata"
ACS = "https://sp.example.test/saml/acs"


@pytest.fixture(autouse=True)
def fresh_site() -> Iterator[None]:
    site.reset()
    yield
    site.reset()


def ids(*, deploy: bool = False) -> list[str]:
    return sorted(m.id for m in run_checks(tags=["fedlib"], include_deployment_checks=deploy) if m.id)


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
    assert ids(deploy=True) == []


def test_the_same_from_a_toml_file(tmp_path: Path, saml_idp: TestIdP, settings: Any) -> None:
    (tmp_path / "idp.xml").write_bytes(saml_idp.metadata_xml())
    (tmp_path / "fedlib.toml").write_text(
        f'store = "memory://"\n[sp]\nentity_id = "{SP_ID}"\nacs_url = "{ACS}"\n[[idps]]\nmetadata_file = "idp.xml"\n'
    )
    settings.FEDLIB_SETTINGS = tmp_path / "fedlib.toml"  # a Path, as BASE_DIR / "fedlib.toml" gives
    assert ids(deploy=True) == []


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
    assert ids(deploy=True) == []


def test_fedlib_not_a_mapping(settings: Any) -> None:
    del settings.FEDLIB_SETTINGS
    settings.FEDLIB = ["sp"]
    assert ids(deploy=True) == ["fedlib.E002"]


@pytest.mark.parametrize("path", ["/nonexistent/fedlib.toml", "/", "x\0y", 42])
def test_fedlib_settings_not_a_file(settings: Any, path: object) -> None:
    settings.FEDLIB_SETTINGS = path
    assert ids(deploy=True) == ["fedlib.E003"]


@pytest.mark.parametrize("value", [["username"], {"usrname": "mail"}])
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
    ("change", "message"),
    [
        ({"strict": True}, "strict"),
        ({"sp": {"entity_id": SP_ID}}, "acs_url"),
        ({"idps": [{"metadata_file": "/nonexistent/idp.xml"}]}, "idp.xml"),
        ({"idps": [{"metadata_xml": "<not metadata"}]}, "metadata"),
    ],
)
def test_settings_that_do_not_load_are_reported_by_the_deploy_check(
    tmp_path: Path, saml_idp: TestIdP, settings: Any, change: dict[str, Any], message: str
) -> None:
    del settings.FEDLIB_SETTINGS
    settings.FEDLIB = {**_valid(tmp_path, saml_idp), **change}
    assert ids() == []  # reading the settings only: nothing loaded
    found = [m for m in run_checks(tags=["fedlib"], include_deployment_checks=True) if m.id == "fedlib.E010"]
    assert len(found) == 1
    assert message in found[0].msg


def test_a_toml_file_that_is_not_toml(tmp_path: Path, settings: Any) -> None:
    (tmp_path / "fedlib.toml").write_text("[sp\n")
    settings.FEDLIB_SETTINGS = str(tmp_path / "fedlib.toml")
    assert ids(deploy=True) == ["fedlib.E010"]


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
    assert set(ids(deploy=True)) <= known
    settings.FEDLIB_SETTINGS = "/nonexistent/fedlib.toml"
