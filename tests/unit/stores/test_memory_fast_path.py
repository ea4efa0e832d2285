"""``MemoryStore.add``'s and ``MemoryStore.consume_and_add``'s inline argument checks and purge skips decide
exactly as before.

The reference is the previous ``add`` (check_key, check_value, check_add_times, then ``_purge_locked`` on
every call), kept here verbatim as a subclass. Random sequences of adds (keys ASCII or not, empty, not
strings; values; datetimes in UTC, in another zone, naive, of a datetime subclass, not datetimes; times in
and out of order, re-adds, expiries) give the same results, the same exceptions (type and message) and the
same entries on both; so do random sequences of adds and ``consume_and_add`` calls (keys equal or not).
"""

from __future__ import annotations

import heapq
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from fedlib.errors import StoreError
from fedlib.stores.base import check_add_times, check_distinct_keys, check_key, check_value
from fedlib.stores.memory import MemoryStore, _Entry

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


class _Reference(MemoryStore):
    def add(self, key: str, *, expires_at: datetime, now: datetime, value: str = "") -> bool:
        check_key(key)
        check_value(value)
        expires, current = check_add_times(expires_at, now)
        with self._lock:
            self._check_open()
            existing = self._entries.get(key)
            if existing is not None and current < existing.expires_at:
                return False
            if existing is not None:
                del self._entries[key]
            self._purge_locked(current, limit=self._purge_batch)
            if self._max_entries is not None and len(self._entries) >= self._max_entries:
                self._purge_locked(current, limit=None)
                if len(self._entries) >= self._max_entries:
                    raise AssertionError("full")
            self._entries[key] = _Entry(expires, value)
            heapq.heappush(self._expiry_heap, (expires, key))
            return True

    def consume_and_add(
        self, consume_key: str, add_key: str, *, expires_at: datetime, now: datetime
    ) -> tuple[str | None, bool]:
        check_distinct_keys(consume_key, add_key)
        expires, current = check_add_times(expires_at, now)
        with self._lock:
            self._check_open()
            entries = self._entries
            entry = entries.get(consume_key)
            if entry is None or current >= entry.expires_at:
                return None, False
            existing = entries.get(add_key)
            if existing is not None and current < existing.expires_at:
                del entries[consume_key]
                return entry.value, False
            del entries[consume_key]
            if existing is not None:
                del entries[add_key]
            self._purge_locked(current, limit=self._purge_batch)
            entries[add_key] = _Entry(expires, "")
            heapq.heappush(self._expiry_heap, (expires, add_key))
            return entry.value, True


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
KEYS = st.sampled_from(["k1", "k2", "k3", "", "ké", "\udcff", 7])
VALUES = st.sampled_from(["", "", "v", "\udcff", None])
ADDS = st.lists(
    st.tuples(KEYS, VALUES, st.integers(-100, 400), KINDS, st.integers(-100, 400), KINDS), min_size=1, max_size=40
)


def _run(store: MemoryStore, adds: list[tuple[Any, ...]]) -> list[object]:
    out: list[object] = []
    for key, value, now_offset, now_kind, expires_offset, expires_kind in adds:
        kwargs: dict[str, Any] = {"expires_at": _time(expires_offset, expires_kind), "now": _time(now_offset, now_kind)}
        if value is not None:
            kwargs["value"] = value
        try:
            out.append(store.add(key, **kwargs))
        except (TypeError, ValueError) as exc:
            out.append((type(exc), str(exc)))
    out.append(sorted(store._entries.items()))
    return out


@settings(max_examples=300, deadline=None)
@given(ADDS, st.integers(1, 3))
@example([("\udcff", "", 0, "utc", 1, "utc")], 1)  # not UTF-8: refused, not fast-pathed
@example([("k1", "", 0, "utc", 0, "utc")], 1)  # expires_at == now: refused
@example([("k1", "", 0, "utc", 1, "plus2")], 1)
@example([("k1", "", 0, "sub", 1, "utc")], 1)
@example([("k1", "", 0, "utc", 100, "utc"), ("k2", "", 150, "utc", 300, "utc")], 1)  # purges k1
def test_add_decides_as_the_checks_and_purge_on_every_call(adds: list[tuple[Any, ...]], tolerance: int) -> None:
    kwargs = {"purge_batch": 2, "clock_tolerance": timedelta(seconds=tolerance * 50)}
    assert _run(MemoryStore(**kwargs), adds) == _run(_Reference(**kwargs), adds)


