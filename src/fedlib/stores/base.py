"""The store protocol shared by every request-ID / replay backend, and its argument checks.

A store is a small key/value map with per-entry expiry, used for two security decisions:

* **request IDs** (``add`` when an AuthnRequest is sent, ``consume`` when its Response arrives), so that a
  Response answers exactly one outstanding request, once;
* **assertion IDs** (``add`` when an assertion is accepted), so that a replayed assertion is refused.

Both decisions depend on the backend being *atomic* and *failing closed*:

* ``add`` of a key succeeds (returns ``True``) for exactly one caller while the entry is live, even when
  many threads or processes race on the same key;
* ``consume`` of a key returns its value to exactly one caller;
* when the backend cannot answer, it raises :class:`fedlib.errors.StoreError` instead of guessing.

Stores never read the clock: every call takes ``now`` (an aware datetime), and an entry is *live* while
``now < expires_at``. Entries are removed once any caller's ``now`` reaches their ``expires_at``, so callers
sharing a store should have reasonably synchronised clocks (the validation pipeline adds the configured
clock skew to ``expires_at`` for that reason).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class Store(Protocol):
    """A request-ID / replay store: a key/value map with per-entry expiry and atomic first-use semantics.

    Implementations must make ``add`` and ``consume`` atomic with respect to every other caller of the
    same backing storage (other threads, and for shared backends other processes), and must raise
    :class:`fedlib.errors.StoreError` whenever they cannot give a trustworthy answer. An entry is live
    while ``now < expires_at``; an expired entry behaves exactly like an absent one.
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


def _check_utf8(text: str, what: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{what} is not encodable as UTF-8") from None


__all__ = ["Store", "check_add_times", "check_key", "check_value", "require_aware"]
