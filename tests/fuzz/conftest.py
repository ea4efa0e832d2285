"""Every test under tests/fuzz carries the ``fuzz`` marker (``make fuzz`` selects them with ``-m fuzz``),
and fedlib's per-message warnings (one per dropped RelayState, refused login...) are silenced there: the
targets produce hundreds of thousands of them in a long run, and the assertions are on return values."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

_HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.fuzz)


@pytest.fixture(autouse=True, scope="module")  # not per function: hypothesis re-runs a test body
def _quiet_fedlib_logs() -> Iterator[None]:
    loggers = [logging.getLogger(name) for name in ("fedlib", "fedlib.flask")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR + 10)  # the Flask handler logs a fedlib bug at ERROR: kept silent too
    yield
    for logger, level in zip(loggers, levels, strict=True):
        logger.setLevel(level)
