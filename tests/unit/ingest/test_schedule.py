"""Poll scheduling: feed hints after success, backoff after failure, Retry-After parsing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.ingest.schedule import (
    backoff_seconds,
    next_check_after_failure,
    next_check_after_success,
    parse_http_date,
    parse_retry_after,
    should_disable,
)

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
HTTP_NOW = format_datetime(NOW, usegmt=True)


def after_success(headers: dict[str, str], ttl: int | None = None, **kw: float) -> float:
    when = next_check_after_success(
        NOW, headers=headers, ttl_seconds=ttl, default_interval=kw.pop("default", 300), **kw
    )
    assert when.tzinfo == UTC
    return (when - NOW).total_seconds()


@pytest.mark.parametrize(
    ("headers", "ttl", "expected"),
    [
        ({}, None, 300),
        ({"cache-control": "max-age=60"}, None, 300),  # never poll faster than our default
        ({"cache-control": "public, max-age=1800"}, None, 1800),
        ({"cache-control": "max-age=1800", "age": "600"}, None, 1200),
        ({"cache-control": 'max-age="900"'}, None, 900),
        ({"cache-control": "no-cache, max-age=1800"}, None, 300),
        ({"cache-control": "max-age=oops"}, None, 300),
        ({"Cache-Control": "max-age=1200"}, None, 1200),  # case-insensitive names
        ({"cache-control": "max-age=999999"}, None, 86400),  # capped
        ({"expires": format_datetime(NOW + timedelta(hours=1), usegmt=True)}, None, 3600),
        ({"expires": "0"}, None, 300),
        ({"expires": format_datetime(NOW - timedelta(hours=1), usegmt=True)}, None, 300),
        ({"cache-control": "max-age=600", "expires": "Sat, 28 Nov 2026 12:00:00 GMT"}, None, 600),
        ({}, 60, 300),  # <ttl> in minutes→seconds is the parser's job; we get seconds
        ({}, 3600, 3600),
        ({"cache-control": "max-age=1800"}, 3600, 3600),  # the longest request wins
        ({}, 10**7, 86400),
    ],
)
def test_next_check_after_success(
    headers: dict[str, str], ttl: int | None, expected: float
) -> None:
    assert after_success(headers, ttl) == expected


def test_expires_is_measured_from_the_server_date() -> None:
    # The server's clock is two hours behind ours; Expires - Date is still 30 minutes.
    server_now = NOW - timedelta(hours=2)
    headers = {
        "date": format_datetime(server_now, usegmt=True),
        "expires": format_datetime(server_now + timedelta(minutes=30), usegmt=True),
    }
    assert after_success(headers) == 1800


def test_max_interval_and_default_interplay() -> None:
    assert after_success({"cache-control": "max-age=7200"}, max_interval=3600) == 3600
    assert after_success({}, default=900) == 900


def test_success_requires_aware_now_and_returns_utc() -> None:
    with pytest.raises(ValueError, match="naive"):
        next_check_after_success(
            datetime(2026, 1, 1), headers={}, ttl_seconds=None, default_interval=300
        )
    local = NOW.astimezone(timezone(timedelta(hours=5)))
    when = next_check_after_success(local, headers={}, ttl_seconds=None, default_interval=300)
    assert when == NOW + timedelta(seconds=300) and when.tzinfo == UTC


@pytest.mark.parametrize(
    ("failures", "expected"),
    [(0, 300), (1, 300), (2, 600), (3, 1200), (6, 9600), (9, 76800), (10, 86400), (10**6, 86400)],
)
def test_backoff_doubles_to_a_day(failures: int, expected: float) -> None:
    when = next_check_after_failure(NOW, consecutive_failures=failures, base=300)
    assert (when - NOW).total_seconds() == expected and when.tzinfo == UTC


@pytest.mark.parametrize(
    ("retry_after", "expected"), [(None, 600), (60, 600), (5000, 5000), (10**9, 86400)]
)
def test_retry_after_wins_when_longer_but_is_capped(
    retry_after: float | None, expected: float
) -> None:
    when = next_check_after_failure(NOW, consecutive_failures=2, retry_after=retry_after)
    assert (when - NOW).total_seconds() == expected


@given(st.integers(0, 10_000), st.floats(1, 10_000), st.floats(1, 10**6))
def test_backoff_is_monotonic_and_capped(failures: int, base: float, cap: float) -> None:
    first = backoff_seconds(failures, base=base, cap=cap)
    assert first <= max(cap, 0) and first <= backoff_seconds(failures + 1, base=base, cap=cap)


def test_should_disable() -> None:
    assert not should_disable(19, 20)
    assert should_disable(20, 20)
    assert should_disable(21, 20)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        (" 0 ", 0.0),
        ("-5", None),
        ("1.5", None),
        ("soon", None),
        ("", None),
        (None, None),
        (format_datetime(NOW + timedelta(minutes=5), usegmt=True), 300.0),
        (format_datetime(NOW - timedelta(minutes=5), usegmt=True), 0.0),
        ("Saturday, 21-Nov-26 12:10:00 GMT", 600.0),  # obsolete RFC 850 form
        ("Sat Nov 21 12:02:00 2026", 120.0),  # asctime form
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected


def test_parse_http_date() -> None:
    assert parse_http_date(HTTP_NOW) == NOW
    assert parse_http_date("Sat, 21 Nov 2026 13:00:00 +0100") == NOW
    assert parse_http_date("not a date") is None
    assert parse_http_date(None) is None
