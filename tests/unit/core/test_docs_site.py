"""The docs site's generated pages (docs/gen/hooks.py, issue #12 §5). `make docs` builds the whole site
strictly (and `make test` runs it); these tests check the generators themselves, cheaply."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from tests.conftest import REPO

from fedlib.errors import ErrorCode
from fedlib.testing.profiles import PROFILES
from fedlib.testing.registration import REGISTRATIONS

# The IdPs issue #12 asks a setup guide for.
GUIDES = ("entra", "okta", "adfs", "google", "keycloak", "shibboleth", "pingfederate", "auth0", "onelogin",
          "salesforce", "simplesamlphp")  # fmt: skip


@pytest.fixture(scope="module")
def hooks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fedlib_docs_hooks", REPO / "docs" / "gen" / "hooks.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_code_has_a_section_in_its_family(hooks: ModuleType) -> None:
    page = hooks.error_codes_page((REPO / "docs" / "errors.md").read_text())
    headings = re.findall(r"^### `([a-z0-9-]+)`$", page, re.M)
    assert headings == sorted(headings, key=lambda c: [f.__name__ for f in hooks.FAMILIES].index(_family(c)))
    assert set(headings) == {c.value for c in ErrorCode}
    assert "../architecture.md#limits" in page  # the table's links, made relative to reference/


def _family(code: str) -> str:
    from fedlib.errors import reject

    return type(reject(ErrorCode(code), "")).__name__


def test_a_code_missing_from_the_table_fails_the_build(hooks: ModuleType) -> None:
    text = (REPO / "docs" / "errors.md").read_text()
    without = "\n".join(line for line in text.splitlines() if not line.startswith("| `replayed`"))
    with pytest.raises(ValueError, match="replayed"):
        hooks.error_codes_page(without)


def test_every_requested_idp_has_a_guide(hooks: ModuleType) -> None:
    pages = hooks.idp_pages()
    for name in GUIDES:
        assert name in PROFILES
        assert name in REGISTRATIONS
        page = pages[f"idp/{name}.md"]
        for section in ("## 1. Register fedlib's SP", "### Response signing", "### Certificate in KeyInfo",
                        "### No encryption", "## 3. Give fedlib the IdP's metadata"):  # fmt: skip
            assert section in page, (name, section)
        assert "Identifier (Entity ID)" in pages["idp/entra.md"]
    assert set(REGISTRATIONS) <= set(PROFILES)


def test_guides_follow_the_profile_data(hooks: ModuleType) -> None:
    """One source of truth: a default fedlib refuses says "Change this" with the profile's own setting."""
    pages = hooks.idp_pages()
    entra = pages["idp/entra.md"].split("### Response signing")[1].split("###")[0]
    assert "**Change this.**" in entra
    assert PROFILES["entra"].setting_for("signing").setting in entra  # type: ignore[union-attr]
    ping = pages["idp/pingfederate.md"].split("### Certificate in KeyInfo")[1].split("###")[0]
    assert "**Change this.**" in ping
    assert "Include the certificate in the signature &lt;KeyInfo> element" in ping
    shib = pages["idp/shibboleth.md"].split("### No encryption")[1].split("##")[0]
    assert "**Change this.**" in shib
    assert "encryptAssertions" in shib
    okta = pages["idp/okta.md"]
    assert okta.count("**Default: fine.**") == 3


def test_generated_pages_are_deterministic(hooks: ModuleType) -> None:
    assert hooks.idp_pages() == hooks.idp_pages()
    assert hooks.cli_page() == hooks.cli_page()


def test_cli_page_lists_every_subcommand(hooks: ModuleType) -> None:
    import argparse

    from fedlib.cli import build_parser

    page = hooks.cli_page()
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for name in sub.choices:
        assert f"## `fedlib {name}`" in page


def test_nav_lines_for_missing_pages_are_dropped(hooks: ModuleType, tmp_path: Path) -> None:
    (tmp_path / "index.md").write_text("# x\n")
    config: dict[str, Any] = {
        "docs_dir": str(tmp_path),
        "nav": [
            {"Home": "index.md"},
            {"Logout": "logout.md"},
            {"Reference": [{"Error codes": "reference/error-codes.md"}, {"Later": "later.md"}]},
            {"Only missing": [{"A": "a.md"}]},
        ],
    }
    assert hooks.on_config(config)["nav"] == [
        {"Home": "index.md"},
        {"Reference": [{"Error codes": "reference/error-codes.md"}]},
    ]


def test_mkdocs_nav_names_only_docs_pages() -> None:
    """Every nav line is a page in docs/, a generated one, or a page another branch is writing."""
    nav = re.findall(r":\s+([\w/.-]+\.md)\s*$", (REPO / "mkdocs.yml").read_text(), re.M)
    pending = {"metadata.md", "logout.md", "testing.md"}
    generated = {"cli.md", "reference/error-codes.md", "idp/index.md", *(f"idp/{n}.md" for n in GUIDES)}
    for page in nav:
        assert (REPO / "docs" / page).is_file() or page in generated | pending, page
