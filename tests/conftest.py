"""Suite-wide helpers. In CI (CI=true) a missing component is a failure, never a skip."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def require(condition: bool, what: str) -> None:
    """Skip locally, fail in CI, when a component the test needs is missing."""
    if condition:
        return
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{what} is missing (in CI a missing component is a failure, not a skip)")
    pytest.skip(f"{what} is missing")


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    require((SHARED / "interop" / "peers" / "manifest.json").is_file(), f"{SHARED} (the shared interop corpus)")
    return SHARED
