"""How fast are fedlib's replay stores? MemoryStore, SQLiteStore and RedisStore side by side, in one run.

Each timed pair is what a login does to a store: ``add`` of a new key (first use, value stored), then
``consume`` of that key (its value comes back). Every call is timed with ``time.perf_counter_ns``; the
backends take turns in interleaved rounds (GC disabled while timing), so a slow phase of the machine
does not fall on one backend only.

* memory   ``MemoryStore()``                                   (in-process dict + lock)
* sqlite   ``SQLiteStore(<tmp dir>/replay.db)``                (WAL, synchronous=NORMAL, a real file)
* redis    ``RedisStore("redis://127.0.0.1:<port>/0")``        (a redis-server this script starts)

The redis-server is started by this script on a free 127.0.0.1 port (``--bind 127.0.0.1 --save ''
--appendonly no``, working directory in a temporary directory) and stopped when the script ends, also
on Ctrl-C; on Linux it is also told to exit if this script dies. Nothing else is contacted. Without the
``redis-server`` binary or the ``redis`` package the redis row says ``unavailable`` and the others still
run.

Usage: ``python bench/stores.py [--quick] [--pairs N] [--rounds R]``. See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import platform
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path

from fedlib.errors import FedlibError
from fedlib.stores import MemoryStore, RedisStore, SQLiteStore, Store
from fedlib.testing.redis_server import RedisServer, RedisServerError

LIFETIME = timedelta(hours=1)
MAX_PAIRS = 200_000  # an upper bound on --pairs, so that no run is unbounded


@dataclass
class Row:
    name: str
    what: str
    open: Callable[[], Store] | None
    unavailable: str | None = None
    store: Store | None = None
    add_ns: list[int] = field(default_factory=list)
    consume_ns: list[int] = field(default_factory=list)


# -- redis-server on loopback ---------------------------------------------------------------------------


@contextlib.contextmanager
def redis_server(workdir: Path) -> Iterator[str]:
    """Run a redis-server on a free 127.0.0.1 port for the duration of the block; yield its URL."""
    try:
        with RedisServer(workdir) as server:
            yield server.url
    except RedisServerError as exc:
        raise RuntimeError(str(exc)) from None


# -- measuring ------------------------------------------------------------------------------------------


def check(store: Store, now: datetime) -> None:
    """The store really works: first use, replay, consume once, value round trip."""
    expires = now + LIFETIME
    ok = (
        store.add("_bench-check", expires_at=expires, now=now, value="relay") is True
        and store.add("_bench-check", expires_at=expires, now=now) is False
        and store.consume("_bench-check", now=now) == "relay"
        and store.consume("_bench-check", now=now) is None
    )
    if not ok:
        raise RuntimeError("the store gave a wrong answer to the acceptance check")


def run_batch(row: Row, keys: Sequence[str], now: datetime) -> None:
    """Time add + consume of every key (each key is new)."""
    assert row.store is not None
    store = row.store
    expires = now + LIFETIME
    clock = time.perf_counter_ns
    add_ns = row.add_ns
    consume_ns = row.consume_ns
    gc.collect()
    gc.disable()
    try:
        for key in keys:
            t0 = clock()
            added = store.add(key, expires_at=expires, now=now, value=key)
            t1 = clock()
            value = store.consume(key, now=now)
            t2 = clock()
            if not added or value != key:
                raise RuntimeError(f"wrong answer for {key!r}: add={added!r} consume={value!r}")
            add_ns.append(t1 - t0)
            consume_ns.append(t2 - t1)
    finally:
        gc.enable()


def _us(ns: float) -> str:
    return f"{ns / 1000:,.1f}"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smoke run: 300 pairs per backend")
    ap.add_argument("--pairs", type=int, help=f"timed add+consume pairs per backend (default 3000; max {MAX_PAIRS})")
    ap.add_argument("--rounds", type=int, help="interleaved rounds the pairs are split into (default 5; quick 2)")
    args = ap.parse_args(argv)
    pairs = args.pairs or (300 if args.quick else 3_000)
    rounds = args.rounds or (2 if args.quick else 5)
    if not 1 <= pairs <= MAX_PAIRS or not 1 <= rounds <= pairs:
        ap.error(f"need 1 <= --rounds <= --pairs <= {MAX_PAIRS}")
    warmup = min(200, pairs)
    now = datetime.now(UTC).replace(microsecond=0)

    # SIGTERM -> SystemExit, so the finally blocks below stop redis-server and remove the temp dir.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with tempfile.TemporaryDirectory(prefix="fedlib-bench-stores-") as tmp, contextlib.ExitStack() as stack:
        workdir = Path(tmp)
        redis_url: str | None = None
        redis_problem: str | None = None
        try:
            redis_url = stack.enter_context(redis_server(workdir))
        except (RuntimeError, OSError) as exc:
            redis_problem = str(exc)
        rows = [
            Row("memory", "MemoryStore() (in process)", MemoryStore),
            Row(
                "sqlite",
                "SQLiteStore(<tmp>/replay.db) (WAL, synchronous=NORMAL)",
                lambda: SQLiteStore(workdir / "replay.db"),
            ),
            Row(
                "redis",
                f"RedisStore({redis_url or 'redis://127.0.0.1:<port>/0'}) (Lua script per call)",
                (lambda: RedisStore(redis_url, prefix="bench")) if redis_url else None,
                unavailable=redis_problem,
            ),
        ]
        for row in rows:
            if row.open is None:
                continue
            try:
                row.store = row.open()
                stack.callback(row.store.close)
                check(row.store, now)
                run_batch(row, [f"_warm-{row.name}-{i}" for i in range(warmup)], now)
            except (FedlibError, RuntimeError, OSError) as exc:
                row.unavailable = f"{type(exc).__name__}: {exc}"
                row.store = None
            row.add_ns.clear()
            row.consume_ns.clear()

        live = [row for row in rows if row.store is not None]
        per_round = [pairs // rounds + (1 if r < pairs % rounds else 0) for r in range(rounds)]
        started = time.perf_counter()
        for r, n in enumerate(per_round):
            for row in live:
                run_batch(row, [f"_bench-{r}-{i}" for i in range(n)], now)
        elapsed = time.perf_counter() - started

        print(
            f"fedlib store bench: Python {platform.python_version()} on {platform.machine()}, "
            f"SQLite {sqlite3.sqlite_version}, {_redis_version()}"
        )
        print(f"{pairs:,} add+consume pairs per backend (new key each), {rounds} interleaved rounds, {elapsed:.1f} s")
        print()
        header = (
            f"{'backend':<8} {'ops/s':>10} {'µs/op':>8} {'add med µs':>11} {'consume med µs':>15} {'p90 µs':>8}  what"
        )
        print(header)
        for row in rows:
            if row.store is None:
                print(f"{row.name:<8} unavailable: {row.unavailable or 'not run'}")
                continue
            both = row.add_ns + row.consume_ns
            total_s = sum(both) / 1e9
            ops_per_s = len(both) / total_s
            p90 = statistics.quantiles(both, n=10)[-1] if len(both) > 1 else both[0]
            print(
                f"{row.name:<8} {ops_per_s:>10,.0f} {_us(statistics.median(both)):>8} "
                f"{_us(statistics.median(row.add_ns)):>11} {_us(statistics.median(row.consume_ns)):>15} "
                f"{_us(p90):>8}  {row.what}"
            )
        print()
        print("ops/s counts add and consume calls alike (one login = one add + one consume); µs/op is their median.")
    return 0 if all(row.store is not None for row in rows if row.name != "redis") else 1


def _redis_version() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        return "redis-server missing"
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "redis-server ?"
    version = next((part[2:] for part in out.split() if part.startswith("v=")), "?")
    return f"redis-server {version}, redis-py {_redis_py_version()}"


def _redis_py_version() -> str:
    try:
        return metadata.version("redis")
    except metadata.PackageNotFoundError:
        return "missing"


if __name__ == "__main__":
    sys.exit(main())
