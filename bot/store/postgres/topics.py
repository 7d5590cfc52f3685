"""Topics, seeds and counter-examples, the seed vector cache, versions and feedback votes."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np

from bot.core.errors import NotFound
from bot.core.facets import Facet, facets_from_json, facets_to_json
from bot.core.models import Seed, Topic, TopicVersion
from bot.store.base import _blob
from bot.store.postgres.base import PgBase, ts
from bot.store.topics import _seed, _version


class PgTopicsPart(PgBase):
    def upsert_topic_default(self, topic: Topic, now: datetime) -> bool:
        """Insert a topic from config unless it exists (admins' edits in the database win)."""
        with self.transaction() as conn:
            cur = conn.execute(
                """INSERT INTO topics (name, description, threshold, enabled, threshold_mode,
                   facets, created_at, updated_at) VALUES (%s,%s,%s,%s,%s,%s,%s,%s)
                   ON CONFLICT (name) DO NOTHING""",
                [
                    topic.name,
                    topic.description,
                    topic.threshold,
                    topic.enabled,
                    topic.threshold_mode,
                    json.dumps(facets_to_json(topic.facets)),
                    ts(now),
                    ts(now),
                ],
            )
            return cur.rowcount > 0

    def set_config_facets(self, topic: str, facets: Sequence[Facet], now: datetime) -> bool:
        """Give a topic the facets its config defines; True when they changed."""
        encoded = json.dumps(facets_to_json(facets))
        with self.transaction() as conn:
            cur = conn.execute(
                "UPDATE topics SET facets = %s, updated_at = %s WHERE name = %s AND facets != %s",
                [encoded, ts(now), topic, encoded],
            )
            return cur.rowcount > 0

    def topics(self, *, enabled_only: bool = False) -> list[Topic]:
        where = "WHERE enabled" if enabled_only else ""
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
            for r in self._rows(f'SELECT * FROM topics {where} ORDER BY name COLLATE "C"')
        ]

    def topic(self, name: str) -> Topic:
        for topic in self.topics():
            if topic.name == name:
                return topic
        raise NotFound(f"no topic {name!r}")

    def add_seed(self, seed: Seed, now: datetime, *, revive: bool) -> tuple[Seed, bool]:
        """Add a seed unless the same text is already a seed of the topic; a removed one comes
        back only on an explicit add (revive)."""
        with self.transaction() as conn:
            row = conn.execute(
                """INSERT INTO seeds (topic, kind, title, text, content_hash, origin, created_at)
                   VALUES (%s,%s,%s,%s,%s,%s,%s)
                   ON CONFLICT (topic, kind, content_hash) DO NOTHING RETURNING id""",
                [
                    seed.topic,
                    seed.kind,
                    seed.title,
                    seed.text,
                    seed.content_hash,
                    seed.origin,
                    ts(now),
                ],
            ).fetchone()
            if row is not None:
                seed_id, created = int(row[0]), True
            else:
                found = conn.execute(
                    """SELECT id, removed_at FROM seeds
                       WHERE topic = %s AND kind = %s AND content_hash = %s FOR UPDATE""",
                    [seed.topic, seed.kind, seed.content_hash],
                ).fetchone()
                assert found is not None  # the conflict was with this row
                seed_id, created = int(found[0]), False
                if found[1] is not None and revive:
                    conn.execute("UPDATE seeds SET removed_at = NULL WHERE id = %s", [seed_id])
                    created = True
        return self.seed(seed_id), created

    def seed(self, seed_id: int) -> Seed:
        rows = self._rows("SELECT * FROM seeds WHERE id = %s", [seed_id])
        if not rows:
            raise NotFound(f"no seed with id {seed_id}")
        return _seed(rows[0])

    def seeds(self, topic: str | None = None, *, kind: str | None = None) -> list[Seed]:
        sql, params = "SELECT * FROM seeds WHERE removed_at IS NULL", []
        if topic:
            sql, params = sql + " AND topic = %s", [topic]
        if kind:
            sql, params = sql + " AND kind = %s", [*params, kind]
        return [_seed(r) for r in self._rows(sql + ' ORDER BY topic COLLATE "C", id', params)]

    def live_seed_ids(self) -> dict[str, tuple[int, ...]]:
        """Each topic's seeds in use (positive and counter), by id (the store protocol's
        operation of that name)."""
        rows = self._all(
            'SELECT topic, id FROM seeds WHERE removed_at IS NULL ORDER BY topic COLLATE "C", id'
        )
        out: dict[str, list[int]] = {}
        for topic, seed_id in rows:
            out.setdefault(topic, []).append(int(seed_id))
        return {topic: tuple(ids) for topic, ids in out.items()}

    def remove_seed(self, seed_id: int, now: datetime) -> None:
        with self.transaction() as conn:
            cur = conn.execute(
                "UPDATE seeds SET removed_at = %s WHERE id = %s AND removed_at IS NULL",
                [ts(now), seed_id],
            )
            if cur.rowcount == 0:
                raise NotFound(f"no seed with id {seed_id}")

    def cached_seed_chunks(
        self, content_hash: str, model: str
    ) -> tuple[list[str], np.ndarray] | None:
        rows = self._all(
            """SELECT passage, vector FROM seed_chunks WHERE content_hash = %s AND model = %s
               ORDER BY chunk""",
            [content_hash, model],
        )
        if not rows:
            return None
        return [r[0] for r in rows], np.vstack([np.frombuffer(r[1], np.float32) for r in rows])

    def cache_seed_chunks(
        self, content_hash: str, model: str, passages: Sequence[str], vectors: np.ndarray
    ) -> None:
        with self.transaction() as conn, conn.cursor() as cur:
            cur.executemany(
                """INSERT INTO seed_chunks (content_hash, model, chunk, passage, vector)
                   VALUES (%s,%s,%s,%s,%s) ON CONFLICT (content_hash, model, chunk)
                   DO UPDATE SET passage = excluded.passage, vector = excluded.vector""",
                [
                    (content_hash, model, i, p, _blob(v))
                    for i, (p, v) in enumerate(zip(passages, vectors, strict=True))
                ],
            )

    # --- versions -------------------------------------------------------------------------------
    def topic_versions(self, topic: str) -> list[TopicVersion]:
        rows = self._rows(
            "SELECT * FROM topic_versions WHERE topic = %s ORDER BY version DESC", [topic]
        )
        return [_version(r) for r in rows]

    def topic_version(self, topic: str, version: int) -> TopicVersion:
        rows = self._rows(
            "SELECT * FROM topic_versions WHERE topic = %s AND version = %s", [topic, version]
        )
        if not rows:
            raise NotFound(f"topic {topic!r} has no version {version}")
        return _version(rows[0])

    def save_topic_version(
        self, topic: str, reason: str, snapshot: dict[str, Any], now: datetime, *, threshold: float
    ) -> int:
        """Record a new version, make it active, and set its threshold, in one transaction. The
        topic's row is locked first, so two processes cannot take the same number."""
        with self.transaction() as conn:
            conn.execute("SELECT 1 FROM topics WHERE name = %s FOR UPDATE", [topic])
            row = conn.execute(
                "SELECT coalesce(max(version), 0) + 1 FROM topic_versions WHERE topic = %s",
                [topic],
            ).fetchone()
            version = int(row[0]) if row else 1
            conn.execute(
                """INSERT INTO topic_versions (topic, version, reason, snapshot, created_at)
                   VALUES (%s,%s,%s,%s,%s)""",
                [topic, version, reason, json.dumps(snapshot), ts(now)],
            )
            conn.execute(
                """UPDATE topics SET active_version = %s, threshold = %s, updated_at = %s
                   WHERE name = %s""",
                [version, threshold, ts(now), topic],
            )
        return version

    def mark_feedback_applied(self, match_ids: Sequence[int], *, version: int) -> None:
        if not match_ids:
            return
        with self.transaction() as conn:
            conn.execute(
                """UPDATE feedback SET applied_version = %s
                   WHERE applied_version IS NULL AND match_id = ANY(%s)""",
                [version, list(match_ids)],
            )

    def restore_topic(
        self, topic: str, snapshot: Mapping[str, Any], version: int, now: datetime
    ) -> None:
        """Bring seeds, counter-examples, applied feedback and threshold back to a snapshot."""
        keep = {("positive", h) for h in snapshot["positives"]} | {
            ("counter", h) for h in snapshot["counters"]
        }
        with self.transaction() as conn:
            seeds = conn.execute(
                "SELECT id, kind, content_hash, removed_at FROM seeds WHERE topic = %s", [topic]
            ).fetchall()
            for seed_id, kind, digest, removed in seeds:
                wanted = (kind, digest) in keep
                if wanted and removed is not None:
                    conn.execute("UPDATE seeds SET removed_at = NULL WHERE id = %s", [seed_id])
                elif not wanted and removed is None:
                    conn.execute(
                        "UPDATE seeds SET removed_at = %s WHERE id = %s", [ts(now), seed_id]
                    )
            conn.execute(
                """UPDATE feedback SET applied_version = NULL
                   WHERE match_id IN (SELECT id FROM matches WHERE topic = %s)""",
                [topic],
            )
            applied = list(snapshot.get("feedback", []))
            if applied:
                conn.execute(
                    "UPDATE feedback SET applied_version = %s WHERE match_id = ANY(%s)",
                    [version, applied],
                )
            conn.execute(
                """UPDATE topics SET threshold = %s, threshold_mode = %s, updated_at = %s
                   WHERE name = %s""",
                [snapshot["threshold"], snapshot["threshold_mode"], ts(now), topic],
            )

    def set_threshold_mode(self, topic: str, mode: str, threshold: float, now: datetime) -> None:
        with self.transaction() as conn:
            cur = conn.execute(
                """UPDATE topics SET threshold_mode = %s, threshold = %s, updated_at = %s
                   WHERE name = %s""",
                [mode, threshold, ts(now), topic],
            )
            if cur.rowcount == 0:
                raise NotFound(f"no topic {topic!r}")

    def feedback_votes(self, topic: str, *, applied_only: bool) -> list[tuple[int, int, int]]:
        """(match id, article id, net vote) of every alert of the topic that got feedback."""
        where = "AND f.applied_version IS NOT NULL" if applied_only else ""
        rows = self._all(
            f"""SELECT m.id, m.article_id, sum(f.vote) FROM feedback f
                JOIN matches m ON m.id = f.match_id WHERE m.topic = %s {where}
                GROUP BY m.id HAVING sum(f.vote) != 0 ORDER BY m.id""",
            [topic],
        )
        return [(int(a), int(b), int(c)) for a, b, c in rows]

    # --- admin edits --------------------------------------------------------------------------
    def add_topic(self, topic: Topic, now: datetime) -> None:
        from bot.core.errors import BadArgument

        if not self.upsert_topic_default(topic, now):
            raise BadArgument(f"topic {topic.name!r} already exists")

    def remove_topic(self, name: str) -> None:
        """Delete a topic with its seeds and subscriptions; its past matches stay queryable."""
        with self.transaction() as conn:
            if conn.execute("DELETE FROM topics WHERE name = %s", [name]).rowcount == 0:
                raise NotFound(f"no topic {name!r}")
            conn.execute("DELETE FROM subscriptions WHERE topic = %s", [name])

    def update_topic(
        self,
        name: str,
        now: datetime,
        *,
        threshold: float | None = None,
        enabled: bool | None = None,
        description: str | None = None,
    ) -> None:
        with self.transaction() as conn:
            cur = conn.execute(
                """UPDATE topics SET threshold = coalesce(%s, threshold),
                   threshold_mode = CASE WHEN %s::float8 IS NULL THEN threshold_mode
                       ELSE 'manual' END,
                   enabled = coalesce(%s, enabled), description = coalesce(%s, description),
                   updated_at = %s WHERE name = %s""",
                [threshold, threshold, enabled, description, ts(now), name],
            )
            if cur.rowcount == 0:
                raise NotFound(f"no topic {name!r}")
