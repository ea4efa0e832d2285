"""``consume_and_add``: a login's one store operation (consume the pending request, record the replay key).

Contract on every backend (memory, SQLite file and in-memory, Redis, and through PrefixedStore views),
fail-closed behaviour, a reference model (hypothesis), and real races between threads and processes.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import sqlite3
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fedlib.errors import StoreError
from fedlib.stores import MemoryStore, RedisStore, SQLiteStore, Store
from fedlib.stores.base import consume_and_add
from fedlib.stores.prefixed import PrefixedStore, base_and_prefix, unprefixed

T0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)

BACKENDS = ["memory", "sqlite-file", "sqlite-memory", "sqlite-no-returning", "redis"]


def _open(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Store:
    if kind == "memory":
        return MemoryStore()
    if kind == "sqlite-file":
        return SQLiteStore(tmp_path / f"{uuid.uuid4().hex}.db")
    if kind == "redis":
        store: Store = request.getfixturevalue("redis_server").store()
        return store
    s = SQLiteStore(":memory:")
    if kind == "sqlite-no-returning":
        s._use_returning = False  # the SQLite < 3.35 code path
    return s


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    s = _open(request.param, tmp_path, request)
    yield s
    s.close()


# -- semantics ------------------------------------------------------------------------------------------


def test_nothing_pending_changes_nothing(store: Any) -> None:
    assert store.consume_and_add("request", "replay", expires_at=T0 + HOUR, now=T0) == (None, False)
    assert store.add("replay", expires_at=T0 + HOUR, now=T0) is True  # it was not recorded


def test_consumes_and_records(store: Any) -> None:
    assert store.add("request", expires_at=T0 + HOUR, now=T0, value="pending ✓")
    assert store.consume_and_add("request", "replay", expires_at=T0 + 2 * HOUR, now=T0) == ("pending ✓", True)
    assert store.consume("request", now=T0) is None  # consumed
    assert store.add("replay", expires_at=T0 + 3 * HOUR, now=T0 + HOUR) is False  # recorded, live until T0 + 2h
    assert store.consume("replay", now=T0) == ""  # with an empty value


def test_a_recorded_key_is_a_replay_and_the_request_is_consumed_all_the_same(store: Any) -> None:
    assert store.add("replay", expires_at=T0 + HOUR, now=T0, value="first")
    assert store.add("request", expires_at=T0 + HOUR, now=T0, value="v")
    assert store.consume_and_add("request", "replay", expires_at=T0 + HOUR, now=T0) == ("v", False)
    assert store.consume("request", now=T0) is None
    assert store.consume("replay", now=T0) == "first"  # untouched


def test_an_expired_pending_request_is_not_consumed_and_records_nothing(store: Any) -> None:
    assert store.add("request", expires_at=T0 + HOUR, now=T0, value="v")
    later = T0 + HOUR  # == expires_at: no longer live
    assert store.consume_and_add("request", "replay", expires_at=later + HOUR, now=later) == (None, False)
    assert store.add("replay", expires_at=later + HOUR, now=later) is True


def test_an_expired_replay_entry_is_replaced(store: Any) -> None:
    assert store.add("replay", expires_at=T0 + timedelta(seconds=1), now=T0)
    later = T0 + timedelta(seconds=1)
    assert store.add("request", expires_at=later + HOUR, now=later, value="v")
    assert store.consume_and_add("request", "replay", expires_at=later + HOUR, now=later) == ("v", True)
    assert store.add("replay", expires_at=later + 2 * HOUR, now=later + timedelta(minutes=59)) is False


def test_once_only(store: Any) -> None:
    assert store.add("request", expires_at=T0 + HOUR, now=T0, value="v")
    assert store.consume_and_add("request", "replay-1", expires_at=T0 + HOUR, now=T0) == ("v", True)
    assert store.consume_and_add("request", "replay-2", expires_at=T0 + HOUR, now=T0) == (None, False)
    assert store.add("replay-2", expires_at=T0 + HOUR, now=T0) is True


@pytest.mark.parametrize(
    ("consume_key", "add_key", "expires_at", "now", "error"),
    [
        ("k", "k", T0 + HOUR, T0, ValueError),  # one key for both
        ("", "r", T0 + HOUR, T0, ValueError),
        ("k", "", T0 + HOUR, T0, ValueError),
        ("k", "\ud800", T0 + HOUR, T0, ValueError),
        (None, "r", T0 + HOUR, T0, TypeError),
        ("k", b"r", T0 + HOUR, T0, TypeError),
        ("k", "r", T0, T0, ValueError),  # expires_at not after now
        ("k", "r", datetime(2026, 1, 1, 13), T0, ValueError),  # naive
        ("k", "r", T0 + HOUR, datetime(2026, 1, 1, 12), ValueError),
    ],
)
def test_bad_arguments_change_nothing(
    store: Any, consume_key: Any, add_key: Any, expires_at: Any, now: Any, error: type[Exception]
) -> None:
    assert store.add("k", expires_at=T0 + HOUR, now=T0, value="v")
    with pytest.raises(error):
        store.consume_and_add(consume_key, add_key, expires_at=expires_at, now=now)
    assert store.consume("k", now=T0) == "v"


def test_closed_store_fails_closed(store: Any) -> None:
    store.close()
    with pytest.raises(StoreError):
        store.consume_and_add("k", "r", expires_at=T0 + HOUR, now=T0)


# -- views: the pending request inside a tenant's prefix, the replay key outside it ----------------------


def test_views_prefix_both_keys(store: Any) -> None:
    view = PrefixedStore(PrefixedStore(store, "tenant:a"), "x")
    assert view.add("request", expires_at=T0 + HOUR, now=T0, value="v")
    assert view.consume_and_add("request", "replay", expires_at=T0 + HOUR, now=T0) == ("v", True)
    assert view.add("replay", expires_at=T0 + HOUR, now=T0) is False
    assert store.add("replay", expires_at=T0 + HOUR, now=T0) is True  # not the base's key


def test_base_and_prefix_reach_a_key_inside_a_view_and_one_outside(store: Any) -> None:
    a, b = PrefixedStore(store, "tenant:a"), PrefixedStore(store, "tenant:b")
    nested = PrefixedStore(a, "inner")
    for view in (a, nested):
        base, prefix = base_and_prefix(view)
        assert base is store is unprefixed(view)
        assert view.add("request", expires_at=T0 + HOUR, now=T0, value="v")
        assert base.consume("x" + prefix + "request", now=T0) is None  # the prefix is exact
        assert consume_and_add(base, prefix + "request", "replay", expires_at=T0 + HOUR, now=T0) == ("v", True)
        assert view.consume("request", now=T0) is None
        assert store.add("replay", expires_at=T0 + HOUR, now=T0) is False
        assert store.consume("replay", now=T0) == ""
    # another tenant's view never reaches a's pending request
    assert a.add("request", expires_at=T0 + HOUR, now=T0, value="a's")
    base, prefix = base_and_prefix(b)
    assert consume_and_add(base, prefix + "request", "replay", expires_at=T0 + HOUR, now=T0) == (None, False)
    assert base_and_prefix(store) == (store, "")


class _TwoStepStore:
    """A store of someone else's, with only the Store protocol (no consume_and_add)."""

    def __init__(self) -> None:
        self.inner = MemoryStore()
        self.calls: list[str] = []

    def add(self, key: str, **kwargs: Any) -> bool:
        self.calls.append("add")
        return self.inner.add(key, **kwargs)

    def consume(self, key: str, **kwargs: Any) -> str | None:
        self.calls.append("consume")
        return self.inner.consume(key, **kwargs)

    def close(self) -> None:
        self.inner.close()


