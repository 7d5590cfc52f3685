"""Passage vectors read in bulk and by row, for the in-memory vector index (bot/search/index.py)."""

from __future__ import annotations

import sqlite3
from collections.abc import Generator, Sequence

import numpy as np

from bot.store.base import StoreBase


class VectorsPart(StoreBase):
    def chunk_vectors_after(
        self, model: str, after_rowid: int, limit: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Up to ``limit`` passage vectors of one model stored after ``after_rowid``, in rowid
        order: (rowids, article_ids, vectors). Rowids only grow, so a reader that remembers the
        last one it saw gets exactly what was saved since."""
        rows = self._conn.execute(
            """SELECT rowid, article_id, vector FROM article_chunks
               WHERE rowid > ? AND model = ? ORDER BY rowid LIMIT ?""",
            [after_rowid, model, limit],
        ).fetchall()
        return _unpack(rows)

    def iter_chunk_vectors(
        self, model: str, after_rowid: int, page: int
    ) -> Generator[tuple[np.ndarray, np.ndarray], None, None]:
        """Every passage vector of one model stored after ``after_rowid``, in rowid order, as
        pages of (rowids, vectors), read through a read-only connection of its own: safe on a
        thread beside the one that uses the store, and it leaves the store's connection free."""
        if str(self.path) == ":memory:":  # a second connection would see another database
            conn, own = self._conn, False
        else:
            conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
            own = True
        try:
            while True:
                rows = conn.execute(
                    """SELECT rowid, vector FROM article_chunks
                       WHERE rowid > ? AND model = ? ORDER BY rowid LIMIT ?""",
                    [after_rowid, model, page],
                ).fetchall()
                if not rows:
                    return
                rowids = np.fromiter((r[0] for r in rows), np.int64, count=len(rows))
                vectors = np.frombuffer(b"".join(r[1] for r in rows), np.float32)
                yield rowids, vectors.reshape(len(rows), -1)
                after_rowid = int(rowids[-1])
        finally:
            if own:
                conn.close()

    def chunk_vectors_by_rowid(
        self, model: str, rowids: Sequence[int]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The stored (rowids, article_ids, vectors) among ``rowids``; rows since deleted are
        left out."""
        if not rowids:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 0), np.float32)
        marks = ",".join("?" * len(rowids))
        rows = self._conn.execute(
            f"""SELECT rowid, article_id, vector FROM article_chunks
                WHERE rowid IN ({marks}) AND model = ?""",
            [*map(int, rowids), model],
        ).fetchall()
        return _unpack(rows)

    def chunk_passages(self, rowids: Sequence[int]) -> dict[int, str]:
        if not rowids:
            return {}
        marks = ",".join("?" * len(rowids))
        return dict(
            self._conn.execute(
                f"SELECT rowid, passage FROM article_chunks WHERE rowid IN ({marks})",
                [*map(int, rowids)],
            ).fetchall()
        )


def _unpack(rows: list[tuple[int, int, bytes]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rowid, article_id, vector blob) rows → (rowids, article_ids, vectors)."""
    if not rows:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 0), np.float32)
    rowids = np.fromiter((r[0] for r in rows), np.int64, count=len(rows))
    article_ids = np.fromiter((r[1] for r in rows), np.int64, count=len(rows))
    vectors = np.frombuffer(b"".join(r[2] for r in rows), np.float32).reshape(len(rows), -1)
    return rowids, article_ids, vectors
