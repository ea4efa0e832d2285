"""How many logins per second does the example app's ACS serve, against the same server without fedlib?

One run, loopback only. For each configuration this script starts gunicorn (sync workers) on a free
127.0.0.1 port, drives it with a bounded load generator, and stops it by its PID:

* ``bare``           ``bench/acs_app.py:bare()``: a Flask ``POST /saml/acs`` that reads the form and answers 200
* ``acs-sqlite-1w``  the example app (examples/flask_app) with an ``sqlite:///<tmp>/…db`` store, 1 worker
* ``acs-sqlite``     the same with 2 workers sharing the SQLite file
* ``acs-redis``      the example app with a ``redis://127.0.0.1:<port>/0`` store (a redis-server this script
                     starts, no persistence), 2 workers
* ``floor-sqlite``   a yardstick, not a validator: the example app with its ``finish_login`` reduced to
* ``floor-redis``    bench/verify.py's crypto+XML floor and the login's one store operation
                     (``bench/acs_app.py:example_floor()``), on a SQLite file / the same redis-server, 2 workers:
                     what the app would serve if fedlib's validation cost no more than the floor

Each fedlib request is a real SP-initiated login: before the load, this script calls ``start_login`` on a
``ServiceProvider`` configured like the app's, on the same store (so the pending request is there for the
workers), has the test IdP answer it (a signed Response like bench/verify.py's: RSA-2048, RSA-SHA256,
12 attributes, ~7 KB) and builds the POST with the request's browser-binding cookie. Every login is used
once; a fedlib request counts as served when the ACS answers 303 (login accepted), a bare one on 200. The
bare server gets the same request bytes. Before each round's clock starts, the freshly started workers
answer 10 untimed warm-up requests per worker, real logins prepared the same way (the bare server again
gets the same bytes), so that no configuration times a worker's one-time costs.

Load: ``--concurrency`` client threads (default 8), each opening one connection per request (gunicorn's
sync workers close it after the response), all requests built before the clock starts. A configuration
stops after its ``--requests`` (default 2,000) or ``--max-seconds`` (default 25), whichever comes first;
the whole run sends at most 20,000 timed requests (and the warm-ups) and its load phases last at most
120 s together. The requests are split into ``--rounds`` (default 3) interleaved rounds: in each, every
configuration is started, serves its share and is stopped, so that a busy phase of the machine does not
fall on one configuration only.

Printed: req/s, p50 and p99 latency per configuration; the CPU time (user + system) per served request of
the load generator (``client``), of gunicorn's workers (``server``) and of the redis-server (``redis``), read
from ``/proc`` (Linux; n/a elsewhere) over each timed load only: every process shares the machine's CPUs, so
a configuration's req/s is about ``CPUs / (client + server + redis + kernel)`` when the CPUs are busy, which
shows where a ratio comes from; the SQLite scaling from 1 to 2 workers, and last:

``ratio: acs-sqlite/bare=X.XX acs-redis/bare=Y.YY``

It is preceded by the ceiling (``floor-sqlite/bare``, ``floor-redis/bare``: the ratios an SP whose validation
cost only the floor would reach, the rest of the app and the store as they are) and fedlib's share of it
(``acs-sqlite/floor-sqlite``, ``acs-redis/floor-redis``).

Usage: ``python bench/acs_load.py [--quick] [--requests N] [--concurrency C]`` (needs the ``bench`` extra for
gunicorn, and the ``flask`` and ``redis`` extras). See bench/README.md.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import itertools
import os
import platform
import resource
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))

import verify  # bench/verify.py: the Response shape and the floor

from fedlib.config import SPConfig
from fedlib.constants import BINDING_HTTP_POST
from fedlib.metadata.idp import parse_idp_metadata
from fedlib.sp import ServiceProvider
from fedlib.stores.url import open_store
from fedlib.testing import ResponseSpec, TestKey, generate_key, idp_metadata_xml, mint_response
from fedlib.testing.redis_server import RedisServer, RedisServerError, free_port

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parent.parent
MAX_TOTAL_REQUESTS = 20_000
MAX_TOTAL_SECONDS = 120.0
START_TIMEOUT = 30.0
WARM_UP_PER_WORKER = 10
ENTITY_ID = "https://sp.example.org/saml/metadata"  # the app's URL does not matter: the ACS URL is configured
ACS_URL = "https://sp.example.org/saml/acs"


@dataclass
class Phase:
    name: str
    app: str  # gunicorn app spec in bench/acs_app.py
    workers: int
    store_url: str | None
    expect: int  # the status of a served request
    requests: list[bytes] = field(default_factory=list)
    warm: list[bytes] = field(default_factory=list)  # untimed, WARM_UP_PER_WORKER * workers per round
    latencies_ns: list[int] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0
    unavailable: str | None = None
    cpu_s: dict[str, float] = field(default_factory=dict)  # CPU seconds while timed: client, server, redis

    def cpu_us(self, who: str) -> str:
        """CPU microseconds per served request of ``who`` (``client``, ``server``, ``redis``), or n/a."""
        if who not in self.cpu_s or not self.served:
            return "n/a"
        return f"{self.cpu_s[who] / self.served * 1e6:,.0f}"

    @property
    def served(self) -> int:
        return self.statuses.get(self.expect, 0)

    @property
    def errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status != self.expect)

    @property
    def rate(self) -> float:
        return self.served / self.seconds if self.seconds else 0.0

    def percentile_ms(self, q: float) -> float:
        ordered = sorted(self.latencies_ns)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1e6 if ordered else float("nan")


# -- requests ------------------------------------------------------------------------------------------


def http_post(port: int, body: bytes, cookie: str | None) -> bytes:
    head = [
        "POST /saml/acs HTTP/1.1",
        f"Host: {HOST}:{port}",
        "Content-Type: application/x-www-form-urlencoded",
        f"Content-Length: {len(body)}",
        "Connection: close",
    ]
    if cookie:
        head.append(f"Cookie: {cookie}")
    return ("\r\n".join(head) + "\r\n\r\n").encode("ascii") + body


def mint_answer(key: TestKey, now: datetime, request_id: str) -> str:
    spec = ResponseSpec(
        idp_entity_id=verify.IDP_ENTITY_ID,
        sp_entity_id=ENTITY_ID,
        acs_url=ACS_URL,
        now=now,
        lifetime=verify.LIFETIME,
        name_id=verify.NAME_ID,
        attributes=verify.ATTRIBUTES,
        in_response_to=request_id,
    )
    xml = mint_response(spec, key, sign_response=True, signature_algorithm="rsa-sha256", digest_algorithm="sha256")
    return base64.b64encode(xml).decode("ascii")


def prepare_logins(phase: Phase, port: int, count: int, key: TestKey, metadata_xml: bytes, now: datetime) -> None:
    """``count`` pending logins in the phase's store, each answered by the test IdP, as raw POSTs."""
    assert phase.store_url is not None
    store = open_store(phase.store_url)
    try:
        sp = ServiceProvider(
            SPConfig(entity_id=ENTITY_ID, acs_url=ACS_URL), parse_idp_metadata(metadata_xml, now=now), store
        )
        for _ in range(count):
            login = sp.start_login(binding=BINDING_HTTP_POST, now=now)
            assert login.binding_cookie is not None
            b64 = mint_answer(key, now, login.request_id)
            body = urlencode({"SAMLResponse": b64, "RelayState": login.request_id}).encode("ascii")
            cookie = f"{login.binding_cookie.name}={login.binding_cookie.value}"
            phase.requests.append(http_post(port, body, cookie))
    finally:
        with contextlib.suppress(Exception):
            store.close()  # type: ignore[attr-defined]


