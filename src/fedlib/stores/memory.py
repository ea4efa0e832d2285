"""An in-process store: a dict guarded by a lock.

Suitable for tests and single-process deployments only: the entries live in this process's memory, so
several worker processes (or a restart) do not share them, and a replay sent to another worker would not
be detected. Use :class:`fedlib.stores.SQLiteStore` (or a shared backend) when more than one process
validates responses.
"""

from __future__ import annotations

import heapq
import threading
from datetime import UTC, datetime, timedelta
from typing import Final, NamedTuple

from fedlib.errors import StoreError
from fedlib.stores.base import (
    DEFAULT_CLOCK_TOLERANCE,
    check_add_arguments,
    check_clock_tolerance,
    check_consume_and_add_arguments,
    check_key,
    require_aware,
)

# The expiry heap may hold stale items (for consumed or re-added keys); it is rebuilt once it holds this
# many more items than twice the number of entries, which keeps its size O(entries) at O(1) amortised cost.
_HEAP_SLACK = 1024
_MIN_DATETIME = datetime.min.replace(tzinfo=UTC)
_CLOSED = "the in-memory replay store is closed"


class _Entry(NamedTuple):
    expires_at: datetime
    value: str


# ``_Entry(expires_at, value)`` without the Python-level ``__new__`` a NamedTuple gets (which is this call):
# add and consume_and_add make one per login.
_new_entry: Final = tuple.__new__


