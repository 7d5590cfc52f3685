"""Topics, seeds and counter-examples, and the seed vector cache."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np

from bot.core.errors import NotFound
from bot.core.facets import Facet, facets_from_json, facets_to_json
from bot.core.models import Seed, Topic, TopicVersion
from bot.store.base import StoreBase, _blob, _iso


class TopicsPart(StoreBase):
    # --- topics and seeds -------------------------------------------------------------------
    def upsert_topic_default(self, topic: Topic, now: datetime) -> bool:
        """Insert a topic from config unless it exists (admins' edits in the database win)."""
        with self.transaction() as conn:
            cur = conn.execute(
                """INSERT OR IGNORE INTO topics (name, description, threshold, enabled,
                   threshold_mode, facets, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?)""",
                [
                    topic.name,
                    topic.description,
                    topic.threshold,
                    int(topic.enabled),
                    topic.threshold_mode,
                    json.dumps(facets_to_json(topic.facets)),
                    _iso(now),
                    _iso(now),
                ],
            )
        return cur.rowcount > 0

    def set_config_facets(self, topic: str, facets: Sequence[Facet], now: datetime) -> bool:
        """Give a topic the facets its config defines; True when they changed. Facets are edited
        in config/topics.toml only, so an edit there (or an upgrade that ships better ones)
        reaches a database made earlier; the topic's next training records it as a version."""
        encoded = json.dumps(facets_to_json(facets))
        with self.transaction() as conn:
            cur = conn.execute(
                "UPDATE topics SET facets = ?, updated_at = ? WHERE name = ? AND facets != ?",
                [encoded, _iso(now), topic, encoded],
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
                threshold_mode=r["threshold_mode"],
                facets=facets_from_json(json.loads(r["facets"])),
                active_version=r["active_version"],
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

    def live_seed_ids(self) -> dict[str, tuple[int, ...]]:
        """Each topic's seeds in use (positive and counter), by id: what a topic index is built
        from besides the topic's own row. One cheap query, asked on every batch."""
        rows = self._rows("SELECT topic, id FROM seeds WHERE removed_at IS NULL ORDER BY topic, id")
        out: dict[str, list[int]] = {}
        for r in rows:
            out.setdefault(r["topic"], []).append(int(r["id"]))
        return {topic: tuple(ids) for topic, ids in out.items()}

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

    # --- versions: every change to what a topic matches ----------------------------------------
    def topic_versions(self, topic: str) -> list[TopicVersion]:
        rows = self._rows(
            "SELECT * FROM topic_versions WHERE topic = ? ORDER BY version DESC", [topic]
        )
        return [_version(r) for r in rows]

    def topic_version(self, topic: str, version: int) -> TopicVersion:
        rows = self._rows(
            "SELECT * FROM topic_versions WHERE topic = ? AND version = ?", [topic, version]
        )
        if not rows:
            raise NotFound(f"topic {topic!r} has no version {version}")
        return _version(rows[0])

    def save_topic_version(
        self,
        topic: str,
        reason: str,
        snapshot: dict[str, Any],
        now: datetime,
        *,
        threshold: float,
    ) -> int:
        """Record a new version, make it active, and set the threshold it carries — one
        transaction, so the topic never runs on half a change."""
        with self.transaction() as conn:
            row = conn.execute(
                "SELECT coalesce(max(version), 0) + 1 FROM topic_versions WHERE topic = ?", [topic]
            ).fetchone()
            version = int(row[0])
            conn.execute(
                "INSERT INTO topic_versions (topic, version, reason, snapshot, created_at) VALUES (?,?,?,?,?)",
                [topic, version, reason, json.dumps(snapshot), _iso(now)],
            )
            conn.execute(
                "UPDATE topics SET active_version = ?, threshold = ?, updated_at = ? WHERE name = ?",
                [version, threshold, _iso(now), topic],
            )
        return version

    def mark_feedback_applied(self, match_ids: Sequence[int], *, version: int) -> None:
        if not match_ids:
            return
        marks = ",".join("?" * len(match_ids))
        with self.transaction() as conn:
            conn.execute(
                f"UPDATE feedback SET applied_version = ? WHERE applied_version IS NULL AND match_id IN ({marks})",
                [version, *match_ids],
            )

    def restore_topic(
        self, topic: str, snapshot: Mapping[str, Any], version: int, now: datetime
    ) -> None:
        """Bring seeds, counter-examples, applied feedback and threshold back to a snapshot."""
        keep = {("positive", h) for h in snapshot["positives"]} | {
            ("counter", h) for h in snapshot["counters"]
        }
        with self.transaction() as conn:
            for seed_id, kind, digest, removed in conn.execute(
                "SELECT id, kind, content_hash, removed_at FROM seeds WHERE topic = ?", [topic]
            ).fetchall():
                wanted = (kind, digest) in keep
                if wanted and removed is not None:
                    conn.execute("UPDATE seeds SET removed_at = NULL WHERE id = ?", [seed_id])
                elif not wanted and removed is None:
                    conn.execute(
                        "UPDATE seeds SET removed_at = ? WHERE id = ?", [_iso(now), seed_id]
                    )
            applied = list(snapshot.get("feedback", []))
            conn.execute(
                "UPDATE feedback SET applied_version = NULL WHERE match_id IN (SELECT id FROM matches WHERE topic = ?)",
                [topic],
            )
            if applied:
                marks = ",".join("?" * len(applied))
                conn.execute(
                    f"UPDATE feedback SET applied_version = ? WHERE match_id IN ({marks})",
                    [version, *applied],
                )
            conn.execute(
                "UPDATE topics SET threshold = ?, threshold_mode = ?, updated_at = ? WHERE name = ?",
                [snapshot["threshold"], snapshot["threshold_mode"], _iso(now), topic],
            )

    def set_threshold_mode(self, topic: str, mode: str, threshold: float, now: datetime) -> None:
        with self.transaction() as conn:
            cur = conn.execute(
                "UPDATE topics SET threshold_mode = ?, threshold = ?, updated_at = ? WHERE name = ?",
                [mode, threshold, _iso(now), topic],
            )
        if cur.rowcount == 0:
            raise NotFound(f"no topic {topic!r}")

    def feedback_votes(self, topic: str, *, applied_only: bool) -> list[tuple[int, int, int]]:
        """(match id, article id, net vote) of every alert of the topic that got feedback."""
        where = "AND f.applied_version IS NOT NULL" if applied_only else ""
        rows = self._conn.execute(
            f"""SELECT m.id, m.article_id, sum(f.vote) FROM feedback f
                JOIN matches m ON m.id = f.match_id WHERE m.topic = ? {where}
                GROUP BY m.id HAVING sum(f.vote) != 0 ORDER BY m.id""",
            [topic],
        ).fetchall()
        return [(int(a), int(b), int(c)) for a, b, c in rows]


def _version(r: dict[str, Any]) -> TopicVersion:
    return TopicVersion(
        topic=r["topic"],
        version=r["version"],
        reason=r["reason"],
        created_at=datetime.fromisoformat(r["created_at"]),
        snapshot=json.loads(r["snapshot"]),
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
