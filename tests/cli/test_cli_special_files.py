"""Paths the CLI reads and writes may name anything: ``/dev/zero`` (read whole, it filled memory: 2.2 GB in
3 s), a FIFO without a writer or an output FIFO without a reader (``open`` waited forever), a directory.
Each is a typed refusal (exit 2) in bounded time; a pipe with a writer (process substitution) still reads.
Each test runs the CLI in a subprocess with a timeout, so that a regression hangs no test run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.support import ACS, SP_ID

from fedlib._files import open_for_writing, read_file
from fedlib.errors import ConfigurationError
from fedlib.testing import default_key, idp_metadata_xml

TIMEOUT = 60  # far above the CLI's start-up; a hang shows as a failure, not a stuck run


def fedlib(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "fedlib", *args],
        input=stdin,
        capture_output=True,
        timeout=TIMEOUT,
        check=False,
    )


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "fifo"
    os.mkfifo(path)
    return path


def _check_response(file: str, metadata: str) -> list[str]:
    return ["check-response", file, "--sp-entity-id", SP_ID, "--acs-url", ACS, "--idp-metadata", metadata]


@pytest.mark.parametrize("special", ["/dev/zero", "fifo", "directory"])
@pytest.mark.parametrize("where", ["check-metadata", "check-response file", "check-response --idp-metadata",
                                   "metadata --cert", "matrix --config"])  # fmt: skip
def test_a_special_file_is_refused_not_read_forever(tmp_path: Path, fifo: Path, special: str, where: str) -> None:
    path = {"/dev/zero": "/dev/zero", "fifo": str(fifo), "directory": str(tmp_path)}[special]
    metadata = tmp_path / "idp.xml"
    metadata.write_bytes(
        idp_metadata_xml("https://idp.example/", [default_key().certificate], sso_url="https://idp.example/sso")
    )
    args = {
        "check-metadata": ["check-metadata", path],
        "check-response file": _check_response(path, str(metadata)),
        "check-response --idp-metadata": _check_response(str(metadata), path),
        "metadata --cert": ["metadata", "--entity-id", SP_ID, "--acs-url", ACS, "--cert", path],
        "matrix --config": ["matrix", "--profiles-only", "--config", path],
    }[where]
    result = fedlib(*args)
    assert result.returncode in (1, 2), result.stderr
    assert b"Traceback" not in result.stderr
    # /dev/zero and a directory: not read at all; a FIFO without a writer: read as empty at once, and refused
    # for what an empty input is to that command.
    said = result.stdout + result.stderr
    assert said.strip(), "a refusal says why"
    if special != "fifo":
        assert b"not a regular file" in said, said


def test_standard_input_is_read_up_to_its_cap(tmp_path: Path) -> None:
    metadata = tmp_path / "idp.xml"
    metadata.write_bytes(
        idp_metadata_xml("https://idp.example/", [default_key().certificate], sso_url="https://idp.example/sso")
    )
    result = fedlib(*_check_response("-", str(metadata)), stdin=b"A" * (65 * 1024 * 1024))
    assert result.returncode == 2
    assert b"larger than" in result.stdout + result.stderr


def test_an_output_fifo_without_a_reader_is_refused(tmp_path: Path, fifo: Path) -> None:
    result = fedlib("metadata", "--entity-id", SP_ID, "--acs-url", ACS, "--output", str(fifo))
    assert result.returncode == 2
    assert b"cannot write" in result.stderr


def test_read_file_reads_a_pipe_with_a_writer() -> None:
    # What process substitution (``--idp-metadata <(curl ...)``) hands the CLI: /dev/fd/N, a pipe.
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, b"<x/>" * 1000)
        os.close(write_end)
        write_end = -1
        assert read_file(f"/dev/fd/{read_end}", limit=1 << 20) == b"<x/>" * 1000
    finally:
        os.close(read_end)
        if write_end != -1:
            os.close(write_end)


def test_a_fifo_without_a_writer_reads_as_empty_at_once(fifo: Path) -> None:
    assert read_file(str(fifo), limit=10) == b""


def test_read_file_caps_and_refuses_with_configuration_errors(tmp_path: Path) -> None:
    big = tmp_path / "big"
    big.write_bytes(b"x" * 1025)
    assert read_file(str(big), limit=1025) == b"x" * 1025
    with pytest.raises(ConfigurationError, match="larger than 1,024 bytes"):
        read_file(str(big), limit=1024)
    with pytest.raises(ConfigurationError, match="not a regular file"):
        read_file("/dev/null", limit=10)
    with pytest.raises(ConfigurationError, match="cannot read"):
        read_file(str(tmp_path / "missing"), limit=10)
    with pytest.raises(ConfigurationError, match="not a file name"):
        read_file("a\0b", limit=10)


def test_open_for_writing_never_changes_a_device_mode(tmp_path: Path) -> None:
    before = os.stat("/dev/null").st_mode
    with open_for_writing("/dev/null", private=True) as fh:
        fh.write(b"x")
    assert os.stat("/dev/null").st_mode == before
    private = tmp_path / "key.pem"
    private.write_bytes(b"old")
    private.chmod(0o644)
    with open_for_writing(str(private), private=True) as fh:
        fh.write(b"new")
    assert private.read_bytes() == b"new"
    assert private.stat().st_mode & 0o777 == 0o600
