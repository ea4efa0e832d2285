"""fedlib.testing.realidp without starting an IdP: the PHP literals its SimpleSAMLphp config is written
with, the LoginClient's form reading, the CI rule for missing products, argument checks."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.conftest import require_real_idp

from fedlib.testing.realidp import KINDS, RealIdPError, start_idp
from fedlib.testing.realidp.client import _Forms
from fedlib.testing.realidp.simplesamlphp import php

PHP = shutil.which("php")
_text = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=40)


def test_php_literals() -> None:
    assert php(None) == "null"
    assert php(True) == "true"
    assert php(7) == "7"
    assert php("it's a \\ test") == "'it\\'s a \\\\ test'"
    assert php({"a": [1, "b"]}) == "[\n    'a' => [\n        1,\n        'b',\n    ],\n]"
    with pytest.raises(TypeError):
        php(1.5)


@pytest.mark.skipif(PHP is None, reason="php is not installed")
@settings(max_examples=25, deadline=None)
@given(st.lists(_text, max_size=5), st.dictionaries(_text.map(lambda k: "k" + k), _text, max_size=4))
def test_php_literal_round_trips_through_php(values: list[str], mapping: dict[str, str]) -> None:
    """Whatever a string holds (quotes, backslashes, `?>`, PHP code), PHP reads back exactly that string:
    a config value can never become code."""
    literal = php({"values": values, "mapping": mapping})
    code = f"echo json_encode({literal});"
    out = subprocess.run([PHP or "php", "-r", code], capture_output=True, check=True, timeout=30).stdout
    back = json.loads(out)
    assert back["values"] == values
    assert (back["mapping"] or {}) == mapping  # keys never numeric ("k" prefix); an empty array is []


def test_login_form_reader_keeps_inputs_not_buttons() -> None:
    forms = _Forms()
    forms.feed(
        "<form action='/login'><input type='hidden' name='AuthState' value='a&amp;b'>"
        "<input name='username'><input type='password' name='password'>"
        "<input type='submit' name='go' value='Login'><button name='b' value='x'>B</button></form>"
        "<form method='post' action='https://sp/acs'><input type='hidden' name='SAMLResponse' value='PHI+'></form>"
    )
    assert forms.forms == [
        ("/login", {"AuthState": "a&b", "username": "", "password": ""}),
        ("https://sp/acs", {"SAMLResponse": "PHI+"}),
    ]


def test_unknown_kind_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown IdP kind"):
        start_idp("shibboleth", tmp_path, b"<x/>")  # type: ignore[arg-type]


def test_missing_product_is_a_real_idp_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import fedlib.testing.realidp.base as base

    monkeypatch.setattr(base, "available_idps", lambda: dict.fromkeys(KINDS, "not installed"))
    with pytest.raises(RealIdPError, match="missing: not installed"):
        start_idp("pysaml2", tmp_path, b"<x/>")


@pytest.mark.parametrize("ci", ["true", ""])
def test_missing_real_idp_fails_in_ci_and_skips_locally(monkeypatch: pytest.MonkeyPatch, ci: str) -> None:
    import fedlib.testing.realidp as realidp

    monkeypatch.setenv("CI", ci)
    monkeypatch.setattr("tests.conftest.REAL_IDPS_RAN", {})  # keep this run's summary truthful
    monkeypatch.setattr(realidp, "available_idps", lambda: dict.fromkeys(KINDS, "not installed"))
    expected = pytest.fail.Exception if ci else pytest.skip.Exception
    with pytest.raises(expected, match="not installed"):
        require_real_idp("pysaml2")
