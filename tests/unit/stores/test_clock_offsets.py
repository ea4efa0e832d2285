"""Workers whose clocks disagree share one store: nobody's purge (or TTL) deletes what another still needs.

Issue #8 section 7: a worker whose clock is ahead considers an entry expired earlier than a worker whose
clock is behind. Its opportunistic purge (SQLiteStore.add, MemoryStore.add) or a Redis TTL computed from
its clock must not delete the entry while the other worker would still accept a copy of the assertion.
The promise (fedlib.stores.base): nothing is physically removed before expires_at + clock_tolerance.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fedlib.config import MAX_CLOCK_SKEW
from fedlib.errors import StoreError
from fedlib.stores import MemoryStore, RedisStore, SQLiteStore, Store
from fedlib.stores.base import DEFAULT_CLOCK_TOLERANCE

T0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)
# (how far the ahead worker's clock is ahead of the behind worker's): +31 s against -31 s is 62 s apart
OFFSETS = [31 * SECOND, 62 * SECOND, timedelta(minutes=10), MAX_CLOCK_SKEW]


def test_default_tolerance_covers_every_allowed_skew() -> None:
    assert DEFAULT_CLOCK_TOLERANCE >= MAX_CLOCK_SKEW


def _two_sqlite_workers(path: Path, **kwargs: Any) -> tuple[SQLiteStore, SQLiteStore]:
    return SQLiteStore(path, purge_batch=1000, **kwargs), SQLiteStore(path, purge_batch=1000, **kwargs)


def _ahead_worker_does_everything_it_can(ahead: Store, now_ahead: datetime, expires: datetime) -> None:
    """The ahead worker (for which the entry expired) adds other keys (each add purges a batch), re-adds
    nothing it does not own, and runs the maintenance purge if the backend has one."""
    assert now_ahead >= expires  # the entry is expired on this worker's clock
    for i in range(3):
        assert ahead.add(f"other-{i}", expires_at=now_ahead + timedelta(minutes=10), now=now_ahead)
    purge = getattr(ahead, "purge_expired", None)
    if purge is not None:
        purge(now=now_ahead)


@pytest.mark.parametrize("offset", OFFSETS, ids=str)
@pytest.mark.parametrize("writer", ["ahead", "behind"])
def test_sqlite_ahead_worker_purge_keeps_entry_behind_worker_needs(
    tmp_path: Path, offset: timedelta, writer: str
) -> None:
    ahead, behind = _two_sqlite_workers(tmp_path / "shared.db")
    try:
        expires = T0 + MAX_CLOCK_SKEW + timedelta(minutes=8)  # NotOnOrAfter + skew of an accepted assertion
        first = ahead if writer == "ahead" else behind
        first_now = T0 + (offset if writer == "ahead" else timedelta(0))
        assert first.add("replay:assertion", expires_at=expires, now=first_now)
        # real time passes until the behind worker's clock is 1 s short of expires_at
        now_behind = expires - SECOND
        now_ahead = now_behind + offset
        _ahead_worker_does_everything_it_can(ahead, now_ahead, expires)
        # the behind worker would still accept the assertion: it must find the entry (replay refused)
        assert behind.add("replay:assertion", expires_at=expires, now=now_behind) is False
    finally:
        ahead.close()
        behind.close()


@pytest.mark.parametrize("offset", OFFSETS, ids=str)
def test_sqlite_pending_request_survives_the_ahead_worker(tmp_path: Path, offset: timedelta) -> None:
    """Other users of the store too: a pending login request consumed by a worker whose clock is behind."""
    ahead, behind = _two_sqlite_workers(tmp_path / "shared.db")
    try:
        expires = T0 + timedelta(minutes=10)
        assert behind.add("request:r1", expires_at=expires, now=T0, value="pending")
        now_behind = expires - SECOND
        _ahead_worker_does_everything_it_can(ahead, now_behind + offset, expires)
        assert ahead.consume("request:r1", now=now_behind + offset) is None  # expired for it: left alone
        assert behind.consume("request:r1", now=now_behind) == "pending"
    finally:
        ahead.close()
        behind.close()


def test_sqlite_rows_are_reclaimed_once_the_tolerance_has_passed(tmp_path: Path) -> None:
    ahead, behind = _two_sqlite_workers(tmp_path / "shared.db")
    try:
        expires = T0 + timedelta(minutes=8)
        assert behind.add("replay:assertion", expires_at=expires, now=T0)
        now = expires + DEFAULT_CLOCK_TOLERANCE
        assert ahead.purge_expired(now=now - timedelta(microseconds=1)) == 0
        assert ahead.purge_expired(now=now) == 1
    finally:
        ahead.close()
        behind.close()


@pytest.mark.parametrize("kind", ["sqlite", "memory"])
def test_a_tolerance_smaller_than_the_offset_lets_the_replay_through(tmp_path: Path, kind: str) -> None:
    """The tolerance is the bound, and the tests above detect its absence: with clock_tolerance below the
    offset (0 is the behaviour before the fix) the ahead worker's purge deletes the entry and the behind
    worker records, i.e. accepts, the assertion a second time."""
    offset = 31 * SECOND
    stores: tuple[Store, Store]
    if kind == "sqlite":
        stores = _two_sqlite_workers(tmp_path / "shared.db", clock_tolerance=offset - SECOND)
    else:
        one = MemoryStore(clock_tolerance=offset - SECOND)
        stores = (one, one)
    ahead, behind = stores
    try:
        expires = T0 + timedelta(minutes=8)
        assert behind.add("replay:assertion", expires_at=expires, now=T0)
        now_behind = expires - SECOND
        _ahead_worker_does_everything_it_can(ahead, now_behind + offset, expires)
        assert behind.add("replay:assertion", expires_at=expires, now=now_behind) is True  # the bug
    finally:
        ahead.close()
        behind.close()


@pytest.mark.parametrize("offset", OFFSETS, ids=str)
def test_memory_store_callers_with_offset_clocks(offset: timedelta) -> None:
    """One MemoryStore used by callers passing different clocks (ServiceProviders with their own)."""
    s = MemoryStore(purge_batch=1000)
    expires = T0 + timedelta(minutes=8)
    assert s.add("replay:assertion", expires_at=expires, now=T0)
    now_behind = expires - SECOND
    _ahead_worker_does_everything_it_can(s, now_behind + offset, expires)
    assert s.add("replay:assertion", expires_at=expires, now=now_behind) is False


def test_memory_store_full_purge_respects_the_tolerance() -> None:
    s = MemoryStore(max_entries=1)
    expires = T0 + timedelta(minutes=8)
    assert s.add("replay:assertion", expires_at=expires, now=T0)
    ahead_now = expires + MAX_CLOCK_SKEW - SECOND
    with pytest.raises(StoreError, match="full"):  # it may still be live for a caller whose clock is behind
        s.add("other", expires_at=ahead_now + SECOND, now=ahead_now)
    assert s.add("replay:assertion", expires_at=expires, now=expires - SECOND) is False


_MAX_US = int(DEFAULT_CLOCK_TOLERANCE / timedelta(microseconds=1))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    offset_us=st.integers(min_value=0, max_value=_MAX_US),
    lifetime_us=st.integers(min_value=1, max_value=2 * _MAX_US),
    before_us=st.integers(min_value=1, max_value=2 * _MAX_US),
    writer_ahead=st.booleans(),
)
def test_property_no_offset_within_the_tolerance_lets_a_replay_through(
    offset_us: int, lifetime_us: int, before_us: int, writer_ahead: bool
) -> None:
    """For any clock offset up to the tolerance: while the behind worker's now < expires_at, its add of the
    key returns False, whatever the ahead worker did (SQLite, two handles on one file; and MemoryStore)."""
    offset = timedelta(microseconds=offset_us)
    expires = T0 + timedelta(microseconds=lifetime_us)
    now_behind = expires - timedelta(microseconds=min(before_us, lifetime_us))
    now_ahead = now_behind + offset
    with tempfile.TemporaryDirectory() as tmp:
        ahead, behind = _two_sqlite_workers(Path(tmp) / "shared.db")
        memory = MemoryStore(purge_batch=1000)
        try:
            for a, b in ((ahead, behind), (memory, memory)):
                writer, writer_now = (a, T0 + offset) if writer_ahead else (b, T0)
                if writer_now >= expires:
                    continue  # that worker would not have accepted the assertion in the first place
                assert writer.add("k", expires_at=expires, now=writer_now)
                for i in range(2):  # the ahead worker's adds purge whatever it may
                    a.add(f"other-{i}", expires_at=now_ahead + SECOND, now=now_ahead)
                assert b.add("k", expires_at=expires, now=now_behind) is False
        finally:
            ahead.close()
            behind.close()


# -- Redis: the TTL is relative to the writer's clock and carries the tolerance ---------------------------


@pytest.fixture
def redis_pair(redis_server: Any) -> Iterator[tuple[RedisStore, RedisStore]]:
    """Two workers' handles on one Redis server and prefix."""
    first = redis_server.store()
    second = RedisStore(redis_server.url, prefix=first.prefix)
    try:
        yield first, second
    finally:
        first.close()
        second.close()


