"""`latest` on both backends (a real SQLite file, a real PostgreSQL database): it reads matches through the (topic, published, id) and
(published, id) indexes and answers exactly what the join over articles answered before."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from store_support import new_article, query

import bot.store.base
from bot.core.records import NewMatch
from bot.store import SqliteStore, Store
from bot.store.migrations import MIGRATIONS

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
TOPICS = ["common", "other", "rare"]
# the query `latest` ran before matches carried the article's date
OLD_LATEST = """SELECT m.*, m.id AS match_id FROM matches m JOIN articles a ON a.id = m.article_id
    {where} ORDER BY a.published DESC, m.id DESC LIMIT ?"""


def old_latest(store: Store, topic: str | None, limit: int) -> list[int]:
    where, params = ("WHERE m.topic = ?", [topic]) if topic else ("", [])
    rows = query(store, OLD_LATEST.format(where=where), [*params, limit])
    return [r[0] for r in rows]


def fill(store: Store) -> None:
    """Four saves of 20 articles: dates from a few hours (many ties, also across saves), one in
    five undated (dated by its save), matches listed out of article order so that match ids
    do not follow article ids; 'rare' has two matches, one of them the oldest article."""
    rng = random.Random(5)
    saves = [NOW, NOW - timedelta(hours=3), NOW + timedelta(hours=2), NOW - timedelta(hours=1)]
    n = 0
    for now in saves:
        batch, matches = [], []
        for i in range(20):
            n += 1
            undated = n % 5 == 0
            published = None if undated else NOW + timedelta(hours=rng.randint(-4, 3))
            if n == 1:
                published = NOW - timedelta(days=30)
            batch.append(new_article(n, published))
            topics = ["common"] if rng.random() < 0.8 else []
            topics += ["other"] if rng.random() < 0.3 else []
            topics += ["rare"] if n in (1, 42) else []
            matches += [NewMatch(i, t, 0.9, 0.5, None, "seed", f"passage {n}") for t in topics]
        rng.shuffle(matches)
        store.save_articles(batch, matches, model="m", now=now)


@pytest.fixture
def store(open_test_store: Callable[[str], Store]) -> Store:
    s = open_test_store("latest")
    fill(s)
    return s


def test_latest_answers_what_the_join_over_articles_answered(store: Store) -> None:
    total = query(store, "SELECT count(*) FROM matches")[0][0]
    for topic in [None, *TOPICS]:
        for limit in (1, 3, 10, 20, total + 1):
            got = store.latest_matches(topic=topic, limit=limit)
            assert [m.id for m in got] == old_latest(store, topic, limit), (topic, limit)
    assert [m.article.guid for m in store.latest_matches(topic="rare")] == ["g42", "g1"]
    everything = store.latest_matches(limit=total)
    assert len(everything) == total
    keys = [(m.article.published, m.id) for m in everything]
    assert keys == sorted(keys, reverse=True)  # newest first; equal dates: the later match first


def test_ties_and_undated_articles_sort_as_before(
    open_test_store: Callable[[str], Store],
) -> None:
    store = open_test_store("ties")
    t = NOW - timedelta(hours=2)
    # article 1 and 2 share a date; 3 is undated and saved at t, so it ties with them too
    store.save_articles(
        [new_article(1, t), new_article(2, t)],
        [NewMatch(1, "x", 0.9, 0.5, None, "s", "p"), NewMatch(0, "x", 0.9, 0.5, None, "s", "p")],
        model="m",
        now=NOW,
    )
    store.save_articles(
        [new_article(3, None), new_article(4, t - timedelta(seconds=1))],
        [NewMatch(1, "x", 0.9, 0.5, None, "s", "p"), NewMatch(0, "x", 0.9, 0.5, None, "s", "p")],
        model="m",
        now=t,
    )
    got = store.latest_matches(topic="x")
    # matches 1 (g2), 2 (g1), 3 (g4), 4 (g3): the three at t newest match first, then g4
    assert [(m.id, m.article.guid) for m in got] == [(4, "g3"), (2, "g1"), (1, "g2"), (3, "g4")]
    assert [m.id for m in got] == old_latest(store, "x", 10)
    assert [m.id for m in store.latest_matches(topic="x", limit=2)] == [4, 2]


def test_latest_walks_an_index_and_sorts_nothing(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "plan.db")  # SQLite's query plan
    fill(store)
    for topic, index in (("rare", "matches_topic_published"), (None, "matches_published")):
        where, params = ("WHERE m.topic = ?", [topic]) if topic else ("", [])
        plan = store._conn.execute(
            f"""EXPLAIN QUERY PLAN SELECT m.*, m.id AS match_id FROM matches m {where}
                ORDER BY m.published DESC, m.id DESC LIMIT ?""",
            [*params, 5],
        ).fetchall()
        details = [r[3] for r in plan]
        assert len(details) == 1 and f"USING INDEX {index}" in details[0], details
        assert not any("TEMP B-TREE" in d for d in details), details


def test_migration_back_fills_the_date_of_existing_matches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "old.db"
    version = MIGRATIONS.index(next(m for m in MIGRATIONS if "matches_topic_published" in m))
    with monkeypatch.context() as patch:  # a database as the release before it left it
        patch.setattr(bot.store.base, "MIGRATIONS", MIGRATIONS[:version])
        SqliteStore(path).close()
    conn = sqlite3.connect(path, isolation_level=None)
    assert "published" not in {r[1] for r in conn.execute("PRAGMA table_info(matches)")}
    dates = ["2026-11-20T10:00:00+00:00", "2026-11-21T09:00:00+00:00", "2026-11-20T10:00:00+00:00"]
    for n, published in enumerate(dates, start=1):
        conn.execute(
            """INSERT INTO articles (id, guid, title, text, published, first_seen, content_hash)
               VALUES (?, ?, 't', 'x', ?, ?, ?)""",
            [n, f"g{n}", published, dates[1], f"h{n}"],
        )
    rows = [(3, "a"), (1, "a"), (2, "a"), (1, "b"), (3, "b")]  # (article, topic), in id order
    conn.executemany(
        """INSERT INTO matches (article_id, topic, score, threshold, passage, created_at)
           VALUES (?, ?, 0.9, 0.5, 'p', '2026-11-21T12:00:00+00:00')""",
        rows,
    )
    conn.close()

    store = SqliteStore(path)  # runs the new migration
    back_filled = store._conn.execute("SELECT id, published FROM matches ORDER BY id").fetchall()
    assert back_filled == [(i, dates[a - 1]) for i, (a, _) in enumerate(rows, start=1)]
    assert [m.id for m in store.latest_matches(topic="a")] == [3, 2, 1]
    assert [m.id for m in store.latest_matches(topic="b")] == [5, 4]
    assert [m.id for m in store.latest_matches(limit=3)] == [3, 5, 4]
    for topic in (None, "a", "b"):
        assert [m.id for m in store.latest_matches(topic=topic)] == old_latest(store, topic, 10)
    # a match saved after the migration carries its article's date
    _, (saved,) = store.save_articles(
        [new_article(9, None)], [NewMatch(0, "a", 0.9, 0.5, None, "s", "p")], model="m", now=NOW
    )
    row = store._conn.execute("SELECT published FROM matches WHERE id = ?", [saved.id]).fetchone()
    assert row[0] == NOW.isoformat(timespec="seconds") == saved.article.published.isoformat()
    assert store.latest_matches(topic="a", limit=1)[0].id == saved.id
