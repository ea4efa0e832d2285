"""examples/django_app over real HTTP (app on 127.0.0.1, test IdPs on localhost): the same self-check as the
Flask and FastAPI demos. In a subprocess: the example configures Django with its own settings module, and
this directory's conftest has already configured Django for the adapter tests in this process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_django_demo_self_check_passes() -> None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]))
    env.pop("DJANGO_SETTINGS_MODULE", None)
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples/django_app/run.py"), "--check", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SP-initiated login via the test IdP -> 200" in done.stdout
    assert "Entra ID defaults -> 403 assertion-only-signature" in done.stdout
    assert "Response posted from another browser -> 403 browser-mismatch" in done.stdout
    assert "FAIL" not in done.stdout
