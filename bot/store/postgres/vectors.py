"""Passage vectors: read in bulk and by id for the in-memory index (bot/search/index.py), and
searched in the database through an HNSW index on their binary-quantised copies (one bit per
dimension, Hamming distance) with the exact cosine re-ranking the shortlist — the same two
stages the in-memory index runs over its sign bits."""

from __future__ import annotations

from collections.abc import Generator, Sequence
from datetime import datetime

import numpy as np
from pgvector import Vector

from bot.core.models import Article
from bot.store.postgres.articles import PgArticlesPart
from bot.store.postgres.base import ts

SHORTLIST = 400  # rows per query vector the HNSW index hands to the exact re-rank
EF_SEARCH_MAX = 1000  # pgvector's ceiling for hnsw.ef_search


class PgVectorsPart(PgArticlesPart):
    def chunk_vectors_after(
        self, model: str, after_rowid: int, limit: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Up to ``limit`` passage vectors of one model stored after id ``after_rowid``, in id
        order: (ids, article_ids, vectors)."""
        rows = self._all(
            """SELECT id, article_id, vector FROM article_chunks
               WHERE id > %s AND model = %s ORDER BY id LIMIT %s""",
            [after_rowid, model, limit],
            binary=True,
        )
        return _unpack(rows)

    def iter_chunk_vectors(
        self, model: str, after_rowid: int, page: int
    ) -> Generator[tuple[np.ndarray, np.ndarray], None, None]:
        """Every passage vector of one model stored after ``after_rowid``, as pages of (ids,
        vectors); each page is one pooled read, so it is safe on any thread."""
        while True:
            rows = self._all(
                """SELECT id, vector FROM article_chunks WHERE id > %s AND model = %s
                   ORDER BY id LIMIT %s""",
                [after_rowid, model, page],
                binary=True,
            )
            if not rows:
                return
            rowids = np.fromiter((r[0] for r in rows), np.int64, count=len(rows))
            yield rowids, np.vstack([np.asarray(r[1], np.float32) for r in rows])
            after_rowid = int(rowids[-1])

    def chunk_vectors_by_rowid(
        self, model: str, rowids: Sequence[int]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if not rowids:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 0), np.float32)
        rows = self._all(
            """SELECT id, article_id, vector FROM article_chunks
               WHERE id = ANY(%s) AND model = %s""",
            [[int(r) for r in rowids], model],
            binary=True,
        )
        return _unpack(rows)

    def chunk_passages(self, rowids: Sequence[int]) -> dict[int, str]:
        if not rowids:
            return {}
        rows = self._all(
            "SELECT id, passage FROM article_chunks WHERE id = ANY(%s)", [[int(r) for r in rowids]]
        )
        return {int(r[0]): r[1] for r in rows}

    # --- search in the database -------------------------------------------------------------
    def nearest_chunks(
        self, model: str, queries: np.ndarray, limit: int, *, shortlist: int = SHORTLIST
    ) -> list[tuple[int, int, float]]:
        """The ``limit`` stored passages nearest to any of the query vectors: (id, article id,
        exact cosine), best first. The HNSW index shortlists by Hamming distance of the sign
        bits; the shortlist is scored exactly on the float vectors."""
        queries = np.atleast_2d(np.asarray(queries, np.float32))
        dims = int(queries.shape[1])
        self.ensure_vector_index(dims)
        best: dict[int, tuple[int, float]] = {}
        with self.transaction() as conn:
            conn.execute(f"SET LOCAL hnsw.ef_search = {min(EF_SEARCH_MAX, max(40, shortlist))}")
            conn.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
            for query in queries:
                for rowid, article_id, score in conn.execute(
                    f"""WITH shortlist AS (
                          SELECT id, article_id, vector FROM article_chunks
                          WHERE vector_dims(vector) = {dims} AND model = %(model)s
                          ORDER BY binary_quantize(vector)::bit({dims})
                                   <~> binary_quantize(%(q)s)::bit({dims})
                          LIMIT %(shortlist)s)
                        SELECT id, article_id, 1 - (vector <=> %(q)s) FROM shortlist""",  # type: ignore[arg-type]
                    {"model": model, "q": Vector(query), "shortlist": shortlist},
                ):
                    if rowid not in best or best[rowid][1] < score:
                        best[int(rowid)] = (int(article_id), float(score))
        ranked = sorted(best.items(), key=lambda kv: (-kv[1][1], kv[0]))[:limit]
        return [(rowid, aid, score) for rowid, (aid, score) in ranked]

    # --- look-ups for chat commands -----------------------------------------------------------
    def article_by_url(self, url: str) -> Article | None:
        row = self._one("SELECT id FROM articles WHERE url = %s ORDER BY id LIMIT 1", [url])
        return self.article(row[0]) if row else None

    def article_vectors(self, article_id: int, model: str) -> tuple[list[str], np.ndarray]:
        rows = self._all(
            """SELECT passage, vector FROM article_chunks WHERE article_id = %s AND model = %s
               ORDER BY chunk""",
            [article_id, model],
            binary=True,
        )
        if not rows:
            return [], np.zeros((0, 0), np.float32)
        return [r[0] for r in rows], np.vstack([np.asarray(r[1], np.float32) for r in rows])

    def article_ids_since(self, since: datetime) -> list[int]:
        rows = self._all(
            "SELECT id FROM articles WHERE first_seen >= %s ORDER BY first_seen DESC", [ts(since)]
        )
        return [r[0] for r in rows]

    def matched_in_window(
        self, topics: Sequence[str], since: datetime, until: datetime, limit: int
    ) -> list[tuple[int, str]]:
        if not topics:
            return []
        rows = self._all(
            """SELECT article_id, topic FROM matches
               WHERE topic = ANY(%s) AND published >= %s AND published <= %s
               ORDER BY published DESC, id DESC LIMIT %s""",
            [list(topics), ts(since), ts(until), limit],
        )
        return [(int(r[0]), str(r[1])) for r in rows]

    def matched_article_ids(self, topic: str, article_ids: Sequence[int]) -> set[int]:
        if not article_ids:
            return set()
        rows = self._all(
            "SELECT article_id FROM matches WHERE topic = %s AND article_id = ANY(%s)",
            [topic, [int(a) for a in article_ids]],
        )
        return {r[0] for r in rows}


def _unpack(rows: list[tuple]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # type: ignore[type-arg]
    """(id, article_id, vector) rows → (ids, article_ids, vectors)."""
    if not rows:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 0), np.float32)
    rowids = np.fromiter((r[0] for r in rows), np.int64, count=len(rows))
    article_ids = np.fromiter((r[1] for r in rows), np.int64, count=len(rows))
    vectors = np.vstack([np.asarray(r[2], np.float32) for r in rows])
    return rowids, article_ids, vectors
