"""Articles to save in a real store, for tests that need stored articles and matches but not
what they say."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np

from bot.core.models import FeedItem
from bot.core.records import NewArticle
from bot.store import SqliteStore

# every store test runs on both; PostgreSQL databases are copies of one migrated template
BACKENDS = ("sqlite", "postgresql")
PG_TEMPLATE = "tw_template"


def new_article(n: int, published: datetime | None) -> NewArticle:
    """Article ``n``: its own guid, link and content hash, one passage, a unit vector."""
    item = FeedItem(
        guid=f"g{n}",
        url=f"https://news.example/{n}",
        title=f"Title {n}",
        text=f"Body of story {n}.",
        published=published,
    )
    return NewArticle(item, None, f"h{n}", [item.text], np.ones((1, 4), np.float32) / 2)


def query(store: Any, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Rows of a read-only SQL query written for SQLite (``?`` marks) on either backend, for
    tests that look under the store."""
    if isinstance(store, SqliteStore):
        return store._conn.execute(sql, params).fetchall()
    return [tuple(r) for r in store._all(sql.replace("?", "%s"), list(params))]


def in_transaction(store: Any) -> bool:
    """Whether the store still holds a transaction open (SQLite: its connection; PostgreSQL:
    the connection this thread's one_transaction() holds)."""
    if isinstance(store, SqliteStore):
        return store._conn.in_transaction
    return getattr(store._held, "conn", None) is not None
