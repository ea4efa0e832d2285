"""``RedisStore.add``'s and ``RedisStore.consume_and_add``'s argument checks (one call each to
``check_add_arguments`` / ``check_consume_and_add_arguments``, which decide the common arguments inline,
issue #9) decide exactly as the checks they replaced: ``redis_key`` (check_key), check_value /
check_distinct_keys, and check_add_times, in that order.

The reference runs those checks first, as the methods did before, and hands the normalised arguments on.
Random sequences of adds and ``consume_and_add`` calls (keys ASCII or not, empty, not strings; values;
datetimes in UTC, in another zone, naive, of a datetime subclass, not datetimes; times in and out of order)
give the same results, the same exceptions (type and message) and the same entries on a real redis-server.
The argument strategies are tests/unit/stores/test_sqlite_fast_path.py's.
"""

from __future__ import annotations

import importlib.util
import uuid
from datetime import datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

if importlib.util.find_spec("redis") is None:  # pragma: no cover - the dev venv has it (fedlib[redis])
    pytest.skip("the redis package is not installed", allow_module_level=True)

from tests.unit.stores.test_sqlite_fast_path import OPS, apply_ops, with_edge_cases

from fedlib.stores import RedisStore
from fedlib.stores.base import check_add_times, check_distinct_keys, check_value


class _Reference(RedisStore):
    def add(self, key: str, *, expires_at: datetime, now: datetime, value: str = "") -> bool:
        self.redis_key(key)  # check_key, as redis_key did first
        check_value(value)
        expires, current = check_add_times(expires_at, now)
        return super().add(key, expires_at=expires, now=current, value=value)

    def consume_and_add(
        self, consume_key: str, add_key: str, *, expires_at: datetime, now: datetime
    ) -> tuple[str | None, bool]:
        check_distinct_keys(consume_key, add_key)
        expires, current = check_add_times(expires_at, now)
        return super().consume_and_add(consume_key, add_key, expires_at=expires, now=current)


def _run(store: RedisStore, ops: list[tuple[Any, ...]]) -> list[object]:
    try:
        out = apply_ops(store, ops)
        client: Any = store._client
        head = store.redis_key("k")[:-1]
        keys = sorted(client.scan_iter(match=head.replace(b"{", b"\\{").replace(b"}", b"\\}") + b"*"))
        out.append([(k[len(head) :], client.get(k)) for k in keys])
        if keys:
            client.delete(*keys)
    finally:
        store.close()
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(OPS)
@with_edge_cases
def test_add_and_consume_and_add_decide_as_the_checks(redis_server: Any, ops: list[tuple[Any, ...]]) -> None:
    url, prefix = redis_server.url, f"test-{uuid.uuid4().hex}"
    assert _run(RedisStore(url, prefix=prefix + "-a"), ops) == _run(_Reference(url, prefix=prefix + "-b"), ops)
