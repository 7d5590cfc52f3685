"""Poll cycles in-process against the local feed server: failures, backoff, auto-disable,
one bad feed never stopping the others, and the report counts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app.compose import App, compose
from bot.core.models import FeedStatus
from bot.core.settings import Settings
from testkit.feedserver import FeedServer

REPO = Path(__file__).resolve().parents[3]


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def app(tmp_path: Path, clock: Clock) -> AsyncIterator[App]:
    settings = Settings(
        db=tmp_path / "t.db",
        embedder="hashing",
        allow_private_networks=True,
        load_default_feeds=False,
        fetch_full_text=False,
        fetch_timeout=2.0,
        max_consecutive_failures=3,
        poll_interval=300,
    )
    application = compose(settings, clock=clock, sinks={})
    yield application
    await application.aclose()


async def test_one_bad_feed_does_not_stop_the_others(app: App, feed_server: FeedServer) -> None:
    good, _ = await app.service.feeds.add_feed(feed_server.url("news-bbc-world-rss2.xml"))
    broken, _ = await app.service.feeds.add_feed(feed_server.url("_status/500"))
    hostile, _ = await app.service.feeds.add_feed(
        feed_server.url("bad-quadratic-blowup-defusedxml.xml")
    )
    slow, _ = await app.service.feeds.add_feed(feed_server.url("_slow/30/news-dawn-world-rss2.xml"))
    report = await app.pipeline.poll_once()
    assert report.feeds_due == 4
    assert report.fetched == 1 and report.failed == 3
    assert report.new == 33  # every BBC item
    assert app.store.feed(good.id).consecutive_failures == 0
    for feed in (broken, hostile, slow):
        state = app.store.feed(feed.id)
        assert state.consecutive_failures == 1 and state.last_error
    assert "500" in (app.store.feed(broken.id).last_error or "")
    assert app.store.last_cycle_report()["failed"] == 3


async def test_backoff_then_auto_disable_with_error_kept(
    app: App, feed_server: FeedServer, clock: Clock
) -> None:
    feed, _ = await app.service.feeds.add_feed(feed_server.url("_status/503"))
    delays = []
    for _ in range(3):
        before = clock.now
        await app.pipeline.poll_once()
        state = app.store.feed(feed.id)
        delays.append(state.next_check_at - before)
        assert (
            await app.pipeline.poll_once() is not None and app.store.feed(feed.id) == state
        )  # not due
        clock.now = state.next_check_at
    assert delays[0] < delays[1] < delays[2] <= timedelta(days=1)
    state = app.store.feed(feed.id)
    assert state.status is FeedStatus.DISABLED and state.consecutive_failures == 3
    assert "503" in (state.last_error or "")
    assert app.store.due_feeds(clock.now + timedelta(days=30)) == []


async def test_retry_after_is_honoured(app: App, feed_server: FeedServer, clock: Clock) -> None:
    feed, _ = await app.service.feeds.add_feed(feed_server.url("_status/429?retry_after=7200"))
    await app.pipeline.poll_once()
    assert app.store.feed(feed.id).next_check_at - clock.now >= timedelta(seconds=7200)


async def test_success_schedules_next_check_and_second_poll_is_not_modified(
    app: App, feed_server: FeedServer, clock: Clock
) -> None:
    feed, _ = await app.service.feeds.add_feed(feed_server.url("news-aljazeera-all-rss2.xml"))
    first = await app.pipeline.poll_once()
    assert first.fetched == 1 and first.new == 25
    state = app.store.feed(feed.id)
    assert state.etag and state.next_check_at >= clock.now + timedelta(seconds=300)
    assert (await app.pipeline.poll_once()).feeds_due == 0  # not due yet
    clock.now = state.next_check_at
    second = await app.pipeline.poll_once()
    assert second.not_modified == 1 and second.new == 0


async def test_same_story_in_two_feeds_is_stored_once(app: App, feed_server: FeedServer) -> None:
    body = (REPO / "tests/data/feeds/news-bbc-world-rss2.xml").read_bytes()
    feed_server.set_file("copy-a.xml", body, "application/rss+xml")
    feed_server.set_file(
        "copy-b.xml", body.replace(b"BBC News", b"Mirror News"), "application/rss+xml"
    )
    await app.service.feeds.add_feed(feed_server.url("copy-a.xml"))
    await app.service.feeds.add_feed(feed_server.url("copy-b.xml"))
    report = await app.pipeline.poll_once()
    assert report.new == 33 and report.duplicates == 33
    assert app.store.count_articles() == 33


async def test_private_feed_urls_are_refused_by_default(tmp_path: Path) -> None:
    from bot.core.errors import URLRefused

    settings = Settings(db=tmp_path / "p.db", embedder="hashing", load_default_feeds=False)
    application = compose(settings, sinks={})
    try:
        for url in (
            "http://127.0.0.1:8080/feed",
            "http://[::ffff:127.0.0.1]/",
            "http://0x7f.1/",
            "http://169.254.169.254/latest",
            "file:///etc/passwd",
        ):
            with pytest.raises(URLRefused):
                await application.service.feeds.add_feed(url)
        assert application.store.feeds() == []
    finally:
        await application.aclose()
