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


# ---- real IdPs (fedlib.testing.realidp) ------------------------------------------------------------

REAL_IDPS_RAN: dict[str, str] = {}
"""Real IdP kind -> what ran (product and version) or why it did not; printed at the end of every run."""


def debian_major() -> int | None:
    try:
        return int(Path("/etc/debian_version").read_text().split(".")[0])
    except (OSError, ValueError):
        return None


def require_real_idp(kind: str) -> None:
    """Skip (locally) or fail (CI) when the real IdP ``kind`` cannot run here.

    SimpleSAMLphp is expected only on Debian 12 (Debian 13 does not ship it; elsewhere it is skipped even
    in CI); pysaml2's IdP is expected everywhere (``make test`` builds its venv). So in CI having neither
    is always a failure.
    """
    from fedlib.testing.realidp import available_idps

    why = available_idps()[kind]  # type: ignore[index]
    if why is None:
        return
    REAL_IDPS_RAN.setdefault(kind, f"not run: {why}")
    if kind == "simplesamlphp" and debian_major() != 12:
        pytest.skip(f"SimpleSAMLphp is not expected here (Debian 12 only): {why}")
    require(False, f"the real IdP {kind} ({why})")


def note_real_idp(kind: str, product: str) -> None:
    """Record that the real IdP ``kind`` ran (the terminal summary names it)."""
    REAL_IDPS_RAN[kind] = f"ran {product}"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if REAL_IDPS_RAN:
        terminalreporter.section("real IdPs")
        for kind, what in sorted(REAL_IDPS_RAN.items()):
            terminalreporter.write_line(f"{kind}: {what}")
