"""The harvested corpus (tests/vectors/harvested, see its README): Responses from real IdPs and other SAML
projects' test suites, in process through the CLI, under both signature-algorithm policies, and the probes
that change one parameter of an accepted case at a time."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fedlib.cli import main

HERE = Path(__file__).parent / "harvested"
MANIFEST: dict[str, Any] = json.loads((HERE / "manifest.json").read_text(encoding="utf-8"))
CASES: list[dict[str, Any]] = MANIFEST["cases"]
PROBES: list[dict[str, Any]] = MANIFEST["probes"]


def _check(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    status = main(["check-response", *argv])
    return status, json.loads(capsys.readouterr().out)


def _case_argv(case: dict[str, Any], *, allow_sha1: bool) -> list[str]:
    cli = case["cli"]
    argv = [str(HERE / case["file"]), "--sp-entity-id", cli["sp_entity_id"], "--acs-url", cli["acs_url"]]
    argv += ["--idp-metadata", str(HERE / cli["idp_metadata"]), "--now", cli["now"], "--json"]
    if cli.get("request_id") is not None:
        argv += ["--request-id", cli["request_id"]]
    return [*argv, "--allow-sha1"] if allow_sha1 else argv


@pytest.mark.filterwarnings("ignore:Parsed a serial number")
@pytest.mark.parametrize("allow_sha1", [False, True], ids=["default", "allow-sha1"])
@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_case(case: dict[str, Any], allow_sha1: bool, capsys: pytest.CaptureFixture[str]) -> None:
    expect = case["allow_sha1" if allow_sha1 else "default"]
    status, doc = _check(_case_argv(case, allow_sha1=allow_sha1), capsys)
    if expect["outcome"] == "accepted":
        assert status == 0, doc
        assert doc["name_id"] == expect["name_id"]
    else:
        assert status == 1, doc
        assert doc["error"] == expect["code"], doc


@pytest.mark.filterwarnings("ignore:Parsed a serial number")
@pytest.mark.parametrize("probe", PROBES, ids=[f"{p['id']}-{p['mutation']}-{p['allow_sha1']}" for p in PROBES])
def test_probe(probe: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    argv = [str(HERE / a) if a.startswith(("responses/", "metadata/")) else a for a in probe["argv"]]
    status, doc = _check(argv, capsys)
    assert status == 1, doc
    assert doc["error"] == probe["code"], doc


def test_every_accepted_case_is_probed() -> None:
    accepted = {
        (c["id"], sha1)
        for c in CASES
        for sha1 in (False, True)
        if c["allow_sha1" if sha1 else "default"]["outcome"] == "accepted"
    }
    probed = {(p["id"], p["allow_sha1"]) for p in PROBES}
    assert accepted == probed
    assert len(CASES) == 50


def test_the_cli_prints_no_python_warning_for_a_real_certificate(tmp_path: Path) -> None:
    """Found by the attacker review: samael's IdP certificate has a serial number that is not positive, and
    cryptography warns about it (CryptographyDeprecationWarning) on stderr; the CLI's output is its own."""
    import subprocess
    import sys

    case = next(c for c in CASES if c["id"] == "samael-response-signed")
    argv = [sys.executable, "-m", "fedlib", "check-response", *_case_argv(case, allow_sha1=True)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done
    assert done.stderr == ""
    assert json.loads(done.stdout)["ok"] is True
