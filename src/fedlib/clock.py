"""Time: the core never reads the clock itself; callers pass ``now`` (or a Clock on long-lived objects).

Also the strict parser for xs:dateTime values as SAML uses them (always UTC-comparable), and saturating
arithmetic on instants: an IdP may sign ``NotOnOrAfter="9999-12-31T23:59:59Z"`` (genuine, if odd, content),
and adding the clock skew to it must not raise ``OverflowError``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Protocol

_DATETIME_RE = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})T(?P<h>\d{2}):(?P<m>\d{2}):(?P<s>\d{2})(?:\.(?P<frac>\d+))?"
    r"(?P<tz>Z|[+-]\d{2}:\d{2})?",
    re.ASCII,  # \d is [0-9] only, never other scripts' digits
)
_CANONICAL_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?Z", re.ASCII)


LATEST_INSTANT: Final = datetime.max.replace(tzinfo=UTC)
"""The latest representable aware instant (9999-12-31T23:59:59.999999Z): where saturating additions stop."""

EARLIEST_INSTANT: Final = datetime.min.replace(tzinfo=UTC)
"""The earliest representable aware instant (0001-01-01T00:00:00Z): where saturating subtractions stop."""


class Clock(Protocol):
    """Anything that can tell the current time as an aware UTC datetime."""

    def now(self) -> datetime: ...


@dataclass(frozen=True, slots=True)
class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class FixedClock:
    """A clock stopped at ``at`` (tests, replays of captured traffic)."""

    at: datetime

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")

    def now(self) -> datetime:
        return self.at


def parse_instant(value: str) -> datetime:
    """Parse an xs:dateTime as SAML sends it into an aware UTC datetime.

    SAML core §1.3.3 requires UTC with no offset ("Z"); IdPs in practice sometimes omit the "Z" or send
    an explicit offset, both of which are unambiguous, so both are accepted (a missing zone means UTC).
    Fractional seconds beyond microseconds are truncated. Raises ValueError on anything else, including a
    time zone outside -14:00 to +14:00 (XML Schema's range) and an instant that an explicit offset moves
    outside the representable years 1-9999 (never OverflowError).
    """
    if _CANONICAL_RE.fullmatch(value):
        # Fast path for the canonical form every IdP sends (the regex admits nothing fromisoformat would
        # read differently; fromisoformat alone also takes ISO week dates and commas, which are not
        # xs:dateTime). The general rule is below.
        return datetime.fromisoformat(value)
    m = _DATETIME_RE.fullmatch(value.strip())
    if m is None:
        raise ValueError("not an xs:dateTime")
    frac = (m.group("frac") or "0")[:6].ljust(6, "0")
    base = datetime.fromisoformat(f"{m.group('date')}T{m.group('h')}:{m.group('m')}:{m.group('s')}")
    tz = m.group("tz")
    if tz is None or tz == "Z":
        out = base.replace(tzinfo=UTC)
    else:
        sign = 1 if tz[0] == "+" else -1
        hours, minutes = int(tz[1:3]), int(tz[4:6])
        # xs:dateTime zones run from -14:00 to +14:00, minutes 00-59 (XML Schema 1.0 Part 2, 3.2.7.3): "+99:99"
        # would otherwise move the instant by four days.
        if minutes > 59 or hours > 14 or (hours == 14 and minutes):
            raise ValueError("not an xs:dateTime: its time zone is outside -14:00 to +14:00")
        offset = timedelta(hours=hours, minutes=minutes)
        try:
            out = (base - sign * offset).replace(tzinfo=UTC)
        except OverflowError:
            raise ValueError("xs:dateTime outside the years 1-9999 once converted to UTC") from None
    # base has no fraction yet, so adding < 1 s to a value <= 9999-12-31T23:59:59 cannot overflow.
    return out + timedelta(microseconds=int(frac))


def add_saturating(value: datetime, delta: timedelta) -> datetime:
    """``value + delta``, clamped to [EARLIEST_INSTANT, LATEST_INSTANT] instead of raising OverflowError.

    ``value`` must be aware. Clamping is the safe direction for every use in fedlib: an expiry that would
    fall after the year 9999 becomes "as late as can be" (still later than any real ``now``), and a start
    before the year 1 becomes "as early as can be".
    """
    if value.tzinfo is None:
        raise ValueError("naive datetime: pass an aware UTC datetime")
    try:
        return value + delta
    except OverflowError:
        return LATEST_INSTANT if delta > timedelta(0) else EARLIEST_INSTANT


def format_instant(value: datetime) -> str:
    """Render an aware datetime as SAML xs:dateTime in UTC with a trailing Z (second precision)."""
    if value.tzinfo is None:
        raise ValueError("format_instant needs an aware datetime")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ensure_aware(value: datetime) -> datetime:
    """Return ``value`` as aware UTC; a naive value is refused (ambiguous time is a bug, not an input)."""
    if value.tzinfo is None:
        raise ValueError("naive datetime: pass an aware UTC datetime")
    return value.astimezone(UTC)