# -- gunicorn ------------------------------------------------------------------------------------------


@contextlib.contextmanager
def gunicorn(phase: Phase, port: int, env: dict[str, str], workdir: Path) -> Iterator[int]:
    """gunicorn serving ``phase`` on ``port`` for the duration of the block (its arbiter's PID)."""
    args = [sys.executable, "-m", "gunicorn", "--workers", str(phase.workers), "--worker-class", "sync"]
    args += ["--bind", f"{HOST}:{port}", "--log-level", "warning", "--backlog", "256"]
    args += ["--pythonpath", f"{ROOT},{ROOT / 'bench'}", f"acs_app:{phase.app}()"]
    log_path = workdir / f"gunicorn-{phase.name}.log"
    with log_path.open("ab") as log:
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {proc.returncode}; see {log_path}")
            with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=1):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not listen within {START_TIMEOUT:.0f} s; see {log_path}")
            time.sleep(0.05)
        yield proc.pid
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # by PID: gunicorn's arbiter stops its own workers
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def send(port: int, request: bytes) -> int:
    """One request on a new connection; the status code (0 if the connection failed)."""
    try:
        with socket.create_connection((HOST, port), timeout=30) as sock:
            sock.sendall(request)
            chunks = []
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
    except OSError:
        return 0
    head = b"".join(chunks)[:32].split(b" ", 2)
    return int(head[1]) if len(head) > 1 and head[1].isdigit() else 0


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _process_cpu(pid: int) -> float | None:
    """User + system CPU seconds of process ``pid`` so far (Linux ``/proc``), or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
    except (OSError, IndexError, ValueError):
        return None


def _children(pid: int) -> list[int]:
    """The PIDs whose parent is ``pid`` (gunicorn's workers), from ``/proc``; empty where there is none."""
    found = []
    with contextlib.suppress(OSError):
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                with contextlib.suppress(OSError, IndexError, ValueError):
                    if int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
    return found


def cpu_seconds(arbiter: int, redis_pid: int | None) -> dict[str, float]:
    """CPU seconds so far of this process (the load generator: ``client``), of the arbiter's workers
    (``server``) and of the redis-server (``redis``); a figure that cannot be read is left out."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out = {"client": usage.ru_utime + usage.ru_stime}
    workers = [_process_cpu(pid) for pid in _children(arbiter)]
    if workers and None not in workers:
        out["server"] = sum(w for w in workers if w is not None)
    if redis_pid is not None and (redis := _process_cpu(redis_pid)) is not None:
        out["redis"] = redis
    return out


def add_cpu(phase: Phase, before: dict[str, float], after: dict[str, float]) -> None:
    """Add the CPU spent between ``before`` and ``after`` (:func:`cpu_seconds`) to the phase's counts."""
    for who, seconds in after.items():
        if who in before:
            phase.cpu_s[who] = phase.cpu_s.get(who, 0.0) + seconds - before[who]


def warm_up(port: int, phase: Phase, r: int) -> None:
    """Round ``r``'s untimed requests, real logins like the timed ones (the bare server gets the same bytes),
    so that each fresh worker's first login (lazy imports, first Flask request, first store and key use:
    a few ms once) falls before the clock starts, for every configuration alike."""
    per_round = WARM_UP_PER_WORKER * phase.workers
    for request in phase.warm[r * per_round : (r + 1) * per_round]:
        send(port, request)
    time.sleep(0.5)  # a worker still importing the app would otherwise start the clock late


def drive(phase: Phase, port: int, concurrency: int, max_seconds: float, chunk: slice) -> None:
    """Send the prepared requests in ``chunk`` once each, ``concurrency`` at a time, until done or
    ``max_seconds``; adds to the phase's counts and timed seconds."""
    requests = phase.requests[chunk]
    counter = itertools.count()
    lock = threading.Lock()
    deadline = time.monotonic() + max_seconds
    clock = time.perf_counter_ns

    def worker() -> None:
        latencies: list[int] = []
        statuses: dict[int, int] = {}
        while time.monotonic() < deadline:
            i = next(counter)
            if i >= len(requests):
                break
            t0 = clock()
            status = send(port, requests[i])
            latencies.append(clock() - t0)
            statuses[status] = statuses.get(status, 0) + 1
        with lock:
            phase.latencies_ns.extend(latencies)
            for status, n in statuses.items():
                phase.statuses[status] = phase.statuses.get(status, 0) + n

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    phase.seconds += time.perf_counter() - start


@contextlib.contextmanager
def redis_server(workdir: Path) -> Iterator[RedisServer | None]:
    try:
        with RedisServer(workdir) as server:
            yield server
    except RedisServerError as exc:
        print(f"redis: unavailable ({exc})", file=sys.stderr)
        yield None


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smoke run: 150 requests per configuration")
    ap.add_argument("--requests", type=int, help="requests per configuration (default 2000; quick 150)")
    ap.add_argument("--concurrency", type=int, default=8, help="client threads (default 8, at most 64)")
    ap.add_argument("--max-seconds", type=float, default=25.0, help="bound on one configuration's load (default 25)")
    ap.add_argument("--rounds", type=int, help="interleaved rounds the requests are split into (default 3; quick 1)")
    args = ap.parse_args(argv)
    phases_count = 6
    per_phase = max(1, min(args.requests or (150 if args.quick else 2000), MAX_TOTAL_REQUESTS // phases_count))
    concurrency = max(1, min(64, args.concurrency))
    max_seconds = max(1.0, min(args.max_seconds, MAX_TOTAL_SECONDS / phases_count))
    rounds = max(1, min(per_phase, 10, args.rounds or (1 if args.quick else 3)))
    try:
        import gunicorn as _gunicorn  # noqa: F401
    except ImportError:
        print("gunicorn is not installed (pip install -e '.[bench]')", file=sys.stderr)
        return 2

    key = generate_key("rsa", bits=2048, common_name="fedlib bench IdP")
    metadata_xml = idp_metadata_xml(verify.IDP_ENTITY_ID, [key.certificate], sso_url=verify.IDP_SSO_URL)
    now = datetime.now(UTC).replace(microsecond=0)
    secret_key = secrets.token_hex(32)

    with tempfile.TemporaryDirectory(prefix="fedlib-bench-acs-") as tmp, redis_server(Path(tmp) / "redis") as server:
        redis = server.url if server is not None else None
        redis_pid = server.proc.pid if server is not None and server.proc is not None else None
        workdir = Path(tmp)
        (workdir / "idp.xml").write_bytes(metadata_xml)
        phases = [
            Phase("bare", "bare", 2, None, 200),
            Phase("acs-sqlite-1w", "example", 1, f"sqlite:///{workdir / 'one.db'}", 303),
            Phase("acs-sqlite", "example", 2, f"sqlite:///{workdir / 'two.db'}", 303),
            Phase("acs-redis", "example", 2, f"{redis}?prefix=bench" if redis else None, 303),
            Phase("floor-sqlite", "example_floor", 2, f"sqlite:///{workdir / 'floor.db'}", 303),
            Phase("floor-redis", "example_floor", 2, f"{redis}?prefix=floor" if redis else None, 303),
        ]
        if redis is None:
            for phase in (phases[3], phases[5]):
                phase.unavailable = "redis-server or the redis package missing"
        print(
            f"fedlib ACS load bench: Python {platform.python_version()} on {platform.machine()}, "
            f"{os.cpu_count()} CPUs; gunicorn sync workers on {HOST}; {per_phase} requests per configuration, "
            f"{concurrency} client threads, one connection per request, {rounds} interleaved round(s)"
        )
        t0 = time.perf_counter()
        ports = {phase.name: free_port() for phase in phases}
        for phase in phases[1:]:
            if phase.unavailable is None:
                warm = WARM_UP_PER_WORKER * phase.workers * rounds
                prepare_logins(phase, ports[phase.name], warm + per_phase, key, metadata_xml, now)
                phase.warm, phase.requests = phase.requests[:warm], phase.requests[warm:]
        # The bare server gets the same request bytes as the 2-worker SQLite run (it never reads them).
        phases[0].requests, phases[0].warm = (
            [r.replace(f":{ports['acs-sqlite']}".encode(), f":{ports['bare']}".encode(), 1) for r in requests]
            for requests in (phases[2].requests, phases[2].warm)
        )
        prepared = sum(len(p.requests) for p in phases)
        warm = sum(len(p.warm) for p in phases)
        print(f"prepared {prepared} requests and {warm} warm-up logins in {time.perf_counter() - t0:.1f} s (untimed)")
        sys.stdout.flush()

        # Interleaved rounds: each configuration serves its share of requests in every round, so a slow
        # phase of the (shared) machine does not fall on one configuration only.
        for r in range(rounds):
            for phase in phases:
                if phase.unavailable is not None:
                    continue
                env = dict(os.environ)
                env.update(
                    FEDLIB_BENCH_ENTITY_ID=ENTITY_ID,
                    FEDLIB_BENCH_ACS_URL=ACS_URL,
                    FEDLIB_BENCH_IDP_METADATA=str(workdir / "idp.xml"),
                    FEDLIB_BENCH_STORE=phase.store_url or "memory://",
                    FEDLIB_BENCH_SECRET_KEY=secret_key,
                )
                port = ports[phase.name]
                chunk = slice(r * per_phase // rounds, (r + 1) * per_phase // rounds)
                try:
                    with gunicorn(phase, port, env, workdir) as arbiter:
                        warm_up(port, phase, r)
                        before = cpu_seconds(arbiter, redis_pid)
                        drive(phase, port, concurrency, max_seconds / rounds, chunk)
                        add_cpu(phase, before, cpu_seconds(arbiter, redis_pid))
                except RuntimeError as exc:
                    phase.unavailable = str(exc)

    print()
    print(f"{'configuration':<15} {'workers':>7} {'served':>7} {'errors':>6} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7}")
    for phase in phases:
        if phase.unavailable is not None:
            print(f"{phase.name:<15} unavailable: {phase.unavailable}")
            continue
        print(
            f"{phase.name:<15} {phase.workers:>7} {phase.served:>7} {phase.errors:>6} {phase.rate:>8,.0f} "
            f"{phase.percentile_ms(0.5):>7.1f} {phase.percentile_ms(0.99):>7.1f}"
        )
        if phase.errors:
            print(f"{'':<15} statuses: {dict(sorted(phase.statuses.items()))}")
    print()
    print(f"CPU per served request, µs (user + system; {os.cpu_count()} CPUs shared by all of them)")
    print(f"{'configuration':<15} {'client':>8} {'server':>8} {'redis':>8}")
    for phase in phases:
        if phase.unavailable is None:
            redis_cpu = phase.cpu_us("redis") if phase.name.endswith("-redis") else "-"
            print(f"{phase.name:<15} {phase.cpu_us('client'):>8} {phase.cpu_us('server'):>8} {redis_cpu:>8}")
    by_name = {phase.name: phase for phase in phases}

    def ratio(num: str, den: str) -> str:
        a, b = by_name[num], by_name[den]
        if a.unavailable or b.unavailable or a.errors or b.errors or not b.rate:
            return "n/a"
        return f"{a.rate / b.rate:.2f}"

    print()
    print(
        "ceiling, fedlib's validation as cheap as the floor: "
        f"floor-sqlite/bare={ratio('floor-sqlite', 'bare')} floor-redis/bare={ratio('floor-redis', 'bare')}"
    )
    print(
        "fedlib against that ceiling: "
        f"acs-sqlite/floor-sqlite={ratio('acs-sqlite', 'floor-sqlite')} "
        f"acs-redis/floor-redis={ratio('acs-redis', 'floor-redis')}"
    )
    print(f"sqlite scaling: 2 workers / 1 worker = {ratio('acs-sqlite', 'acs-sqlite-1w')}")
    print(f"ratio: acs-sqlite/bare={ratio('acs-sqlite', 'bare')} acs-redis/bare={ratio('acs-redis', 'bare')}")
    ok = all(p.unavailable is None and not p.errors for p in phases if not p.name.endswith("-redis"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
