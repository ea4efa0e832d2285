"""SQLiteStore's table layout (issue #9): one b-tree per table, a purge that sweeps the key order, and files
created by the previous layout (a rowid table, its primary-key index, an index on ``expires_at``) kept working.

What a write costs is mostly the pages it changes: each is one frame appended to the WAL at commit (a
4 KiB write and its checksum). The frame counts below are read from the WAL file's size.
"""

from __future__ import annotations

import itertools
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fedlib.errors import StoreError
from fedlib.stores import SQLiteStore
from fedlib.stores.base import DEFAULT_CLOCK_TOLERANCE

T0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
WAL_HEADER = 32
FRAME_HEADER = 24

# The schema that SQLiteStore created before this change (fedlib up to commit 198174b), verbatim.
PREVIOUS_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS fedlib_store (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires_at REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS fedlib_store_expires_at ON fedlib_store (expires_at)",
)
# ... and the purge statement it ran on one write in eight, verbatim.
PREVIOUS_PURGE = (
    "DELETE FROM fedlib_store WHERE rowid IN "
    "(SELECT rowid FROM fedlib_store WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)"
)


def _previous_layout_file(path: Path, rows: list[tuple[str, str, float]]) -> None:
    """A database file as the previous SQLiteStore left it: WAL mode, its schema, some rows."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL").fetchall()
        for statement in PREVIOUS_SCHEMA:
            conn.execute(statement)
        conn.executemany("INSERT INTO fedlib_store VALUES (?, ?, ?)", rows)
    finally:
        conn.close()


def _btrees(path: Path) -> list[tuple[str, str]]:
    conn = sqlite3.connect(path)
    try:
        return [
            (str(kind), str(name))
            for kind, name in conn.execute(
                "SELECT type, name FROM sqlite_master WHERE tbl_name = 'fedlib_store' AND rootpage > 0 ORDER BY name"
            )
        ]
    finally:
        conn.close()


def _rows(path: Path) -> dict[str, tuple[str, float]]:
    conn = sqlite3.connect(path)
    try:
        return {key: (value, expires) for key, value, expires in conn.execute("SELECT * FROM fedlib_store")}
    finally:
        conn.close()


class _WalFrames:
    """Frames appended to a store's WAL (no checkpoint runs in these short tests)."""

    def __init__(self, store: SQLiteStore) -> None:
        assert store._conn is not None
        self._wal = Path(store.path + "-wal")
        (self._page,) = store._conn.execute("PRAGMA page_size").fetchone()
        self._start = self._size()

    def _size(self) -> int:
        size = self._wal.stat().st_size if self._wal.exists() else 0
        return max(size - WAL_HEADER, 0)

    def since_start(self) -> int:
        return (self._size() - self._start) // (self._page + FRAME_HEADER)


