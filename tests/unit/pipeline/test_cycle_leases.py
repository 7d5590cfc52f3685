"""Poll cycles of several processes on one database (each its own App, as each process composes
one), on both store backends: every due feed is polled by one of them, an item two of them see
is stored once, a process whose lease ran out keeps nothing of its round, and a crashed
process's feeds are polled by another once its leases run out."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from store_support import new_article

from bot.app.compose import App, compose
from bot.core.models import utcnow
from bot.core.records import NewMatch
from bot.core.settings import Settings
from bot.pipeline import leases as pipeline_leases
from bot.pipeline.leases import lease_seconds, without_feeds
from testkit.feedserver import FeedServer

BBC = "news-bbc-world-rss2.xml"  # 33 items
DAWN = "news-dawn-world-rss2.xml"


Processes = Callable[[Callable[[], datetime]], App]


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def processes(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[Callable[[Callable[[], datetime]], App]]:
    """``process(clock)``: another process's App on this test's one database."""
    where: dict[str, object] = {"db": tmp_path / "t.db"}
    if backend == "postgres":
        where["database_url"] = request.getfixturevalue("postgres_url")
    apps: list[App] = []

    def process(clock: Callable[[], datetime]) -> App:
        settings = Settings(
            embedder="hashing",
            allow_private_networks=True,
            load_default_feeds=False,
            fetch_full_text=False,
            fetch_timeout=5.0,
            poll_interval=300,
            **where,  # type: ignore[arg-type]
        )
        # no topics: the cycle's claims and writes are under test, not the scoring (training
        # the repository's topics would take most of the time)
        apps.append(compose(settings, clock=clock, sinks={}, sync_config=False))
        return apps[-1]

    yield process
    for app in apps:
        await app.aclose()


async def test_two_processes_share_the_due_feeds_and_store_each_item_once(
    processes: Processes, feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline_leases, "CLAIM_BATCH", 1)  # claims interleave between the two
    clock = Clock()
    a, b = processes(clock), processes(clock)
    assert a.pipeline.owner != b.pipeline.owner
    # the same items under four URLs, and another feed: whoever polls which, each item once
    urls = [BBC, f"_slow/0/{BBC}", f"_slow/0.1/{BBC}", f"_gzip/{BBC}", DAWN]
    for url in urls:
        await a.service.feeds.add_feed(feed_server.url(url))
    ra, rb = await asyncio.gather(a.pipeline.poll_once(), b.pipeline.poll_once())
    assert ra.feeds_due + rb.feeds_due == len(urls) and ra.feeds_due and rb.feeds_due
    assert ra.fetched + rb.fetched == len(urls) and not ra.leases_lost and not rb.leases_lost
    stored = a.store.count_articles()
    assert ra.new + rb.new == stored and stored > 33
    feeds = a.store.feeds()
    assert all(f.last_success_at == clock.now and f.next_check_at > clock.now for f in feeds)
    # every lease was given back: nothing is due, and every feed is free to claim at once
    assert a.store.claim_feeds("x", clock.now, lease_seconds=60, limit=9) == []
    free = b.store.claim_feeds("x", clock.now, lease_seconds=60, limit=9, include_not_due=True)
    assert len(free) == len(urls)


async def test_a_process_paused_past_its_lease_keeps_nothing_and_the_other_polls_the_feed(
    processes: Processes, feed_server: FeedServer, caplog: pytest.LogCaptureFixture
) -> None:
    slow_clock, clock = Clock(), Clock()  # a's clock reads when a wakes up, after the pause
    a, b = processes(slow_clock), processes(clock)
    feed, _ = await a.service.feeds.add_feed(feed_server.url(f"_slow/1.5/{BBC}"))

    async def pause_a_then_b_polls() -> None:
        await asyncio.sleep(0.5)  # a has claimed the feed and is fetching it
        slow_clock.now = clock.now = clock.now + timedelta(seconds=a.pipeline.lease_seconds)
        assert (await b.pipeline.poll_once()).new == 33  # the lease ran out: b takes the feed

    with caplog.at_level(logging.WARNING, logger="bot.pipeline.leases"):
        ra, _ = await asyncio.gather(a.pipeline.poll_once(), pause_a_then_b_polls())
    assert ra.feeds_due == 1 and ra.leases_lost == 1 and ra.new == 0
    assert "leases_lost=1" in ra.line()
    assert f"feed {feed.id}: lease on feed {feed.id}" in caplog.text and "dropped" in caplog.text
    assert a.store.count_articles() == 33  # b's, once; a's round left nothing
    state = a.store.feed(feed.id)
    assert state.last_success_at == clock.now and state.items_seen == 33
    assert a.store.outbox_counts() == b.store.outbox_counts()


async def test_a_crashed_process_holds_its_feeds_only_until_its_leases_run_out(
    processes: Processes, feed_server: FeedServer
) -> None:
    clock = Clock()
    survivor = processes(clock)
    await survivor.service.feeds.add_feed(feed_server.url(BBC))
    lease = survivor.pipeline.lease_seconds
    # a process claimed the feed, then died (kill -9) before writing anything
    [held] = survivor.store.claim_feeds("dead:1:x", clock.now, lease_seconds=lease, limit=5)
    assert survivor.store.next_feed_due_at() == held.until  # the runner sleeps until then
    assert (await survivor.pipeline.poll_once()).feeds_due == 0
    clock.now = held.until
    report = await survivor.pipeline.poll_once()
    assert report.feeds_due == 1 and report.new == 33
    assert survivor.store.next_feed_due_at() > clock.now  # polled: due again later


def test_a_dead_process_feeds_are_polled_again_within_two_poll_intervals() -> None:
    """Half the poll interval by default, so a feed claimed when due by a process that died at
    once is claimed again by another within 1.5 intervals of its last poll; at least 30 s;
    THREATWATCH_FEED_LEASE_SECONDS sets it outright."""
    assert lease_seconds(Settings(poll_interval=300)) == 150
    assert lease_seconds(Settings(poll_interval=900)) == 450
    assert lease_seconds(Settings(poll_interval=30)) == 30  # renewed while a round works
    assert lease_seconds(Settings(poll_interval=300, feed_lease_seconds=40)) == 40
    with pytest.raises(ValueError, match="feed_lease_seconds"):
        Settings(feed_lease_seconds=1)


async def test_a_process_restarted_on_the_same_machine_takes_back_its_predecessors_feeds(
    processes: Processes, feed_server: FeedServer
) -> None:
    """kill -9 and restart (systemd, a container restart): the feeds the dead process held are
    polled at once, not after its leases; a live process's and another machine's stay held."""
    clock = Clock()
    app = processes(clock)
    for url in (BBC, DAWN, f"_slow/0/{BBC}", f"_gzip/{BBC}"):
        await app.service.feeds.add_feed(feed_server.url(url))
    host = socket.gethostname()
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    dead, live = f"{host}:{gone.stdout.strip()}:dead", f"{host}:{os.getppid()}:live"
    predecessor = f"{host}:{os.getpid()}:before"  # our pid, not our lease: a restarted container
    owners = [dead, predecessor, live, "elsewhere:1:x"]
    for owner in owners:
        app.store.claim_feeds(owner, clock.now, lease_seconds=600, limit=1)
    report = await app.pipeline.poll_once()
    assert report.feeds_due == 2 and report.new > 33  # BBC and Dawn, the predecessors' feeds
    assert app.store.feed_lease_holders(clock.now) == set(owners[2:])


async def test_a_live_process_keeps_its_feed_through_a_round_longer_than_the_lease(
    processes: Processes, feed_server: FeedServer
) -> None:
    a, b = processes(utcnow), processes(utcnow)
    a.pipeline.lease_seconds = 3.0  # renewed every second while the fetch takes 4
    await a.service.feeds.add_feed(feed_server.url(f"_slow/4/{BBC}"))
    polling = asyncio.create_task(a.pipeline.poll_once())
    await asyncio.sleep(3.5)  # past the first lease's end: b finds the feed still held
    assert (await b.pipeline.poll_once()).feeds_due == 0
    report = await polling
    assert report.new == 33 and not report.leases_lost


def test_dropping_a_lost_feeds_articles_renumbers_the_rest_of_the_batch() -> None:
    """A batch mixes feeds; the articles of a feed whose lease ran out are left out and the
    others keep their matches and in-batch story links (a link to a dropped one is cut)."""
    feed_of = [1, 2, 1, 1]  # feed 2's article is dropped
    batch = [replace(new_article(i, None), feed_id=f) for i, f in enumerate(feed_of)]
    batch[2] = replace(batch[2], story_of_index=1)  # joins the dropped article's story
    batch[3] = replace(batch[3], story_of_index=0)
    matches = [NewMatch(i, "t", 0.9, 0.5, None, None, "p") for i in (0, 1, 3)]
    kept, kept_matches = without_feeds(batch, matches, {2})
    assert [a.item.guid for a in kept] == ["g0", "g2", "g3"]
    assert [a.story_of_index for a in kept] == [None, None, 0]
    assert [m.article_index for m in kept_matches] == [0, 2]
    assert without_feeds(batch, matches, set()) == (batch, matches)
