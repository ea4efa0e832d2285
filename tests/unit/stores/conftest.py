"""A real redis-server for the store tests: started on a free 127.0.0.1 port at first use, stopped at the end."""

from __future__ import annotations

import importlib.util
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import require

from fedlib.stores import RedisStore

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def _pings(port: int) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """One redis-server process on 127.0.0.1 (no persistence), in its own directory."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port: int | None = None
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        self.ensure_started()
        return f"redis://{LOOPBACK}:{self.port}/0"

    def ensure_started(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            return
        require(importlib.util.find_spec("redis") is not None, "the redis package (pip install 'fedlib[redis]')")
        binary = shutil.which("redis-server")
        require(binary is not None, "the redis-server binary (Debian package redis-server)")
        assert binary is not None
        for _ in range(5):  # another process may take the free port before redis-server binds it
            if self._start(binary, self.port or free_port()):
                return
            self.port = None
        pytest.fail(f"redis-server did not start; see {self.workdir / 'redis.log'}")

    def _start(self, binary: str, port: int) -> bool:
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = (self.workdir / "redis.log").open("ab")
        args = [binary, "--port", str(port), "--bind", LOOPBACK, "--save", "", "--appendonly", "no"]
        args += ["--dir", str(self.workdir), "--daemonize", "no"]
        proc = subprocess.Popen(args, cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return False
            if _pings(port):
                self.proc, self.port = proc, port
                return True
            time.sleep(0.02)
        proc.kill()
        proc.wait(5)
        return False

    def stop(self) -> None:
        """Stop the server (the port is kept, so ensure_started() brings it back on the same URL)."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:  # pragma: no cover - only on a hung server
            proc.kill()
            proc.wait(5)

    def store(self, **kwargs: Any) -> RedisStore:
        """A RedisStore on this server with a fresh prefix, so every store starts empty."""
        kwargs.setdefault("prefix", f"test-{uuid.uuid4().hex}")
        return RedisStore(self.url, **kwargs)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """The shared redis-server; it starts when a test first uses it (skipped locally, failed in CI, if absent)."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_server_factory(tmp_path: Path) -> Iterator[Callable[[], RedisServer]]:
    """Starts redis-servers of their own, for tests that stop and restart them; all stopped afterwards."""
    servers: list[RedisServer] = []

    def make() -> RedisServer:
        server = RedisServer(tmp_path / f"redis-{len(servers)}")
        servers.append(server)
        server.ensure_started()
        return server

    try:
        yield make
    finally:
        for server in servers:
            server.stop()
