"""Telegram and Slack down for a long run of retries, with a delivery restart in the middle and
new alerts arriving meanwhile: once the platforms are back every alert reaches every chat, none
twice, each chat's alerts in the order they were created, and no platform limit is exceeded.

The backoff is shortened through its settings (base 0.05 s, cap 2 s instead of 1 s and 300 s) so
that an outage of about ten retries per chat takes seconds, not the twenty minutes the same
number of retries takes with the defaults. Every attempt counts against the chat's own rate
limit (20 a minute in a group), as a real send would.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from telegram_support import GROUP, TOKEN, USER, many_items, rss, settings_for, write_watch_config

from bot.app.compose import App, compose
from bot.core.channels import ChannelKey
from bot.deliver.outbox import Deliverer
from testkit.feedserver import FeedServer
from testkit.slack_api import BOT_TOKEN, FakeSlackAPI
from testkit.slack_objects import Posted
from testkit.telegram_api import FakeBotAPI
from testkit.telegram_objects import Sent

SLACK_CHANNELS = ("C0OUTAGE1", "C0OUTAGE2")
OUTAGE_S = 12.0  # each chat's own rate limit paces retries too: about one a second
RETRY_BASE, RETRY_CAP = 0.05, 2.0


def telegram_ids(sent: list[Sent]) -> list[int]:
    return [int(s.buttons[0][1].split(":")[1]) for s in sent if s.buttons]


def slack_ids(posted: list[Posted]) -> list[int]:
    return [int(p.buttons[0][1]) for p in posted if p.buttons]


async def drain_for(deliverer: Deliverer, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        await deliverer.drain()
        await asyncio.sleep(0.05)


def restarted(app: App) -> Deliverer:
    """A fresh deliverer on the same database: what a restart keeps is only what is stored."""
    return Deliverer(
        app.store,
        app.deliverer.sinks,
        app.clock,
        retry_base=RETRY_BASE,
        max_retry_delay=RETRY_CAP,
    )


async def test_long_outage_delivers_everything_once_in_order_per_chat(tmp_path: Path) -> None:
    items = many_items(6)
    _, _, www = write_watch_config(tmp_path, items[:2])
    with (
        FakeBotAPI(TOKEN) as tg,
        FakeSlackAPI() as slack,
        FeedServer(www) as feeds,
    ):
        tg_limits, slack_limits = tg.enforce_limits(), slack.enforce_limits()
        for channel in SLACK_CHANNELS:
            slack.add_channel(channel, ["UADMIN01"])
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
        try:
            telegram = next(a for a in app.adapters if type(a).__name__.startswith("Telegram"))
            assert await telegram.start(asyncio.Event())
            chats = [ChannelKey("telegram", str(USER)), ChannelKey("telegram", str(GROUP))]
            chats += [ChannelKey("slack", c) for c in SLACK_CHANNELS]
            for key in chats:
                app.service.chats.subscribe(key)
            await app.service.feeds.add_feed(feeds.url("wire.xml"))

            # the first alerts go out, then both platforms go down mid-stream
            await app.pipeline.poll_once(all_feeds=True)
            await app.deliverer.drain()
            tg.outage(502)
            slack.outage(503)
            await drain_for(app.deliverer, OUTAGE_S / 2)
            # more news arrives while the platforms are down
            feeds.set_file("wire.xml", rss(items[:4]).encode())
            await app.pipeline.poll_once(all_feeds=True)
            tg.outage(429, retry_after=1)  # "too many requests" for a while
            slack.outage(429, retry_after=1)
            await drain_for(app.deliverer, OUTAGE_S / 3)
            # errors again, more news, and delivery restarts: the restarted deliverer tries the
            # newest alerts while the oldest wait for their (longer) next attempt, and the
            # platforms come back in between
            tg.outage(502)
            slack.outage(503)
            await drain_for(app.deliverer, OUTAGE_S / 6)
            feeds.set_file("wire.xml", rss(items).encode())
            await app.pipeline.poll_once(all_feeds=True)
            deliverer = restarted(app)
            await drain_for(deliverer, 0.3)
            refused = len(tg.calls_of("sendMessage")), len(slack.calls_to("chat.postMessage"))
            tg.restore()
            slack.restore()

            expected = sorted(m.id for m in app.store.latest_matches(limit=100))
            deadline = time.monotonic() + 40
            while app.store.outbox_counts().get("pending") and time.monotonic() < deadline:
                await deliverer.drain()
                await asyncio.sleep(0.1)
            await drain_for(deliverer, 1.0)  # nothing more may arrive
            counts = app.store.outbox_counts()
            max_attempts = app.store._conn.execute("SELECT max(attempts) FROM outbox").fetchone()[0]
        finally:
            await telegram.stop()
            await app.aclose()

    assert len(expected) == 6 and counts == {"sent": 6 * len(chats)}, counts
    received = {
        "telegram:user": telegram_ids(tg.sent_to(USER)),
        "telegram:group": telegram_ids(tg.sent_to(GROUP)),
    } | {f"slack:{c}": slack_ids(slack.alerts(c)) for c in SLACK_CHANNELS}
    for chat, ids in received.items():
        assert ids == expected, (chat, ids)  # every alert, once, in creation order
    # it was a long outage: many refused attempts, the oldest rows retried many times
    print(f"outage: sends tried during it {refused}, most attempts of one row {max_attempts}")
    assert refused[0] >= 16 and refused[1] >= 12, refused
    assert max_attempts >= 6, max_attempts
    # and the platforms' rate limits were never exceeded while catching up
    assert tg_limits.refused == [] and slack_limits.refused == []


async def test_a_restart_while_the_oldest_alert_waits_keeps_the_chat_in_order(
    tmp_path: Path,
) -> None:
    """The oldest alert failed and waits for its retry; delivery restarts (its in-memory holds
    are gone) and finds younger alerts of the same chat due: they wait behind the oldest."""
    _, _, www = write_watch_config(tmp_path, many_items(3))
    with FakeBotAPI(TOKEN) as tg, FeedServer(www) as feeds:
        settings = settings_for(tmp_path, tg.api_url, delivery_retry_base=1.5)
        app = compose(settings)
        telegram = app.adapters[0]
        try:
            assert await telegram.start(asyncio.Event())
            app.service.chats.subscribe(ChannelKey("telegram", str(USER)))
            await app.service.feeds.add_feed(feeds.url("wire.xml"))
            await app.pipeline.poll_once(all_feeds=True)
            tg.fail("sendMessage", 500)  # the oldest alert fails once: retried in 1.5 s
            await app.deliverer.drain()
            assert telegram_ids(tg.sent_to(USER)) == []
            deliverer = Deliverer(app.store, app.deliverer.sinks, app.clock, retry_base=1.5)
            deadline = time.monotonic() + 15
            while len(telegram_ids(tg.sent_to(USER))) < 3 and time.monotonic() < deadline:
                await deliverer.drain()
                await asyncio.sleep(0.1)
            expected = sorted(m.id for m in app.store.latest_matches(limit=10))
        finally:
            await telegram.stop()
            await app.aclose()
    assert telegram_ids(tg.sent_to(USER)) == expected and len(expected) == 3
