"""Tests for fedlib.stores: semantics, failure modes (fail closed), URL parsing and real races."""

from __future__ import annotations

import functools
import itertools
import multiprocessing
import os
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fedlib.errors import ConfigurationError, StoreError
from fedlib.stores import MemoryStore, RedisStore, SQLiteStore, Store, open_store
from fedlib.stores.base import DEFAULT_CLOCK_TOLERANCE, require_aware

T0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


# -- fixtures -------------------------------------------------------------------------------------------


@pytest.fixture(params=["memory", "sqlite-file", "sqlite-memory", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    s: Store
    if request.param == "memory":
        s = MemoryStore()
    elif request.param == "sqlite-file":
        s = SQLiteStore(tmp_path / "store.db")
    elif request.param == "redis":
        # a real redis-server on 127.0.0.1 (conftest.py); a fresh key prefix, so the store starts empty
        s = request.getfixturevalue("redis_server").store()
    else:
        s = SQLiteStore(":memory:")
    yield s
    s.close()


# -- add / consume semantics ----------------------------------------------------------------------------


def test_add_once(store: Store) -> None:
    assert store.add("id-1", expires_at=T0 + HOUR, now=T0) is True
    assert store.add("id-1", expires_at=T0 + HOUR, now=T0) is False
    assert store.add("id-1", expires_at=T0 + 2 * HOUR, now=T0 + timedelta(minutes=5)) is False
    assert store.add("id-2", expires_at=T0 + HOUR, now=T0) is True


def test_add_does_not_overwrite_live_value(store: Store) -> None:
    assert store.add("k", expires_at=T0 + HOUR, now=T0, value="first") is True
    assert store.add("k", expires_at=T0 + 2 * HOUR, now=T0, value="second") is False
    assert store.consume("k", now=T0) == "first"


def test_expiry_boundary_is_exclusive(store: Store) -> None:
    expires = T0 + timedelta(seconds=10)
    assert store.add("k", expires_at=expires, now=T0)
    just_before = expires - timedelta(microseconds=1)
    assert store.add("k", expires_at=just_before + HOUR, now=just_before) is False
    # at expires_at the entry is dead: the key may be recorded again (a new first use)
    assert store.add("k", expires_at=expires + HOUR, now=expires) is True
    assert store.add("k", expires_at=expires + HOUR, now=expires) is False


def test_consume_once(store: Store) -> None:
    assert store.add("req-1", expires_at=T0 + HOUR, now=T0, value="relay")
    assert store.consume("req-1", now=T0 + timedelta(seconds=1)) == "relay"
    assert store.consume("req-1", now=T0 + timedelta(seconds=1)) is None
    assert store.consume("never-added", now=T0) is None
    # once consumed the key is free again
    assert store.add("req-1", expires_at=T0 + HOUR, now=T0) is True
    assert store.consume("req-1", now=T0) == ""


def test_consume_expired_returns_none(store: Store) -> None:
    assert store.add("k", expires_at=T0 + HOUR, now=T0, value="v")
    assert store.consume("k", now=T0 + HOUR) is None
    assert store.add("k", expires_at=T0 + 2 * HOUR, now=T0 + HOUR) is True


@pytest.mark.parametrize("value", ["", "relay-state", "ünïcødé ✓ 𝄞", "nul\x00inside", "x" * 10_000])
def test_values_round_trip(store: Store, value: str) -> None:
    assert store.add("k", expires_at=T0 + HOUR, now=T0, value=value)
    assert store.consume("k", now=T0) == value


def test_keys_are_exact(store: Store) -> None:
    keys = ["_a1", "_A1", "_a1 ", "ä", "a\x00b", "a"]
    for key in keys:
        assert store.add(key, expires_at=T0 + HOUR, now=T0, value=key)
    for key in keys:
        assert store.consume(key, now=T0) == key


def test_non_utc_aware_datetimes_are_compared_as_instants(store: Store) -> None:
    plus2 = timezone(timedelta(hours=2))
    now_plus2 = T0.astimezone(plus2)
    assert store.add("k", expires_at=(T0 + HOUR).astimezone(plus2), now=now_plus2)
    assert store.add("k", expires_at=T0 + 2 * HOUR, now=T0 + HOUR - timedelta(seconds=1)) is False
    assert store.consume("k", now=(T0 + HOUR).astimezone(timezone(timedelta(hours=-7)))) is None


# -- argument validation --------------------------------------------------------------------------------


def test_naive_datetimes_are_rejected(store: Store) -> None:
    naive = datetime(2026, 1, 1, 12, 0, 0)
    with pytest.raises(ValueError, match="naive"):
        store.add("k", expires_at=naive + HOUR, now=T0)
    with pytest.raises(ValueError, match="naive"):
        store.add("k", expires_at=T0 + HOUR, now=naive)
    with pytest.raises(ValueError, match="naive"):
        store.consume("k", now=naive)
    # nothing was recorded by the refused calls
    assert store.add("k", expires_at=T0 + HOUR, now=T0) is True


def test_require_aware_helper() -> None:
    assert require_aware(T0) == T0
    converted = require_aware(T0.astimezone(timezone(timedelta(hours=5))), "now")
    assert converted == T0
    assert converted.utcoffset() == timedelta(0)
    with pytest.raises(ValueError, match="now is a naive datetime"):
        require_aware(datetime(2026, 1, 1), "now")
    with pytest.raises(TypeError):
        require_aware("2026-01-01T00:00:00Z", "now")  # type: ignore[arg-type]


@pytest.mark.parametrize("delta", [timedelta(0), -timedelta(seconds=1)])
def test_expires_at_must_be_after_now(store: Store, delta: timedelta) -> None:
    with pytest.raises(ValueError, match="later than now"):
        store.add("k", expires_at=T0 + delta, now=T0)


@pytest.mark.parametrize(
    ("key", "error"),
    [("", ValueError), ("\ud800", ValueError), (b"bytes", TypeError), (None, TypeError)],
)
def test_bad_keys_are_rejected(store: Store, key: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        store.add(key, expires_at=T0 + HOUR, now=T0)
    with pytest.raises(error):
        store.consume(key, now=T0)


@pytest.mark.parametrize(("value", "error"), [("\udfff", ValueError), (None, TypeError), (1, TypeError)])
def test_bad_values_are_rejected(store: Store, value: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        store.add("k", expires_at=T0 + HOUR, now=T0, value=value)
    assert store.add("k", expires_at=T0 + HOUR, now=T0) is True


def test_closed_store_fails_closed(store: Store) -> None:
    assert store.add("k", expires_at=T0 + HOUR, now=T0)
    store.close()
    store.close()  # idempotent
    with pytest.raises(StoreError, match="closed"):
        store.add("other", expires_at=T0 + HOUR, now=T0)
    with pytest.raises(StoreError, match="closed"):
        store.consume("k", now=T0)


def test_context_manager_closes(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "cm.db") as s:
        assert s.add("k", expires_at=T0 + HOUR, now=T0)
    with pytest.raises(StoreError):
        s.add("k2", expires_at=T0 + HOUR, now=T0)
    with MemoryStore() as m:
        assert m.add("k", expires_at=T0 + HOUR, now=T0)
    with pytest.raises(StoreError):
        m.consume("k", now=T0)


def test_constructor_arguments_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="max_entries"):
        MemoryStore(max_entries=0)
    with pytest.raises(ValueError, match="purge_batch"):
        MemoryStore(purge_batch=0)
    with pytest.raises(ValueError, match="timeout"):
        SQLiteStore(tmp_path / "x.db", timeout=-1)
    with pytest.raises(ValueError, match="purge_batch"):
        SQLiteStore(tmp_path / "x.db", purge_batch=-1)
    with pytest.raises(ValueError, match="database path"):
        SQLiteStore("")


# -- MemoryStore specifics ------------------------------------------------------------------------------


def test_memory_max_entries_never_drops_live_entries() -> None:
    s = MemoryStore(max_entries=3)
    for i in range(3):
        assert s.add(f"k{i}", expires_at=T0 + HOUR, now=T0)
    with pytest.raises(StoreError, match="full"):
        s.add("k3", expires_at=T0 + HOUR, now=T0)
    # a live key is still reported as a replay, full or not
    assert s.add("k0", expires_at=T0 + HOUR, now=T0) is False
    # all three are still there
    assert [s.consume(f"k{i}", now=T0) for i in range(3)] == ["", "", ""]


def test_memory_max_entries_purges_expired_to_make_room() -> None:
    s = MemoryStore(max_entries=3, purge_batch=1)
    # a consumed key leaves a stale expiry-heap item, so the bounded purge of the next add finds nothing
    assert s.add("consumed", expires_at=T0 + timedelta(seconds=1), now=T0)
    assert s.consume("consumed", now=T0) == ""
    assert s.add("old", expires_at=T0 + timedelta(seconds=2), now=T0)
    assert s.add("live-1", expires_at=T0 + 3 * HOUR, now=T0)
    assert s.add("live-2", expires_at=T0 + 3 * HOUR, now=T0)
    later = T0 + timedelta(seconds=5) + DEFAULT_CLOCK_TOLERANCE  # purges wait for the clock tolerance
    # full: the full purge removes "old" to make room
    assert s.add("new", expires_at=later + HOUR, now=later)
    with pytest.raises(StoreError, match="full"):
        s.add("one-too-many", expires_at=later + HOUR, now=later)
    assert [s.consume(k, now=later) for k in ("live-1", "live-2", "new", "old")] == ["", "", "", None]


def test_memory_opportunistic_purge_is_bounded() -> None:
    s = MemoryStore(purge_batch=5)
    for i in range(50):
        s.add(f"k{i}", expires_at=T0 + timedelta(seconds=1), now=T0)
    later = T0 + timedelta(seconds=2) + DEFAULT_CLOCK_TOLERANCE  # purges wait for the clock tolerance
    s.add("trigger", expires_at=later + HOUR, now=later)
    assert len(s._entries) == 50 - 5 + 1
    assert s.purge_expired(now=later) == 45
    assert len(s._entries) == 1


def test_memory_expiry_heap_stays_bounded() -> None:
    s = MemoryStore()
    for i in range(5000):
        assert s.add(f"k{i}", expires_at=T0 + HOUR, now=T0)
        assert s.consume(f"k{i}", now=T0) == ""
    assert len(s._entries) == 0
    assert len(s._expiry_heap) <= 1024 + 1


# -- SQLiteStore specifics ------------------------------------------------------------------------------


def _row_count(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        (count,) = conn.execute("SELECT count(*) FROM fedlib_store").fetchone()
        return int(count)
    finally:
        conn.close()


def test_sqlite_schema_and_wal(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    SQLiteStore(path).close()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        columns = [(r[1], r[2], r[3], r[5]) for r in conn.execute("PRAGMA table_info(fedlib_store)")]
        # WITHOUT ROWID (see test_sqlite_layout.py): its primary key is NOT NULL
        assert columns == [("key", "TEXT", 1, 1), ("value", "TEXT", 1, 0), ("expires_at", "REAL", 1, 0)]
    finally:
        conn.close()


@pytest.mark.parametrize(("synchronous", "level"), [(None, 1), ("NORMAL", 1), ("FULL", 2)])
def test_sqlite_synchronous_level(tmp_path: Path, synchronous: str | None, level: int) -> None:
    # WAL with synchronous=NORMAL by default (a process crash loses nothing; see the SQLiteStore docstring),
    # FULL on request. The level is per connection: read it from the store's own connection.
    kwargs = {} if synchronous is None else {"synchronous": synchronous}
    s = SQLiteStore(tmp_path / "sync.db", **kwargs)
    try:
        assert s._conn is not None
        assert s._conn.execute("PRAGMA synchronous").fetchone()[0] == level
        assert s.add("k", expires_at=T0 + HOUR, now=T0)
    finally:
        s.close()


@pytest.mark.parametrize("synchronous", ["OFF", "normal", "", "NORMAL; DROP TABLE x"])
def test_sqlite_synchronous_refuses_other_values(tmp_path: Path, synchronous: str) -> None:
    with pytest.raises(ValueError, match="synchronous"):
        SQLiteStore(tmp_path / "x.db", synchronous=synchronous)


def test_sqlite_instances_share_one_file(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    a, b = SQLiteStore(path), SQLiteStore(path)
    try:
        assert a.add("k", expires_at=T0 + HOUR, now=T0, value="v")
        assert b.add("k", expires_at=T0 + HOUR, now=T0) is False
        assert b.consume("k", now=T0) == "v"
        assert a.consume("k", now=T0) is None
    finally:
        a.close()
        b.close()
    reopened = SQLiteStore(path)  # entries survive a restart
    assert reopened.add("k", expires_at=T0 + HOUR, now=T0)
    reopened.close()
    assert SQLiteStore(path).add("k", expires_at=T0 + HOUR, now=T0) is False


def test_sqlite_opportunistic_purge_is_bounded(tmp_path: Path) -> None:
    # Amortised: one write in eight (the first of an instance included) looks at the next 8 * purge_batch
    # keys and deletes those of them past expiry + clock tolerance (test_sqlite_layout.py has the details).
    path = tmp_path / "purge.db"
    s = SQLiteStore(path, purge_batch=2)
    for i in range(40):  # writes 0-39
        s.add(f"k{i}", expires_at=T0 + timedelta(seconds=1), now=T0)
    assert _row_count(path) == 40
    later = T0 + timedelta(seconds=2) + DEFAULT_CLOCK_TOLERANCE  # purges wait for the clock tolerance
    counts = [_row_count(path)]
    for j in range(48):  # writes 40-87
        s.add(f"trigger-{j:02}", expires_at=later + HOUR, now=later)
        counts.append(_row_count(path))
    deleted = [before + 1 - after for before, after in itertools.pairwise(counts)]
    assert all(d == 0 for j, d in enumerate(deleted) if j % 8)  # writes 41-47, 49-55, ...: no purge
    assert all(0 <= d <= 16 for d in deleted)
    assert sum(deleted) == 40
    assert s.add("p", expires_at=later + HOUR, now=later, value="v")
    assert s.purge_expired(now=later) == 0
    assert _row_count(path) == 49
    s.close()


def test_sqlite_without_returning_fallback(tmp_path: Path) -> None:
    s = SQLiteStore(tmp_path / "old.db")
    s._use_returning = False  # the SQLite < 3.35 code path
    assert s.add("k", expires_at=T0 + HOUR, now=T0, value="v")
    assert s.consume("k", now=T0) == "v"
    assert s.consume("k", now=T0) is None
    assert s.add("e", expires_at=T0 + HOUR, now=T0, value="v")
    assert s.consume("e", now=T0 + HOUR) is None
    s.close()


def test_sqlite_missing_directory_is_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="unable to open") as info:
        SQLiteStore(tmp_path / "no" / "such" / "dir" / "replay.db")
    assert info.value.detail is not None
    assert isinstance(info.value.__cause__, sqlite3.Error)


def test_sqlite_corrupted_file_is_store_error(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.db"
    path.write_bytes(os.urandom(8192))
    with pytest.raises(StoreError, match="not a database"):
        SQLiteStore(path)


def test_sqlite_directory_as_path_is_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError):
        SQLiteStore(tmp_path)


def test_sqlite_broken_schema_fails_closed(tmp_path: Path) -> None:
    path = tmp_path / "broken.db"
    s = SQLiteStore(path)
    assert s.add("k", expires_at=T0 + HOUR, now=T0)
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE fedlib_store")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="no such table"):
        s.add("k", expires_at=T0 + HOUR, now=T0)
    with pytest.raises(StoreError, match="no such table"):
        s.consume("k", now=T0)
    s.close()


@pytest.mark.parametrize("operation", ["add", "consume", "purge"])
def test_sqlite_waits_for_a_lock_held_briefly_by_another_connection(tmp_path: Path, operation: str) -> None:
    # The store waits for the write lock itself (short sleeps, no SQLite busy handler): a lock that another
    # process holds for a moment delays the call, it does not fail it.
    path = tmp_path / "busy.db"
    s = SQLiteStore(path, timeout=10)
    assert s.add("before", expires_at=T0 + HOUR, now=T0, value="v")
    blocker = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    blocker.execute("BEGIN EXCLUSIVE")
    release = threading.Timer(0.2, lambda: blocker.execute("ROLLBACK"))
    release.start()
    try:
        if operation == "add":
            assert s.add("during", expires_at=T0 + HOUR, now=T0) is True
        elif operation == "consume":
            assert s.consume("before", now=T0) == "v"
        else:
            assert s.purge_expired(now=T0) == 0
    finally:
        release.join()
        blocker.close()
        s.close()


def test_sqlite_lock_timeout_fails_closed_then_recovers(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    s = SQLiteStore(path, timeout=0.05)
    assert s.add("before", expires_at=T0 + HOUR, now=T0, value="v")
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreError, match="locked"):
            s.add("during", expires_at=T0 + HOUR, now=T0)
        with pytest.raises(StoreError, match="locked"):
            s.consume("before", now=T0)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    # nothing was recorded or consumed by the failed calls, and the store works again
    assert s.add("during", expires_at=T0 + HOUR, now=T0) is True
    assert s.consume("before", now=T0) == "v"
    s.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_sqlite_survives_fork(tmp_path: Path) -> None:
    path = tmp_path / "fork.db"
    s = SQLiteStore(path)
    assert s.add("parent", expires_at=T0 + HOUR, now=T0)
    ctx = multiprocessing.get_context("fork")
    results = ctx.Queue()

    def child() -> None:
        results.put((s.add("parent", expires_at=T0 + HOUR, now=T0), s.add("child", expires_at=T0 + HOUR, now=T0)))
        s.close()

    proc = ctx.Process(target=child)
    proc.start()
    proc.join(20)
    assert proc.exitcode == 0
    assert results.get(timeout=5) == (False, True)
    assert s.consume("child", now=T0) == ""  # the parent's connection still works
    s.close()


# -- open_store -----------------------------------------------------------------------------------------


def test_open_store_memory() -> None:
    s = open_store("memory://")
    assert isinstance(s, MemoryStore)
    assert open_store("MEMORY://") is not s  # a new private store each time


def test_open_store_sqlite_memory() -> None:
    s = open_store("sqlite:///:memory:")
    assert isinstance(s, SQLiteStore)
    assert s.path == ":memory:"
    assert s.add("k", expires_at=T0 + HOUR, now=T0)
    s.close()


def test_open_store_interop_form(tmp_path: Path) -> None:
    # what the interop runner passes: --store sqlite:///<absolute tmpdir>/replay.db
    url = f"sqlite:///{tmp_path}/replay.db"
    assert url.startswith("sqlite:////")
    s = open_store(url)
    assert isinstance(s, SQLiteStore)
    assert s.path == f"{tmp_path}/replay.db"
    assert s.add("k", expires_at=T0 + HOUR, now=T0)
    s.close()
    assert (tmp_path / "replay.db").is_file()
    assert _row_count(tmp_path / "replay.db") == 1


def test_open_store_three_slash_path_is_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # fedlib's documented form: sqlite:///abs/path.db is /abs/path.db (SQLAlchemy would say relative)
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    url = "sqlite://" + str(tmp_path / "abs.db")  # e.g. sqlite:///tmp/pytest-.../abs.db
    assert url.startswith("sqlite:///")
    assert not url.startswith("sqlite:////")
    three = open_store(url)
    four = open_store("sqlite:///" + str(tmp_path / "abs.db"))
    assert isinstance(three, SQLiteStore)
    assert isinstance(four, SQLiteStore)
    assert three.path == four.path == str(tmp_path / "abs.db")
    assert three.add("k", expires_at=T0 + HOUR, now=T0)
    assert four.add("k", expires_at=T0 + HOUR, now=T0) is False  # one file
    three.close()
    four.close()
    assert list(elsewhere.iterdir()) == []


def test_open_store_explicit_relative_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "work"
    (work / "data").mkdir(parents=True)
    monkeypatch.chdir(work)
    s = open_store("sqlite:///./data/replay.db")
    assert isinstance(s, SQLiteStore)
    assert s.path == os.path.join(str(work), "./data/replay.db")
    monkeypatch.chdir(tmp_path)  # resolved when opened, not on each reconnect
    assert s.add("k", expires_at=T0 + HOUR, now=T0)
    s.close()
    assert (work / "data" / "replay.db").is_file()
    monkeypatch.chdir(work)
    s = open_store("SQLite:///../up.db")
    assert isinstance(s, SQLiteStore)
    s.close()
    assert (tmp_path / "up.db").is_file()


def test_open_store_missing_directory_is_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="unable to open"):
        open_store(f"sqlite:///{tmp_path}/missing/replay.db")
    with pytest.raises(StoreError, match="unable to open"):
        open_store(f"sqlite://{tmp_path}/missing/replay.db")


@pytest.mark.parametrize(
    ("url", "shown", "prefix"),
    [
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0", "fedlib"),
        ("REDIS://127.0.0.1", "redis://127.0.0.1:6379/0", "fedlib"),
        ("redis://127.0.0.1:7000/3?prefix=tenant-a", "redis://127.0.0.1:7000/3", "tenant-a"),
        ("rediss://127.0.0.1:6380/1?timeout=0.5&prefix=t%C3%BC", "rediss://127.0.0.1:6380/1", "tü"),
        ("rediss://:s3cret@127.0.0.1/", "rediss://127.0.0.1:6379/0", "fedlib"),
        ("redis://user:s3cret@[::1]:6379/2", "redis://[::1]:6379/2", "fedlib"),
    ],
)
def test_open_store_redis(url: str, shown: str, prefix: str) -> None:
    # opening does not contact the server (nothing listens on these ports); the password is never shown
    s = open_store(url)
    assert isinstance(s, RedisStore)
    assert s.prefix == prefix
    assert repr(s) == f"<RedisStore {shown} prefix={prefix!r}>"
    s.close()
    assert "closed" in repr(s)


@pytest.mark.parametrize(
    "url",
    [
        "redis+sentinel://127.0.0.1",
        "redis://",
        "redis:///0",
        "redis://127.0.0.1:notaport/0",
        "redis://127.0.0.1:6379/x",
        "redis://127.0.0.1:6379/0/1",
        "redis://127.0.0.1:6379/0#frag",
        "redis://127.0.0.1:6379/0?db=1",
        "redis://127.0.0.1:6379/0?prefix",
        "redis://127.0.0.1:6379/0?prefix=a&prefix=b",
        "redis://127.0.0.1:6379/0?prefix=",
        "redis://127.0.0.1:6379/0?prefix=%7Bx%7D",
        "redis://127.0.0.1:6379/0?prefix=a%20b",
        "redis://127.0.0.1:6379/0?prefix=%FF",
        "redis://127.0.0.1:6379/0?timeout=0",
        "redis://127.0.0.1:6379/0?timeout=-1",
        "redis://127.0.0.1:6379/0?timeout=nan",
        "redis://127.0.0.1:6379/0?timeout=soon",
        "redis://127.0.0.1:6379/0?ssl_cert_reqs=none",
    ],
)
def test_open_store_rejects_bad_redis_urls(url: str) -> None:
    with pytest.raises(ConfigurationError):
        open_store(url)


def test_open_store_redis_errors_hide_the_password() -> None:
    with pytest.raises(ConfigurationError) as info:
        open_store("redis://admin:hunter2@127.0.0.1:6379/0?pefix=x")
    assert "hunter2" not in str(info.value)
    assert "***@127.0.0.1" in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        "",
        "memory",
        "memory:",
        "memory:/",
        "memory://x",
        "memory://?size=3",
        " memory://",
        "memory://\n",
        "postgresql://db/x",
        "file:///tmp/x.db",
        "sqlite:",
        "sqlite:/x.db",
        "sqlite://",
        "sqlite:///",
        "sqlite://host/x.db",
        "sqlite://:memory:",
        "sqlite://///tmp/x.db",
        "sqlite:////tmp/",
        "sqlite:///tmp/",
        "sqlite:///./",
        "sqlite:///..",
        "sqlite:///tmp/..",
        "sqlite:////tmp/x.db?mode=ro",
        "sqlite:////tmp/x.db#frag",
        "sqlite:////tmp/x\x00.db",
    ],
)
def test_open_store_rejects_bad_urls(url: str) -> None:
    with pytest.raises(ConfigurationError):
        open_store(url)


def test_open_store_rejects_non_string() -> None:
    with pytest.raises(ConfigurationError):
        open_store(b"memory://")  # type: ignore[arg-type]


# -- thread races ---------------------------------------------------------------------------------------


@pytest.fixture
def fast_switching() -> Iterator[None]:
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(old)


def _thread_race(n: int, op: Callable[[], object]) -> list[object]:
    barrier = threading.Barrier(n)
    results: list[object] = []
    lock = threading.Lock()

    def run() -> None:
        barrier.wait(timeout=10)
        try:
            result = op()
        except Exception as exc:  # reported, never swallowed
            result = exc
        with lock:
            results.append(result)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert len(results) == n
    return results


@pytest.mark.usefixtures("fast_switching")
@pytest.mark.parametrize("kind", ["memory", "sqlite-shared-instance", "redis-shared-instance"])
def test_thread_race_add_and_consume(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    s: Store
    if kind == "memory":
        s = MemoryStore()
    elif kind == "redis-shared-instance":
        s = request.getfixturevalue("redis_server").store()
    else:
        s = SQLiteStore(tmp_path / "threads.db")
    for round_no in range(15):
        key = f"key-{round_no}"
        wins = _thread_race(12, functools.partial(s.add, key, expires_at=T0 + HOUR, now=T0, value=key))
        assert sorted(map(repr, wins)) == ["False"] * 11 + ["True"]
        got = _thread_race(12, functools.partial(s.consume, key, now=T0))
        assert got.count(key) == 1
        assert got.count(None) == 11
    s.close()


@pytest.mark.usefixtures("fast_switching")
def test_thread_race_sqlite_instance_per_thread(tmp_path: Path) -> None:
    path = tmp_path / "per-thread.db"
    SQLiteStore(path).close()
    local = threading.local()

    def add() -> bool:
        if not hasattr(local, "store"):
            local.store = SQLiteStore(path)
        return bool(local.store.add("same", expires_at=T0 + HOUR, now=T0))

    wins = _thread_race(10, add)
    assert wins.count(True) == 1
    assert wins.count(False) == 9


# -- process races (real SQLite locking between processes) -----------------------------------------------


def _race_worker(path: str, barrier: Any, tasks: Any, results: Any) -> None:
    """Runs in a spawned process: open the store at the same moment as the others, then race on tasks."""
    try:
        barrier.wait(timeout=60)
        store = SQLiteStore(path, timeout=30)
    except BaseException as exc:
        results.put(("open-error", repr(exc)))
        return
    results.put(("ready", os.getpid()))
    try:
        while (task := tasks.get()) is not None:
            op, key, now_ts = task
            now = datetime.fromtimestamp(now_ts, UTC)
            barrier.wait(timeout=60)
            try:
                if op == "add":
                    result: object = store.add(key, expires_at=now + HOUR, now=now, value=f"{os.getpid()}")
                else:
                    result = store.consume(key, now=now)
            except BaseException as exc:
                result = f"error: {exc!r}"
            results.put((op, result))
    finally:
        store.close()


@dataclass
class _ProcessRace:
    path: Path
    n: int
    procs: list[Any] = field(default_factory=list)
    task_queues: list[Any] = field(default_factory=list)
    results: Any = None

    def run(self, op: str, key: str, now: datetime) -> list[object]:
        for q in self.task_queues:
            q.put((op, key, now.timestamp()))
        out = [self.results.get(timeout=60) for _ in range(self.n)]
        assert all(o[0] == op for o in out), out
        return [o[1] for o in out]


@pytest.fixture(scope="module")
def process_race(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_ProcessRace]:
    ctx = multiprocessing.get_context("spawn")
    n = 6
    race = _ProcessRace(path=tmp_path_factory.mktemp("race") / "replay.db", n=n)
    barrier = ctx.Barrier(n)
    race.results = ctx.Queue()
    for _ in range(n):
        q = ctx.Queue()
        p = ctx.Process(target=_race_worker, args=(str(race.path), barrier, q, race.results), daemon=True)
        p.start()
        race.procs.append(p)
        race.task_queues.append(q)
    try:
        # every worker opened the (initially absent) file concurrently
        ready = [race.results.get(timeout=60) for _ in range(n)]
        assert [r[0] for r in ready] == ["ready"] * n, ready
        yield race
    finally:
        for q in race.task_queues:
            q.put(None)
        for p in race.procs:
            p.join(10)
            if p.is_alive():  # pragma: no cover - only on a hung worker
                p.kill()


def test_process_race_add_exactly_one_wins(process_race: _ProcessRace) -> None:
    for round_no in range(4):
        results = process_race.run("add", f"assertion-{round_no}", T0)
        assert sorted(map(repr, results)) == ["False"] * (process_race.n - 1) + ["True"], results


def test_process_race_add_after_expiry_exactly_one_wins(process_race: _ProcessRace) -> None:
    key = "expiring"
    parent = SQLiteStore(process_race.path)
    assert parent.add(key, expires_at=T0 + timedelta(seconds=1), now=T0)
    parent.close()
    results = process_race.run("add", key, T0 + timedelta(seconds=2))
    assert sorted(map(repr, results)) == ["False"] * (process_race.n - 1) + ["True"], results


def test_process_race_consume_exactly_one_wins(process_race: _ProcessRace) -> None:
    parent = SQLiteStore(process_race.path)
    try:
        for round_no in range(4):
            key = f"request-{round_no}"
            assert parent.add(key, expires_at=T0 + HOUR, now=T0, value=f"relay-{round_no}")
            results = process_race.run("consume", key, T0)
            assert results.count(f"relay-{round_no}") == 1, results
            assert results.count(None) == process_race.n - 1, results
    finally:
        parent.close()


# -- property: every backend agrees with a reference model -----------------------------------------------


class _Reference:
    """The specification, as simply as possible."""

    def __init__(self) -> None:
        self.entries: dict[str, tuple[datetime, str]] = {}

    def add(self, key: str, *, expires_at: datetime, now: datetime, value: str) -> bool:
        live = self.entries.get(key)
        if live is not None and now < live[0]:
            return False
        self.entries[key] = (expires_at, value)
        return True

    def consume(self, key: str, *, now: datetime) -> str | None:
        entry = self.entries.pop(key, None)
        if entry is None or now >= entry[0]:
            return None
        return entry[1]


def _sqlite_no_returning() -> SQLiteStore:
    s = SQLiteStore(":memory:", purge_batch=1)
    s._use_returning = False
    return s


_FACTORIES: dict[str, Callable[[], Store]] = {
    "memory": MemoryStore,
    "memory-purge-1": lambda: MemoryStore(purge_batch=1),
    "sqlite": lambda: SQLiteStore(":memory:"),
    "sqlite-no-purge": lambda: SQLiteStore(":memory:", purge_batch=0),
    "sqlite-no-returning": _sqlite_no_returning,
}

_STEPS = st.sampled_from(
    [
        timedelta(0),
        timedelta(microseconds=1),
        timedelta(milliseconds=500),
        timedelta(seconds=1),
        timedelta(seconds=7),
    ]
)
_TTLS = st.sampled_from([timedelta(microseconds=1), timedelta(seconds=1), timedelta(seconds=2), timedelta(seconds=5)])
_OPS = st.lists(
    st.tuples(
        st.sampled_from(["add", "consume"]),
        st.sampled_from(["a", "b", "c"]),
        _STEPS,
        _TTLS,
        st.text(max_size=3),
    ),
    max_size=40,
)


@pytest.mark.parametrize("backend", [*sorted(_FACTORIES), "redis"])
@settings(max_examples=75, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=_OPS, start=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)))
def test_store_matches_reference_model(
    backend: str, ops: list[tuple[str, str, timedelta, timedelta, str]], start: datetime, redis_server: Any
) -> None:
    # redis_server is session-scoped and starts redis-server only when the "redis" backend asks for a store
    store = redis_server.store() if backend == "redis" else _FACTORIES[backend]()
    model = _Reference()
    now = start.replace(tzinfo=UTC)
    try:
        for op, key, step, ttl, value in ops:
            now += step
            if op == "add":
                expected: object = model.add(key, expires_at=now + ttl, now=now, value=value)
                actual: object = store.add(key, expires_at=now + ttl, now=now, value=value)
            else:
                expected = model.consume(key, now=now)
                actual = store.consume(key, now=now)
            assert actual == expected, (op, key, now)
    finally:
        store.close()
