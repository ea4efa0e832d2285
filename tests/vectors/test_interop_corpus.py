"""Every case of the shared interop corpus (../shared/interop/peers), in process, through the CLI.

The corpus holds Responses produced by real IdPs (Okta, Google, Entra ID, AD FS, Shibboleth, ...), taken
from other projects' public test suites; its README gives each file's source and licence. The same cases
also run through `run.py` as a subprocess in `make test`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import SHARED

from fedlib.cli import main

MANIFEST = SHARED / "interop" / "peers" / "manifest.json"
CASES: list[dict[str, Any]] = json.loads(MANIFEST.read_text())["cases"] if MANIFEST.is_file() else []


def _argv(case: dict[str, Any], peers: Path, *, allow_sha1: bool, store: str | None = None) -> list[str]:
    cli = case["cli"]
    argv = [
        "check-response",
        str(peers / case["file"]),
        "--sp-entity-id",
        cli["sp_entity_id"],
        "--acs-url",
        cli["acs_url"],
        "--idp-metadata",
        str(peers / cli["idp_metadata"]),
        "--now",
        cli["now"],
        "--json",
    ]
    if cli.get("request_id") is not None:
        argv += ["--request-id", cli["request_id"]]
    if allow_sha1:
        argv.append("--allow-sha1")
    if store:
        argv += ["--store", store]
    return argv


@pytest.mark.interop
@pytest.mark.filterwarnings("ignore:Parsed a serial number")
@pytest.mark.parametrize("allow_sha1", [False, True], ids=["default", "allow-sha1"])
@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_case(case: dict[str, Any], allow_sha1: bool, shared_dir: Path, tmp_path: Path, capsys) -> None:
    peers = shared_dir / "interop" / "peers"
    expect = case.get("if_sha1_allowed", case) if allow_sha1 else case
    store = f"sqlite:///{tmp_path}/replay.db" if case.get("replay") else None
    status = main(_argv(case, peers, allow_sha1=allow_sha1, store=store))
    doc = json.loads(capsys.readouterr().out)
    if case.get("replay"):
        assert status == 0, doc
        status = main(_argv(case, peers, allow_sha1=allow_sha1, store=store))
        doc = json.loads(capsys.readouterr().out)
    if expect["expected"] == "accept":
        assert status == 0, doc
        assert doc["name_id"].strip() == case["expected_name_id"].strip()
    else:
        assert status == 1, doc
        assert doc["error"] in expect["acceptable_errors"], doc


def test_corpus_is_present(shared_dir: Path) -> None:
    assert len(CASES) == 76
