"""A real redis-server for the store tests: started on a free 127.0.0.1 port at first use, stopped at the end."""

from __future__ import annotations

import importlib.util
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import require

from fedlib.stores import RedisStore
from fedlib.testing.redis_server import LOOPBACK, RedisServerError
from fedlib.testing.redis_server import RedisServer as _Server


class RedisServer(_Server):
    """The shared launcher, failing the test (or skipping it locally) when Redis cannot be had."""

    def ensure_started(self) -> None:
        if self.running:
            return
        require(importlib.util.find_spec("redis") is not None, "the redis package (pip install 'fedlib[redis]')")
        require(shutil.which("redis-server") is not None, "the redis-server binary (Debian package redis-server)")
        try:
            self.start()
        except RedisServerError as exc:
            pytest.fail(str(exc))

    @property
    def url(self) -> str:
        self.ensure_started()
        return f"redis://{LOOPBACK}:{self.port}/0"

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
