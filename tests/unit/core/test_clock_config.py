from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fedlib.clock import FixedClock, format_instant, parse_instant
from fedlib.config import SecurityPolicy, SPConfig
from fedlib.errors import ConfigurationError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-02T03:04:05Z", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2024-01-02T03:04:05.123Z", datetime(2024, 1, 2, 3, 4, 5, 123000, tzinfo=UTC)),
        ("2024-01-02T03:04:05.1234567Z", datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)),
        ("2024-01-02T03:04:05", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2024-01-02T05:04:05+02:00", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        (" 2024-01-02T03:04:05Z\n", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
    ],
)
def test_parse_instant(text: str, expected: datetime) -> None:
    assert parse_instant(text) == expected


@pytest.mark.parametrize(
    "text", ["", "yesterday", "2024-13-01T00:00:00Z", "2024-01-01 00:00:00Z", "2024-01-01T25:00:00Z", "2024-01-01"]
)
def test_parse_instant_rejects(text: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        parse_instant(text)


@given(st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(9998, 1, 1), timezones=st.just(UTC)))
def test_instant_round_trip(value: datetime) -> None:
    value = value.replace(microsecond=0)
    assert parse_instant(format_instant(value)) == value


def test_fixed_clock_requires_aware() -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        FixedClock(datetime(2024, 1, 1))


def test_sp_config_validation() -> None:
    SPConfig(entity_id="https://sp.example/", acs_url="https://sp.example/acs")
    for bad in ("", " https://sp/"):
        with pytest.raises(ConfigurationError):
            SPConfig(entity_id=bad, acs_url="https://sp.example/acs")
    for bad_url in ("/acs", "ftp://x/acs", "https:///acs"):
        with pytest.raises(ConfigurationError):
            SPConfig(entity_id="e", acs_url=bad_url)


def test_policy_validation_and_secure_defaults() -> None:
    p = SecurityPolicy()
    assert p.clock_skew == timedelta(seconds=180)
    assert not p.allow_sha1
    assert not p.allow_unsolicited
    assert not p.allow_in_response_to_on_unsolicited
    with pytest.raises(ConfigurationError):
        SecurityPolicy(clock_skew=timedelta(seconds=-1))
    with pytest.raises(ConfigurationError):
        SecurityPolicy(clock_skew=timedelta(hours=2))


@pytest.mark.parametrize(
    "value",
    [
        "2024-W01-1T00:00:00Z",  # ISO week date: datetime.fromisoformat takes it, xs:dateTime does not
        "2024-001T00:00:00Z",  # ordinal date
        "2024-01-01T00:00:00,5Z",  # comma decimal separator
        "2024-01-01T00:00Z",  # no seconds
        "2024-01-01 00:00:00Z",  # space instead of T
    ],
)
def test_parse_instant_refuses_iso_forms_that_are_not_xs_datetime(value: str) -> None:
    with pytest.raises(ValueError, match="xs:dateTime"):
        parse_instant(value)


def test_parse_instant_refuses_non_ascii_digits() -> None:
    with pytest.raises(ValueError, match="xs:dateTime"):
        parse_instant("٢٠٢٤-01-01T00:00:00Z")  # Arabic-Indic digits match \d without re.ASCII


@pytest.mark.parametrize(
    "value",
    [
        "2024-01-01T00:00:00+99:99",  # the attacker review's value: 99 h 99 min, no zone at all
        "2024-01-01T00:00:00+15:00",  # xs:dateTime zones run from -14:00 to +14:00 (XML Schema 1.0 Part 2, 3.2.7.3)
        "2024-01-01T00:00:00-14:01",
        "2024-01-01T00:00:00+14:30",
        "2024-01-01T00:00:00+01:60",  # minutes 00-59
    ],
)
def test_parse_instant_refuses_zones_out_of_range(value: str) -> None:
    with pytest.raises(ValueError, match="xs:dateTime"):
        parse_instant(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-01-01T14:00:00+14:00", datetime(2024, 1, 1, 0, 0, tzinfo=UTC)),
        ("2024-01-01T00:00:00-14:00", datetime(2024, 1, 1, 14, 0, tzinfo=UTC)),
        ("2024-01-01T00:59:00+00:59", datetime(2024, 1, 1, 0, 0, tzinfo=UTC)),
        ("2024-01-01T00:00:00-00:00", datetime(2024, 1, 1, 0, 0, tzinfo=UTC)),
    ],
)
def test_parse_instant_takes_every_zone_in_range(value: str, expected: datetime) -> None:
    assert parse_instant(value) == expected
