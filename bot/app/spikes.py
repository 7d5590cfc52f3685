"""Spike alerts: every few minutes each enabled topic's last 24 hours are scored against its own
previous 30 days (bot/trends/spikes.py); on a spike, each subscribed chat that has not turned
them off (`/settings spikes off`) gets one message with the trend chart and the stories behind
it. One alert per topic per SPIKE_COOLDOWN, remembered in the database before anything is sent,
so a restart or a second process never repeats it (a send that fails is not retried)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.core.errors import DeliveryError
from bot.core.records import RecentReport
from bot.deliver.sink import SendOptions
from bot.messages.alerts import when
from bot.messages.replies import Document, Reply, ReplyBuilder, bold, clip, italic, link
from bot.trends.spikes import BASELINE_DAYS, SpikeScore, detect

if TYPE_CHECKING:
    from bot.deliver.outbox import Deliverer
    from bot.service.trends import TrendService

log = logging.getLogger(__name__)

SPIKE_CHECK_SECONDS = 300
SPIKE_COOLDOWN = timedelta(hours=24)
CHART_DAYS = 30
STORIES_SHOWN = 5


@dataclass(frozen=True)
class SpikeNotice:
    topic: str
    spike: SpikeScore
    chats: int  # chats it was sent to


def spike_reply(
    topic: str, spike: SpikeScore, reports: list[RecentReport], chart: bytes, filename: str
) -> Reply:
    b = ReplyBuilder().line(bold(f"📈 Activity spike · {topic}"))
    b.line(
        f"{spike.count} {spike.measure} in the last 24 hours; usually {spike.median:g} a day "
        f"(robust z {spike.z:.1f})"
    )
    for r in reports[:STORIES_SHOWN]:
        b.line("• ", link(clip(r.title, 150), r.url), italic(f" · {r.source or '?'}"))
        b.line(italic(f"  {when(r.published)}"))
    return b.build(photo=Document(filename, chart))


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
        return notices

    async def _check_topic(self, topic: str) -> SpikeNotice | None:
        now = self.clock()
        windows = self.store.window_counts(topic, until=now, windows=BASELINE_DAYS + 1)
        spike = detect(windows)
        if spike is None or self._alerted_recently(topic, now):
            return None
        self.store.set_meta(_meta_key(topic), now.isoformat())
        sinks: Mapping[str, object] = self.deliverer.sinks
        chats = [
            c for c in self.store.topic_channels(topic) if c.settings.spikes and c.platform in sinks
        ]
        log.info(
            "activity spike in %s: %d %s in 24 h (z %.1f), telling %d chats",
            topic,
            spike.count,
            spike.measure,
            spike.z,
            len(chats),
            extra={"topic": topic},
        )
        chart = await self.trends.trend_chart(topic, CHART_DAYS)
        reports = self.store.recent_reports(topic, since=now - timedelta(hours=24))
        reply = spike_reply(topic, spike, reports, chart.png, chart.filename)
        sent = 0
        for chat in chats:
            limiter = self.deliverer.limiters[chat.platform]
            try:
                async with limiter.slot(chat.chat_id):
                    await self.deliverer.sinks[chat.platform].post(
                        chat.chat_id,
                        chat.thread_id,
                        reply,
                        SendOptions(silent=chat.settings.in_quiet_hours(now)),
                    )
                sent += 1
            except DeliveryError as exc:
                log.warning(
                    "spike alert to %s:%s failed: %s",
                    chat.platform,
                    chat.chat_id,
                    exc,
                    extra={"chat": chat.chat_id, "topic": topic},
                )
        return SpikeNotice(topic, spike, sent)

    def _alerted_recently(self, topic: str, now: datetime) -> bool:
        last = self.store.meta(_meta_key(topic))
        return last is not None and now - datetime.fromisoformat(last) < SPIKE_COOLDOWN


def _meta_key(topic: str) -> str:
    return f"spike_alerted:{topic}"