def test_a_new_file_is_one_btree_without_rowid(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    SQLiteStore(path).close()
    assert _btrees(path) == [("table", "fedlib_store")]
    conn = sqlite3.connect(path)
    try:
        (sql,) = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'fedlib_store'").fetchone()
        assert sql.rstrip().upper().endswith("WITHOUT ROWID")
    finally:
        conn.close()


def test_a_write_changes_one_page_per_key(tmp_path: Path) -> None:
    # start_login's add changes one page, finish_login's consume_and_add two at most (one per key) and
    # here one, since the table fits in one page (the previous layout: three b-trees, three frames per key).
    s = SQLiteStore(tmp_path / "frames.db", purge_batch=0)
    try:
        for i in range(5):  # a few rows, still one page
            assert s.add(f"request:warm-{i}", expires_at=T0 + HOUR, now=T0, value="pending")
        frames = _WalFrames(s)
        for i in range(10):
            assert s.add(f"request:r{i}", expires_at=T0 + HOUR, now=T0, value="pending")
        assert frames.since_start() == 10
        frames = _WalFrames(s)
        for i in range(10):
            assert s.consume_and_add(f"request:r{i}", f"replay:a{i}", expires_at=T0 + HOUR, now=T0) == ("pending", True)
        assert frames.since_start() == 10
    finally:
        s.close()


def test_a_file_of_the_previous_layout_keeps_its_entries(tmp_path: Path) -> None:
    path = tmp_path / "previous.db"
    live, gone = (T0 + HOUR).timestamp(), (T0 - HOUR).timestamp()
    _previous_layout_file(
        path,
        [("request:r1", "pending", live), ("replay:a1", "", live), ("request:old", "x", gone)]
        + [(f"replay:old-{i:03}", "", gone) for i in range(100)],
    )
    assert ("index", "fedlib_store_expires_at") in _btrees(path)
    s = SQLiteStore(path)
    try:
        # the expires_at index is dropped (nothing uses it); the rowid table and its key index stay
        assert ("index", "fedlib_store_expires_at") not in _btrees(path)
        assert ("table", "fedlib_store") in _btrees(path)
        # every entry as it was: a pending request comes back once, a recorded assertion stays a replay
        assert s.add("replay:a1", expires_at=T0 + HOUR, now=T0) is False
        assert s.consume_and_add("request:r1", "replay:a1", expires_at=T0 + HOUR, now=T0) == ("pending", False)
        assert s.consume("request:r1", now=T0) is None
        assert s.consume("request:old", now=T0) is None  # expired
        assert s.add("request:r2", expires_at=T0 + HOUR, now=T0, value="v2")
        assert s.consume_and_add("request:r2", "replay:a2", expires_at=T0 + HOUR, now=T0) == ("v2", True)
        assert s.add("replay:a2", expires_at=T0 + HOUR, now=T0) is False
        # the sweep purges it like a new file (past the clock tolerance), and the full purge too
        later = T0 + DEFAULT_CLOCK_TOLERANCE + HOUR / 2  # past the old rows' expiry + tolerance only
        for i in range(16):
            assert s.add(f"replay:new-{i}", expires_at=later + HOUR, now=later)
        left = _rows(path)
        assert not [key for key in left if "old" in key]
        assert {"replay:a1", "replay:a2"} <= left.keys()
        assert s.purge_expired(now=later + HOUR) == 2
    finally:
        s.close()
    # reopened (another worker, a restart): same answers, nothing recreated
    again = SQLiteStore(path)
    try:
        assert again.add("replay:new-0", expires_at=T0 + 3 * HOUR, now=T0 + 2 * HOUR) is False
        assert ("index", "fedlib_store_expires_at") not in _btrees(path)
    finally:
        again.close()


def test_a_file_of_the_previous_layout_writes_fewer_pages(tmp_path: Path) -> None:
    # Without its expires_at index, two b-trees (the rowid table and its key index): two frames per add.
    path = tmp_path / "previous.db"
    _previous_layout_file(path, [])
    s = SQLiteStore(path, purge_batch=0)
    try:
        assert s.add("request:warm", expires_at=T0 + HOUR, now=T0, value="pending")
        frames = _WalFrames(s)
        for i in range(10):
            assert s.add(f"request:r{i}", expires_at=T0 + HOUR, now=T0, value="pending")
        assert frames.since_start() == 20
    finally:
        s.close()


def test_a_previous_version_reopening_the_file_is_harmless(tmp_path: Path) -> None:
    # A worker of the previous version started during a rolling upgrade recreates its index on the old
    # layout; this version keeps working with it (one more page per write until it reopens).
    path = tmp_path / "previous.db"
    _previous_layout_file(path, [])
    s = SQLiteStore(path)
    try:
        conn = sqlite3.connect(path)
        try:
            # its purge still works on the file without the index (a table scan) ...
            conn.execute("INSERT INTO fedlib_store VALUES ('old', '', ?)", ((T0 - 3 * HOUR).timestamp(),))
            assert conn.execute(PREVIOUS_PURGE, ((T0 - HOUR).timestamp(), 256)).rowcount == 1
            # ... and it recreates the index when it opens the file
            conn.execute(PREVIOUS_SCHEMA[1])
            conn.commit()
        finally:
            conn.close()
        assert s.add("k", expires_at=T0 + HOUR, now=T0, value="v")
        assert s.add("k", expires_at=T0 + HOUR, now=T0) is False
        assert s.consume_and_add("k", "replay:k", expires_at=T0 + HOUR, now=T0) == ("v", True)
    finally:
        s.close()


def test_the_sweep_walks_its_key_window_even_beside_the_previous_index(tmp_path: Path) -> None:
    """On a previous-layout file whose expires_at index a previous-version worker recreated, both sweep deletes
    are still planned on the key (a range over the window), never on the expiry index, which would walk every
    expired row of the file under the write lock (found in review: 36 ms for 300,000 expired rows)."""
    from fedlib.stores import sqlite as module

    path = tmp_path / "previous.db"
    _previous_layout_file(path, [])
    SQLiteStore(path).close()
    conn = sqlite3.connect(path)
    try:
        conn.execute(PREVIOUS_SCHEMA[1])  # the index again, as a previous-version worker creates it
        conn.commit()
        for statement, arguments in (
            (module._SQL_SWEEP_DELETE, ("a", "b", 0.0)),
            (module._SQL_SWEEP_DELETE_LAST, ("a", 0.0)),
        ):
            plan = " ".join(row[-1] for row in conn.execute("EXPLAIN QUERY PLAN " + statement, arguments))
            assert "expires_at" not in plan, plan
            assert "key>?" in plan.replace(" ", ""), plan
    finally:
        conn.close()


def test_the_sweep_is_bounded_and_reaches_every_row(tmp_path: Path) -> None:
    # purge_batch=2: every eighth write looks at the next 16 keys (after the key the first sweep wrote),
    # deletes only their rows past expiry + clock tolerance, and wraps around after the last key.
    path = tmp_path / "sweep.db"
    s = SQLiteStore(path, purge_batch=2)
    try:
        for i in range(40):  # writes 0-39 (their sweeps find nothing expired)
            assert s.add(f"k{i:02}", expires_at=T0 + timedelta(seconds=1), now=T0)
        close = T0 + timedelta(seconds=1) + DEFAULT_CLOCK_TOLERANCE - timedelta(microseconds=1)
        for i in range(16):  # within the clock tolerance: never deleted
            assert s.add(f"t{i:02}", expires_at=close + HOUR, now=close)
        assert len(_rows(path)) == 56
        later = close + timedelta(microseconds=1)
        counts = [len(_rows(path))]
        for i in range(64):  # writes 56-119: eight sweeps of 16 keys over 40 expired + 16 + i live rows
            assert s.add(f"u{i:02}", expires_at=later + HOUR, now=later)
            counts.append(len(_rows(path)))
        deleted = [before + 1 - after for before, after in itertools.pairwise(counts)]
        assert all(0 <= d <= 16 for d in deleted)
        assert [i for i, d in enumerate(deleted) if d]
        assert all(i % 8 == 0 for i, d in enumerate(deleted) if d)
        left = _rows(path)
        assert not [key for key in left if key.startswith("k")]  # every expired row reached
        assert len(left) == 16 + 64  # no live row deleted
    finally:
        s.close()


def test_short_lived_instances_sweep_where_they_write(tmp_path: Path) -> None:
    # One write per instance (a CLI run): each sweeps the keys after the one it writes, so that such runs
    # reclaim rows anywhere in the table, not only the first keys.
    path = tmp_path / "cli.db"
    s = SQLiteStore(path, purge_batch=1)
    for i in range(30):
        assert s.add(f"replay:{i:02}", expires_at=T0 + timedelta(seconds=1), now=T0)
    s.close()
    later = T0 + timedelta(seconds=1) + DEFAULT_CLOCK_TOLERANCE
    run = SQLiteStore(path, purge_batch=1)
    assert run.add("replay:19x", expires_at=later + HOUR, now=later)  # looks at replay:20 ... replay:27
    run.close()
    left = sorted(_rows(path))
    assert left == [f"replay:{i:02}" for i in range(20)] + ["replay:19x", "replay:28", "replay:29"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(st.sampled_from(["add", "cad", "consume"]), st.integers(0, 12), st.integers(0, 30)), max_size=60
    ),
    st.integers(1, 3),
)
def test_the_sweep_deletes_only_rows_past_expiry_and_tolerance(
    tmp_path: Path, ops: list[tuple[str, int, int]], batch: int
) -> None:
    # Whatever the writes, no row disappears while a caller at the latest ``now`` seen minus the clock
    # tolerance would still find it live; the answers match a model without any purge.
    tolerance = timedelta(seconds=5)
    path = tmp_path / f"model-{len(list(tmp_path.iterdir()))}.db"
    s = SQLiteStore(path, purge_batch=batch, clock_tolerance=tolerance)
    model: dict[str, tuple[str, datetime]] = {}
    clock = T0
    try:
        for n, (op, key_number, step) in enumerate(ops):
            clock += timedelta(seconds=step)
            key, other = f"k{key_number:02}", f"r{key_number:02}-{n}"
            expires = clock + timedelta(seconds=3)
            if op == "add":
                live = key in model and clock < model[key][1]
                assert s.add(key, expires_at=expires, now=clock, value=str(n)) is (not live)
                if not live:
                    model[key] = (str(n), expires)
            elif op == "consume":
                entry = model.get(key)
                expected = entry[0] if entry is not None and clock < entry[1] else None
                assert s.consume(key, now=clock) == expected
                if expected is not None:
                    del model[key]
            else:
                entry = model.get(key)
                expected = entry[0] if entry is not None and clock < entry[1] else None
                assert s.consume_and_add(key, other, expires_at=expires, now=clock) == (expected, expected is not None)
                if expected is not None:
                    del model[key]
                    model[other] = ("", expires)
            rows = _rows(path)
            for k, (value, expires_at) in model.items():
                if expires_at + tolerance > clock:  # not yet purgeable
                    assert rows.get(k) == (value, expires_at.timestamp())
    finally:
        s.close()


