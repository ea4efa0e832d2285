"""The store protocol shared by every request-ID / replay backend, and its argument checks.

A store is a small key/value map with per-entry expiry, used for two security decisions:

* **request IDs** (``add`` when an AuthnRequest is sent, ``consume`` when its Response arrives), so that a
  Response answers exactly one outstanding request, once;
* **assertion IDs** (``add`` when an assertion is accepted), so that a replayed assertion is refused.

A login does both at once: ``ServiceProvider.finish_login`` consumes the pending request and records the
assertion in one atomic :meth:`AtomicStore.consume_and_add` (every fedlib backend has it; a store without
it gets ``consume`` then ``add`` from :func:`consume_and_add`).

Both decisions depend on the backend being *atomic* and *failing closed*:

* ``add`` of a key succeeds (returns ``True``) for exactly one caller while the entry is live, even when
  many threads or processes race on the same key;
* ``consume`` of a key returns its value to exactly one caller;
* when the backend cannot answer, it raises :class:`fedlib.errors.StoreError` instead of guessing.

Stores never read the clock: every call takes ``now`` (an aware datetime), and an entry is *live* for a
caller while that caller's ``now < expires_at``.

**Clocks that disagree (the promise).** Workers sharing a store have clocks up to some skew apart. Every
backend takes a ``clock_tolerance`` (default :data:`DEFAULT_CLOCK_TOLERANCE`, one hour: the largest
``clock_skew`` a :class:`fedlib.config.SecurityPolicy` allows) and promises, for an entry added with
``expires_at = E``:

    Let every two callers' clocks differ by at most ``clock_tolerance``. Then, until some caller consumes
    the entry, every call made at a ``now < E`` finds the key occupied: ``add`` returns ``False`` and
    ``consume`` returns the value of the key's latest ``add`` (and consumes it: once, to one caller).

It holds because of two rules that every backend follows:

1. no call physically removes the entry (opportunistic purge, ``purge_expired``, Redis TTL) before its own
   ``now >= E + clock_tolerance``; the only earlier removal is ``consume`` of an entry live for its caller;
2. ``add`` replaces the entry only when it is expired for the caller, and then with an entry whose
   ``expires_at`` is later than ``E`` (``add`` requires ``expires_at > now >= E``).

Why this is needed, and why it is enough. The validation pipeline records an assertion with
``E = latest NotOnOrAfter + skew`` (the same ``E`` on every worker configured with the same skew). A
worker B whose clock is ``d`` behind still accepts a copy of the assertion until its own clock reaches
``E``, i.e. while ``now_B < E``. A worker A that is ``d`` ahead already considers the entry expired at
``now_A >= E``, ``d`` earlier in real time. Were A's opportunistic purge (``SQLiteStore.add``,
``MemoryStore.add``) or a Redis TTL computed from A's clock (``E - now_A``) to delete the entry then, B
would record the assertion again and accept it a second time. So:

* *physical deletion* waits ``clock_tolerance`` longer than expiry: a purge by a caller at ``now`` only
  deletes entries with ``expires_at + clock_tolerance <= now``; a Redis entry gets the relative TTL
  ``(E - now) + clock_tolerance`` (``PX``, counted by the server from the moment of the write, so the
  server's own clock offset does not matter). A worker ``d <= clock_tolerance`` ahead thus deletes the
  entry no earlier (in real time) than B's clock reaches ``E``. The cost is storage only: entries linger
  up to ``clock_tolerance`` after they stopped being live for anyone.
* *liveness* stays per caller (``now < E``): A refusing a key that is expired on its own clock would not
  protect anything, because A's own time checks already refuse the assertion (its ``now >= E`` means
  ``NotOnOrAfter + skew`` has passed for A).
* ``add`` *replaces* an entry that is expired for its caller (``now_A >= E``). That is safe for everyone
  else: ``add`` requires ``expires_at > now_A >= E``, so the replacement is live for B at least as long as
  the original was, and B's ``add`` still returns ``False``. For a replay key this is exactly right: A
  only adds one after the assertion passed its own time checks. What changes is the *value*: B's
  ``consume`` returns the replacement's value. That can only happen when two different adds use the same
  key within ``clock_tolerance`` of each other's expiry; fedlib's keys never do (request IDs are random,
  replay keys carry no value), and other callers must not reuse a key for a different purpose.

``clock_tolerance`` must be at least the largest difference between the clocks of the callers sharing a
store; keep the hosts NTP-synchronised and leave the default unless storage is very tight.

What the store cannot know: replay protection also assumes every worker computes the same ``E`` for an
assertion, i.e. that the ServiceProviders sharing a store use the same ``clock_skew`` for an SP. A worker
configured with a larger skew than the one that recorded the assertion would, once the recorded entry has
expired on its clock, replace it (rule 2) and accept the assertion again inside its own, longer window.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final, Protocol

from fedlib.config import MAX_CLOCK_SKEW

DEFAULT_CLOCK_TOLERANCE: Final = MAX_CLOCK_SKEW
"""How much later than its ``expires_at`` an entry may be physically deleted (see the module documentation):
the largest clock skew fedlib's configuration allows, so that no valid configuration can defeat it."""


