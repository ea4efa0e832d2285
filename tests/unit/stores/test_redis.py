"""RedisStore against a real redis-server on 127.0.0.1: keys, prefixes, failures (fail closed) and races.

The protocol tests shared with the other backends (semantics, argument checks, the reference model) are
in test_stores.py, parametrized over every backend including Redis; this file has what is Redis-specific.
"""

from __future__ import annotations

import functools
import importlib.util
import multiprocessing
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

if importlib.util.find_spec("redis") is None:  # pragma: no cover - the dev venv has it (fedlib[redis])
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        raise ImportError("the redis package is missing (in CI a missing component is a failure, not a skip)")
    pytest.skip("the redis package is missing (pip install 'fedlib[redis]')", allow_module_level=True)

import redis
from redis.crc import key_slot

import fedlib.stores.redis as redis_module
from fedlib.errors import ConfigurationError, StoreError
from fedlib.stores import RedisStore, open_store

T0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
KEYS = [f"_id-{i:03d}" for i in range(200)]


def _raw(url: str) -> redis.Redis:
    """A plain redis-py client, to look at (or damage) what RedisStore wrote."""
    return redis.Redis.from_url(url, socket_timeout=5)


# -- keys and prefixes ----------------------------------------------------------------------------------


def test_keys_are_hash_tagged_by_prefix(redis_server: Any) -> None:
    s = redis_server.store(prefix="tenant-a")
    assert s.redis_key("_abc") == b"{tenant-a}:_abc"
    assert s.redis_key("ä{x}") == "{tenant-a}:ä{x}".encode()
    # every key of one prefix is in one Redis Cluster slot: the slot of the prefix alone
    assert {key_slot(s.redis_key(k)) for k in KEYS} == {key_slot(b"tenant-a")}
    raw = _raw(redis_server.url)
    try:
        raw.delete(s.redis_key("_abc"))
        assert s.add("_abc", expires_at=T0 + HOUR, now=T0, value="v")
        assert raw.exists(b"{tenant-a}:_abc") == 1
        assert s.consume("_abc", now=T0) == "v"
        assert raw.exists(b"{tenant-a}:_abc") == 0
    finally:
        raw.close()
        s.close()


def test_prefixes_are_isolated(redis_server: Any) -> None:
    base = f"iso-{os.getpid()}-{time.monotonic_ns()}"
    a = redis_server.store(prefix=base)
    b = redis_server.store(prefix=base + "b")  # a prefix that extends the other
    c = open_store(f"{redis_server.url}?prefix={base}")  # the same prefix as `a`, another client
    try:
        assert a.add("k", expires_at=T0 + HOUR, now=T0, value="from-a")
        assert b.add("k", expires_at=T0 + HOUR, now=T0, value="from-b")
        assert b.add("k", expires_at=T0 + HOUR, now=T0) is False
        assert c.add("k", expires_at=T0 + HOUR, now=T0) is False
        assert b.consume("k", now=T0) == "from-b"
        assert b.consume("k", now=T0) is None
        assert c.consume("k", now=T0) == "from-a"
        assert a.consume("k", now=T0) is None
    finally:
        for s in (a, b, c):
            s.close()