@pytest.mark.parametrize("purge_batch", [0, 1])
def test_in_memory_store_has_the_same_layout(purge_batch: int) -> None:
    s = SQLiteStore(":memory:", purge_batch=purge_batch)
    try:
        assert s._conn is not None
        names = [r[0] for r in s._conn.execute("SELECT name FROM sqlite_master WHERE rootpage > 0")]
        assert names == ["fedlib_store"]
        for i in range(20):
            assert s.add(f"k{i}", expires_at=T0 + HOUR, now=T0, value=str(i))
        assert [s.consume(f"k{i}", now=T0) for i in range(20)] == [str(i) for i in range(20)]
    finally:
        s.close()


@pytest.mark.parametrize("writes_before", [0, 1, 7, 8, 9])
def test_both_kinds_of_add_wait_for_the_lock_and_fail_closed(tmp_path: Path, writes_before: int) -> None:
    # Write 0, 8, 16... of an instance is an upsert and a sweep in one BEGIN IMMEDIATE transaction, the
    # others one autocommit upsert: both wait for a lock another connection holds briefly, and both give
    # up with StoreError (nothing recorded) when it is held past the timeout.
    path = tmp_path / "busy.db"
    s = SQLiteStore(path, timeout=10)
    for i in range(writes_before):
        assert s.add(f"before-{i}", expires_at=T0 + HOUR, now=T0)
    blocker = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    blocker.execute("BEGIN EXCLUSIVE")
    release = threading.Timer(0.2, lambda: blocker.execute("ROLLBACK"))
    release.start()
    try:
        assert s.add("during", expires_at=T0 + HOUR, now=T0, value="v") is True
    finally:
        release.join()
    assert s.add("during", expires_at=T0 + HOUR, now=T0) is False
    s.close()

    s = SQLiteStore(path, timeout=0.05)
    for i in range(writes_before):
        assert s.add(f"before-{i}", expires_at=T0 + HOUR, now=T0) is False
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreError, match="locked"):
            s.add("refused", expires_at=T0 + HOUR, now=T0)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert "refused" not in _rows(path)
    assert s.add("refused", expires_at=T0 + HOUR, now=T0) is True
    s.close()