class MemoryStore:
    """A thread-safe in-memory :class:`fedlib.stores.Store`.

    Every operation runs under one lock, so ``add`` and ``consume`` are atomic across threads. Expiry is
    checked on every read, and each ``add`` also removes up to ``purge_batch`` entries that expired at
    least ``clock_tolerance`` ago (oldest expiry first), so memory held by expired entries is reclaimed
    without any background thread and without unbounded work in a single call. (Callers passing
    different ``now`` values, for example ServiceProviders with their own clocks, get the promise of
    :mod:`fedlib.stores.base`.)

    Args:
        max_entries: Optional cap on the number of stored entries. When an ``add`` finds the store full,
            all entries expired for longer than ``clock_tolerance`` are purged; if it is still full,
            :class:`fedlib.errors.StoreError` is raised. A live entry (or one that may still be live for
            a caller whose clock is behind) is never dropped to make room, because forgetting it would let
            a replay through.
        purge_batch: The most expired entries one ``add`` removes opportunistically (at least 1).
        clock_tolerance: How long after its ``expires_at`` an entry may be deleted (the largest clock
            difference between callers; see :mod:`fedlib.stores.base`).

    Raises:
        ValueError: ``max_entries`` or ``purge_batch`` is less than 1, or ``clock_tolerance`` is negative.
        TypeError: ``clock_tolerance`` is not a timedelta.
    """

    def __init__(
        self,
        *,
        max_entries: int | None = None,
        purge_batch: int = 32,
        clock_tolerance: timedelta = DEFAULT_CLOCK_TOLERANCE,
    ) -> None:
        self._tolerance = check_clock_tolerance(clock_tolerance)
        if max_entries is not None and max_entries < 1:
            raise ValueError("max_entries must be at least 1 (or None for no cap)")
        if purge_batch < 1:
            raise ValueError("purge_batch must be at least 1")
        self._max_entries = max_entries
        self._purge_batch = purge_batch
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        # (expires_at, key) for every add; items whose entry was consumed or replaced are skipped lazily.
        self._expiry_heap: list[tuple[datetime, str]] = []
        self._closed = False

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{len(self._entries)} entries"
        return f"<MemoryStore {state}>"

    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def add(self, key: str, *, expires_at: datetime, now: datetime, value: str = "") -> bool:
        """:meth:`Store.add <fedlib.stores.Store.add>`, atomic across threads of this process. StoreError: closed, or
        full of live entries.
        """
        # start_login adds the pending request; an unsolicited login, its replay entry.
        expires, current = check_add_arguments(key, value, expires_at, now)
        with self._lock:
            if self._closed:
                raise StoreError(_CLOSED)
            existing = self._entries.get(key)
            if existing is not None and current < existing.expires_at:
                return False
            if existing is not None:
                del self._entries[key]
            heap = self._expiry_heap
            # _purge_locked has nothing to do (no item expired by now, the heap needs no rebuild): skipped.
            if heap and (heap[0][0] <= current or len(heap) > 2 * len(self._entries) + _HEAP_SLACK):
                self._purge_locked(current, limit=self._purge_batch)
            if self._max_entries is not None and len(self._entries) >= self._max_entries:
                self._purge_locked(current, limit=None)
                if len(self._entries) >= self._max_entries:
                    raise StoreError(
                        f"the in-memory replay store is full ({self._max_entries} live entries); "
                        "refusing to record more rather than forget a live one",
                    )
            self._entries[key] = _new_entry(_Entry, (expires, value))
            heapq.heappush(self._expiry_heap, (expires, key))
            return True

    def consume(self, key: str, *, now: datetime) -> str | None:
        """:meth:`Store.consume <fedlib.stores.Store.consume>`, atomic across threads of this process. StoreError:
        closed.
        """
        check_key(key)
        current = require_aware(now, "now")
        with self._lock:
            self._check_open()
            entry = self._entries.get(key)
            if entry is None or current >= entry.expires_at:
                return None  # an expired entry is left to the purge, as SQLiteStore does
            del self._entries[key]
            return entry.value

    def consume_and_add(
        self, consume_key: str, add_key: str, *, expires_at: datetime, now: datetime
    ) -> tuple[str | None, bool]:
        """:meth:`AtomicStore.consume_and_add <fedlib.stores.base.AtomicStore.consume_and_add>`, one step under
        the store's lock. StoreError: closed, or full of live entries (then nothing changed).
        """
        # Every solicited login calls this once.
        expires, current = check_consume_and_add_arguments(consume_key, add_key, expires_at, now)
        with self._lock:
            if self._closed:
                raise StoreError(_CLOSED)
            entries = self._entries
            entry = entries.get(consume_key)
            if entry is None or current >= entry.expires_at:
                return None, False
            existing = entries.get(add_key)
            if existing is not None and current < existing.expires_at:
                del entries[consume_key]
                return entry.value, False
            # The consumed entry makes room for the new one: the count (hence max_entries) cannot grow.
            del entries[consume_key]
            if existing is not None:
                del entries[add_key]
            heap = self._expiry_heap
            # _purge_locked has nothing to do (no item expired by now, the heap needs no rebuild): skipped.
            if heap and (heap[0][0] <= current or len(heap) > 2 * len(entries) + _HEAP_SLACK):
                self._purge_locked(current, limit=self._purge_batch)
            entries[add_key] = _new_entry(_Entry, (expires, ""))
            heapq.heappush(self._expiry_heap, (expires, add_key))
            return entry.value, True

    def purge_expired(self, *, now: datetime) -> int:
        """Remove every entry that expired at least ``clock_tolerance`` before ``now``.

        Not needed for correctness (expiry is checked on read); useful to reclaim memory at a quiet time.

        Args:
            now: The caller's current time (aware datetime).

        Returns:
            The number of entries removed.

        Raises:
            ValueError: ``now`` is naive.
            fedlib.errors.StoreError: The store is closed.
        """
        current = require_aware(now, "now")
        with self._lock:
            self._check_open()
            return self._purge_locked(current, limit=None)

    def close(self) -> None:
        """Drop every entry. Later calls to ``add`` / ``consume`` raise StoreError; closing twice is fine."""
        with self._lock:
            self._closed = True
            self._entries.clear()
            self._expiry_heap.clear()

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(_CLOSED)

    def _purge_locked(self, now: datetime, *, limit: int | None) -> int:
        """Pop heap items that expired ``clock_tolerance`` before ``now`` (at most ``limit``) and delete
        their entries if those did too."""
        heap = self._expiry_heap
        entries = self._entries
        # An entry may still be live for a caller whose clock is up to the tolerance behind ours.
        if now - _MIN_DATETIME < self._tolerance:
            return 0  # nothing can have expired that long ago (and now - tolerance would underflow)
        cutoff = now - self._tolerance
        removed = 0
        popped = 0
        while heap and heap[0][0] <= cutoff and (limit is None or popped < limit):
            _, key = heapq.heappop(heap)
            popped += 1
            entry = entries.get(key)
            # Any entry expired at ``cutoff`` may go, whichever heap item led here: a re-added key's live
            # entry has a later expiry and its own heap item.
            if entry is not None and entry.expires_at <= cutoff:
                del entries[key]
                removed += 1
        if len(heap) > 2 * len(entries) + _HEAP_SLACK:
            self._expiry_heap = [(entry.expires_at, key) for key, entry in entries.items()]
            heapq.heapify(self._expiry_heap)
        return removed


__all__ = ["MemoryStore"]
