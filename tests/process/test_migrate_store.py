"""`threatwatch migrate-store --to postgresql://…`: a real SQLite database with every kind of
row copied into a real PostgreSQL database; the bot's own reads answer the same on both sides,
new rows continue after the copied ids, and a non-empty target is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from store_support import new_article
from test_cli import tw

from bot.core.models import Seed, Topic
from bot.core.records import NewArticle, NewMatch, RecentReport, SpikeAlert
from bot.store import SqliteStore, Store
from bot.store.postgres import PostgresStore

NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)


def fill(store: Store) -> None:
    feed, _ = store.add_feed("https://a.example/feed", "A", NOW)
    store.record_feed_failure(feed.id, now=NOW, next_check_at=NOW, error="HTTP 500", disable=False)
    store.upsert_topic_default(Topic("t1", "first", 0.5), NOW)
    seed, _ = store.add_seed(Seed(0, "t1", "S", "seed text", "c1", "f.txt"), NOW, revive=False)
    store.cache_seed_chunks("c1", "m", ["p"], np.full((1, 4), 0.5, np.float32))
    channel = store.ensure_channel("telegram", "42", title="chat", now=NOW)
    store.subscribe(channel, ["t1"], NOW)
    first = new_article(1, NOW - timedelta(hours=1))
    repeat = NewArticle(
        new_article(2, NOW).item, feed.id, "h2", ["b"], first.vectors, story_of_index=0
    )
    _, matches = store.save_articles(
        [first, repeat],
        [NewMatch(0, "t1", 0.9, 0.5, seed.id, "S", "p1"), NewMatch(1, "t1", 0.8, 0.5, None, None, "p2")],
        model="m",
        now=NOW,
    )  # fmt: skip
    store.mark_sent(store.due_outbox(NOW, platforms=["telegram"])[0].id, NOW, "msg-1")
    store.record_feedback(matches[0].id, "telegram", "u1", 1, NOW)
    store.save_topic_version("t1", "first", {"positives": ["c1"]}, NOW, threshold=0.55)
    store.set_meta("default_feeds_loaded", "1")
    store.save_cycle_report(NOW, {"fetched": 1})
    store.websub_requesting(
        feed.id, hub_url="https://hub.example/", topic_url="https://a.example/feed",
        callback_token="tok", secret="s", now=NOW, next_attempt_at=NOW,
    )  # fmt: skip
    report = RecentReport(matches[0].id, "T", "https://news.example/1", "A", NOW)
    spike = SpikeAlert(0, "t1", NOW, "matches", 6, 1.0, 5.0, (report,), "c.png", b"\x89PNG\x00")
    store.queue_spike(spike, [channel], not_since=NOW - timedelta(days=1))


def reads(store: Store) -> list[object]:
    """What the bot reads, through its own store operations."""
    return [
        store.feeds(),
        store.topics(),
        store.seeds(),
        store.cached_seed_chunks("c1", "m")[0],  # type: ignore[index]
        store.latest_matches(limit=10),
        store.pending_for_channel(1),
        store.story_root(1, store.article(1).story_id or 0, before_match=2),
        store.subscriptions(1),
        store.feedback_counts(1),
        store.topic_versions("t1"),
        store.meta("default_feeds_loaded"),
        store.last_cycle_report(),
        store.websub_subscriptions(),
        store.outbox_counts(),
        store.story_members(2),
        store.spike_alert(1),
        store.due_spike_deliveries(NOW, platforms=["telegram"]),
    ]


def test_every_row_is_copied_and_reads_the_same(tmp_path: Path, postgres_url: str) -> None:
    source = tmp_path / "tw.db"
    sqlite = SqliteStore(source)
    fill(sqlite)
    done = tw(source, "migrate-store", "--to", postgres_url)
    assert "counts verified" in done.stdout and "articles 2" in done.stdout
    target = PostgresStore(postgres_url)
    try:
        assert reads(target) == reads(sqlite)
        ids, article_ids, vectors = target.chunk_vectors_after("m", 0, 10)
        theirs = sqlite.chunk_vectors_after("m", 0, 10)
        assert ids.tolist() == theirs[0].tolist() and article_ids.tolist() == theirs[1].tolist()
        assert np.array_equal(vectors, theirs[2])
        # new rows continue after the copied ids
        feed, created = target.add_feed("https://b.example/feed", None, NOW)
        assert created and feed.id == 2
        saved, _ = target.save_articles([new_article(3, NOW)], [], model="m", now=NOW)
        assert saved[0].id == 3
    finally:
        target.close()
        sqlite.close()


def test_a_target_that_is_not_empty_is_refused_and_left_alone(
    tmp_path: Path, postgres_url: str
) -> None:
    source = tmp_path / "tw.db"
    SqliteStore(source).add_feed("https://a.example/feed", "A", NOW)
    tw(source, "migrate-store", "--to", postgres_url)
    again = tw(source, "migrate-store", "--to", postgres_url, check=False)
    assert again.returncode == 1
    assert "not empty (feeds hold rows)" in again.stderr
    target = PostgresStore(postgres_url)
    try:
        assert len(target.feeds()) == 1
    finally:
        target.close()


def test_a_missing_source_or_a_wrong_target_is_a_clear_error(
    tmp_path: Path, postgres_url: str
) -> None:
    missing = tw(tmp_path / "none.db", "migrate-store", "--to", postgres_url, check=False)
    assert missing.returncode == 1 and "no SQLite database at" in missing.stderr
    wrong = tw(tmp_path / "none.db", "migrate-store", "--to", "sqlite:///x.db", check=False)
    assert wrong.returncode == 1 and "--to must be a postgresql:// URL" in wrong.stderr
