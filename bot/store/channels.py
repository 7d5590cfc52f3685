"""Channels (chats that receive alerts), their settings and subscriptions, and relevance feedback."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from bot.core.channels import Channel, ChannelKey, ChatSettings, Subscription, SubscriptionStatus
from bot.core.errors import NotFound
from bot.store.base import StoreBase, _iso


class ChannelsPart(StoreBase):
    # --- channels ---------------------------------------------------------------------------
    def ensure_channel(
        self,
        platform: str,
        chat_id: str,
        thread_id: str = "",
        title: str | None = None,
        now: datetime | None = None,
    ) -> int:
        now = now or datetime.now(UTC)
        with self.transaction() as conn:
            conn.execute(
                """INSERT OR IGNORE INTO channels (platform, chat_id, thread_id, title, created_at)
                   VALUES (?,?,?,?,?)""",
                [platform, chat_id, thread_id, title, _iso(now)],
            )
            if title:
                conn.execute(
                    "UPDATE channels SET title = ? WHERE platform = ? AND chat_id = ? AND thread_id = ?",
                    [title, platform, chat_id, thread_id],
                )
            row = conn.execute(
                "SELECT id FROM channels WHERE platform = ? AND chat_id = ? AND thread_id = ?",
                [platform, chat_id, thread_id],
            ).fetchone()
        return int(row[0])

    def channel_for(self, key: ChannelKey, now: datetime) -> Channel:
        return self.channel(
            self.ensure_channel(key.platform, key.chat_id, key.thread_id, key.title, now)
        )

    def channel(self, channel_id: int) -> Channel:
        rows = self._rows("SELECT * FROM channels WHERE id = ?", [channel_id])
        if not rows:
            raise NotFound(f"no channel with id {channel_id}")
        return _channel(rows[0])

    def digest_channels(self, platforms: Sequence[str]) -> list[Channel]:
        if not platforms:
            return []
        marks = ",".join("?" * len(platforms))
        rows = self._rows(
            f"""SELECT * FROM channels WHERE platform IN ({marks})
                AND json_extract(settings, '$.mode') = 'digest' ORDER BY id""",
            list(platforms),
        )
        return [_channel(r) for r in rows]

    def save_channel_settings(self, channel_id: int, settings: ChatSettings) -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE channels SET settings = ? WHERE id = ?",
                [json.dumps(settings.to_json()), channel_id],
            )

    # --- subscriptions ----------------------------------------------------------------------
    def subscribe(self, channel_id: int, topics: Sequence[str], now: datetime) -> None:
        with self.transaction() as conn:
            conn.executemany(
                """INSERT INTO subscriptions (channel_id, topic, created_at) VALUES (?,?,?)
                   ON CONFLICT (channel_id, topic) DO UPDATE SET status = 'active', paused_reason = NULL""",
                [(channel_id, t, _iso(now)) for t in topics],
            )

    def unsubscribe(self, channel_id: int, topics: Sequence[str]) -> int:
        """Remove subscriptions; pending alerts of those topics to this channel are dropped too."""
        with self.transaction() as conn:
            removed = 0
            for topic in topics:
                removed += conn.execute(
                    "DELETE FROM subscriptions WHERE channel_id = ? AND topic = ?",
                    [channel_id, topic],
                ).rowcount
                conn.execute(
                    """UPDATE outbox SET status = 'dropped', last_error = 'unsubscribed'
                       WHERE channel_id = ? AND status = 'pending'
                       AND match_id IN (SELECT id FROM matches WHERE topic = ?)""",
                    [channel_id, topic],
                )
        return removed

    def subscriptions(self, channel_id: int) -> list[Subscription]:
        rows = self._rows(
            "SELECT * FROM subscriptions WHERE channel_id = ? ORDER BY topic", [channel_id]
        )
        return [
            Subscription(
                channel_id=r["channel_id"],
                topic=r["topic"],
                status=SubscriptionStatus(r["status"]),
                paused_reason=r["paused_reason"],
            )
            for r in rows
        ]

    def pause_channel(self, channel_id: int, reason: str) -> int:
        """The chat is gone or blocked us: pause its subscriptions and drop its pending alerts
        (they cannot be delivered; a later /subscribe starts afresh)."""
        with self.transaction() as conn:
            paused = conn.execute(
                """UPDATE subscriptions SET status = 'paused', paused_reason = ?
                   WHERE channel_id = ? AND status = 'active'""",
                [reason[:300], channel_id],
            ).rowcount
            conn.execute(
                """UPDATE outbox SET status = 'undeliverable', last_error = ?
                   WHERE channel_id = ? AND status IN ('pending', 'sending')""",
                [reason[:500], channel_id],
            )
        return paused

    def count_subscriptions(self) -> dict[str, int]:
        return {
            r[0]: r[1]
            for r in self._conn.execute(
                "SELECT status, count(*) FROM subscriptions GROUP BY status"
            )
        }

    # --- feedback ---------------------------------------------------------------------------
    def record_feedback(
        self,
        match_id: int,
        platform: str,
        user_id: str,
        vote: int,
        now: datetime,
        *,
        reason: str | None = None,
    ) -> None:
        """One vote per user per alert: a second vote replaces the first (and its reason)."""
        with self.transaction() as conn:
            conn.execute(
                """INSERT INTO feedback (match_id, platform, user_id, vote, created_at, reason)
                   VALUES (?,?,?,?,?,?)
                   ON CONFLICT (match_id, platform, user_id)
                   DO UPDATE SET vote = excluded.vote, created_at = excluded.created_at,
                                 reason = excluded.reason, applied_version = NULL""",
                [match_id, platform, user_id, vote, _iso(now), reason],
            )

    def feedback_reasons(self, match_id: int) -> dict[str, int]:
        """How many 👎 on one alert gave each reason."""
        rows = self._conn.execute(
            """SELECT reason, count(*) FROM feedback
               WHERE match_id = ? AND vote = -1 AND reason IS NOT NULL GROUP BY reason""",
            [match_id],
        )
        return {str(r[0]): int(r[1]) for r in rows}

    def feedback_counts(self, match_id: int) -> tuple[int, int]:
        """(up votes, down votes) for one alert."""
        row = self._conn.execute(
            """SELECT coalesce(sum(vote = 1), 0), coalesce(sum(vote = -1), 0)
               FROM feedback WHERE match_id = ?""",
            [match_id],
        ).fetchone()
        return int(row[0]), int(row[1])


def _channel(r: dict[str, Any]) -> Channel:
    return Channel(
        id=r["id"],
        platform=r["platform"],
        chat_id=r["chat_id"],
        thread_id=r["thread_id"],
        title=r["title"],
        settings=ChatSettings.from_json(json.loads(r["settings"] or "{}")),
    )
