"""Spike alerts: every few minutes each enabled topic's last 24 hours are scored against its own
previous 30 days (bot/trends/spikes.py); on a spike, each subscribed chat that has not turned
them off (`/settings spikes off`) gets one message with the trend chart and the stories behind
it. One alert per topic per SPIKE_COOLDOWN: the alert, its chart and a row per chat are queued
in one transaction that first checks for an alert of the same topic within the cool-down, so a
restart or a second process never repeats it. Delivery goes through the durable outbox
(bot/deliver/spikes.py): a send that fails is retried, with the same chart, until it arrives."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.core.records import SpikeAlert
from bot.messages.spikes import STORIES_SHOWN
from bot.trends.spikes import BASELINE_DAYS, SpikeScore, detect

if TYPE_CHECKING:
    from bot.deliver.outbox import Deliverer
    from bot.service.trends import TrendService

log = logging.getLogger(__name__)

SPIKE_CHECK_SECONDS = 300
SPIKE_COOLDOWN = timedelta(hours=24)
CHART_DAYS = 30


@dataclass(frozen=True)
class SpikeNotice:
    topic: str
    spike: SpikeScore
    chats: int  # chats it was queued for


class SpikeWatcher:
    def __init__(self, trends: TrendService, deliverer: Deliverer):
        self.trends, self.deliverer = trends, deliverer
        self.store, self.clock = trends.store, trends.clock

    async def check(self) -> list[SpikeNotice]:
        notices: list[SpikeNotice] = []
        for topic in self.store.topics():
            if not topic.enabled:
                continue
            try:
                notice = await self._check_topic(topic.name)
            except Exception:  # one topic's failure must not stop the others
                log.exception("spike check of %s failed", topic.name)
                continue
            if notice is not None:
                notices.append(notice)
        if any(n.chats for n in notices):
            try:  # at once rather than at the next delivery tick; what fails stays queued
                await self.deliverer.drain()
            except Exception:
                log.exception("delivering spike alerts failed; they stay queued")
        return notices

    async def _check_topic(self, topic: str) -> SpikeNotice | None:
        now = self.clock()
        windows = self.store.window_counts(topic, until=now, windows=BASELINE_DAYS + 1)
        spike = detect(windows)
        if spike is None or self._alerted_recently(topic, now):
            return None
        sinks: Mapping[str, object] = self.deliverer.sinks
        chats = [
            c for c in self.store.topic_channels(topic) if c.settings.spikes and c.platform in sinks
        ]
        chart = await self.trends.trend_chart(topic, CHART_DAYS)
        reports = self.store.recent_reports(topic, since=now - timedelta(hours=24))
        alert = SpikeAlert(
            id=0,
            topic=topic,
            detected_at=now,
            measure=spike.measure,
            count=spike.count,
            median=spike.median,
            z=spike.z,
            reports=tuple(reports[:STORIES_SHOWN]),
            chart_filename=chart.filename,
            chart=chart.png,
        )
        queued = self.store.queue_spike(
            alert, [c.id for c in chats], not_since=now - SPIKE_COOLDOWN
        )
        if queued is None:  # another process queued this spike first
            return None
        self.store.set_meta(_meta_key(topic), now.isoformat())
        log.info(
            "activity spike in %s: %d %s in 24 h (z %.1f), queued for %d chats",
            topic,
            spike.count,
            spike.measure,
            spike.z,
            len(chats),
            extra={"topic": topic},
        )
        return SpikeNotice(topic, spike, len(chats))

    def _alerted_recently(self, topic: str, now: datetime) -> bool:
        # a quick look before the chart is drawn; queue_spike makes the final decision
        last = self.store.meta(_meta_key(topic))
        return last is not None and now - datetime.fromisoformat(last) < SPIKE_COOLDOWN


def _meta_key(topic: str) -> str:
    return f"spike_alerted:{topic}"
