"""The CLI's exit contract holds on every failure (issue #8 §5): 0 accepted, 1 rejected, 2 usage /
configuration / store error, 3 internal error, 141 stdout closed early; with ``--json`` one JSON object on
stdout in every case; never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from tests.support import ACS, SP_ID, World

from fedlib.cli import main
from fedlib.errors import ConfigurationError, ErrorCode, StoreError, reject

SRC = str(Path(__file__).resolve().parents[2] / "src")


def cli(*argv: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop("FEDLIB_TRACEBACK", None)
    return subprocess.run(
        [sys.executable, "-m", "fedlib", *argv], capture_output=True, env=env, input=stdin, check=False, timeout=120
    )


def check_args(md: Path, resp: Path) -> list[str]:
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


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    w = World()
    md = tmp_path / "idp.xml"
    md.write_bytes(w.metadata_xml)
    resp = tmp_path / "resp.xml"
    resp.write_bytes(w.mint())
    return md, resp


def test_store_that_cannot_be_opened_is_a_store_error_exit_2(files: tuple[Path, Path]) -> None:
    done = cli(*check_args(*files), "--store", "sqlite:////nonexistent/x.db", "--json")
    assert done.returncode == 2, done.stderr
    assert b"Traceback" not in done.stderr
    doc = json.loads(done.stdout)
    assert doc["ok"] is False
    assert doc["error"] == "store-error"


def test_store_that_cannot_be_opened_without_json(files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*check_args(*files), "--store", "sqlite:////nonexistent/x.db"]) == 2
    assert capsys.readouterr().out.startswith("store error:")


@pytest.mark.parametrize("now", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59Z"])
def test_now_out_of_range_is_a_configuration_error(files: tuple[Path, Path], capsys, now: str) -> None:
    status = main([*check_args(*files), "--json", "--now", now])
    assert status == 2
    assert json.loads(capsys.readouterr().out)["error"] == "configuration-error"


def test_non_utf8_matrix_file_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "m.toml"
    config.write_bytes(b"[applications.web]\nname = 'caf\xe9'\n")
    done = cli("matrix", "--config", str(config))
    assert done.returncode == 2
    assert b"Traceback" not in done.stderr
    assert b"not UTF-8" in done.stderr


def test_non_utf8_python3_saml_key_exit_2(tmp_path: Path) -> None:
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "sp.key").write_bytes(b"-----BEGIN PRIVATE KEY-----\n\xff\xfe\n")
    (tmp_path / "settings.json").write_text(json.dumps({"sp": {}, "idp": {}, "security": {}}))
    done = cli("import-python3-saml", str(tmp_path / "settings.json"))
    assert done.returncode == 2, done.stderr
    assert b"Traceback" not in done.stderr


def test_closed_stdout_exits_quietly() -> None:
    """`fedlib matrix | true`: the reader is gone before the output is written."""
    env = {**os.environ, "PYTHONPATH": SRC}
    env.pop("FEDLIB_TRACEBACK", None)
    read_end, write_end = os.pipe()
    os.close(read_end)  # nobody will ever read: the first write gets EPIPE
    try:
        done = subprocess.run(
            [sys.executable, "-m", "fedlib", "matrix", "--format", "json"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            env=env,
            check=False,
            timeout=300,
        )
    finally:
        os.close(write_end)
    assert done.returncode == 141
    assert done.stderr == b""


def test_usage_error_with_json_prints_the_object(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["check-response", "--json"])
    assert info.value.code == 2
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is False
    assert doc["error"] == "configuration-error"


def test_internal_error_is_one_line_exit_3(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fedlib bug (here a forced one) never prints a traceback and keeps the --json object."""

    def boom(*args: object, **kwargs: object) -> None:
        raise OverflowError("date value out of range")

    monkeypatch.delenv("FEDLIB_TRACEBACK", raising=False)
    monkeypatch.setattr("fedlib.cli.check_response.validate_response", boom)
    assert main([*check_args(*files), "--json"]) == 3
    captured = capsys.readouterr()
    assert json.loads(captured.out) == {
        "ok": False,
        "error": "internal-error",
        "message": json.loads(captured.out)["message"],
    }
    assert "Traceback" not in captured.err
    assert main(check_args(*files)) == 3
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert "internal error (OverflowError)" in captured.err


def test_help_documents_the_exit_statuses(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "3 internal error" in out
    assert "141" in out


def test_far_future_not_on_or_after_is_not_an_internal_error(tmp_path: Path) -> None:
    w = World()
    end = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    md = tmp_path / "idp.xml"
    md.write_bytes(w.metadata_xml)
    resp = tmp_path / "resp.xml"
    resp.write_bytes(w.mint(not_on_or_after=end, subject_not_on_or_after=end))
    done = cli(*check_args(md, resp), "--json")
    assert b"Traceback" not in done.stderr
    assert done.returncode in (0, 1)


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (StoreError("down"), 2, "store-error"),
        (ConfigurationError("bad"), 2, "configuration-error"),
        (reject(ErrorCode.MALFORMED_XML, "junk"), 1, "malformed-xml"),
    ],
)
def test_typed_errors_escaping_a_subcommand_keep_the_contract(
    files: tuple[Path, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    error: Exception,
    status: int,
    code: str,
) -> None:
    def run(args: object) -> int:
        raise error

    monkeypatch.setattr("fedlib.cli.check_response.run", run)
    assert main([*check_args(*files), "--json"]) == status
    assert json.loads(capsys.readouterr().out)["error"] == code