def test_a_store_without_the_method_gets_consume_then_add() -> None:
    other = _TwoStepStore()
    assert consume_and_add(other, "request", "replay", expires_at=T0 + HOUR, now=T0) == (None, False)
    assert other.calls == ["consume"]  # nothing pending: nothing added
    other.add("request", expires_at=T0 + HOUR, now=T0, value="v")
    assert consume_and_add(other, "request", "replay", expires_at=T0 + HOUR, now=T0) == ("v", True)
    other.add("request", expires_at=T0 + HOUR, now=T0, value="w")
    assert consume_and_add(other, "request", "replay", expires_at=T0 + HOUR, now=T0) == ("w", False)
    with pytest.raises(ValueError, match="different"):
        consume_and_add(other, "k", "k", expires_at=T0 + HOUR, now=T0)
    # and through a view of it
    view = PrefixedStore(other, "t")
    view.add("request", expires_at=T0 + HOUR, now=T0, value="x")
    assert view.consume_and_add("request", "replay", expires_at=T0 + HOUR, now=T0) == ("x", True)


# -- fail closed: a failed operation consumes nothing and records nothing --------------------------------


def test_sqlite_failure_rolls_back_both(tmp_path: Path) -> None:
    path = tmp_path / "fail.db"
    s = SQLiteStore(path, timeout=0.05)
    assert s.add("request", expires_at=T0 + HOUR, now=T0, value="v")
    blocker = sqlite3.connect(path, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")  # another process holds the write lock past the timeout
        with pytest.raises(StoreError, match="consume_and_add"):
            s.consume_and_add("request", "replay", expires_at=T0 + HOUR, now=T0)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    # An error inside the transaction (after the consume): rolled back, the request still pending.
    conn = s._conn
    assert conn is not None
    conn.execute("CREATE TRIGGER refuse BEFORE INSERT ON fedlib_store BEGIN SELECT RAISE(ABORT, 'refused'); END")
    with pytest.raises(StoreError, match="refused"):
        s.consume_and_add("request", "replay", expires_at=T0 + HOUR, now=T0)
    conn.execute("DROP TRIGGER refuse")
    assert s.consume_and_add("request", "replay", expires_at=T0 + HOUR, now=T0) == ("v", True)
    s.close()


def test_sqlite_corrupt_value_fails_closed(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.db"
    s = SQLiteStore(path)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("INSERT INTO fedlib_store VALUES ('request', x'00ff', ?)", ((T0 + HOUR).timestamp(),))
    conn.close()
    with pytest.raises(StoreError, match="corrupt"):
        s.consume_and_add("request", "replay", expires_at=T0 + HOUR, now=T0)
    s.close()


def test_redis_checks_both_entries_before_writing(redis_server: Any) -> None:
    import redis

    raw = redis.Redis.from_url(redis_server.url)
    s = redis_server.store()
    try:
        assert s.add("request", expires_at=T0 + HOUR, now=T0, value="v")
        raw.hset(s.redis_key("hash"), "f", "v")  # WRONGTYPE
        raw.set(s.redis_key("garbage"), b"not an entry")
        for bad in ("hash", "garbage"):
            with pytest.raises(StoreError):
                s.consume_and_add("request", bad, expires_at=T0 + HOUR, now=T0)
            with pytest.raises(StoreError):
                s.consume_and_add(bad, "replay", expires_at=T0 + HOUR, now=T0)
        # Nothing was written by the failed scripts: the request is still pending, the replay key free.
        assert s.consume_and_add("request", "replay", expires_at=T0 + HOUR, now=T0) == ("v", True)
        raw.set(s.redis_key("latin1"), b"999999999999000000" + "é".encode("latin-1"))
        with pytest.raises(StoreError, match="corrupt"):
            s.consume_and_add("latin1", "replay-2", expires_at=T0 + HOUR, now=T0)
    finally:
        raw.close()
        s.close()


def test_redis_ttl_of_the_recorded_key(redis_server: Any) -> None:
    import redis

    raw = redis.Redis.from_url(redis_server.url)
    s = redis_server.store(clock_tolerance=timedelta(seconds=100))
    try:
        assert s.add("request", expires_at=T0 + HOUR, now=T0, value="v")
        assert s.consume_and_add("request", "replay", expires_at=T0 + timedelta(seconds=50), now=T0) == ("v", True)
        ttl = raw.pttl(s.redis_key("replay"))
        assert 140_000 < ttl <= 150_000  # (expires_at - now) + clock_tolerance
    finally:
        raw.close()
        s.close()


def test_redis_script_is_loaded_on_demand(redis_server: Any) -> None:
    import redis

    raw = redis.Redis.from_url(redis_server.url)
    s = redis_server.store()
    try:
        raw.script_flush()
        assert s.add("request", expires_at=T0 + HOUR, now=T0, value="v")
        assert s.consume_and_add("request", "replay", expires_at=T0 + HOUR, now=T0) == ("v", True)
    finally:
        raw.close()
        s.close()


def test_redis_outage_fails_closed() -> None:
    s = RedisStore("redis://127.0.0.1:1/0", timeout=0.5)
    with pytest.raises(StoreError):
        s.consume_and_add("request", "replay", expires_at=T0 + HOUR, now=T0)
    s.close()


# -- property: consume_and_add is consume-then-add, on every backend -------------------------------------


class _Reference:
    def __init__(self) -> None:
        self.entries: dict[str, tuple[datetime, str]] = {}

    def add(self, key: str, expires_at: datetime, now: datetime, value: str) -> bool:
        live = self.entries.get(key)
        if live is not None and now < live[0]:
            return False
        self.entries[key] = (expires_at, value)
        return True

    def consume(self, key: str, now: datetime) -> str | None:
        entry = self.entries.get(key)
        if entry is None or now >= entry[0]:
            return None
        del self.entries[key]
        return entry[1]

    def consume_and_add(self, consume_key: str, add_key: str, expires_at: datetime, now: datetime) -> object:
        value = self.consume(consume_key, now)
        if value is None:
            return (None, False)
        return (value, self.add(add_key, expires_at, now, ""))


_OPS = st.lists(
    st.tuples(
        st.sampled_from(["add", "consume", "consume_and_add"]),
        st.sampled_from(["a", "b", "c"]),
        st.sampled_from(["a", "b", "c"]),
        st.sampled_from([timedelta(0), timedelta(microseconds=1), timedelta(seconds=1), timedelta(seconds=3)]),
        st.sampled_from([timedelta(microseconds=1), timedelta(seconds=1), timedelta(seconds=2)]),
        st.text(max_size=2),
    ),
    max_size=40,
)


@pytest.mark.parametrize("backend", BACKENDS)
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(ops=_OPS)
def test_matches_the_reference_model(
    backend: str, ops: list[tuple[str, str, str, timedelta, timedelta, str]], tmp_path: Path, request: Any
) -> None:
    store: Any = _open(backend, tmp_path, request)
    model = _Reference()
    now = T0
    try:
        for op, key, other, step, ttl, value in ops:
            now += step
            if op == "add":
                expected: object = model.add(key, now + ttl, now, value)
                actual: object = store.add(key, expires_at=now + ttl, now=now, value=value)
            elif op == "consume":
                expected = model.consume(key, now)
                actual = store.consume(key, now=now)
            elif key == other:
                continue
            else:
                expected = model.consume_and_add(key, other, now + ttl, now)
                actual = store.consume_and_add(key, other, expires_at=now + ttl, now=now)
            assert actual == expected, (op, key, other, now)
    finally:
        store.close()


# -- races -------------------------------------------------------------------------------------------------


@pytest.fixture
def fast_switching() -> Iterator[None]:
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(old)


def _thread_race(n: int, op: Callable[[int], object]) -> list[object]:
    barrier = threading.Barrier(n)
    results: list[object] = []
    lock = threading.Lock()

    def run(i: int) -> None:
        barrier.wait(timeout=10)
        try:
            result = op(i)
        except Exception as exc:  # reported, never swallowed
            result = exc
        with lock:
            results.append(result)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert len(results) == n
    return results


@pytest.mark.usefixtures("fast_switching")
@pytest.mark.parametrize("kind", ["memory", "sqlite-file", "redis", "sqlite-instance-per-thread"])
def test_thread_race_one_request_many_posts(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """Posts of one Response (same replay key) and of other Responses (other keys) race for one request:
    exactly one consumes it, and only its replay key is recorded."""
    path = tmp_path / "race.db"
    shared = _open("sqlite-file" if kind.startswith("sqlite") else kind, tmp_path, request)
    if kind.startswith("sqlite"):
        shared.close()
        shared = SQLiteStore(path)
    local = threading.local()

    def store() -> Any:
        if kind != "sqlite-instance-per-thread":
            return shared
        if not hasattr(local, "store"):
            local.store = SQLiteStore(path)
        return local.store

    for round_no in range(10):
        request_key = f"request-{round_no}"
        assert shared.add(request_key, expires_at=T0 + HOUR, now=T0, value=f"pending-{round_no}")

        def post(i: int, request_key: str = request_key, round_no: int = round_no) -> object:
            replay_key = f"replay-{round_no}-{i % 3}"  # three different Responses, each posted several times
            outcome = store().consume_and_add(request_key, replay_key, expires_at=T0 + HOUR, now=T0)
            return (outcome, replay_key)

        results = _thread_race(12, post)
        winners = [r for r in results if isinstance(r, tuple) and r[0] != (None, False)]
        assert len(winners) == 1, results
        (outcome, replay_key) = winners[0]
        assert outcome == (f"pending-{round_no}", True)
        assert all(r[0] == (None, False) for r in results if r is not winners[0]), results  # type: ignore[index]
        for i in range(3):
            key = f"replay-{round_no}-{i}"
            assert shared.add(key, expires_at=T0 + HOUR, now=T0) is (key != replay_key)
    shared.close()


def _race_worker(kind: str, location: str, barrier: Any, tasks: Any, results: Any) -> None:
    """Runs in a spawned process: open the store, then race on consume_and_add when told."""
    try:
        store: Any = (
            SQLiteStore(location, timeout=30) if kind == "sqlite" else RedisStore(location[0], prefix=location[1])
        )
    except BaseException as exc:
        results.put(("open-error", repr(exc)))
        return
    results.put(("ready", os.getpid()))
    try:
        while (task := tasks.get()) is not None:
            request_key, replay_key, now_ts = task
            now = datetime.fromtimestamp(now_ts, UTC)
            barrier.wait(timeout=60)
            try:
                result: object = store.consume_and_add(request_key, replay_key, expires_at=now + HOUR, now=now)
            except BaseException as exc:
                result = f"error: {exc!r}"
            results.put(("done", result))
    finally:
        store.close()


def _process_race(kind: str, location: Any, opener: Callable[[], Any]) -> None:
    ctx = multiprocessing.get_context("spawn")
    n = 5
    barrier = ctx.Barrier(n)
    results = ctx.Queue()
    procs, queues = [], []
    for _ in range(n):
        q = ctx.Queue()
        p = ctx.Process(target=_race_worker, args=(kind, location, barrier, q, results), daemon=True)
        p.start()
        procs.append(p)
        queues.append(q)
    parent = opener()
    try:
        ready = [results.get(timeout=60) for _ in range(n)]
        assert [r[0] for r in ready] == ["ready"] * n, ready
        for round_no in range(4):
            assert parent.add(f"request-{round_no}", expires_at=T0 + HOUR, now=T0, value=f"pending-{round_no}")
            for i, q in enumerate(queues):
                q.put((f"request-{round_no}", f"replay-{round_no}-{i % 2}", T0.timestamp()))
            out = [results.get(timeout=60)[1] for _ in range(n)]
            assert out.count((f"pending-{round_no}", True)) == 1, out
            assert out.count((None, False)) == n - 1, out
            recorded = [parent.add(f"replay-{round_no}-{i}", expires_at=T0 + HOUR, now=T0) for i in range(2)]
            assert sorted(recorded) == [False, True], recorded  # exactly one of the two replay keys
    finally:
        parent.close()
        for q in queues:
            q.put(None)
        for p in procs:
            p.join(10)
            if p.is_alive():  # pragma: no cover - only on a hung worker
                p.kill()


def test_process_race_sqlite(tmp_path: Path) -> None:
    path = str(tmp_path / "procs.db")
    SQLiteStore(path).close()
    _process_race("sqlite", path, functools.partial(SQLiteStore, path))


def test_process_race_redis(redis_server: Any) -> None:
    prefix = f"procs-{uuid.uuid4().hex}"
    _process_race("redis", (redis_server.url, prefix), functools.partial(RedisStore, redis_server.url, prefix=prefix))
