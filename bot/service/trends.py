"""Trends: the trend chart of a topic (`/trend`, `threatwatch trend`), rendered off the event
loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.core.channels import ChannelKey
from bot.core.errors import BadArgument, NotFound
from bot.core.models import validate_topic_name
from bot.trends.series import DEFAULT_DAYS, Trend, check_days, load_trend, parse_days

__all__ = [
    "TrendChart",
    "TrendService",
    "parse_days",
]  # chat arguments are read as the service reads them

from bot.store import Store


@dataclass(frozen=True)
class TrendChart:
    trend: Trend
    png: bytes

    @property
    def filename(self) -> str:
        return f"trend-{self.trend.topic}-{len(self.trend.days)}d.png"


class TrendService:
    def __init__(self, store: Store, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.clock = clock

    def trend_topic(self, topic: str | None, key: ChannelKey | None = None) -> str:
        """The named topic (it must exist), else the chat's only subscription, else the only
        topic there is; otherwise a refusal that lists the topics."""
        names = [t.name for t in self.store.topics()]
        if topic is not None:
            self.store.topic(validate_topic_name(topic))
            return topic
        if key is not None:
            channel = self.store.channel_for(key, self.clock())
            subscribed = [s.topic for s in self.store.subscriptions(channel.id)]
            if len(subscribed) == 1:
                return subscribed[0]
        if len(names) == 1:
            return names[0]
        if not names:
            raise NotFound("there are no topics yet")
        raise BadArgument(f"which topic? one of: {', '.join(sorted(names))}")

    async def trend_chart(
        self, topic: str | None, days: int | None = None, key: ChannelKey | None = None
    ) -> TrendChart:
        from bot.trends.chart import render_trend  # matplotlib: loaded by the first chart only

        name = self.trend_topic(topic, key)
        trend = load_trend(
            self.store, name, check_days(DEFAULT_DAYS if days is None else days), self.clock()
        )
        return TrendChart(trend, await asyncio.to_thread(render_trend, trend))
