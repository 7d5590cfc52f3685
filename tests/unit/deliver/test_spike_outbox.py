"""Spike alerts through the durable outbox: the store's spike rows on both backends (queued once
per cool-down, claimed by one sender, retried, dropped), and the real Telegram and Slack clients
against the fake Bot API and Slack API during an outage: nothing is lost, the alert arrives once
when the platforms are back, with the chart that was drawn when the spike was found."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from telegram_support import GROUP, TOKEN, TOPIC, USER, settings_for, write_watch_config
from trend_support import add_history

from bot.app.compose import App, compose
from bot.app.spikes import SpikeWatcher
from bot.core.channels import ChannelKey
from bot.core.models import Topic
from bot.core.records import RecentReport, SpikeAlert
from bot.store import Store
from testkit.slack_api import BOT_TOKEN, FakeSlackAPI
from testkit.telegram_api import FakeBotAPI

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
SLACK_CHANNEL = "C0SPIKE01"
RETRY_BASE, RETRY_CAP = 0.05, 1.0
# a spike: about one report a day for 30 days, then 9 in the last 24 hours
HISTORY = [1, 0, 0, 2, 1, 0, 1, 0, 1, 1] * 3 + [9]


def alert(topic: str = "t", when: datetime = NOW, chart: bytes = b"\x89PNG chart") -> SpikeAlert:
    report = RecentReport(7, "Rockets hit a base", "https://news.example/7", "Wire", when)
    return SpikeAlert(0, topic, when, "matches", 9, 1.0, 8.5, (report,), "trend-t-30d.png", chart)


def subscribed_channel(store: Store, chat_id: str, topic: str = "t") -> int:
    channel = store.ensure_channel("telegram", chat_id, now=NOW)
    store.subscribe(channel, [topic], NOW)
    return channel


def test_a_spike_is_queued_once_per_cool_down_with_its_chart(store: Store) -> None:
    store.upsert_topic_default(Topic("t", "d", 0.5), NOW)
    first, second = subscribed_channel(store, "1"), subscribed_channel(store, "2")
    spike_id = store.queue_spike(alert(), [first, second], not_since=NOW - timedelta(hours=24))
    assert spike_id is not None
    stored = store.spike_alert(spike_id)
    assert stored.chart == b"\x89PNG chart" and stored.reports == alert().reports
    assert (stored.topic, stored.count, stored.z, stored.detected_at) == ("t", 9, 8.5, NOW)
    # the same topic an hour later, within the cool-down: nothing more is queued
    later = NOW + timedelta(hours=1)
    again = store.queue_spike(alert(when=later), [first], not_since=later - timedelta(hours=24))
    assert again is None
    assert store.spike_outbox_counts() == {"pending": 2}
    due = store.due_spike_deliveries(NOW, platforms=["telegram"])
    assert [(d.channel_id, d.topic, d.attempts, d.subscribed) for d in due] == [
        (first, "t", 0, True),
        (second, "t", 0, True),
    ]
    assert store.due_spike_deliveries(NOW, platforms=["slack"]) == []
    # a day later it may spike again
    day = NOW + timedelta(hours=25)
    assert store.queue_spike(alert(when=day), [first], not_since=day - timedelta(hours=24))


def test_a_spike_row_is_claimed_by_one_sender_and_retried_then_sent(store: Store) -> None:
    store.upsert_topic_default(Topic("t", "d", 0.5), NOW)
    channel = subscribed_channel(store, "1")
    store.queue_spike(alert(), [channel], not_since=NOW - timedelta(hours=24))
    (row,) = store.due_spike_deliveries(NOW, platforms=["telegram"])
    until = NOW + timedelta(minutes=2)
    assert store.claim_spike_delivery(row.id, now=NOW, until=until)
    assert not store.claim_spike_delivery(row.id, now=NOW, until=until)  # taken
    assert store.due_spike_deliveries(NOW, platforms=["telegram"]) == []
    # the send failed: due again after the backoff, with the attempt counted
    store.mark_spike_retry(row.id, next_attempt_at=NOW + timedelta(seconds=4), error="502")
    assert store.due_spike_deliveries(NOW + timedelta(seconds=3), platforms=["telegram"]) == []
    (again,) = store.due_spike_deliveries(NOW + timedelta(seconds=4), platforms=["telegram"])
    assert again.attempts == 1
    assert store.claim_spike_delivery(again.id, now=NOW + timedelta(seconds=4), until=until)
    store.mark_spike_sent(again.id, NOW + timedelta(seconds=5), "42")
    assert store.spike_outbox_counts() == {"sent": 1}
    assert store.due_spike_deliveries(NOW + timedelta(days=1), platforms=["telegram"]) == []
    # a claim whose sender died runs out: the row is due again then (a crash loses nothing)
    store.queue_spike(
        alert(when=NOW + timedelta(days=2)), [channel], not_since=NOW + timedelta(days=1)
    )
    (crashed,) = store.due_spike_deliveries(NOW + timedelta(days=2), platforms=["telegram"])
    later = NOW + timedelta(days=2)
    assert store.claim_spike_delivery(crashed.id, now=later, until=later + timedelta(minutes=2))
    assert store.due_spike_deliveries(later + timedelta(minutes=1), platforms=["telegram"]) == []
    assert store.due_spike_deliveries(later + timedelta(minutes=2), platforms=["telegram"])


def test_an_unsubscribed_chat_is_marked_and_a_dropped_row_stays_dropped(store: Store) -> None:
    store.upsert_topic_default(Topic("t", "d", 0.5), NOW)
    channel = subscribed_channel(store, "1")
    store.queue_spike(alert(), [channel], not_since=NOW - timedelta(hours=24))
    store.unsubscribe(channel, ["t"])
    (row,) = store.due_spike_deliveries(NOW, platforms=["telegram"])
    assert not row.subscribed
    store.drop_spike_delivery(row.id, status="filtered", reason="unsubscribed")
    store.mark_spike_sent(row.id, NOW, "1")  # too late: a dropped row is never marked sent
    assert store.spike_outbox_counts() == {"filtered": 1}


async def drain_until(app: App, done, seconds: float = 20) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not done() and time.monotonic() < deadline:
        await app.deliverer.drain()
        await asyncio.sleep(0.05)


async def test_a_spike_during_an_outage_arrives_once_afterwards_with_its_chart(
    tmp_path: Path,
) -> None:
    write_watch_config(tmp_path)
    with FakeBotAPI(TOKEN) as tg, FakeSlackAPI() as slack:
        slack.add_channel(SLACK_CHANNEL, ["UADMIN01"])
        settings = settings_for(
            tmp_path,
            tg.api_url,
            slack_bot_token=BOT_TOKEN,
            slack_api_url=slack.api_url,
            slack_signing_secret="8f742231b10e8888abcd99yyyzzz85a5",
            delivery_retry_base=RETRY_BASE,
            delivery_max_retry_delay=RETRY_CAP,
        )
        app = compose(settings)
        telegram = next(a for a in app.adapters if type(a).__name__.startswith("Telegram"))
        try:
            assert await telegram.start(asyncio.Event())
            # the history first: its reports are not alerted, only the spike is
            add_history(app.store, TOPIC, HISTORY, end=datetime.now(UTC))
            for key in (ChannelKey("telegram", str(GROUP)), ChannelKey("slack", SLACK_CHANNEL)):
                app.service.chats.subscribe(key)
            tg.outage(502)
            slack.outage(503)
            watcher = SpikeWatcher(app.service.trends, app.deliverer)
            notices = await watcher.check()
            assert [(n.topic, n.chats) for n in notices] == [(TOPIC, 2)]
            await drain_until(app, lambda: len(tg.calls_of("sendPhoto")) >= 2, 10)
            tried = tg.calls_of("sendPhoto")
            assert tried and tg.sent_to(GROUP) == [] and slack.files == []
            assert slack.calls_to("files.getUploadURLExternal")  # tried there too
            assert app.store.spike_outbox_counts() == {"pending": 2}
            # news goes on during the outage (alerted when it is over): a chart drawn now would
            # not be the one queued
            add_history(app.store, TOPIC, [1], end=datetime.now(UTC))
            assert await watcher.check() == []  # the same spike is not queued twice
            tg.restore()
            slack.restore()
            await drain_until(app, lambda: app.store.spike_outbox_counts() == {"sent": 2})
            for _ in range(5):  # nothing more arrives
                await app.deliverer.drain()
            counts = app.store.spike_outbox_counts()
        finally:
            await telegram.stop()
            await app.aclose()
    assert counts == {"sent": 2}
    photos = [s for s in tg.sent_to(GROUP) if s.method == "sendPhoto"]
    assert len(tg.sent_to(GROUP)) == 2  # the spike, and the report of the outage
    assert len(photos) == 1
    assert f"Activity spike · {TOPIC}" in photos[0].text and "9 matches" in photos[0].text
    assert photos[0].document == tried[0]["photo"]["content"]  # the chart of the first try
    assert len(slack.files) == 1 and slack.files[0]["channel"] == SLACK_CHANNEL
    assert slack.files[0]["content"] == photos[0].document
    assert f"Activity spike · {TOPIC}" in slack.files[0]["comment"]


async def test_a_gone_chat_is_paused_and_a_chat_that_opted_out_meanwhile_gets_nothing(
    tmp_path: Path,
) -> None:
    write_watch_config(tmp_path)
    with FakeBotAPI(TOKEN) as tg:
        app = compose(settings_for(tmp_path, tg.api_url, delivery_retry_base=RETRY_BASE))
        telegram = app.adapters[0]
        try:
            assert await telegram.start(asyncio.Event())
            add_history(app.store, TOPIC, HISTORY, end=datetime.now(UTC))
            group, user = ChannelKey("telegram", str(GROUP)), ChannelKey("telegram", str(USER))
            for key in (group, user):
                app.service.chats.subscribe(key)
            tg.block_chat(GROUP)
            tg.outage(502)  # the user's chat fails first, and opts out before the retry
            watcher = SpikeWatcher(app.service.trends, app.deliverer)
            assert [n.chats for n in await watcher.check()] == [2]
            tg.restore()
            app.service.chats.update_chat_settings(user, "spikes", ["off"])
            await drain_until(app, lambda: "pending" not in app.store.spike_outbox_counts())
            counts = app.store.spike_outbox_counts()
            group_channel = app.store.channel_for(group, app.clock())
            subscriptions = app.store.subscriptions(group_channel.id)
        finally:
            await telegram.stop()
            await app.aclose()
    assert counts == {"undeliverable": 1, "filtered": 1}
    assert [s.status for s in subscriptions] == ["paused"]
    assert tg.sent_to(USER) == [] and tg.sent_to(GROUP) == []