@pytest.mark.parametrize(
    ("prefix", "error"),
    [
        *[(p, ValueError) for p in ("", "a{b", "a}b", "a b", "a\nb", "x" * 257, "\ud800")],
        *[(p, TypeError) for p in (None, b"p")],
    ],
)
def test_bad_prefixes_are_rejected(prefix: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        RedisStore("redis://127.0.0.1:6379/0", prefix=prefix)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"timeout": 0}, ValueError),
        ({"timeout": -1}, ValueError),
        ({"timeout": float("inf")}, ValueError),
        ({"timeout": float("nan")}, ValueError),
        ({"timeout": "2"}, TypeError),
        ({"timeout": True}, TypeError),
        ({"gc_grace": timedelta(seconds=-1)}, ValueError),
        ({"gc_grace": 60}, TypeError),
    ],
)
def test_constructor_arguments_are_checked(kwargs: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        RedisStore("redis://127.0.0.1:6379/0", **kwargs)


@pytest.mark.parametrize(
    "url", ["", "memory://", "redis:/127.0.0.1", "http://127.0.0.1", "unix:///tmp/r.sock", "redis://127.0.0.1?db=1"]
)
def test_constructor_rejects_bad_urls(url: str) -> None:
    with pytest.raises(ConfigurationError):
        RedisStore(url)


@pytest.mark.parametrize("url", ["redis://a..b", "redis://.", "redis://" + "a" * 64, "rediss://x..y:6380/0"])
def test_a_host_that_is_no_host_name_is_refused_when_opened(url: str) -> None:
    # Accepted before, then the first add raised a bare UnicodeError from the socket layer's IDNA encoding
    # (the CLI: "internal error", exit 3).
    with pytest.raises(ConfigurationError, match="not a host name"):
        open_store(url)


@pytest.mark.parametrize("url", ["redis://[::1]:6379/0", "redis://b\u00fccher.example", "redis://localhost"])
def test_ipv6_and_international_hosts_are_still_hosts(url: str) -> None:
    RedisStore(url).close()


# -- expiry: the caller's clock decides, Redis's TTL only collects garbage --------------------------------


def test_ttl_is_remaining_lifetime_plus_grace(redis_server: Any) -> None:
    raw = _raw(redis_server.url)
    default = redis_server.store()
    tight = redis_server.store(gc_grace=timedelta(0))  # the former name of clock_tolerance
    try:
        # `now` is years away from the real clock: only the difference matters. The default grace is
        # the largest clock skew fedlib allows (one hour), so that a worker behind by up to that much
        # still finds the entry (test_clock_offsets.py).
        assert default.add("k", expires_at=T0 + timedelta(seconds=30), now=T0)
        assert 3_629_000 < raw.pttl(default.redis_key("k")) <= 3_630_000
        assert tight.add("k", expires_at=T0 + timedelta(microseconds=1500), now=T0)
        assert raw.pttl(tight.redis_key("k")) in {0, 1, 2, -2}  # -2: already collected (a loaded machine)
        time.sleep(0.05)  # Redis has collected the entry (it expired anyway)
        assert raw.exists(tight.redis_key("k")) == 0
        assert tight.consume("k", now=T0) is None
    finally:
        raw.close()
        default.close()
        tight.close()


def test_liveness_follows_callers_now_not_server_clock(redis_server: Any) -> None:
    with redis_server.store() as s:
        past = datetime(1990, 6, 1, tzinfo=UTC)
        future = datetime(9000, 1, 1, tzinfo=UTC)
        assert s.add("old", expires_at=past + timedelta(seconds=2), now=past, value="1990")
        assert s.add("new", expires_at=future + timedelta(seconds=2), now=future, value="9000")
        assert s.add("old", expires_at=past + HOUR, now=past + timedelta(seconds=1)) is False
        assert s.consume("new", now=future + timedelta(seconds=2)) is None  # expired for this caller
        assert s.consume("new", now=future + timedelta(seconds=1, microseconds=999_999)) == "9000"
        assert s.consume("old", now=past) == "1990"


def test_extreme_datetimes_round_trip(redis_server: Any) -> None:
    with redis_server.store() as s:
        lo = datetime(1, 1, 1, tzinfo=UTC)
        hi = datetime(9999, 12, 31, 23, 59, 59, 999_998, tzinfo=UTC)
        assert s.add("lo", expires_at=lo + timedelta(microseconds=1), now=lo, value="lo")
        assert s.add("lo", expires_at=lo + HOUR, now=lo) is False
        assert s.consume("lo", now=lo + timedelta(microseconds=1)) is None
        assert s.add("hi", expires_at=hi + timedelta(microseconds=1), now=hi, value="hi")
        assert s.consume("hi", now=hi) == "hi"


# -- scripts: EVALSHA, and EVAL when the server does not know the script ----------------------------------


def test_evalsha_with_eval_fallback(redis_server: Any) -> None:
    raw = _raw(redis_server.url)
    s = redis_server.store()
    try:
        raw.script_flush()
        raw.config_resetstat()
        assert s.add("a", expires_at=T0 + HOUR, now=T0)  # NOSCRIPT -> EVAL (which caches the script)
        assert s.add("b", expires_at=T0 + HOUR, now=T0)  # EVALSHA
        assert s.consume("a", now=T0) == ""  # the other script: NOSCRIPT -> EVAL
        assert s.consume("b", now=T0) == ""  # EVALSHA
        stats = raw.info("commandstats")
        assert stats["cmdstat_eval"]["calls"] == 2
        assert stats["cmdstat_evalsha"]["calls"] == 4
        assert stats["cmdstat_evalsha"]["failed_calls"] == 2
    finally:
        raw.close()
        s.close()


# -- failures: every Redis error is a StoreError, never an answer -----------------------------------------


def test_closed_port_fails_closed() -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    s = RedisStore(f"redis://127.0.0.1:{port}/0", timeout=1)
    with pytest.raises(StoreError, match="fail closed") as info:
        s.add("k", expires_at=T0 + HOUR, now=T0)
    assert isinstance(info.value.__cause__, redis.ConnectionError)
    with pytest.raises(StoreError):
        s.consume("k", now=T0)
    s.close()


def test_server_outage_fails_closed_then_recovers(redis_server_factory: Callable[[], Any]) -> None:
    server = redis_server_factory()
    s = RedisStore(server.url, prefix="outage", timeout=1)
    assert s.add("live", expires_at=T0 + HOUR, now=T0, value="v")
    server.stop()
    for _ in range(3):  # the pooled connection is dead, and so is every new one
        with pytest.raises(StoreError, match="fail closed"):
            s.add("new", expires_at=T0 + HOUR, now=T0)
        with pytest.raises(StoreError):
            s.add("live", expires_at=T0 + HOUR, now=T0)
        with pytest.raises(StoreError):
            s.consume("live", now=T0)
    # back on the same port (empty: no persistence, no cached scripts): the store works again
    server.ensure_started()
    assert s.add("new", expires_at=T0 + HOUR, now=T0) is True
    assert s.consume("new", now=T0) == ""
    s.close()


def test_unresponsive_server_times_out() -> None:
    with socket.socket() as listener:  # accepts connections (the kernel does) but never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        s = RedisStore(f"redis://127.0.0.1:{port}/0", timeout=0.2)
        with pytest.raises(StoreError, match="fail closed") as info:
            s.add("k", expires_at=T0 + HOUR, now=T0)
        assert isinstance(info.value.__cause__, redis.TimeoutError)  # the timeout fired: no hang
        with pytest.raises(StoreError):
            s.consume("k", now=T0)
        s.close()


def test_wrong_type_and_corrupt_entries_fail_closed(redis_server: Any) -> None:
    raw = _raw(redis_server.url)
    s = redis_server.store()
    try:
        raw.hset(s.redis_key("hash"), "f", "v")  # WRONGTYPE inside the script
        raw.set(s.redis_key("garbage"), b"not an entry")
        raw.set(s.redis_key("latin1"), b"999999999999000000" + "é".encode("latin-1"))
        for key in ("hash", "garbage"):
            with pytest.raises(StoreError) as info:
                s.add(key, expires_at=T0 + HOUR, now=T0)
            assert isinstance(info.value.__cause__, redis.ResponseError)
            with pytest.raises(StoreError):
                s.consume(key, now=T0)
        with pytest.raises(StoreError, match="corrupt"):
            s.consume("latin1", now=T0)
    finally:
        raw.close()
        s.close()


def test_closed_store_and_context_manager(redis_server: Any) -> None:
    with redis_server.store() as s:
        assert s.add("k", expires_at=T0 + HOUR, now=T0)
    with pytest.raises(StoreError, match="closed"):
        s.add("k2", expires_at=T0 + HOUR, now=T0)
    with pytest.raises(StoreError, match="closed"):
        s.consume("k", now=T0)
    s.close()


def test_from_client_leaves_the_client_open(redis_server: Any) -> None:
    client = _raw(redis_server.url)
    s = RedisStore.from_client(client, prefix=f"fc-{time.monotonic_ns()}")
    assert repr(s).startswith("<RedisStore Redis client prefix=")
    assert s.add("k", expires_at=T0 + HOUR, now=T0, value="v")
    s.close()
    with pytest.raises(StoreError, match="closed"):
        s.consume("k", now=T0)
    assert client.get(s.redis_key("k")) is not None  # still usable: the caller owns it
    client.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_store_survives_fork(redis_server: Any) -> None:
    s = redis_server.store()
    assert s.add("parent", expires_at=T0 + HOUR, now=T0, value="p")  # the pool now holds a connection
    ctx = multiprocessing.get_context("fork")
    results = ctx.Queue()

    def child() -> None:  # redis-py opens new connections in the child instead of sharing the parent's
        results.put((s.add("parent", expires_at=T0 + HOUR, now=T0), s.add("child", expires_at=T0 + HOUR, now=T0)))

    proc = ctx.Process(target=child)
    proc.start()
    proc.join(20)
    assert proc.exitcode == 0
    assert results.get(timeout=5) == (False, True)
    assert s.consume("child", now=T0) == ""
    assert s.consume("parent", now=T0) == "p"
    s.close()


def test_missing_redis_package_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)  # `import redis` now raises ImportError
    monkeypatch.setattr(redis_module, "_modules", None)
    with pytest.raises(ConfigurationError, match=r"pip install 'fedlib\[redis\]'"):
        RedisStore("redis://127.0.0.1:6379/0")
    with pytest.raises(ConfigurationError, match=r"fedlib\[redis\]"):
        open_store("redis://127.0.0.1:6379/0")


