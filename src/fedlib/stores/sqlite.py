"""A store in an SQLite database file, shared safely by every thread and process that opens the same path.

Atomicity comes from SQLite's own locking, so it holds across processes (several CLI invocations, several
WSGI workers) as long as they use the same file on a local filesystem (SQLite locking is unreliable on
network filesystems such as NFS):

* ``add`` is one ``INSERT ... ON CONFLICT (key) DO UPDATE ... WHERE expires_at <= now`` statement (its own
  transaction: SQLite takes the write lock before it reads): it inserts the key, or replaces its entry if
  that is expired for the caller (the replacement always expires later, see :mod:`fedlib.stores.base`),
  and reports whether a row was written. One write in eight runs it in a ``BEGIN IMMEDIATE`` transaction
  that then sweeps the next batch of keys and deletes those of their rows that expired at least
  ``clock_tolerance`` ago, so that a worker whose clock is ahead never deletes a row that a worker whose
  clock is behind still needs;
* ``consume`` is a single ``DELETE ... WHERE key = ? AND expires_at > ? RETURNING value`` statement;
* ``consume_and_add`` (a login: consume the pending request, record the replay key) is the consume and
  the add in one ``BEGIN IMMEDIATE`` transaction, one commit.

The table is one b-tree keyed by ``key`` (``WITHOUT ROWID``, no other index): a write changes one page per
key, each page one frame written to the WAL at commit, which is most of what a write costs. A file created
by fedlib before that layout (a rowid table, its key index and an index on ``expires_at``) keeps its table
and its entries; opening it drops the ``expires_at`` index (two b-trees left). During a rolling upgrade both
versions share such a file correctly: a worker of the earlier version finds expired rows by scanning the
table (one write in eight) until it is upgraded, or recreates the index when it opens the file (one more
page per write for this version's workers until they reopen it). The
earlier version cannot use a file created with the new layout (its purge reads ``rowid``; it fails closed
with StoreError): to downgrade, start it on a new file, after the lifetime of the assertions accepted
last (their replay entries stay in the old file).

The connection is opened once per instance (and process), its statements are prepared once and reused
(:mod:`sqlite3`'s statement cache), and no PRAGMA runs per call.

Every :class:`sqlite3.Error` becomes :class:`fedlib.errors.StoreError`: when the database cannot answer,
nothing is accepted (fail closed).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from fedlib.errors import StoreError
from fedlib.stores.base import (
    DEFAULT_CLOCK_TOLERANCE,
    check_add_arguments,
    check_clock_tolerance,
    check_consume_and_add_arguments,
    check_key,
    require_aware,
)

_MEMORY = ":memory:"
_T = TypeVar("_T")

# Waiting for another connection's write lock (see SQLiteStore._retrying_lock_conflicts).
_FIRST_RETRY_DELAY = 50e-6
_MAX_RETRY_DELAY = 1e-3

# The opportunistic purge runs on one write in this many (with this many times the batch).
_PURGE_EVERY = 8

# ON CONFLICT ... DO NOTHING (upsert) needs SQLite 3.24; DELETE ... RETURNING needs 3.35.
_MIN_SQLITE = (3, 24, 0)
_HAS_RETURNING = sqlite3.sqlite_version_info >= (3, 35, 0)

# The table name is a literal in every statement (no string building near SQL).
#
# One b-tree: the table is keyed by ``key`` (WITHOUT ROWID) and has no other index, so a write changes one
# page per key (a login's consume_and_add two), each page one frame appended to the WAL at commit. Files
# created before (a rowid table, its primary-key index and an index on expires_at: three b-trees, three
# frames per key) keep their table, which every statement here reads and writes alike; opening one drops
# its expires_at index (nothing here uses it any more), two b-trees left. The purge sweeps the key order
# instead (_sweep), which both layouts have.
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS fedlib_store "
    "(key TEXT PRIMARY KEY, value TEXT NOT NULL, expires_at REAL NOT NULL) WITHOUT ROWID",
    "DROP INDEX IF EXISTS fedlib_store_expires_at",
)
# Insert the key, or replace its entry if that is expired for the caller (expires_at <= now); a live entry
# is left alone and the statement changes no row (rowcount 0). One statement: one b-tree descent.
_SQL_ADD = (
    "INSERT INTO fedlib_store (key, value, expires_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET "
    "value = excluded.value, expires_at = excluded.expires_at WHERE fedlib_store.expires_at <= ?"
)
_SQL_CONSUME = "DELETE FROM fedlib_store WHERE key = ? AND expires_at > ? RETURNING value"
_SQL_SELECT_LIVE = "SELECT value FROM fedlib_store WHERE key = ? AND expires_at > ?"
_SQL_DELETE_KEY = "DELETE FROM fedlib_store WHERE key = ?"
# The sweep (see _sweep): the last key of the next window of keys after a key (none: fewer keys are left),
# then the rows of that window (or of all keys after it) that expired at least clock_tolerance ago. Both are
# range scans of the key (OFFSET steps over the rows without producing them: a third of the cost of
# count(*) and max(key) over a LIMIT subquery).
_SQL_SWEEP_END = "SELECT key FROM fedlib_store WHERE key > ? ORDER BY key LIMIT 1 OFFSET ?"
# ``+expires_at``: the unary plus keeps SQLite from planning the expiry term on an index. A file of the previous
# layout has an ``expires_at`` index again whenever a previous-version worker reopens it (a rolling upgrade),
# and a sweep planned on it walks every expired row of the file instead of its window of keys.
_SQL_SWEEP_DELETE = "DELETE FROM fedlib_store WHERE key > ? AND key <= ? AND +expires_at <= ?"
_SQL_SWEEP_DELETE_LAST = "DELETE FROM fedlib_store WHERE key > ? AND +expires_at <= ?"
_SQL_PURGE_ALL = "DELETE FROM fedlib_store WHERE expires_at <= ?"
# The only two accepted values, each mapped to its literal statement (no string building near SQL).
_SYNCHRONOUS = {"NORMAL": "PRAGMA synchronous = NORMAL", "FULL": "PRAGMA synchronous = FULL"}


class SQLiteStore:
    """A :class:`fedlib.stores.Store` kept in an SQLite database (stdlib :mod:`sqlite3` only).

    The database is opened (and the table created if needed) by the constructor, so a misconfigured path
    fails at start-up rather than on the first login. The file uses WAL journaling with
    ``synchronous=NORMAL`` by default: a commit is written to the WAL but not fsync'd (the WAL is synced
    at checkpoints). **The trade-off:** a process crash (a worker killed, an exception, ``kill -9``) loses
    nothing, because the committed pages are in the operating system's cache; an OS crash or a power cut
    may forget the last entries committed before it (recent replay entries and pending requests). That is
    how Shibboleth's in-memory replay cache behaves on every restart. Pass ``synchronous="FULL"`` to fsync
    every commit (a committed entry then survives a power loss; each ``add``/``consume`` costs a disk
    flush, several milliseconds on most disks). Each instance holds one connection guarded by a lock, so
    one instance may be shared by any number of threads; any number of instances, in any number of
    processes, may open the same file. After ``os.fork()`` the child transparently opens its own
    connection to the file on first use (an SQLite connection must not be used across a fork).

    ``":memory:"`` gives a private database that lives as long as this instance; like
    :class:`fedlib.stores.MemoryStore` it is not shared with other processes.

    Times are stored as POSIX seconds (``REAL``), which keeps microsecond resolution for dates up to the
    year 2242.

    Every eighth write (``add`` or ``consume_and_add``) of an instance, the first one included, also
    sweeps the next ``8 * purge_batch`` keys in key order (continuing where its previous sweep stopped,
    wrapping around after the last key; the instance's first sweep starts after the key it writes) and
    deletes those of their rows that expired at least ``clock_tolerance`` before its ``now``. So the table
    does not grow with expired entries (each row is looked at about once per ``rows / purge_batch`` writes),
    no call does unbounded work, no write maintains an index on ``expires_at`` for it, the other writes
    skip it, and no worker's purge deletes a row that a worker whose clock is up to ``clock_tolerance``
    behind still considers live.

    Args:
        path: The database file, or ``":memory:"``. The directory must exist; the file is created.
        timeout: Seconds to wait for another connection's write lock (in short sleeps) before giving up
            with StoreError.
        purge_batch: Keys looked at per write, on average, by the purge of expired rows: every eighth
            write sweeps eight times this many (0 disables opportunistic purging). The default, 8, is
            eight times the rate at which writes leave rows to purge (one replay entry per login).
        clock_tolerance: How long after its ``expires_at`` a row may be deleted: at least the largest
            difference between the clocks of the processes sharing the file (see :mod:`fedlib.stores.base`).
        synchronous: ``"NORMAL"`` (default: durable across process crashes, not across OS crashes or
            power loss) or ``"FULL"`` (every commit fsync'd), see above.

    Raises:
        ValueError: ``path`` is empty, ``synchronous`` is neither ``"NORMAL"`` nor ``"FULL"``, or
            ``timeout``, ``purge_batch`` or ``clock_tolerance`` is negative.
        TypeError: ``clock_tolerance`` is not a timedelta.
        fedlib.errors.StoreError: The database cannot be opened or initialised (missing directory, not
            a database, permission denied, SQLite older than 3.24, ...).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        timeout: float = 5.0,
        purge_batch: int = 8,
        clock_tolerance: timedelta = DEFAULT_CLOCK_TOLERANCE,
        synchronous: str = "NORMAL",
    ) -> None:
        if synchronous not in _SYNCHRONOUS:
            raise ValueError('synchronous must be "NORMAL" or "FULL"')
        self._synchronous = _SYNCHRONOUS[synchronous]
        self._tolerance_s = check_clock_tolerance(clock_tolerance).total_seconds()
        if timeout < 0:
            raise ValueError("timeout must not be negative")
        if purge_batch < 0:
            raise ValueError("purge_batch must not be negative")
        self._path = os.fspath(path)
        if not isinstance(self._path, str) or not self._path:
            # sqlite3 treats "" as a private temporary database: never what a caller meant.
            raise ValueError("SQLiteStore needs a database path (or ':memory:')")
        self._in_memory = self._path == _MEMORY
        self._timeout = float(timeout)
        self._purge_batch = purge_batch
        self._writes = 0  # writes by this instance, for the amortised purge (_maybe_purge)
        self._sweep_after: Any = None  # where the next sweep starts (_sweep); a key (str) once set
        self._use_returning = _HAS_RETURNING
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        # Connections inherited through fork(): never used again, and never closed or garbage collected
        # in the child, because closing them could disturb the parent's locks and WAL state.
        self._forked_connections: list[sqlite3.Connection] = []
        self._closed = False
        if sqlite3.sqlite_version_info < _MIN_SQLITE:
            raise StoreError(
                f"the SQLite replay store needs SQLite >= 3.24; this Python uses {sqlite3.sqlite_version}",
            )
        with self._lock:
            try:
                self._conn = self._connect()
            except sqlite3.Error as exc:
                raise self._error("open", exc) from exc
        _INSTANCES.add(self)

    @property
    def path(self) -> str:
        """The database path as given (``":memory:"`` for an in-memory database)."""
        return self._path

    def __repr__(self) -> str:
        state = " closed" if self._closed else ""
        return f"<SQLiteStore {self._path!r}{state}>"

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def add(self, key: str, *, expires_at: datetime, now: datetime, value: str = "") -> bool:
        """:meth:`Store.add <fedlib.stores.Store.add>`, atomic across threads and processes. StoreError: closed or the
        database failed (nothing recorded).
        """
        # start_login's pending request (the common arguments are decided inline there).
        expires, current = check_add_arguments(key, value, expires_at, now)
        expires_ts, now_ts = expires.timestamp(), current.timestamp()
        parameters = (key, value, expires_ts, now_ts)
        with self._lock:
            conn = self._conn if self._conn is not None else self._connection("add")
            writes = self._writes
            self._writes = writes + 1
            try:
                if not self._purge_batch or writes % _PURGE_EVERY:
                    # No sweep on this write: the upsert alone, one autocommit statement (its own
                    # transaction: the key is inserted, or its expired entry replaced, atomically), without
                    # the BEGIN and COMMIT statements' own cost. Refused for the lock, it did nothing and is
                    # run again.
                    return self._retrying_lock_conflicts(conn, lambda: conn.execute(_SQL_ADD, parameters).rowcount == 1)
                self._begin_immediate(conn)
                try:
                    inserted = conn.execute(_SQL_ADD, parameters).rowcount == 1
                    self._sweep(conn, key, now_ts)
                    conn.execute("COMMIT")
                except BaseException:
                    self._rollback(conn)
                    raise
            except sqlite3.Error as exc:
                raise self._error("add", exc) from exc
            return inserted

    def consume(self, key: str, *, now: datetime) -> str | None:
        """:meth:`Store.consume <fedlib.stores.Store.consume>`, atomic across threads and processes. StoreError: closed
        or the database failed (nothing consumed).
        """
        check_key(key)
        now_ts = require_aware(now, "now").timestamp()
        with self._lock:
            conn = self._connection("consume")
            try:
                if self._use_returning:
                    # One autocommit statement: the row is deleted and returned atomically. fetchall()
                    # runs the statement to completion, which commits it; refused for the lock, it did
                    # nothing and is run again.
                    rows = self._retrying_lock_conflicts(conn, lambda: _fetch_all(conn, _SQL_CONSUME, (key, now_ts)))
                else:  # SQLite < 3.35: the same under the write lock
                    self._begin_immediate(conn)
                    try:
                        rows = conn.execute(_SQL_SELECT_LIVE, (key, now_ts)).fetchall()
                        if rows:
                            conn.execute(_SQL_DELETE_KEY, (key,))
                        conn.execute("COMMIT")
                    except BaseException:
                        self._rollback(conn)
                        raise
            except sqlite3.Error as exc:
                raise self._error("consume", exc) from exc
        if not rows:
            return None
        return self._value(rows[0][0])

    def _value(self, result: object) -> str:
        if not isinstance(result, str):
            raise StoreError(
                f"the SQLite replay store {self._path!r} returned a corrupt entry",
                detail=f"value of type {type(result).__name__}",
            )
        return result

    def consume_and_add(
        self, consume_key: str, add_key: str, *, expires_at: datetime, now: datetime
    ) -> tuple[str | None, bool]:
        """:meth:`AtomicStore.consume_and_add <fedlib.stores.base.AtomicStore.consume_and_add>`: one
        ``BEGIN IMMEDIATE`` transaction (one commit), atomic across threads and processes. StoreError: closed
        or the database failed (the transaction is rolled back: nothing consumed, nothing recorded).
        """
        # Every solicited login (the common arguments are decided inline there).
        expires, current = check_consume_and_add_arguments(consume_key, add_key, expires_at, now)
        expires_ts, now_ts = expires.timestamp(), current.timestamp()
        with self._lock:
            # The open connection (self._conn is None once closed, after a fork, or after a failed rollback).
            conn = self._conn if self._conn is not None else self._connection("consume_and_add")
            try:
                self._begin_immediate(conn)
                try:
                    if self._use_returning:
                        rows = _fetch_all(conn, _SQL_CONSUME, (consume_key, now_ts))
                    else:  # SQLite < 3.35
                        rows = conn.execute(_SQL_SELECT_LIVE, (consume_key, now_ts)).fetchall()
                        if rows:
                            conn.execute(_SQL_DELETE_KEY, (consume_key,))
                    inserted = False
                    if rows:
                        inserted = conn.execute(_SQL_ADD, (add_key, "", expires_ts, now_ts)).rowcount == 1
                        self._maybe_purge(conn, add_key, now_ts)
                    conn.execute("COMMIT")
                except BaseException:
                    self._rollback(conn)
                    raise
            except sqlite3.Error as exc:
                raise self._error("consume_and_add", exc) from exc
        if not rows:
            return None, False
        return self._value(rows[0][0]), inserted

    def purge_expired(self, *, now: datetime) -> int:
        """Delete every row that expired at least ``clock_tolerance`` before ``now``.

        Not needed for correctness (expiry is checked on read, and writes purge bounded batches); useful
        from a maintenance job to shrink the table after a burst.

        Args:
            now: The caller's current time (aware datetime).

        Returns:
            The number of rows deleted.

        Raises:
            ValueError: ``now`` is naive.
            fedlib.errors.StoreError: The store is closed or the database failed.
        """
        now_ts = require_aware(now, "now").timestamp()
        with self._lock:
            conn = self._connection("purge")
            try:
                cutoff = now_ts - self._tolerance_s
                return self._retrying_lock_conflicts(conn, lambda: conn.execute(_SQL_PURGE_ALL, (cutoff,)).rowcount)
            except sqlite3.Error as exc:
                raise self._error("purge", exc) from exc

    def close(self) -> None:
        """Close the connection. Later calls to ``add`` / ``consume`` raise StoreError; closing twice is fine.

        Raises:
            fedlib.errors.StoreError: SQLite reported an error while closing.
        """
        with self._lock:
            self._closed = True
            conn, self._conn = self._conn, None
            if conn is not None:
                try:
                    conn.close()
                except sqlite3.Error as exc:
                    raise self._error("close", exc) from exc

    # -- internals ---------------------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self._path,
            timeout=self._timeout,
            isolation_level=None,  # autocommit; transactions are explicit (BEGIN IMMEDIATE)
            check_same_thread=False,  # serialised by self._lock instead
        )
        try:
            # No SQLite busy handler: its waits are 1, 2, 5, 10... ms sleeps, longer than a whole write
            # here, so two workers on one file would serve fewer logins than one. Lock conflicts are
            # waited for in _retrying_lock_conflicts instead (short sleeps, same overall timeout).
            conn.execute("PRAGMA busy_timeout = 0")
            self._initialise(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _initialise(self, conn: sqlite3.Connection) -> None:
        """Set the journal mode and create the schema, retrying lock conflicts until the timeout.

        ``PRAGMA journal_mode = WAL`` reads the database and then needs an exclusive lock; when several
        processes open a new file at once, SQLite may answer SQLITE_BUSY immediately (without waiting in
        the busy handler, to avoid a deadlock). Every step here is idempotent, so it is simply retried.
        ``add``, ``consume`` and ``purge_expired`` wait for the write lock in
        :meth:`_retrying_lock_conflicts`.
        """
        deadline = time.monotonic() + self._timeout
        delay = 0.005
        while True:
            try:
                if not self._in_memory:
                    # Persistent, and a no-op once done. On filesystems without shared-memory support
                    # SQLite keeps the rollback journal: slower, equally atomic.
                    conn.execute("PRAGMA journal_mode = WAL").fetchall()
                conn.execute(self._synchronous)
                conn.execute("BEGIN IMMEDIATE")
                try:
                    for statement in _SCHEMA:
                        conn.execute(statement)
                    conn.execute("COMMIT")
                except BaseException:
                    self._rollback(conn)
                    raise
                return
            except sqlite3.OperationalError as exc:
                if not _is_lock_conflict(exc) or time.monotonic() + delay > deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, 0.1)

    def _maybe_purge(self, conn: sqlite3.Connection, key: str, now_ts: float) -> None:
        """Every :data:`_PURGE_EVERY`-th write of this instance (the first one included), inside its
        transaction (which wrote ``key``): :meth:`_sweep` (amortised: the other writes skip it)."""
        writes = self._writes
        self._writes = writes + 1
        if self._purge_batch and writes % _PURGE_EVERY == 0:
            self._sweep(conn, key, now_ts)

    def _sweep(self, conn: sqlite3.Connection, key: str, now_ts: float) -> None:
        """Look at the next ``purge_batch * _PURGE_EVERY`` keys in key order and delete those of their rows
        that expired at least ``clock_tolerance`` before ``now_ts``.

        The window starts after the last key the previous sweep of this instance looked at (after ``key``,
        the key just written, for the instance's first sweep: so that short-lived instances, one CLI run
        each, look at different parts of the table) and wraps around after the last key. Every row is thus
        looked at at least once per ``rows / purge_batch + 8`` writes of a long-lived instance, no sweep looks at more
        than its window (two range scans of the primary key, no other index to maintain on every write),
        and rows that expired together are deleted together, several per page written.
        """
        start = self._sweep_after if self._sweep_after is not None else key
        cutoff = now_ts - self._tolerance_s
        last = conn.execute(_SQL_SWEEP_END, (start, self._purge_batch * _PURGE_EVERY - 1)).fetchone()
        if last is not None:
            conn.execute(_SQL_SWEEP_DELETE, (start, last[0], cutoff))
            self._sweep_after = last[0]
        else:
            # Fewer keys than a window are left: sweep them, and the next sweep starts at the first key
            # (keys written in increasing order, as some ID generators do, would otherwise keep every sweep
            # after the newest).
            conn.execute(_SQL_SWEEP_DELETE_LAST, (start, cutoff))
            self._sweep_after = ""

    def _begin_immediate(self, conn: sqlite3.Connection) -> None:
        """``BEGIN IMMEDIATE``: take the database write lock, waiting for another connection to release it."""
        self._retrying_lock_conflicts(conn, lambda: conn.execute("BEGIN IMMEDIATE"))

    def _retrying_lock_conflicts(self, conn: sqlite3.Connection, step: Callable[[], _T]) -> _T:
        """Run ``step`` (one statement that takes the write lock, and that did nothing if SQLite refused it
        with SQLITE_BUSY / SQLITE_LOCKED), retrying lock conflicts with short sleeps (50 µs doubling to
        1 ms) until ``timeout`` has passed; then the conflict propagates (StoreError, fail closed).

        The connection has no busy handler (``PRAGMA busy_timeout = 0``): SQLite's own sleeps 1 ms and more
        at the first conflict, while a write here holds the lock for some tens of µs.
        """
        deadline: float | None = None
        delay = _FIRST_RETRY_DELAY
        while True:
            try:
                return step()
            except sqlite3.OperationalError as exc:
                if not _is_lock_conflict(exc):
                    raise
                if conn.in_transaction:  # pragma: no cover - a refused statement leaves none open
                    conn.execute("ROLLBACK")
                now = time.monotonic()
                if deadline is None:
                    deadline = now + self._timeout
                if now + delay > deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, _MAX_RETRY_DELAY)

    def _after_fork(self) -> None:
        """Called in a forked child (single-threaded at that point) to stop using the parent's connection.

        The lock is replaced because another parent thread may have held it at fork time. A file database
        gets a new connection on next use; an in-memory one keeps its (now private) copy.
        """
        self._lock = threading.Lock()
        if self._conn is not None and not self._in_memory:
            self._forked_connections.append(self._conn)
            self._conn = None

    def _connection(self, operation: str) -> sqlite3.Connection:
        """The open connection (reopened if needed); call with the lock held."""
        if self._closed:
            raise StoreError(f"the SQLite replay store {self._path!r} is closed")
        if self._conn is None:
            if self._in_memory:  # its database vanished with the connection: never start an empty one
                raise StoreError("the in-memory SQLite replay store lost its database")
            try:
                self._conn = self._connect()
            except sqlite3.Error as exc:
                raise self._error(operation, exc) from exc
        return self._conn

    def _rollback(self, conn: sqlite3.Connection) -> None:
        """Roll back after a failure; if even that fails, drop the connection so the next call reopens."""
        try:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
        except sqlite3.Error:
            if conn is self._conn and not self._in_memory:
                self._conn = None
                with contextlib.suppress(sqlite3.Error):
                    conn.close()

    def _error(self, operation: str, exc: sqlite3.Error) -> StoreError:
        reason = str(exc) or type(exc).__name__
        hint = ""
        if isinstance(exc, sqlite3.OperationalError) and _is_lock_conflict(exc):
            hint = f" (another connection holds the lock; busy timeout {self._timeout:g}s)"
        return StoreError(
            f"the SQLite replay store {self._path!r} failed during {operation}: {reason}{hint}; "
            "refusing to accept messages until it works (fail closed)",
            detail=f"{type(exc).__name__}: {exc}",
        )


def _fetch_all(conn: sqlite3.Connection, sql: str, parameters: tuple[object, ...]) -> list[Any]:
    """Run one statement to completion and return its rows (a ``RETURNING`` statement commits then)."""
    cursor = conn.execute(sql, parameters)
    try:
        return cursor.fetchall()
    finally:
        cursor.close()


def _is_lock_conflict(exc: sqlite3.OperationalError) -> bool:
    """Whether SQLite reported SQLITE_BUSY or SQLITE_LOCKED (another connection holds a lock)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return (code & 0xFF) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(exc) or "busy" in str(exc)


# Every open instance, so that a child process can drop inherited connections right after fork().
_INSTANCES: weakref.WeakSet[SQLiteStore] = weakref.WeakSet()


def _after_fork_in_child() -> None:  # pragma: no cover - runs in forked children only
    for store in list(_INSTANCES):
        store._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


__all__ = ["SQLiteStore"]
