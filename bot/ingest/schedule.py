"""When to poll a feed next: pure functions over the clock, headers and failure counts.

Politeness rules: a feed's own hints (``Cache-Control: max-age``, ``Expires``, RSS ``<ttl>``)
may only make us poll *less* often than our default, never more; nothing waits longer than
``max_interval``. Failures back off exponentially (deterministic, so tests and operators can
predict the next attempt) and a server's ``Retry-After`` wins when it asks for longer.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

DAY = 86_400
DEFAULT_INTERVAL = 300.0


def _utc(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("naive datetime: pass a timezone-aware time (UTC)")
    return now.astimezone(UTC)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup (FetchResult headers are lower-case already)."""
    value = headers.get(name)
    if value is not None:
        return value
    for key, val in headers.items():
        if key.lower() == name:
            return val
    return None


def parse_http_date(value: str | None) -> datetime | None:
    """An HTTP-date (RFC 9110; also the obsolete RFC 850/asctime forms) as aware UTC, or None."""
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:  # "-0000" and asctime mean UTC per the HTTP spec
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP-date."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(int(text))
    when = parse_http_date(text)
    if when is None:
        return None
    return max(0.0, (when - _utc(now)).total_seconds())


def _max_age(headers: Mapping[str, str]) -> float | None:
    """Remaining freshness from Cache-Control max-age (minus Age); None if absent/uncacheable."""
    cache_control = _header(headers, "cache-control")
    if not cache_control:
        return None
    directives: dict[str, str] = {}
    for part in cache_control.split(","):
        key, _, val = part.strip().partition("=")
        directives[key.strip().lower()] = val.strip().strip('"')
    if "no-store" in directives or "no-cache" in directives:
        return None
    raw = directives.get("max-age", "")
    if not raw.isdigit():
        return None
    age = _header(headers, "age") or ""
    return max(0.0, float(int(raw)) - (float(int(age)) if age.strip().isdigit() else 0.0))


def _expires_in(headers: Mapping[str, str], now: datetime) -> float | None:
    """Seconds until ``Expires``, measured against the server's ``Date`` to ignore clock skew."""
    expires = parse_http_date(_header(headers, "expires"))
    if expires is None:
        return None
    origin = parse_http_date(_header(headers, "date")) or now
    seconds = (expires - origin).total_seconds()
    return seconds if seconds > 0 else None


def next_check_after_success(
    now: datetime,
    *,
    headers: Mapping[str, str],
    ttl_seconds: int | None,
    default_interval: float,
    max_interval: float = DAY,
) -> datetime:
    """Next poll time after a 200 or 304.

    ``Cache-Control: max-age`` takes precedence over ``Expires`` (as in HTTP caching); RSS
    ``<ttl>`` is another minimum. The longest request wins, but never less than our own
    ``default_interval`` and never more than ``max_interval``.
    """
    now = _utc(now)
    max_age = _max_age(headers)
    freshness = max_age if max_age is not None else _expires_in(headers, now)
    hints = [h for h in (freshness, float(ttl_seconds) if ttl_seconds else None) if h]
    interval = max([float(default_interval), *hints])
    return now + timedelta(seconds=min(interval, float(max_interval)))


def backoff_seconds(consecutive_failures: int, *, base: float, cap: float = DAY) -> float:
    """``base * 2**(n-1)`` for the n-th consecutive failure, capped; no jitter, so predictable."""
    exponent = min(max(consecutive_failures, 1) - 1, 32)  # 2**32 * base is past any cap
    return min(float(base) * (2**exponent), float(cap))


def next_check_after_failure(
    now: datetime,
    *,
    consecutive_failures: int,
    retry_after: float | None = None,
    base: float = DEFAULT_INTERVAL,
    cap: float = DAY,
) -> datetime:
    """Next poll time after a failed fetch; ``consecutive_failures`` includes this failure.

    ``Retry-After`` is honoured when it asks for longer than the backoff, but it is capped
    too: a hostile or broken server must not be able to park a feed for years.
    """
    delay = backoff_seconds(consecutive_failures, base=base, cap=cap)
    if retry_after is not None and retry_after > delay:
        delay = min(float(retry_after), float(cap))
    return _utc(now) + timedelta(seconds=delay)


def should_disable(consecutive_failures: int, max_failures: int) -> bool:
    """Disable a feed once it has failed ``max_failures`` times in a row."""
    return consecutive_failures >= max_failures
