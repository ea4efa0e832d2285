"""The `fedlib check-response` contract (external harnesses depend on it: keep it exactly)."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest
from tests.support import ACS, REQUEST_ID, SP_ID, World

from fedlib.cli import main


@pytest.fixture
def files(tmp_path: Path) -> tuple[World, Path, Path]:
    w = World()
    md = tmp_path / "idp.xml"
    md.write_bytes(w.metadata_xml)
    resp = tmp_path / "resp.xml"
    resp.write_bytes(w.mint(attributes={"mail": ["a@example.com"], "g": ["x", "y"]}))
    return w, md, resp


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    status = main(list(argv))
    return status, capsys.readouterr().out


def base_args(md: Path, resp: Path) -> list[str]:
    return [
        "check-response",
        str(resp),
        "--sp-entity-id",
        SP_ID,
        "--acs-url",
        ACS,
        "--idp-metadata",
        str(md),
        "--now",
        "2026-11-21T12:00:00Z",
    ]


def test_accept_json_shape(files, capsys) -> None:
    _, md, resp = files
    status, out = run(capsys, *base_args(md, resp), "--json")
    assert status == 0
    doc = json.loads(out)
    assert set(doc) == {"ok", "issuer", "name_id", "name_id_format", "session_index", "in_response_to", "attributes"}
    assert doc["ok"] is True
    assert doc["name_id"] == "alice@example.com"
    assert doc["attributes"] == {"mail": ["a@example.com"], "g": ["x", "y"]}


def test_base64_file_is_autodetected(files, capsys, tmp_path) -> None:
    _, md, resp = files
    b64 = tmp_path / "resp.b64"
    b64.write_bytes(base64.encodebytes(resp.read_bytes()))
    assert run(capsys, *base_args(md, b64), "--json")[0] == 0


def test_reject_json_shape_and_exit_1(files, capsys) -> None:
    _, md, resp = files
    status, out = run(capsys, *base_args(md, resp), "--json", "--request-id", REQUEST_ID)
    assert status == 1
    doc = json.loads(out)
    assert doc == {"ok": False, "error": "missing-in-response-to", "message": doc["message"]}
    assert doc["message"]


def test_readable_report(files, capsys) -> None:
    _, md, resp = files
    status, out = run(capsys, *base_args(md, resp))
    assert status == 0
    assert out.startswith("ACCEPTED")
    assert "alice@example.com" in out
    status, out = run(capsys, *base_args(md, resp)[:-2], "--now", "2030-01-01T00:00:00Z")
    assert status == 1
    assert out.startswith("REJECTED  expired")


@pytest.mark.parametrize(
    "extra",
    [["--now", "not-a-time"], ["--clock-skew", "-5"], ["--store", "bogus://x"], ["--idp-metadata", "/nonexistent"]],
)
def test_configuration_errors_exit_2(files, capsys, extra) -> None:
    _, md, resp = files
    status, out = run(capsys, *base_args(md, resp), *extra, "--json")
    assert status == 2
    assert json.loads(out)["ok"] is False


def test_bad_metadata_exit_2(files, capsys, tmp_path) -> None:
    _, _, resp = files
    md = tmp_path / "bad.xml"
    md.write_text("<nope/>")
    assert run(capsys, *base_args(md, resp))[0] == 2


def test_usage_error_exit_2(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["check-response"])
    assert info.value.code == 2


def test_replay_across_processes_with_sqlite(files, tmp_path) -> None:
    _, md, resp = files
    store = f"sqlite:///{tmp_path}/replay.db"
    cmd = [sys.executable, "-m", "fedlib", *base_args(md, resp), "--store", store, "--json"]
    first = subprocess.run(cmd, capture_output=True, text=True, check=False)
    second = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert first.returncode == 0, first.stdout + first.stderr
    assert second.returncode == 1
    assert json.loads(second.stdout)["error"] == "replayed"


def test_allow_sha1_flag(capsys, tmp_path) -> None:
    w = World()
    md = tmp_path / "idp.xml"
    md.write_bytes(w.metadata_xml)
    resp = tmp_path / "r.xml"
    resp.write_bytes(w.mint(signature_algorithm="rsa-sha1", digest_algorithm="sha1"))
    assert json.loads(run(capsys, *base_args(md, resp), "--json")[1])["error"] == "weak-algorithm"
    assert run(capsys, *base_args(md, resp), "--json", "--allow-sha1")[0] == 0
