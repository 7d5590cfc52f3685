"""The numbers behind a trend chart: per-day matches and stories, their 7-day average, the top
sources. Built from the store's per-day counts; the average looks back past the window's first
day, so it is right from the first bar."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from bot.core.errors import BadArgument
from bot.core.records import TopicActivity

AVERAGE_DAYS = 7
MIN_DAYS, MAX_DAYS = 2, 365
DEFAULT_DAYS = 30


@dataclass(frozen=True)
class Trend:
    topic: str
    days: tuple[date, ...]
    matches: tuple[int, ...]
    stories: tuple[int, ...]
    average: tuple[float, ...]  # trailing 7-day mean of matches
    sources: tuple[tuple[str, int], ...]

    @property
    def total_matches(self) -> int:
        return sum(self.matches)

    @property
    def total_stories(self) -> int:
        return sum(self.stories)


def check_days(days: int) -> int:
    if not MIN_DAYS <= days <= MAX_DAYS:
        raise BadArgument(f"days must be a whole number from {MIN_DAYS} to {MAX_DAYS}, not {days}")
    return days


def parse_days(text: str) -> int:
    """A chat argument: '14' → 14; anything else is a clear refusal."""
    try:
        value = int(text.strip())
    except ValueError:
        raise BadArgument(
            f"days must be a whole number from {MIN_DAYS} to {MAX_DAYS}, not {text!r}"
        ) from None
    return check_days(value)


def trailing_mean(values: Sequence[int], window: int = AVERAGE_DAYS) -> list[float]:
    out: list[float] = []
    running = 0
    for i, value in enumerate(values):
        running += value
        if i >= window:
            running -= values[i - window]
        out.append(running / min(i + 1, window))
    return out


def trend_from(
    activity: TopicActivity, days: int, sources: Sequence[tuple[str, int]] | None = None
) -> Trend:
    """``activity`` covers ``days`` + 6 days: the extra leading days only feed the average.
    ``sources``: the top sources of the shown days (default: the activity's)."""
    extra = len(activity.days) - days
    average = trailing_mean(activity.matches)[extra:]
    return Trend(
        topic=activity.topic,
        days=activity.days[extra:],
        matches=activity.matches[extra:],
        stories=activity.stories[extra:],
        average=tuple(average),
        sources=tuple(activity.sources if sources is None else sources),
    )


class ActivitySource(Protocol):
    """What ``load_trend`` needs of the store."""

    def topic_activity(
        self, topic: str, *, days: int, until: datetime, top_sources: int = 5
    ) -> TopicActivity: ...


def load_trend(store: ActivitySource, topic: str, days: int, now: datetime) -> Trend:
    check_days(days)
    activity = store.topic_activity(topic, days=days + AVERAGE_DAYS - 1, until=now)
    shown = store.topic_activity(topic, days=days, until=now)
    return trend_from(activity, days, shown.sources)
