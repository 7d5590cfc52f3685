"""The store on both backends (a real SQLite file, a real PostgreSQL database): migrations,
dedupe on save, outbox, seeds cache."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from store_support import in_transaction

from bot.core.errors import NotFound, StoreError
from bot.core.models import FeedItem, Seed, Topic
from bot.core.records import NewArticle, NewMatch
from bot.store import SqliteStore, Store

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def item(n: int, **kw: object) -> FeedItem:
    base = dict(
        guid=f"g{n}",
        url=f"https://news.example/{n}",
        title=f"Title {n}",
        text=f"Body of story {n}.",
        published=NOW - timedelta(hours=n),
    )
    base.update(kw)
    return FeedItem(**base)  # type: ignore[arg-type]


def new(it: FeedItem, digest: str) -> NewArticle:
    return NewArticle(
        item=it,
        feed_id=None,
        content_hash=digest,
        passages=[it.text],
        vectors=np.ones((1, 4), np.float32) / 2,
    )


@pytest.fixture
def store(open_test_store: Callable[[str], Store]) -> Store:
    s = open_test_store("t")
    s.upsert_topic_default(Topic("t1", "d", 0.5), NOW)
    return s


def test_wal_mode_and_migrations_are_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    SqliteStore(path).close()
    SqliteStore(path).close()  # reopening runs no migration twice
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    from bot.store.migrations import MIGRATIONS

    assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == len(MIGRATIONS)


def test_save_returns_only_new_articles(store: Store) -> None:
    saved, _ = store.save_articles([new(item(1), "h1"), new(item(2), "h2")], [], model="m", now=NOW)
    assert [a.guid for a in saved] == ["g1", "g2"]
    # same guid, same url, or same content hash from another feed: all duplicates
    again = [
        new(item(1), "hx"),
        new(item(3, url="https://news.example/2"), "hy"),
        new(item(4), "h2"),
        new(item(5), "h5"),
    ]
    saved, _ = store.save_articles(again, [], model="m", now=NOW)
    assert [a.guid for a in saved] == ["g5"]
    assert store.count_articles() == 3


def test_published_falls_back_to_first_seen(store: Store) -> None:
    saved, _ = store.save_articles([new(item(1, published=None), "h1")], [], model="m", now=NOW)
    assert saved[0].published == NOW


def test_matches_queue_outbox_rows_for_subscribed_channels_only(store: Store) -> None:
    a = store.ensure_channel("console", "a", now=NOW)
    store.ensure_channel("console", "b", now=NOW)  # not subscribed
    store.subscribe(a, ["t1"], NOW)
    m = NewMatch(0, "t1", 0.9, 0.5, None, "seed", "passage")
    _, matches = store.save_articles([new(item(1), "h1")], [m], model="m", now=NOW)
    due = store.due_outbox(NOW, platforms=["console"])
    assert [(e.match.id, e.chat_id) for e in due] == [(matches[0].id, "a")]
    assert store.outbox_rows_by_platform([matches[0].id]) == {"console": 1}
    assert store.outbox_rows_by_platform([]) == {}
    store.mark_sent(due[0].id, NOW)
    assert store.due_outbox(NOW, platforms=["console"]) == []
    assert store.outbox_counts() == {"sent": 1}


def test_failed_transaction_leaves_nothing_half_written(store: Store) -> None:
    bad = NewArticle(
        item=item(1),
        feed_id=None,
        content_hash="h1",
        passages=["a", "b"],
        vectors=np.ones((1, 4), np.float32),
    )  # 2 passages, 1 vector
    with pytest.raises(ValueError):
        store.save_articles([new(item(2), "h2"), bad], [], model="m", now=NOW)
    assert store.count_articles() == 0


def test_one_transaction_keeps_all_or_none_of_its_writes(store: Store) -> None:
    feeds = [store.add_feed(f"https://{n}.example/feed", None, NOW)[0] for n in "ab"]
    later = NOW + timedelta(hours=1)
    with pytest.raises(RuntimeError), store.one_transaction():
        for feed in feeds:
            store.record_feed_not_modified(feed.id, now=NOW, next_check_at=later)
        raise RuntimeError("crash before the end of the round")
    assert store.due_feeds(NOW) == feeds  # neither state was kept
    with store.one_transaction():
        for feed in feeds:
            store.record_feed_not_modified(feed.id, now=NOW, next_check_at=later)
    assert store.due_feeds(NOW) == [] and not in_transaction(store)
    store.record_feed_not_modified(feeds[0].id, now=NOW, next_check_at=NOW)  # its own again
    assert [f.id for f in store.due_feeds(NOW)] == [feeds[0].id]


def test_read_only_database_gives_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "ro.db"
    SqliteStore(path).close()
    s = SqliteStore(path)
    s._conn.execute("PRAGMA query_only = ON")  # simulates a read-only file for writes
    with pytest.raises(StoreError, match="not writable|write failed"):
        s.add_feed("https://a.example/feed", None, NOW)


def test_feed_failure_backoff_and_disable(store: Store) -> None:
    feed, created = store.add_feed("https://a.example/feed", "A", NOW)
    assert created and store.due_feeds(NOW) == [feed]
    assert store.add_feed("https://a.example/feed", "A", NOW) == (feed, False)
    store.record_feed_failure(
        feed.id, now=NOW, next_check_at=NOW + timedelta(hours=1), error="HTTP 500", disable=False
    )
    assert store.due_feeds(NOW) == []
    store.record_feed_failure(feed.id, now=NOW, next_check_at=NOW, error="HTTP 500", disable=True)
    after = store.feed(feed.id)
    assert after.status.value == "disabled" and after.consecutive_failures == 2
    assert after.last_error == "HTTP 500"
    assert store.due_feeds(NOW) == []


def test_seed_cache_and_soft_removal(store: Store) -> None:
    seed = Seed(0, "t1", "A seed", "Militia fired rockets at a base.", "c1", "f.txt")
    s1, created = store.add_seed(seed, NOW, revive=False)
    assert created
    store.remove_seed(s1.id, NOW)
    assert store.seeds("t1") == []
    # re-syncing config does not bring back what an admin removed; an explicit add does
    assert store.add_seed(seed, NOW, revive=False)[1] is False
    assert store.seeds("t1") == []
    assert store.add_seed(seed, NOW, revive=True)[1] is True
    assert store.cached_seed_chunks("c1", "m") is None
    store.cache_seed_chunks("c1", "m", ["p"], np.ones((1, 3), np.float32))
    passages, vectors = store.cached_seed_chunks("c1", "m") or ([], None)
    assert passages == ["p"] and vectors is not None and vectors.shape == (1, 3)
    with pytest.raises(NotFound):
        store.remove_seed(999, NOW)
