"""Inserting one article on PostgreSQL, with its place in a story in the same statement where
the story is known before the insert: an article that starts its own story (most of them), or
joins the story of an earlier article of its batch. That is one round trip per article where it
was three (insert, start the story, point the article at it); bench/scale.py measures it.

The story's id is drawn from its sequence inside the statement, so the article row is written
with it; the foreign key from the article to the story is checked at the statement's end, when
both rows exist. A conflict (another process stored the item meanwhile) inserts neither.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

import psycopg

from bot.core.models import Article
from bot.core.records import NewArticle
from bot.store.postgres.base import ts

Conn = psycopg.Connection[Any]
OWN_STORY = -1  # ``story``: the article starts a story of its own

_COLUMNS = """feed_id, guid, url, title, text, published, first_seen, author, source,
    content_hash, language"""
_VALUES = ", ".join(["%s"] * 11)
_PLAIN = f"""INSERT INTO articles ({_COLUMNS}) VALUES ({_VALUES})
    ON CONFLICT DO NOTHING RETURNING id, story_id"""
_STARTS_STORY = f"""WITH story AS (SELECT nextval(pg_get_serial_sequence('stories', 'id')) AS id),
    article AS (INSERT INTO articles ({_COLUMNS}, story_id) SELECT {_VALUES}, story.id FROM story
                ON CONFLICT DO NOTHING RETURNING id, story_id),
    started AS (INSERT INTO stories (id, first_article_id, created_at, updated_at)
                SELECT story_id, id, %s, %s FROM article)
    SELECT id, story_id FROM article"""
_JOINS_STORY = f"""WITH article AS (INSERT INTO articles ({_COLUMNS}, story_id)
                VALUES ({_VALUES}, %s) ON CONFLICT DO NOTHING RETURNING id, story_id),
    counted AS (UPDATE stories SET reports = reports + 1, updated_at = %s
                WHERE id IN (SELECT story_id FROM article))
    SELECT id, story_id FROM article"""


def insert_article(conn: Conn, new: NewArticle, now: datetime, story: int | None) -> Article | None:
    """The stored article, or None when the item is stored already. ``story``: None inserts
    the article alone (its story is set afterwards), OWN_STORY starts its story with it, a
    story's id makes it another report of that story."""
    item = new.item
    published = item.published or now  # returned as given, stored to the second
    values = [new.feed_id, item.guid, item.url, item.title, item.text, ts(published), ts(now),
              item.author, item.source, new.content_hash, new.language]  # fmt: skip
    if story is None:
        row = conn.execute(_PLAIN, values).fetchone()
    elif story == OWN_STORY:
        row = conn.execute(_STARTS_STORY, [*values, ts(now), ts(now)]).fetchone()
    else:
        row = conn.execute(_JOINS_STORY, [*values, story, ts(now)]).fetchone()
    if row is None:
        return None
    return Article(
        id=int(row[0]),
        feed_id=new.feed_id,
        guid=item.guid,
        url=item.url,
        title=item.title,
        text=item.text,
        published=published,
        first_seen=now,
        author=item.author,
        source=item.source,
        content_hash=new.content_hash,
        story_id=None if row[1] is None else int(row[1]),
        language=new.language,
    )


def with_story(article: Article, story_id: int) -> Article:
    return replace(article, story_id=story_id)
