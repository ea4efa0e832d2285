"""``write_atomically`` (the metadata backing file): the old or the new file, never a partial one, and the
rename itself made durable (the directory is fsync'd after it, or a power cut may bring back the old name)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from fedlib.federation.sources import write_atomically


def test_replaces_the_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "idp.xml"
    target.write_bytes(b"old")
    write_atomically(target, b"new")
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["idp.xml"]


def test_the_file_then_its_directory_are_fsynced_after_the_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[tuple[str, bool]] = []  # (what, the target already renamed into place)
    real_fsync = os.fsync
    target = tmp_path / "idp.xml"

    def fsync(fd: int) -> None:
        kind = "directory" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file"
        synced.append((kind, target.exists()))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    write_atomically(target, b"data")
    assert synced == [("file", False), ("directory", True)]


def test_a_failed_write_removes_the_temporary_and_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "idp.xml"
    target.write_bytes(b"old")

    def failing_replace(src: str, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        write_atomically(target, b"new")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["idp.xml"]
