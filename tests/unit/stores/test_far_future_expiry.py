"""Far-future expiries (issue #8 section 5): an IdP may sign NotOnOrAfter="9999-12-31T23:59:59Z", and the
validation pipeline saturates the replay expiry at the last representable instant rather than overflowing.
Every backend must record such an entry and keep refusing the key, without an error."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fedlib.clock import LATEST_INSTANT
from fedlib.stores import MemoryStore, SQLiteStore, Store

NOW = datetime(2026, 11, 21, 12, 0, 0, tzinfo=UTC)


@pytest.fixture(params=["memory", "sqlite-file", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    s: Store
    if request.param == "memory":
        s = MemoryStore()
    elif request.param == "sqlite-file":
        s = SQLiteStore(tmp_path / "store.db")
    else:
        s = request.getfixturevalue("redis_server").store()
    yield s
    s.close()


@pytest.mark.parametrize("expires_at", [LATEST_INSTANT, datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)])
def test_far_future_expiry_is_recorded_and_holds(store: Store, expires_at: datetime) -> None:
    assert store.add("replay:far", expires_at=expires_at, now=NOW) is True
    assert store.add("replay:far", expires_at=expires_at, now=NOW) is False
    assert store.add("replay:far", expires_at=expires_at, now=NOW + timedelta(days=365 * 100)) is False
    assert store.consume("replay:far", now=NOW + timedelta(days=365 * 7000)) == ""
