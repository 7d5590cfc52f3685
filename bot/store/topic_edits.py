"""Admin edits of topics made at run time (chat or CLI): add, remove, threshold, enable."""

from __future__ import annotations

from datetime import datetime

from bot.core.errors import BadArgument, NotFound
from bot.core.models import Topic
from bot.store.base import _iso
from bot.store.topics import TopicsPart


class TopicEditsPart(TopicsPart):
    def add_topic(self, topic: Topic, now: datetime) -> None:
        if not self.upsert_topic_default(topic, now):
            raise BadArgument(f"topic {topic.name!r} already exists")

    def remove_topic(self, name: str) -> None:
        """Delete a topic with its seeds and subscriptions; its past matches stay queryable."""
        with self.transaction() as conn:
            if conn.execute("DELETE FROM topics WHERE name = ?", [name]).rowcount == 0:
                raise NotFound(f"no topic {name!r}")
            conn.execute("DELETE FROM subscriptions WHERE topic = ?", [name])

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
                """UPDATE topics SET threshold = coalesce(?, threshold),
                   threshold_mode = CASE WHEN ? IS NULL THEN threshold_mode ELSE 'manual' END,
                   enabled = coalesce(?, enabled), description = coalesce(?, description),
                   updated_at = ? WHERE name = ?""",
                [
                    threshold,
                    threshold,
                    None if enabled is None else int(enabled),
                    description,
                    _iso(now),
                    name,
                ],
            )
            if cur.rowcount == 0:
                raise NotFound(f"no topic {name!r}")