def test_importing_stores_does_not_import_redis() -> None:
    code = "import sys, fedlib.stores, fedlib.stores.redis; sys.exit('redis' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False, timeout=60).returncode == 0


# -- races: many threads and several processes, exactly one winner per key --------------------------------


def _racers(n: int, run: Callable[[int], list[object]]) -> list[list[object]]:
    """Run ``run(i)`` in n threads released together; every thread's list of results."""
    barrier = threading.Barrier(n)
    out: list[list[object]] = [[] for _ in range(n)]

    def body(i: int) -> None:
        barrier.wait(timeout=30)
        out[i] = run(i)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads)
    return out


def _attempt(op: Callable[[], object]) -> object:
    try:
        return op()
    except Exception as exc:  # reported, never swallowed
        return f"error: {exc!r}"


def _assert_one_winner_per_key(per_racer: list[list[object]], winning: Callable[[object, str], bool]) -> None:
    losers = {None, False}
    for index, key in enumerate(KEYS):
        results = [r[index] for r in per_racer]
        winners = [r for r in results if winning(r, key)]
        assert len(winners) == 1, (key, results)
        assert sum(r in losers for r in results) == len(results) - 1, (key, results)


@pytest.mark.usefixtures("fast_switching")
def test_thread_race_on_200_keys(redis_server: Any) -> None:
    prefix = f"threads-{time.monotonic_ns()}"
    shared = redis_server.store(prefix=prefix)
    own = [redis_server.store(prefix=prefix) for _ in range(8)]
    stores = [shared] * 8 + own  # half share one client, half have their own
    try:
        added = _racers(len(stores), lambda i: _race_all_keys(stores[i], "add", T0, 3600, "t", i))
        _assert_one_winner_per_key(added, lambda r, _k: r is True)
        consumed = _racers(len(stores), lambda i: _race_all_keys(stores[i], "consume", T0, 0, "t", i))
        _assert_one_winner_per_key(consumed, lambda r, _k: isinstance(r, str))
        # the consumer got the value of the racer whose add won
        for index, key in enumerate(KEYS):
            adder = next(i for i, r in enumerate(added) if r[index] is True)
            assert [r[index] for r in consumed if r[index] is not None] == [f"t.{adder}"], key
    finally:
        for s in (shared, *own):
            s.close()