class Store(Protocol):
    """A request-ID / replay store: a key/value map with per-entry expiry and atomic first-use semantics.

    Implementations must make ``add`` and ``consume`` atomic with respect to every other caller of the
    same backing storage (other threads, and for shared backends other processes), and must raise
    :class:`fedlib.errors.StoreError` whenever they cannot give a trustworthy answer. An entry is live
    for a caller while its ``now < expires_at``; an entry expired for a caller behaves, for that caller,
    exactly like an absent one. Implementations keep the clock-tolerance promise of the module
    documentation: nothing is physically deleted before ``expires_at + clock_tolerance``.
    """

    def add(self, key: str, *, expires_at: datetime, now: datetime, value: str = "") -> bool:
        """Insert key if absent or expired; True if inserted (first use), False if a live entry exists.

        The check and the insert are one atomic step: of any number of concurrent ``add`` calls for the
        same key, at most one returns ``True`` while the entry it created is live.

        Args:
            key: The identifier to record (a request ID or an assertion ID). Non-empty.
            expires_at: When the entry stops being live (aware datetime, later than ``now``).
            now: The caller's current time (aware datetime).
            value: An optional payload returned by :meth:`consume` (for example a relay state).

        Returns:
            ``True`` if the key was inserted (first use), ``False`` if a live entry already exists.

        Raises:
            ValueError: A datetime is naive, ``expires_at`` is not later than ``now``, or ``key`` is empty
                or not encodable as UTF-8.
            fedlib.errors.StoreError: The backend failed; nothing can be concluded about the key.
        """
        ...

    def consume(self, key: str, *, now: datetime) -> str | None:
        """Atomically delete a live entry and return its value; None if absent or expired.

        Of any number of concurrent ``consume`` calls for the same live entry, exactly one receives its
        value; the others receive ``None``.

        Args:
            key: The identifier to look up and remove.
            now: The caller's current time (aware datetime).

        Returns:
            The value stored by :meth:`add`, or ``None`` if there is no live entry for ``key``.

        Raises:
            ValueError: ``now`` is naive, or ``key`` is empty or not encodable as UTF-8.
            fedlib.errors.StoreError: The backend failed; nothing can be concluded about the key.
        """
        ...

    def close(self) -> None:
        """Release the backend's resources. Later calls to ``add`` / ``consume`` raise StoreError.

        Closing an already closed store does nothing.
        """
        ...