def test_add_on_a_closed_store_still_refuses() -> None:
    store = MemoryStore()
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.add("k", expires_at=T0 + timedelta(seconds=1), now=T0)


def test_a_stale_heap_is_rebuilt_even_when_nothing_expired() -> None:
    # Consumed keys leave stale heap items; once there are more than 2 * entries + slack of them, the next
    # add rebuilds the heap, whether or not anything expired.
    stores = [MemoryStore(), _Reference()]
    for store in stores:
        for i in range(1100):
            store.add(f"k{i}", expires_at=T0 + timedelta(hours=1), now=T0)
        for i in range(1100):
            store.consume(f"k{i}", now=T0)
        store.add("last", expires_at=T0 + timedelta(hours=1), now=T0)
    assert [len(s._expiry_heap) for s in stores] == [1, 1]


OPS = st.lists(
    st.tuples(st.booleans(), KEYS, KEYS, VALUES, st.integers(-100, 400), KINDS, st.integers(-100, 400), KINDS),
    min_size=1,
    max_size=40,
)


def _run_ops(store: MemoryStore, ops: list[tuple[Any, ...]]) -> list[object]:
    out: list[object] = []
    for is_pair, key, other, value, now_offset, now_kind, expires_offset, expires_kind in ops:
        kwargs: dict[str, Any] = {"expires_at": _time(expires_offset, expires_kind), "now": _time(now_offset, now_kind)}
        try:
            if is_pair:
                out.append(store.consume_and_add(key, other, **kwargs))
            else:
                out.append(store.add(key, **kwargs, value=value if value is not None else "v"))
        except (TypeError, ValueError) as exc:
            out.append((type(exc), str(exc)))
    out.append(sorted(store._entries.items()))
    out.append(sorted(store._expiry_heap))
    return out


@settings(max_examples=300, deadline=None)
@given(OPS, st.integers(1, 3))
@example([(False, "k1", "", "v", 0, "utc", 100, "utc"), (True, "k1", "k2", None, 0, "utc", 100, "utc")], 1)
@example([(False, "k1", "", "v", 0, "utc", 100, "utc"), (True, "k1", "k1", None, 0, "utc", 100, "utc")], 1)
@example([(False, "ké", "", "v", 0, "utc", 100, "utc"), (True, "ké", "k2", None, 0, "utc", 100, "utc")], 1)
@example([(False, "k1", "", "v", 0, "utc", 100, "utc"), (True, "k1", "\udcff", None, 0, "utc", 100, "utc")], 1)
@example([(False, "k1", "", "v", 0, "utc", 100, "utc"), (True, "k1", "k2", None, 0, "utc", 0, "utc")], 1)
@example([(False, "k1", "", "v", 0, "utc", 100, "utc"), (True, "k1", "k2", None, 0, "plus2", 100, "utc")], 1)
@example([(False, "k1", "", "v", 0, "utc", 100, "utc"), (True, "k1", "k2", None, 0, "utc", 100, "sub")], 1)
@example(
    [
        (False, "k3", "", "v", 0, "utc", 10, "utc"),
        (False, "k1", "", "v", 0, "utc", 400, "utc"),
        (True, "k1", "k2", None, 300, "utc", 400, "utc"),
    ],
    1,
)  # purges k3
def test_consume_and_add_decides_as_the_checks_and_purge_on_every_call(
    ops: list[tuple[Any, ...]], tolerance: int
) -> None:
    kwargs = {"purge_batch": 2, "clock_tolerance": timedelta(seconds=tolerance * 50)}
    assert _run_ops(MemoryStore(**kwargs), ops) == _run_ops(_Reference(**kwargs), ops)


def test_consume_and_add_on_a_closed_store_still_refuses() -> None:
    store = MemoryStore()
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.consume_and_add("a", "b", expires_at=T0 + timedelta(seconds=1), now=T0)
