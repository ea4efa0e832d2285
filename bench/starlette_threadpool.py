"""Starlette adapter: the core in the threadpool (fedlib's default) or on the event loop?

One run, loopback only. For each mode this script starts uvicorn (one worker) on a free 127.0.0.1 port
serving bench/starlette_app.py, drives ``POST /saml/acs`` with ``--concurrency`` client threads (default 8;
one connection per request) and, at the same time, one probe thread that sends ``GET /ping`` (a trivial
endpoint) every 20 ms. Each ACS request is an IdP-initiated login: a signed Response from fedlib's test IdP
(RSA-2048, RSA-SHA256), each used once; all bodies are minted before the clock starts. A mode stops after
``--requests`` ACS requests (default 600, at most 5,000) or ``--max-seconds`` (default 20); the server is
stopped by its PID.

Printed per mode: ACS req/s, ACS p50/p99 latency, /ping p50/p99 latency (how long the event loop is
stalled by the CPU-bound core), and last ``ratio: threadpool/loop req/s=X.XX ping-p99 loop/threadpool=Y.YY``.

Usage: ``python bench/starlette_threadpool.py [--quick] [--requests N] [--concurrency C]`` (needs the
``starlette`` and ``testing`` extras). See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import urlencode

from fedlib.testing.idp import TestIdP

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from starlette_app import ACS, SP_ID  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def uvicorn(port: int, metadata: Path, threadpool: bool) -> Iterator[None]:
    env = dict(os.environ)
    env["FEDLIB_BENCH_METADATA"] = str(metadata)
    env["FEDLIB_BENCH_THREADPOOL"] = "1" if threadpool else "0"
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), *filter(None, [env.get("PYTHONPATH")])])
    cmd = [sys.executable, "-m", "uvicorn", "starlette_app:app", "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen([*cmd, "--log-level", "warning", "--no-access-log"], env=env, cwd=HERE)
    try:
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("uvicorn did not start")
            time.sleep(0.1)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def request(port: int, method: str, path: str, body: bytes | None = None) -> tuple[int, float]:
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if body is not None else {}
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status, time.perf_counter() - started
    finally:
        conn.close()


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def run_mode(port: int, bodies: list[bytes], concurrency: int, max_seconds: float) -> dict[str, float]:
    lock = threading.Lock()
    queue = iter(bodies)
    acs: list[float] = []
    errors = 0
    pings: list[float] = []
    done = threading.Event()

    def worker() -> None:
        nonlocal errors
        while not done.is_set():
            with lock:
                body = next(queue, None)
            if body is None:
                return
            status, seconds = request(port, "POST", "/saml/acs", body)
            with lock:
                if status == 303:
                    acs.append(seconds)
                else:
                    errors += 1

    def probe() -> None:
        while not done.is_set():
            pings.append(request(port, "GET", "/ping")[1])
            time.sleep(0.02)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    prober = threading.Thread(target=probe)
    started = time.perf_counter()
    prober.start()
    for t in threads:
        t.start()
    deadline = started + max_seconds
    for t in threads:
        t.join(max(0.0, deadline - time.perf_counter()))
    elapsed = time.perf_counter() - started
    done.set()
    for t in threads:
        t.join()
    prober.join()
    return {
        "served": len(acs),
        "errors": errors,
        "rate": len(acs) / elapsed,
        "p50": pct(acs, 0.5),
        "p99": pct(acs, 0.99),
        "ping50": pct(pings, 0.5),
        "ping99": pct(pings, 0.99),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--max-seconds", type=float, default=20.0)
    parser.add_argument("--quick", action="store_true", help="100 requests per mode")
    args = parser.parse_args(argv)
    count = min(100 if args.quick else args.requests, 5000)

    idp = TestIdP()
    idp.register_sp(SP_ID, ACS)
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs; minting {count}")
    bodies = [urlencode(dict(idp.initiate(SP_ID, ACS).fields)).encode() for _ in range(count)]
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        metadata = Path(tmp) / "idp.xml"
        metadata.write_bytes(idp.metadata_xml())
        for name, threadpool in (("threadpool", True), ("loop", False)):
            port = free_port()
            with uvicorn(port, metadata, threadpool):
                request(port, "POST", "/saml/acs", bodies[0])  # warm-up (that body is then spent: a 403)
                r = run_mode(port, bodies[1:], args.concurrency, args.max_seconds)
            results[name] = r
            print(
                f"{name:>10}: {r['served']:.0f} logins ({r['errors']:.0f} errors) {r['rate']:.1f} req/s, "
                f"ACS p50 {r['p50']:.1f} ms p99 {r['p99']:.1f} ms; /ping p50 {r['ping50']:.1f} ms "
                f"p99 {r['ping99']:.1f} ms"
            )
    tp, loop = results["threadpool"], results["loop"]
    speed = tp["rate"] / loop["rate"]
    stall = loop["ping99"] / tp["ping99"]
    print(f"ratio: threadpool/loop req/s={speed:.2f} ping-p99 loop/threadpool={stall:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
