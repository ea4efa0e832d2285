"""RedisStore keeps its pool's connections between calls (issue #9): one per concurrent caller, reconnected
when the server closed it, never reused after a failure (no stale reply can ever be read), not shared with
a forked child."""

from __future__ import annotations

import importlib.util
import multiprocessing
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

if importlib.util.find_spec("redis") is None:  # pragma: no cover - the dev venv has it (fedlib[redis])
    pytest.skip("the redis package is not installed", allow_module_level=True)

import redis

from fedlib.errors import StoreError
from fedlib.stores import RedisStore

T0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def _clients_named(raw: redis.Redis, name: str) -> int:
    return sum(1 for client in raw.client_list() if client.get("name") == name)


def _named_store(url: str, **kwargs: Any) -> tuple[RedisStore, str]:
    """A store whose connections carry a client name (set on connect), so the server can count them."""
    name = f"fedlib-test-{uuid.uuid4().hex[:12]}"
    store = RedisStore(url, prefix=name, **kwargs)
    store._client.connection_pool.connection_kwargs["client_name"] = name  # type: ignore[attr-defined]
    return store, name


def test_sequential_calls_use_one_connection(redis_server: Any) -> None:
    raw = redis.Redis.from_url(redis_server.url)
    s, name = _named_store(redis_server.url)
    try:
        for i in range(50):
            assert s.add(f"k{i}", expires_at=T0 + HOUR, now=T0, value="v")
            assert s.consume_and_add(f"k{i}", f"r{i}", expires_at=T0 + HOUR, now=T0) == ("v", True)
        assert _clients_named(raw, name) == 1
    finally:
        s.close()
    assert _clients_named(raw, name) == 0  # close() disconnects the kept connections
    with pytest.raises(StoreError, match="closed"):
        s.add("k", expires_at=T0 + HOUR, now=T0)
    raw.close()


def test_concurrent_calls_use_at_most_one_connection_each(redis_server: Any) -> None:
    raw = redis.Redis.from_url(redis_server.url)
    s, name = _named_store(redis_server.url)
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        barrier.wait(timeout=10)
        try:
            for i in range(100):
                key = f"t{n}-{i}"
                assert s.add(key, expires_at=T0 + HOUR, now=T0, value=key)
                assert s.consume(key, now=T0) == key  # every reply is the answer to its own call
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    try:
        assert errors == []
        assert 1 <= _clients_named(raw, name) <= 6
    finally:
        s.close()
        raw.close()


def test_a_timed_out_call_never_leaves_its_reply_to_the_next_one(redis_server: Any) -> None:
    """The server is blocked (a busy script) past the store's timeout: the call fails closed, and its
    reply, which arrives later on that connection, is never read by a later call."""
    raw = redis.Redis.from_url(redis_server.url, socket_timeout=10)
    s, _ = _named_store(redis_server.url, timeout=0.3)
    try:
        assert s.add("request", expires_at=T0 + HOUR, now=T0, value="pending")
        assert s.add("other", expires_at=T0 + HOUR, now=T0, value="other's value")
        busy = (
            "local t0 = redis.call('TIME'); repeat local t = redis.call('TIME') "
            "until (t[1] - t0[1]) * 1000000 + (t[2] - t0[2]) > 800000; return 1"
        )
        blocker = threading.Thread(target=raw.eval, args=(busy, 0))
        blocker.start()
        time.sleep(0.1)
        with pytest.raises(StoreError, match="fail closed"):
            s.consume_and_add("request", "replay", expires_at=T0 + HOUR, now=T0)
        blocker.join(10)
        # The timed-out script ran once the server was free; its reply went to a closed connection.
        assert s.consume("other", now=T0) == "other's value"
        assert s.consume("request", now=T0) is None
        assert s.add("replay", expires_at=T0 + HOUR, now=T0) is False
    finally:
        s.close()
        raw.close()


def test_a_connection_the_server_closed_while_idle_is_reconnected(redis_server_factory: Callable[[], Any]) -> None:
    server = redis_server_factory()
    s = RedisStore(server.url, prefix="restart", timeout=2)
    try:
        assert s.add("before", expires_at=T0 + HOUR, now=T0)  # a connection is kept, idle
        server.stop()
        server.ensure_started()  # empty (no persistence), no cached scripts
        assert s.add("after", expires_at=T0 + HOUR, now=T0, value="v") is True  # no StoreError
        assert s.consume("after", now=T0) == "v"
        raw = redis.Redis.from_url(server.url)
        raw.client_kill_filter(_type="normal", skipme=True)  # the server drops the idle connection
        raw.close()
        assert s.consume_and_add("missing", "r", expires_at=T0 + HOUR, now=T0) == (None, False)
    finally:
        s.close()


def test_a_forked_child_never_uses_the_parents_connection(redis_server: Any) -> None:
    s = redis_server.store()
    assert s.add("parent", expires_at=T0 + HOUR, now=T0, value="p")  # the parent keeps a connection
    ctx = multiprocessing.get_context("fork")
    results = ctx.Queue()

    def child() -> None:
        out = []
        for i in range(20):
            out.append(s.add(f"child-{i}", expires_at=T0 + HOUR, now=T0, value=str(i)))
            out.append(s.consume(f"child-{i}", now=T0))
        results.put(out)

    procs = [ctx.Process(target=child) for _ in range(2)]
    for p in procs:
        p.start()
    # the parent keeps using its connection meanwhile
    parent_out = []
    for i in range(20):
        parent_out.append(s.add(f"parent-{i}", expires_at=T0 + HOUR, now=T0, value=f"p{i}"))
        parent_out.append(s.consume(f"parent-{i}", now=T0))
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    children = [results.get(timeout=5) for _ in procs]
    assert parent_out == [x for i in range(20) for x in (True, f"p{i}")]
    for out in children:  # both children raced on the same keys: each key added once, consumed once
        assert len(out) == 40
    for i in range(20):
        added = [out[2 * i] for out in children]
        consumed = [out[2 * i + 1] for out in children]
        assert added.count(True) >= 1
        assert consumed.count(str(i)) >= 1
    assert s.consume("parent", now=T0) == "p"
    s.close()


_bulk = st.binary(max_size=300) | st.text(max_size=40).map(lambda text: text.encode("utf-8"))


@settings(max_examples=300, deadline=None)
@given(st.lists(_bulk, min_size=1, max_size=3), st.lists(_bulk, max_size=5))
def test_the_packed_evalsha_is_what_redis_py_sends(keys: list[bytes], args: list[bytes]) -> None:
    """RedisStore packs EVALSHA itself (fewer Python calls per login): byte for byte what redis-py's own
    pure-Python packer would send for the same command, for any binary keys and arguments."""
    from redis.connection import HiredisRespSerializer, PythonRespSerializer
    from redis.utils import HIREDIS_AVAILABLE

    from fedlib.stores.redis import _CONSUME_AND_ADD

    encoder = redis.connection.Encoder("utf-8", "strict", decode_responses=False)
    command = ("EVALSHA", _CONSUME_AND_ADD.sha, len(keys), *keys, *args)
    reference = b"".join(PythonRespSerializer(6000, encoder.encode).pack(*command))
    packed = _CONSUME_AND_ADD.evalsha_command(tuple(keys), tuple(args))
    assert packed == reference
    if HIREDIS_AVAILABLE:  # the packer redis-py uses when hiredis is installed (fedlib[redis] installs it)
        assert packed == b"".join(HiredisRespSerializer().pack(*command))
