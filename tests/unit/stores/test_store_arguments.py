"""``stores.base.check_add_arguments`` and ``check_consume_and_add_arguments`` (the inline common case every
store's ``add`` and ``consume_and_add`` share) decide as the checks they stand for: the same result, or the
same exception type and message, for keys and values ASCII or not, empty or not strings, and datetimes in
UTC, another zone, naive, of a subclass, in order or not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from fedlib.stores.base import (
    check_add_arguments,
    check_add_times,
    check_consume_and_add_arguments,
    check_distinct_keys,
    check_key,
    check_value,
)

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


class _Subclass(datetime):
    pass


_texts = st.one_of(
    st.sampled_from(["", "k", "k2", "é", "\ud800", "replay:x"]), st.text(max_size=4), st.none(), st.just(b"k")
)
_times = st.one_of(
    st.integers(-3, 3).map(lambda h: T0 + timedelta(hours=h)),
    st.integers(-3, 3).map(lambda h: (T0 + timedelta(hours=h)).astimezone(timezone(timedelta(hours=2)))),
    st.just(T0.replace(tzinfo=None)),
    st.just(_Subclass(2026, 12, 7, 13, 0, tzinfo=UTC)),
    st.just("2026-12-07T12:00:00Z"),
)


def _outcome(call: Any) -> Any:
    try:
        return ("ok", call())
    except Exception as exc:  # the type and the message are what must agree
        return (type(exc), str(exc))


def _reference_add(key: Any, value: Any, expires_at: Any, now: Any) -> tuple[datetime, datetime]:
    check_key(key)
    check_value(value)
    return check_add_times(expires_at, now)


def _reference_consume_and_add(consume_key: Any, add_key: Any, expires_at: Any, now: Any) -> tuple[datetime, datetime]:
    check_distinct_keys(consume_key, add_key)
    return check_add_times(expires_at, now)


@settings(max_examples=400, deadline=None)
@given(_texts, _texts, _times, _times)
def test_check_add_arguments_is_the_three_checks(key: Any, value: Any, expires_at: Any, now: Any) -> None:
    assert _outcome(lambda: check_add_arguments(key, value, expires_at, now)) == _outcome(
        lambda: _reference_add(key, value, expires_at, now)
    )


@settings(max_examples=400, deadline=None)
@given(_texts, _texts, _times, _times)
def test_check_consume_and_add_arguments_is_the_two_checks(first: Any, second: Any, expires_at: Any, now: Any) -> None:
    assert _outcome(lambda: check_consume_and_add_arguments(first, second, expires_at, now)) == _outcome(
        lambda: _reference_consume_and_add(first, second, expires_at, now)
    )