class AtomicStore(Store, Protocol):
    """A :class:`Store` that also consumes one key and adds another in one atomic step (every backend of
    fedlib; a store of your own that lacks it still works, see :func:`consume_and_add`)."""

    def consume_and_add(
        self, consume_key: str, add_key: str, *, expires_at: datetime, now: datetime
    ) -> tuple[str | None, bool]:
        """Consume ``consume_key`` and, if that found a live entry, add ``add_key``, as one atomic step.

        What ``ServiceProvider.finish_login`` does with a validated Response: consume its pending request
        and record its assertion (replay key) in one store operation. Exactly as if ``consume`` and then
        (only if it returned a value) ``add`` ran with nothing in between:

        * ``consume_key`` not live for the caller: nothing changes; returns ``(None, False)``;
        * else its entry is deleted and ``add_key`` is inserted (empty value, ``expires_at``) unless a live
          entry holds it; returns ``(value, inserted)``: ``(value, False)`` means the consume happened and
          the add found the key taken (a replay).

        Of any number of concurrent calls (or ``consume`` calls) for one live ``consume_key``, exactly one
        receives its value. On a backend failure nothing may be concluded (StoreError).

        Raises:
            ValueError: a key is empty or not UTF-8, the keys are equal, a datetime is naive, or
                ``expires_at`` is not later than ``now``.
            fedlib.errors.StoreError: The backend failed; nothing can be concluded about either key.
        """
        ...


def consume_and_add(
    store: Store, consume_key: str, add_key: str, *, expires_at: datetime, now: datetime
) -> tuple[str | None, bool]:
    """:meth:`AtomicStore.consume_and_add` on ``store``: atomic when the store has the method (every
    fedlib backend and view does), else ``consume`` then ``add`` (two steps, which is what fedlib did
    before there was one: the consume still happens at most once, and a failed ``add`` raises StoreError)."""
    method = getattr(store, "consume_and_add", None)
    if method is not None:
        result: tuple[str | None, bool] = method(consume_key, add_key, expires_at=expires_at, now=now)
        return result
    check_distinct_keys(consume_key, add_key)
    value = store.consume(consume_key, now=now)
    if value is None:
        return None, False
    return value, store.add(add_key, expires_at=expires_at, now=now)


def check_distinct_keys(consume_key: str, add_key: str) -> None:
    """Check both keys of ``consume_and_add`` (as :func:`check_key`) and that they differ.

    Raises:
        TypeError: a key is not a string.
        ValueError: a key is empty or not UTF-8, or the two are equal.
    """
    check_key(consume_key)
    check_key(add_key)
    if consume_key == add_key:
        raise ValueError("consume_and_add needs two different keys")


def require_aware(value: datetime, name: str = "datetime") -> datetime:
    """Check that ``value`` is a timezone-aware datetime and return it converted to UTC.

    Args:
        value: The datetime to check.
        name: The argument name used in the error message.

    Returns:
        ``value`` as an aware datetime in UTC.

    Raises:
        TypeError: ``value`` is not a datetime.
        ValueError: ``value`` is naive (it has no usable UTC offset).
    """
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} is a naive datetime: pass an aware UTC datetime")
    return value.astimezone(UTC)


def check_key(key: str) -> str:
    """Check that ``key`` is a non-empty string that every backend can store unchanged.

    Args:
        key: The store key.

    Returns:
        ``key`` unchanged.

    Raises:
        TypeError: ``key`` is not a string.
        ValueError: ``key`` is empty or not encodable as UTF-8 (for example a lone surrogate).
    """
    if not isinstance(key, str):
        raise TypeError(f"store key must be a str, not {type(key).__name__}")
    if not key:
        raise ValueError("store key must not be empty")
    _check_utf8(key, "store key")
    return key


def check_value(value: str) -> str:
    """Check that ``value`` is a string that every backend can store unchanged.

    Args:
        value: The payload stored with a key.

    Returns:
        ``value`` unchanged.

    Raises:
        TypeError: ``value`` is not a string.
        ValueError: ``value`` is not encodable as UTF-8.
    """
    if not isinstance(value, str):
        raise TypeError(f"store value must be a str, not {type(value).__name__}")
    _check_utf8(value, "store value")
    return value


