"""Topics, seeds and counter-examples, and the seed vector cache."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np

from bot.errors import NotFound
from bot.models import Seed, Topic
from bot.store.base import StoreBase, _blob, _iso


class TopicsPart(StoreBase):
    # --- topics and seeds -------------------------------------------------------------------
    def upsert_topic_default(self, topic: Topic, now: datetime) -> bool:
        """Insert a topic from config unless it exists (admins' edits in the database win)."""
        with self.transaction() as conn:
            cur = conn.execute(
                """INSERT OR IGNORE INTO topics (name, description, threshold, enabled, created_at,
                   updated_at) VALUES (?,?,?,?,?,?)""",
                [
                    topic.name,
                    topic.description,
                    topic.threshold,
                    int(topic.enabled),
                    _iso(now),
                    _iso(now),
                ],
            )
        return cur.rowcount > 0

    def topics(self, *, enabled_only: bool = False) -> list[Topic]:
        where = "WHERE enabled = 1" if enabled_only else ""
        return [
            Topic(
                name=r["name"],
                description=r["description"],
                threshold=r["threshold"],
                enabled=bool(r["enabled"]),
            )
            for r in self._rows(f"SELECT * FROM topics {where} ORDER BY name")
        ]

    def topic(self, name: str) -> Topic:
        for topic in self.topics():
            if topic.name == name:
                return topic
        raise NotFound(f"no topic {name!r}")

    def add_seed(self, seed: Seed, now: datetime, *, revive: bool) -> tuple[Seed, bool]:
        """Add a seed unless the same text is already a seed of the topic. A seed an admin removed
        stays removed when config is re-synced (revive=False) but comes back on an explicit add."""
        with self.transaction() as conn:
            row = conn.execute(
                "SELECT id, removed_at FROM seeds WHERE topic = ? AND kind = ? AND content_hash = ?",
                [seed.topic, seed.kind, seed.content_hash],
            ).fetchone()
            if row is None:
                cur = conn.execute(
                    """INSERT INTO seeds (topic, kind, title, text, content_hash, origin, created_at)
                       VALUES (?,?,?,?,?,?,?)""",
                    [
                        seed.topic,
                        seed.kind,
                        seed.title,
                        seed.text,
                        seed.content_hash,
                        seed.origin,
                        _iso(now),
                    ],
                )
                seed_id, created = int(cur.lastrowid or 0), True
            else:
                seed_id, created = int(row[0]), False
                if row[1] is not None and revive:
                    conn.execute("UPDATE seeds SET removed_at = NULL WHERE id = ?", [seed_id])
                    created = True
        return self.seed(seed_id), created

    def seed(self, seed_id: int) -> Seed:
        rows = self._rows("SELECT * FROM seeds WHERE id = ?", [seed_id])
        if not rows:
            raise NotFound(f"no seed with id {seed_id}")
        return _seed(rows[0])

    def seeds(self, topic: str | None = None, *, kind: str | None = None) -> list[Seed]:
        sql, params = "SELECT * FROM seeds WHERE removed_at IS NULL", []
        if topic:
            sql, params = sql + " AND topic = ?", [topic]
        if kind:
            sql, params = sql + " AND kind = ?", [*params, kind]
        return [_seed(r) for r in self._rows(sql + " ORDER BY topic, id", params)]

    def remove_seed(self, seed_id: int, now: datetime) -> None:
        with self.transaction() as conn:
            cur = conn.execute(
                "UPDATE seeds SET removed_at = ? WHERE id = ? AND removed_at IS NULL",
                [_iso(now), seed_id],
            )
        if cur.rowcount == 0:
            raise NotFound(f"no seed with id {seed_id}")

    def cached_seed_chunks(
        self, content_hash: str, model: str
    ) -> tuple[list[str], np.ndarray] | None:
        rows = self._conn.execute(
            "SELECT passage, vector FROM seed_chunks WHERE content_hash = ? AND model = ? ORDER BY chunk",
            [content_hash, model],
        ).fetchall()
        if not rows:
            return None
        return [r[0] for r in rows], np.vstack(
            [np.frombuffer(r[1], dtype=np.float32) for r in rows]
        )

    def cache_seed_chunks(
        self, content_hash: str, model: str, passages: Sequence[str], vectors: np.ndarray
    ) -> None:
        with self.transaction() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO seed_chunks (content_hash, model, chunk, passage, vector) VALUES (?,?,?,?,?)",
                [
                    (content_hash, model, i, p, _blob(v))
                    for i, (p, v) in enumerate(zip(passages, vectors, strict=True))
                ],
            )


def _seed(r: dict[str, Any]) -> Seed:
    return Seed(
        id=r["id"],
        topic=r["topic"],
        title=r["title"],
        text=r["text"],
        content_hash=r["content_hash"],
        origin=r["origin"],
        kind=r["kind"],
    )
