"""examples/fastapi_app under uvicorn over real HTTP (app on 127.0.0.1, test IdPs on localhost): the same
self-check as the Flask demo (a login, the Entra-default 403, a Response from another browser refused)."""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from examples.fastapi_app.run import main


def test_fastapi_demo_self_check_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--check", "--port", "0"]) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    assert "SP-initiated login via the test IdP -> 200" in out
    assert "Response posted from another browser -> 403 browser-mismatch" in out
    assert "FAIL" not in out
