"""Packaging a user trusts (issue #12 §6): a licence, a changelog, ``fedlib --version``, no invented URLs,
signxml only in the ``testing`` extra."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

from fedlib.cli import main

ROOT = Path(__file__).resolve().parents[3]
SRC = str(ROOT / "src")
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_license_is_the_declared_apache_2() -> None:
    assert PYPROJECT["project"]["license"] == "Apache-2.0"
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text
    assert "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text


def test_license_file_ships_in_the_wheel() -> None:
    assert PYPROJECT["project"]["license-files"] == ["LICENSE"]
    # PEP 639 (an SPDX `license` string and `license-files`) needs setuptools 77; older ones refuse the file.
    assert "setuptools>=77" in PYPROJECT["build-system"]["requires"]


def test_changelog_names_the_current_version() -> None:
    text = (ROOT / "CHANGELOG.md").read_text()
    assert "## [Unreleased]" in text
    assert f"## [{PYPROJECT['project']['version']}]" in text


def test_no_placeholder_urls() -> None:
    for url in PYPROJECT["project"].get("urls", {}).values():
        assert "example" not in url, url
        assert "invalid" not in url, url
    assert "example.invalid" not in (ROOT / "pyproject.toml").read_text()


def test_signxml_only_in_the_testing_extra() -> None:
    deps = PYPROJECT["project"]["dependencies"]
    assert not any(d.startswith("signxml") for d in deps)
    assert any(d.startswith("signxml") for d in PYPROJECT["project"]["optional-dependencies"]["testing"])


def test_version_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"fedlib {metadata.version('fedlib')}"


def test_version_is_the_distribution_version() -> None:
    import fedlib

    assert fedlib.__version__ == metadata.version("fedlib")


def test_matrix_without_signxml_says_what_to_install() -> None:
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    code = "import sys; sys.modules['signxml'] = None; from fedlib.cli import main; sys.exit(main(['matrix']))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 2
    assert "pip install 'fedlib[testing]'" in done.stderr
    assert "Traceback" not in done.stderr
