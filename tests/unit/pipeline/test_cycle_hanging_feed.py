"""A feed that hangs until the fetch timeout delays nobody else: each feed's new items are saved,
matched and queued for delivery as soon as its own fetch ends, within the same poll cycle."""

from __future__ import annotations

import asyncio
import io
import re
import sqlite3
import time
from collections import Counter
from pathlib import Path

from telegram_support import many_items, rss, settings_for, write_watch_config

from bot.app.compose import compose
from bot.deliver.console import CONSOLE, ConsoleSink
from testkit.feedserver import FeedServer

TIMEOUT = 6.0  # THREATWATCH_FETCH_TIMEOUT for this test; the slow feed answers after 30 s


def outbox_feeds(db: Path) -> list[int]:
    """The feed of each article that has an outbox row (one console channel: one row each)."""
    with sqlite3.connect(db) as conn:
        return [
            feed_id
            for (feed_id,) in conn.execute(
                """SELECT a.feed_id FROM outbox o JOIN matches m ON m.id = o.match_id
                   JOIN articles a ON a.id = m.article_id"""
            )
        ]


async def test_good_feeds_alert_long_before_a_hanging_feed_times_out(tmp_path: Path) -> None:
    items = many_items(9)
    _, _, www = write_watch_config(tmp_path, [])
    (www / "good1.xml").write_text(rss(items[0:3]))
    (www / "good2.xml").write_text(rss(items[3:6] + items[0:1]))  # s0 is in both good feeds
    (www / "slow.xml").write_text(rss(items[6:9]))
    out = io.StringIO()
    with FeedServer(www) as feeds:
        settings = settings_for(tmp_path, "", telegram_token=None, fetch_timeout=TIMEOUT)
        app = compose(settings, sinks={CONSOLE: ConsoleSink(out)})
        try:
            good1, _ = await app.service.feeds.add_feed(feeds.url("good1.xml"))
            good2, _ = await app.service.feeds.add_feed(feeds.url("good2.xml"))
            slow, _ = await app.service.feeds.add_feed(feeds.url("_slow/30/slow.xml"))
            t0 = time.monotonic()
            cycle = asyncio.create_task(app.pipeline.poll_once(all_feeds=True))
            queued_at = None
            while not cycle.done():
                if len(outbox_feeds(tmp_path / "bot.db")) >= 6 and queued_at is None:
                    queued_at = time.monotonic() - t0
                    delivered = await app.deliverer.drain()  # and they go out at once
                await asyncio.sleep(0.05)
            report = await cycle
            took = time.monotonic() - t0
            states = {f.id: app.store.feed(f.id) for f in (good1, good2, slow)}
        finally:
            await app.aclose()

    assert report.failed == 1 and report.fetched == 2, report.errors
    assert report.new == 6 and report.duplicates == 1  # s0 stored once, by whichever came first
    assert took >= TIMEOUT * 0.9  # the slow feed really hung the cycle until its timeout
    # the good feeds' six alerts were queued (and sent) well before the slow feed gave up
    assert queued_at is not None and queued_at < TIMEOUT / 2, (queued_at, took)
    assert (
        delivered == 6 and len(re.findall(r"^━━ [A-Z ]+ #\d+ · topic", out.getvalue(), re.M)) == 6
    )
    # s0 is queued once, under whichever good feed was ingested first
    per_feed = Counter(outbox_feeds(tmp_path / "bot.db"))
    assert set(per_feed) == {good1.id, good2.id} and sum(per_feed.values()) == 6
    assert per_feed[good1.id] in (2, 3) and per_feed[good2.id] == 6 - per_feed[good1.id]
    assert states[slow.id].consecutive_failures == 1
    assert states[good1.id].etag and states[good2.id].etag
