"""Read-only look-ups that the chat commands need (by URL, per article vectors)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np

from bot.core.models import Article
from bot.store.articles import ArticlesPart
from bot.store.base import _iso


class LookupsPart(ArticlesPart):
    def article_by_url(self, url: str) -> Article | None:
        rows = self._rows("SELECT id FROM articles WHERE url = ? ORDER BY id LIMIT 1", [url])
        return self.article(rows[0]["id"]) if rows else None

    def article_vectors(self, article_id: int, model: str) -> tuple[list[str], np.ndarray]:
        rows = self._conn.execute(
            "SELECT passage, vector FROM article_chunks WHERE article_id = ? AND model = ? ORDER BY chunk",
            [article_id, model],
        ).fetchall()
        if not rows:
            return [], np.zeros((0, 0), np.float32)
        return [r[0] for r in rows], np.vstack([np.frombuffer(r[1], np.float32) for r in rows])

    def article_ids_since(self, since: datetime) -> list[int]:
        return [
            r[0]
            for r in self._conn.execute(
                "SELECT id FROM articles WHERE first_seen >= ? ORDER BY first_seen DESC",
                [_iso(since)],
            )
        ]

    def matched_in_window(
        self, topics: Sequence[str], since: datetime, until: datetime, limit: int
    ) -> list[tuple[int, str]]:
        """(article id, topic) of the matches in ``topics`` of articles published between
        ``since`` and ``until``, newest first, at most ``limit`` (through the index on matches'
        topic and published date)."""
        if not topics:
            return []
        marks = ",".join("?" * len(topics))
        rows = self._conn.execute(
            f"""SELECT article_id, topic FROM matches
                WHERE topic IN ({marks}) AND published >= ? AND published <= ?
                ORDER BY published DESC, id DESC LIMIT ?""",
            [*topics, _iso(since), _iso(until), limit],
        ).fetchall()
        return [(int(r[0]), str(r[1])) for r in rows]

    def matched_article_ids(self, topic: str, article_ids: Sequence[int]) -> set[int]:
        if not article_ids:
            return set()
        marks = ",".join("?" * len(article_ids))
        return {
            r[0]
            for r in self._conn.execute(
                f"SELECT article_id FROM matches WHERE topic = ? AND article_id IN ({marks})",
                [topic, *article_ids],
            )
        }
