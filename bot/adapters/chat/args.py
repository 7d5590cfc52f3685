"""Argument validation for chat commands, in one place. Each check raises BadArgument with a
one-line message; the dispatcher adds the command's usage line."""

from __future__ import annotations

from bot.core.channels import parse_score
from bot.core.errors import BadArgument
from bot.core.models import validate_topic_name
from bot.service.topics import parse_alert_id

MAX_TEXT = 2000
MAX_URL = 2000

__all__ = [
    "alert_id",
    "count",
    "days",
    "free_text",
    "parse_score",
    "topic",
    "url",
    "url_or_alert_id",
]


def topic(value: str) -> str:
    return validate_topic_name(value.strip().lower())


def count(value: str, *, low: int = 1, high: int = 50, what: str = "count") -> int:
    if not value.isdigit() or not low <= int(value) <= high:
        raise BadArgument(f"{what} must be a whole number from {low} to {high}")
    return int(value)


def days(value: str) -> int:
    return count(value, low=1, high=90, what="days")


def alert_id(value: str) -> int:
    return parse_alert_id(value)


def url(value: str) -> str:
    value = value.strip().strip("<>")  # Slack wraps links in <…>
    if len(value) > MAX_URL:
        raise BadArgument(f"URL too long ({MAX_URL} characters at most)")
    if not value.lower().startswith(("http://", "https://")):
        raise BadArgument(f"not a web address: {value[:60]!r} (use http:// or https://)")
    return value


def url_or_alert_id(value: str) -> str:
    """An alert id (digits, optionally #) or a URL; returned normalised as text."""
    if value.strip().lstrip("#").isdigit():
        return str(alert_id(value))
    return url(value)


def free_text(value: str, *, what: str = "text") -> str:
    value = " ".join(value.split())
    if not value:
        raise BadArgument(f"{what} is missing")
    if len(value) > MAX_TEXT:
        raise BadArgument(f"{what} too long ({MAX_TEXT} characters at most)")
    return value
