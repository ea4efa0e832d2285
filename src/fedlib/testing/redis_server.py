"""A real ``redis-server`` on 127.0.0.1 for tests and benchmarks (TEST USE ONLY).

Starts Debian's ``redis-server`` binary on a free loopback port with no persistence, in its own working
directory, and stops it again; on Linux the server also dies with the process that started it. Used by
fedlib's own store tests and ``bench/stores.py``, and usable by projects that test against a Redis store::

    with RedisServer(tmp_path) as server:
        store = open_store(server.url + "?prefix=test")
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

LOOPBACK = "127.0.0.1"
START_TIMEOUT = 10.0  # seconds for redis-server to answer PING


class RedisServerError(RuntimeError):
    """redis-server is missing or did not start."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def pings(port: int) -> bool:
    """Whether a Redis server on 127.0.0.1:``port`` answers PING."""
    try:
        with socket.create_connection((LOOPBACK, port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: have the kernel send SIGTERM to redis-server if its parent dies without cleaning up."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class RedisServer:
    """One redis-server process on 127.0.0.1 (no persistence), in ``workdir``.

    ``start()`` picks a free port the first time and keeps it, so ``stop()`` then ``start()`` brings the
    server back on the same URL (outage tests).
    """

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port: int | None = None
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>/0``, starting the server if needed."""
        self.start()
        return f"redis://{LOOPBACK}:{self.port}/0"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        """Start the server if it is not running.

        Raises:
            RedisServerError: the binary is missing or the server did not answer in time.
        """
        if self.running:
            return
        binary = shutil.which("redis-server")
        if binary is None:
            raise RedisServerError("redis-server not found (Debian: apt-get install redis-server)")
        for _ in range(5):  # another process may take the free port before redis-server binds it
            if self._start(binary, self.port or free_port()):
                return
            self.port = None
        raise RedisServerError(f"redis-server did not start; see {self.workdir / 'redis.log'}")

    def _start(self, binary: str, port: int) -> bool:
        self.workdir.mkdir(parents=True, exist_ok=True)
        args = [binary, "--port", str(port), "--bind", LOOPBACK, "--save", "", "--appendonly", "no"]
        args += ["--dir", str(self.workdir), "--daemonize", "no", "--loglevel", "warning"]
        with (self.workdir / "redis.log").open("ab") as log:
            proc = subprocess.Popen(
                args,
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return False
            if pings(port):
                self.proc, self.port = proc, port
                return True
            time.sleep(0.02)
        _stop(proc)
        return False

    def stop(self) -> None:
        """Stop the server (the port is kept, so ``start()`` brings it back on the same URL)."""
        proc, self.proc = self.proc, None
        if proc is not None:
            _stop(proc)

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:  # pragma: no cover - only on a hung server
            proc.kill()
            proc.wait(10)


__all__ = ["LOOPBACK", "RedisServer", "RedisServerError", "free_port", "pings"]
