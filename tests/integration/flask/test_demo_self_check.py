"""``make demo``'s self-check over real HTTP (app on 127.0.0.1, test IdPs on localhost): a normal login, the
Entra-default 403, and a Response posted from another browser refused as ``browser-mismatch``."""

from __future__ import annotations

from pathlib import Path

import pytest
from examples.flask_app.run import self_check
from examples.flask_app.stack import build_stack


def test_demo_self_check_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack = build_stack(tmp_path)
    stack.start()
    try:
        assert self_check(stack), capsys.readouterr().out
    finally:
        stack.stop()
    out = capsys.readouterr().out
    assert "Response posted from another browser -> 403 browser-mismatch" in out
    assert "FAIL" not in out
