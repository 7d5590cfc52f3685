"""Where a saved article lands in the stories, on both stores: one that starts its own story, one
that joins a report earlier in its batch, one that joins a stored report; and the batched
look-up of content hashes the poll cycle makes before embedding."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from store_support import new_article, query

from bot.store import Store
from bot.store.postgres import PostgresStore
from bot.store.postgres.article_insert import OWN_STORY, insert_article

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def test_articles_start_or_join_stories_in_the_batch_and_stored(store: Store) -> None:
    first, joins_first, alone = new_article(1, NOW), new_article(2, NOW), new_article(3, NOW)
    saved, _ = store.save_articles(
        [first, replace(joins_first, story_of_index=0), alone], [], model="m", now=NOW
    )
    a1, a2, a3 = saved
    assert a1.story_id is not None and a3.story_id is not None
    assert a2.story_id == a1.story_id != a3.story_id
    (a4,), _ = store.save_articles(
        [replace(new_article(4, NOW), story_of=a1.id)], [], model="m", now=NOW
    )
    assert a4.story_id == a1.story_id
    stories = {
        r[0]: r[1:] for r in query(store, "SELECT id, first_article_id, reports FROM stories")
    }
    assert stories == {a1.story_id: (a1.id, 3), a3.story_id: (a3.id, 1)}
    stored = dict(query(store, "SELECT id, story_id FROM articles"))
    assert stored == {a.id: a.story_id for a in (a1, a2, a3, a4)}


def test_stored_content_hashes_names_the_stored_ones(store: Store) -> None:
    store.save_articles([new_article(1, NOW), new_article(2, NOW)], [], model="m", now=NOW)
    assert store.stored_content_hashes(["h1", "h9", "h2", "h1"]) == {"h1", "h2"}
    assert store.stored_content_hashes([]) == set()


def test_an_item_stored_meanwhile_starts_no_story(postgres_url: str) -> None:
    """Another process stored the item between the batch's check and its insert: the insert
    does nothing, and no story is left without its first article."""
    store = PostgresStore(postgres_url)
    try:
        store.save_articles([new_article(1, NOW)], [], model="m", now=NOW)
        with store.transaction() as conn:
            assert insert_article(conn, new_article(1, NOW), NOW, OWN_STORY) is None
        assert query(store, "SELECT count(*) FROM stories") == [(1,)]
    finally:
        store.close()