@pytest.fixture
def fast_switching() -> Iterator[None]:
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(old)


def _race_all_keys(store: RedisStore, op: str, now: datetime, ttl: float, tag: str, i: int) -> list[object]:
    """One racer: ``op`` on every key in order; an add records ``tag.i`` as its value."""
    if op == "add":
        expires = now + timedelta(seconds=ttl)
        return [
            _attempt(functools.partial(store.add, k, expires_at=expires, now=now, value=f"{tag}.{i}")) for k in KEYS
        ]
    return [_attempt(functools.partial(store.consume, k, now=now)) for k in KEYS]


def _process_worker(url: str, prefix: str, n_threads: int, barrier: Any, tasks: Any, results: Any) -> None:
    """Runs in a spawned process: n_threads threads on one RedisStore race every task's keys in order."""
    store = RedisStore(url, prefix=prefix, timeout=10)
    results.put(("ready", os.getpid()))
    try:
        while (task := tasks.get()) is not None:
            op, now_ts, ttl = task
            run = functools.partial(
                _race_all_keys, store, op, datetime.fromtimestamp(now_ts, UTC), ttl, str(os.getpid())
            )
            barrier.wait(timeout=60)  # every process starts its threads at the same moment
            results.put((op, _racers(n_threads, run)))
    finally:
        store.close()


