"""``SQLiteStore.add``'s and ``SQLiteStore.consume_and_add``'s inline argument checks decide exactly as the
checks they skip (issue #9, as ``MemoryStore``'s: tests/unit/stores/test_memory_fast_path.py).

The reference runs check_key, check_value / check_distinct_keys and check_add_times first, as the methods
did before, and hands the normalised arguments on. Random sequences of adds and ``consume_and_add`` calls
(keys ASCII or not, empty, not strings; values; datetimes in UTC, in another zone, naive, of a datetime
subclass, not datetimes; times in and out of order) give the same results, the same exceptions (type and
message) and the same rows on both.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from fedlib.errors import StoreError
from fedlib.stores import SQLiteStore
from fedlib.stores.base import check_add_times, check_distinct_keys, check_key, check_value

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


class _Reference(SQLiteStore):
    def add(self, key: str, *, expires_at: datetime, now: datetime, value: str = "") -> bool:
        check_key(key)
        check_value(value)
        expires, current = check_add_times(expires_at, now)
        return super().add(key, expires_at=expires, now=current, value=value)

    def consume_and_add(
        self, consume_key: str, add_key: str, *, expires_at: datetime, now: datetime
    ) -> tuple[str | None, bool]:
        check_distinct_keys(consume_key, add_key)
        expires, current = check_add_times(expires_at, now)
        return super().consume_and_add(consume_key, add_key, expires_at=expires, now=current)


class _Sub(datetime):
    pass


PLUS2 = timezone(timedelta(hours=2))


def _time(offset: int, kind: str) -> object:
    base = T0 + timedelta(seconds=offset)
    if kind == "utc":
        return base
    if kind == "plus2":
        return base.astimezone(PLUS2)
    if kind == "naive":
        return base.replace(tzinfo=None)
    if kind == "sub":
        return _Sub(2026, 12, 7, 12, 0, tzinfo=UTC) + timedelta(seconds=offset)
    return str(base)


KINDS = st.sampled_from(["utc", "utc", "utc", "plus2", "naive", "sub", "str"])
KEYS = st.sampled_from(["k1", "k2", "k3", "", "ké", "\udcff", 7, b"k1"])
VALUES = st.sampled_from(["", "", "v", "vé", "\udcff", None, b"v"])
OPS = st.lists(
    st.tuples(st.booleans(), KEYS, KEYS, VALUES, st.integers(-100, 400), KINDS, st.integers(-100, 400), KINDS),
    min_size=1,
    max_size=30,
)


def apply_ops(store: Any, ops: list[tuple[Any, ...]]) -> list[object]:
    """Each of ``OPS``'s operations on ``store`` (an add or a consume_and_add): its result, or its refusal
    (exception type and message). Shared with test_redis_fast_path.py."""
    out: list[object] = []
    for is_pair, key, other, value, now_offset, now_kind, expires_offset, expires_kind in ops:
        kwargs: dict[str, Any] = {
            "expires_at": _time(expires_offset, expires_kind),
            "now": _time(now_offset, now_kind),
        }
        try:
            if is_pair:
                out.append(store.consume_and_add(key, other, **kwargs))
            elif value is None:
                out.append(store.add(key, **kwargs))
            else:
                out.append(store.add(key, **kwargs, value=value))
        except (TypeError, ValueError) as exc:
            out.append((type(exc), str(exc)))
    return out


def _run(store: SQLiteStore, ops: list[tuple[Any, ...]]) -> list[object]:
    try:
        out = apply_ops(store, ops)
        assert store._conn is not None
        out.append(sorted(store._conn.execute("SELECT key, value, expires_at FROM fedlib_store")))
    finally:
        store.close()
    return out


# The edge cases every store's fast path is held to (hypothesis runs them first, then random operation lists;
# test_redis_fast_path.py applies the same ones to RedisStore).
EDGE_CASES: list[list[tuple[Any, ...]]] = [
    [(False, "\udcff", "", "v", 0, "utc", 1, "utc")],  # a key that is not UTF-8: refused
    [(False, "k1", "", "\udcff", 0, "utc", 1, "utc")],  # a value that is not UTF-8: refused
    [(False, "k1", "", "v", 0, "utc", 0, "utc")],  # expires_at == now: refused
    [(False, "k1", "", "v", 0, "utc", 1, "plus2")],
    [(False, "k1", "", "v", 0, "sub", 1, "utc")],
    [(False, "k1", "", "v", 0, "naive", 1, "utc")],
    [(False, "k1", "", "v", 0, "utc", 100, "utc"), (True, "k1", "k2", None, 0, "utc", 100, "utc")],
    [(False, "k1", "", "v", 0, "utc", 100, "utc"), (True, "k1", "k1", None, 0, "utc", 100, "utc")],
    [(False, "ké", "", "v", 0, "utc", 100, "utc"), (True, "ké", "k2", None, 0, "utc", 100, "utc")],
    [(False, "k1", "", "v", 0, "utc", 100, "utc"), (True, "k1", "\udcff", None, 0, "utc", 100, "utc")],
    [(False, "k1", "", "v", 0, "utc", 100, "utc"), (True, "k1", "k2", None, 0, "utc", 0, "utc")],
    [(False, "k1", "", "v", 0, "utc", 100, "utc"), (True, "k1", "k2", None, 0, "plus2", 100, "utc")],
    [(False, "k1", "", "v", 0, "utc", 100, "utc"), (True, "k1", "k2", None, 0, "utc", 100, "sub")],
    [(True, "", "k2", None, 0, "utc", 100, "utc"), (True, "k1", 7, None, 0, "utc", 100, "utc")],
]


def with_edge_cases(test: Callable[..., None]) -> Callable[..., None]:
    """``test`` with every :data:`EDGE_CASES` list as a hypothesis ``@example``."""
    for ops in reversed(EDGE_CASES):
        test = example(ops)(test)
    return test


@settings(max_examples=200, deadline=None)
@given(OPS)
@with_edge_cases
def test_add_and_consume_and_add_decide_as_the_checks(ops: list[tuple[Any, ...]]) -> None:
    assert _run(SQLiteStore(":memory:", purge_batch=1), ops) == _run(_Reference(":memory:", purge_batch=1), ops)


def test_a_closed_store_still_refuses() -> None:
    store = SQLiteStore(":memory:")
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.add("k", expires_at=T0 + timedelta(seconds=1), now=T0)
    with pytest.raises(StoreError, match="closed"):
        store.consume_and_add("a", "b", expires_at=T0 + timedelta(seconds=1), now=T0)