def check_add_times(expires_at: datetime, now: datetime) -> tuple[datetime, datetime]:
    """Validate the times given to ``add``.

    Args:
        expires_at: When the new entry stops being live.
        now: The caller's current time.

    Returns:
        ``(expires_at, now)`` as aware UTC datetimes.

    Raises:
        TypeError: Either argument is not a datetime.
        ValueError: Either datetime is naive, or ``expires_at`` is not later than ``now`` (such an entry
            would never be live, so recording it could not stop a replay; this is a caller bug).
    """
    expires = require_aware(expires_at, "expires_at")
    current = require_aware(now, "now")
    if expires <= current:
        raise ValueError("expires_at must be later than now: an already expired entry protects nothing")
    return expires, current


def _utc_in_order(expires_at: datetime, now: datetime) -> bool:
    """The common times, which :func:`check_add_times` would return unchanged: both of type datetime (no
    subclass), in UTC (the ``UTC`` singleton, so ``require_aware`` converts nothing), ``now`` first."""
    return (
        type(expires_at) is datetime
        and type(now) is datetime
        and expires_at.tzinfo is UTC
        and now.tzinfo is UTC
        and now < expires_at
    )


def check_add_arguments(key: str, value: str, expires_at: datetime, now: datetime) -> tuple[datetime, datetime]:
    """:func:`check_key`, :func:`check_value` and :func:`check_add_times` for ``add``, in one call: returns
    ``(expires_at, now)`` as aware UTC datetimes, or raises as they do.

    Every login start calls it (the pending request), so the common arguments are decided inline: an ASCII
    key and value (UTF-8 by construction), UTC datetimes of type datetime (which ``require_aware`` returns
    unchanged), in order. Anything else goes through the three checks (tests/unit/stores/test_store_arguments.py
    holds both to the checks alone; test_memory_fast_path.py and test_sqlite_fast_path.py, the stores)."""
    if (
        type(key) is str
        and key
        and key.isascii()
        and type(value) is str
        and value.isascii()
        and _utc_in_order(expires_at, now)
    ):
        return expires_at, now
    check_key(key)
    check_value(value)
    return check_add_times(expires_at, now)


def check_consume_and_add_arguments(
    consume_key: str, add_key: str, expires_at: datetime, now: datetime
) -> tuple[datetime, datetime]:
    """:func:`check_distinct_keys` and :func:`check_add_times` for ``consume_and_add``, in one call, the common
    arguments decided inline as in :func:`check_add_arguments` (two different non-empty ASCII keys)."""
    if (
        type(consume_key) is str
        and type(add_key) is str
        and consume_key
        and add_key
        and consume_key != add_key
        and consume_key.isascii()
        and add_key.isascii()
        and _utc_in_order(expires_at, now)
    ):
        return expires_at, now
    check_distinct_keys(consume_key, add_key)
    return check_add_times(expires_at, now)


def check_clock_tolerance(value: timedelta, name: str = "clock_tolerance") -> timedelta:
    """Check a store's clock tolerance (purge grace) and return it.

    Args:
        value: The tolerance.
        name: The argument name used in the error message.

    Returns:
        ``value`` unchanged.

    Raises:
        TypeError: ``value`` is not a timedelta.
        ValueError: ``value`` is negative.
    """
    if not isinstance(value, timedelta):
        raise TypeError(f"{name} must be a timedelta, not {type(value).__name__}")
    if value < timedelta(0):
        raise ValueError(f"{name} must not be negative")
    return value


def _check_utf8(text: str, what: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{what} is not encodable as UTF-8") from None


__all__ = [
    "DEFAULT_CLOCK_TOLERANCE",
    "AtomicStore",
    "Store",
    "check_add_times",
    "check_clock_tolerance",
    "check_distinct_keys",
    "check_key",
    "check_value",
    "consume_and_add",
    "require_aware",
]