@dataclass
class _ProcessRace:
    url: str
    prefix: str
    n_procs: int = 4
    n_threads: int = 4
    procs: list[Any] = field(default_factory=list)
    task_queues: list[Any] = field(default_factory=list)
    results: Any = None

    def run(self, op: str, now: datetime, ttl: float = 3600.0) -> list[list[object]]:
        for q in self.task_queues:
            q.put((op, now.timestamp(), ttl))
        out = [self.results.get(timeout=120) for _ in range(self.n_procs)]
        assert all(o[0] == op for o in out), out
        return [racer for o in out for racer in o[1]]


@pytest.fixture(scope="module")
def process_race(redis_server: Any) -> Iterator[_ProcessRace]:
    ctx = multiprocessing.get_context("spawn")
    race = _ProcessRace(url=redis_server.url, prefix=f"procs-{os.getpid()}-{time.monotonic_ns()}")
    barrier = ctx.Barrier(race.n_procs)
    race.results = ctx.Queue()
    for _ in range(race.n_procs):
        q = ctx.Queue()
        args = (race.url, race.prefix, race.n_threads, barrier, q, race.results)
        p = ctx.Process(target=_process_worker, args=args, daemon=True)
        p.start()
        race.procs.append(p)
        race.task_queues.append(q)
    try:
        ready = [race.results.get(timeout=60) for _ in range(race.n_procs)]
        assert [r[0] for r in ready] == ["ready"] * race.n_procs, ready
        yield race
    finally:
        for q in race.task_queues:
            q.put(None)
        for p in race.procs:
            p.join(10)
            if p.is_alive():  # pragma: no cover - only on a hung worker
                p.kill()


def test_process_race_add_then_consume_on_200_keys(process_race: _ProcessRace) -> None:
    now = T0
    added = process_race.run("add", now)
    assert len(added) == process_race.n_procs * process_race.n_threads
    _assert_one_winner_per_key(added, lambda r, _k: r is True)
    winners = Counter(r for racer in added for r in racer)
    assert winners[True] == len(KEYS)
    consumed = process_race.run("consume", now)
    _assert_one_winner_per_key(consumed, lambda r, _k: isinstance(r, str))
    # and nothing is left
    with RedisStore(process_race.url, prefix=process_race.prefix) as s:
        assert [s.consume(k, now=now) for k in KEYS] == [None] * len(KEYS)


def test_process_race_add_after_expiry_on_200_keys(process_race: _ProcessRace) -> None:
    start = T0 + timedelta(days=1)
    with RedisStore(process_race.url, prefix=process_race.prefix) as s:
        for k in KEYS:
            assert s.add(k, expires_at=start + timedelta(seconds=1), now=start, value="old")
    later = start + timedelta(seconds=1)  # exactly expires_at: every old entry is dead
    added = process_race.run("add", later, ttl=60)
    _assert_one_winner_per_key(added, lambda r, _k: r is True)
    consumed = process_race.run("consume", later)
    _assert_one_winner_per_key(consumed, lambda r, _k: isinstance(r, str) and r != "old")
