"""Docs that must not go stale: every error code is documented."""

from __future__ import annotations

from tests.conftest import REPO

from fedlib.errors import ErrorCode


def test_every_error_code_is_documented() -> None:
    text = (REPO / "docs" / "errors.md").read_text()
    rows = {line.split("|")[1].strip().strip("`") for line in text.splitlines() if line.startswith("| `")}
    assert rows == {code.value for code in ErrorCode}
