"""`fedlib import-python3-saml`: through its own argparse registration (as fedlib.cli would wire it)."""

from __future__ import annotations

import argparse
import json
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from tests.unit.importers import python3_saml_fixture as fixture

from fedlib.cli import import_python3_saml
from fedlib.settings import load_settings_toml

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="fedlib")
    sub = parser.add_subparsers(dest="command", required=True)
    import_python3_saml.register(sub)
    args = parser.parse_args(["import-python3-saml", *argv])
    status: int = args.handler(args)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_prints_toml_that_reloads_and_the_report_on_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings, advanced = fixture.write(tmp_path)
    status, out, err = run(capsys, str(settings), "--advanced", str(advanced))
    assert status == 0
    assert "not honoured  security.wantMessagesSigned: false (python3-saml's default)" in err
    assert "not honoured  idp.x509certMulti.encryption" in err
    assert "note          IdP-initiated login" in err
    assert "warning" not in err
    (tmp_path / "fedlib.toml").write_text(out)
    tenant = load_settings_toml(tmp_path / "fedlib.toml", now=NOW).tenant()
    assert tenant.sp.entity_id == fixture.SP_ENTITY_ID
    assert tenant.sp.authn_requests_signed


def test_output_file_holding_a_key_is_private(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings, advanced = fixture.write(tmp_path)
    output = tmp_path / "fedlib.toml"
    output.write_text("old")
    output.chmod(0o644)
    status, out, err = run(capsys, str(settings), "--advanced", str(advanced), "--output", str(output))
    assert (status, out) == (0, "")
    assert "not honoured" in err
    assert stat.S_IMODE(output.stat().st_mode) == 0o600  # signing_key_pem inside
    assert load_settings_toml(output, now=NOW).tenant().sp.authn_requests_signed


def test_without_a_key_the_output_is_not_restricted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings, _ = fixture.write(tmp_path)
    (tmp_path / "advanced.json").write_text(json.dumps({"security": {"authnRequestsSigned": False}}))
    output = tmp_path / "out.toml"
    status, _, err = run(capsys, str(settings), "--advanced", str(tmp_path / "advanced.json"), "-o", str(output))
    assert status == 0
    assert "warning" not in err  # --advanced was given (another file than the one beside settings.json)
    assert stat.S_IMODE(output.stat().st_mode) & 0o044
    assert not load_settings_toml(output, now=NOW).tenant().sp.authn_requests_signed


def test_warns_about_an_advanced_settings_file_it_was_not_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings, _ = fixture.write(tmp_path)
    status, out, err = run(capsys, str(settings))
    assert status == 0
    assert out
    assert "advanced_settings.json exists but was not given (--advanced)" in err


def test_reads_the_certs_folder_beside_settings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = fixture.settings()
    data["sp"].update(x509cert="", x509certNew="", privateKey="")
    del data["idp"]["x509cert"], data["idp"]["x509certMulti"]
    (tmp_path / "settings.json").write_text(json.dumps(data))
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "sp.crt").write_bytes(fixture.sp_key().cert_pem)
    (tmp_path / "certs" / "sp.key").write_bytes(fixture.sp_key().key_pem)
    (tmp_path / "certs" / "idp.crt").write_bytes(fixture.placeholders()["IDP_CERT_PEM"].encode())
    (tmp_path / "adv.json").write_text(json.dumps({"security": {"authnRequestsSigned": True}}))
    output = tmp_path / "fedlib.toml"
    argv = [str(tmp_path / "settings.json"), "--advanced", str(tmp_path / "adv.json"), "-o", str(output)]
    status, _, err = run(capsys, *argv)
    assert status == 0, err
    assert f'signing_key = "{(tmp_path / "certs" / "sp.key").resolve()}"' in output.read_text()
    assert load_settings_toml(output, now=NOW).tenant().sp.authn_requests_signed


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not JSON"),
        ("[]", "hold one JSON object"),
        ('{"sp": {}}', "idp is required"),
    ],
)
def test_configuration_errors_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    (tmp_path / "settings.json").write_text(content)
    status, out, err = run(capsys, str(tmp_path / "settings.json"))
    assert (status, out) == (2, "")
    assert err.startswith("configuration error: ")
    assert message in err


def test_missing_files_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, str(tmp_path / "nope.json"))
    assert status == 2
    assert "cannot read" in err
    settings, _ = fixture.write(tmp_path)
    status, _, err = run(capsys, str(settings), "--certs-dir", str(tmp_path / "missing"))
    assert status == 2
    assert "is not a directory" in err
    status, _, err = run(capsys, str(settings), "--output", str(tmp_path / "no" / "dir.toml"))
    assert status == 2
    assert "cannot write" in err