@pytest.mark.parametrize("offset", OFFSETS, ids=str)
def test_redis_ttl_outlasts_the_behind_workers_expiry(
    redis_server: Any, redis_pair: tuple[RedisStore, RedisStore], offset: timedelta
) -> None:
    """The ahead worker writes the entry: its TTL must last (in real time) until the behind worker's
    clock reaches expires_at, i.e. at least expires_at - now_ahead + offset."""
    import redis

    ahead, behind = redis_pair
    raw = redis.Redis.from_url(redis_server.url)
    try:
        now_ahead = T0 + offset
        expires = now_ahead + timedelta(minutes=5)
        assert ahead.add("replay:assertion", expires_at=expires, now=now_ahead)
        needed_ms = (expires - now_ahead + offset) / timedelta(milliseconds=1)
        assert raw.pttl(ahead.redis_key("replay:assertion")) >= needed_ms - 1000  # less the time since
        # the ahead worker re-adding the key (expired for it) keeps it occupied for the behind one
        assert ahead.add("replay:assertion", expires_at=expires + SECOND, now=expires)
        assert behind.add("replay:assertion", expires_at=expires, now=expires - SECOND) is False
    finally:
        raw.close()


@pytest.mark.parametrize(("tolerance", "refused"), [(timedelta(seconds=5), True), (timedelta(0), False)])
def test_redis_workers_with_offset_clocks_in_real_time(redis_server: Any, tolerance: timedelta, refused: bool) -> None:
    """Real time passes: worker A's clock is 2 s ahead of worker B's. A records an assertion that
    expires 0.2 s later on A's clock; after 0.5 s (real) it is expired for A but still live for B. With a
    tolerance covering the offset, Redis still holds it and B refuses the replay; without (the behaviour
    of a TTL computed from A's clock alone), Redis has deleted it and B would accept it again."""
    offset = timedelta(seconds=2)
    ahead = redis_server.store(clock_tolerance=tolerance)
    behind = RedisStore(redis_server.url, prefix=ahead.prefix, clock_tolerance=tolerance)
    try:
        base = datetime.now(UTC)
        started = time.monotonic()
        expires = base + offset + timedelta(milliseconds=200)
        assert ahead.add("replay:assertion", expires_at=expires, now=base + offset)
        time.sleep(0.5)
        now_behind = base + timedelta(seconds=time.monotonic() - started)
        assert now_behind < expires  # still valid at the behind worker
        assert behind.add("replay:assertion", expires_at=expires, now=now_behind) is (not refused)
    finally:
        ahead.close()
        behind.close()


def test_redis_clock_tolerance_arguments(redis_server: Any) -> None:
    with pytest.raises(ValueError, match="not both"):
        RedisStore(redis_server.url, clock_tolerance=SECOND, gc_grace=SECOND)
    with pytest.raises(ValueError, match="negative"):
        RedisStore(redis_server.url, clock_tolerance=-SECOND)
    with pytest.raises(TypeError):
        RedisStore(redis_server.url, clock_tolerance=60)  # type: ignore[arg-type]


@pytest.mark.parametrize("factory", [MemoryStore, lambda **kw: SQLiteStore(":memory:", **kw)])
def test_local_clock_tolerance_arguments(factory: Any) -> None:
    with pytest.raises(ValueError, match="negative"):
        factory(clock_tolerance=-SECOND)
    with pytest.raises(TypeError):
        factory(clock_tolerance=60)
