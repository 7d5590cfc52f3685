"""Channels, their settings and subscriptions, relevance feedback, and the durable outbox."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from bot.core.channels import Channel, ChannelKey, ChatSettings, Subscription, SubscriptionStatus
from bot.core.errors import NotFound
from bot.core.models import Match
from bot.core.records import OutboxEntry
from bot.store.base import _dt
from bot.store.channels import _channel
from bot.store.postgres.articles import PgArticlesPart
from bot.store.postgres.base import ts

MODE = "coalesce((c.settings::jsonb)->>'mode', 'instant')"


class PgChannelsPart(PgArticlesPart):
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
            row = conn.execute(
                """INSERT INTO channels (platform, chat_id, thread_id, title, created_at)
                   VALUES (%s,%s,%s,%s,%s) ON CONFLICT (platform, chat_id, thread_id)
                   DO UPDATE SET title = CASE WHEN coalesce(excluded.title, '') = ''
                       THEN channels.title ELSE excluded.title END
                   RETURNING id""",
                [platform, chat_id, thread_id, title, ts(now)],
            ).fetchone()
        assert row is not None
        return int(row[0])

    def channel_for(self, key: ChannelKey, now: datetime) -> Channel:
        return self.channel(
            self.ensure_channel(key.platform, key.chat_id, key.thread_id, key.title, now)
        )

    def channel(self, channel_id: int) -> Channel:
        rows = self._rows("SELECT * FROM channels WHERE id = %s", [channel_id])
        if not rows:
            raise NotFound(f"no channel with id {channel_id}")
        return _channel(rows[0])

    def digest_channels(self, platforms: Sequence[str]) -> list[Channel]:
        if not platforms:
            return []
        rows = self._rows(
            """SELECT * FROM channels c WHERE platform = ANY(%s)
               AND (c.settings::jsonb)->>'mode' = 'digest' ORDER BY id""",
            [list(platforms)],
        )
        return [_channel(r) for r in rows]

    def save_channel_settings(self, channel_id: int, settings: ChatSettings) -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE channels SET settings = %s WHERE id = %s",
                [json.dumps(settings.to_json()), channel_id],
            )

    # --- subscriptions ----------------------------------------------------------------------
    def subscribe(self, channel_id: int, topics: Sequence[str], now: datetime) -> None:
        with self.transaction() as conn, conn.cursor() as cur:
            cur.executemany(
                """INSERT INTO subscriptions (channel_id, topic, created_at) VALUES (%s,%s,%s)
                   ON CONFLICT (channel_id, topic)
                   DO UPDATE SET status = 'active', paused_reason = NULL""",
                [(channel_id, t, ts(now)) for t in topics],
            )

    def unsubscribe(self, channel_id: int, topics: Sequence[str]) -> int:
        """Remove subscriptions; pending alerts of those topics to this channel are dropped too."""
        with self.transaction() as conn:
            removed = 0
            for topic in topics:
                removed += conn.execute(
                    "DELETE FROM subscriptions WHERE channel_id = %s AND topic = %s",
                    [channel_id, topic],
                ).rowcount
                conn.execute(
                    """UPDATE outbox SET status = 'dropped', last_error = 'unsubscribed'
                       WHERE channel_id = %s AND status = 'pending'
                       AND match_id IN (SELECT id FROM matches WHERE topic = %s)""",
                    [channel_id, topic],
                )
        return removed

    def subscriptions(self, channel_id: int) -> list[Subscription]:
        rows = self._rows(
            'SELECT * FROM subscriptions WHERE channel_id = %s ORDER BY topic COLLATE "C"',
            [channel_id],
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
        """The chat is gone or blocked us: pause its subscriptions, drop its pending alerts."""
        with self.transaction() as conn:
            paused = conn.execute(
                """UPDATE subscriptions SET status = 'paused', paused_reason = %s
                   WHERE channel_id = %s AND status = 'active'""",
                [reason[:300], channel_id],
            ).rowcount
            conn.execute(
                """UPDATE outbox SET status = 'undeliverable', last_error = %s
                   WHERE channel_id = %s AND status IN ('pending', 'sending')""",
                [reason[:500], channel_id],
            )
        return paused

    def count_subscriptions(self) -> dict[str, int]:
        return dict(self._all("SELECT status, count(*) FROM subscriptions GROUP BY status"))

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
                   VALUES (%s,%s,%s,%s,%s,%s) ON CONFLICT (match_id, platform, user_id)
                   DO UPDATE SET vote = excluded.vote, created_at = excluded.created_at,
                                 reason = excluded.reason, applied_version = NULL""",
                [match_id, platform, user_id, vote, ts(now), reason],
            )

    def feedback_reasons(self, match_id: int) -> dict[str, int]:
        """How many 👎 on one alert gave each reason."""
        rows = self._rows(
            """SELECT reason, count(*) AS n FROM feedback
               WHERE match_id = %s AND vote = -1 AND reason IS NOT NULL GROUP BY reason""",
            [match_id],
        )
        return {str(r["reason"]): int(r["n"]) for r in rows}

    def feedback_counts(self, match_id: int) -> tuple[int, int]:
        """(up votes, down votes) for one alert."""
        row = self._one(
            """SELECT count(*) FILTER (WHERE vote = 1), count(*) FILTER (WHERE vote = -1)
               FROM feedback WHERE match_id = %s""",
            [match_id],
        )
        return (int(row[0]), int(row[1])) if row else (0, 0)


class PgDeliveryPart(PgChannelsPart):
    def due_outbox(
        self,
        now: datetime,
        *,
        platforms: Sequence[str],
        limit: int = 100,
        skip_channels: Sequence[int] = (),
    ) -> list[OutboxEntry]:
        """Pending rows of instant-mode channels that are due, oldest first; a row waits while
        an older pending row of its channel waits for a retry (order per chat holds)."""
        if not platforms:
            return []
        rows = self._rows(
            f"""SELECT o.id, o.match_id, o.channel_id, o.attempts, c.platform, c.chat_id,
                c.thread_id FROM outbox o JOIN channels c ON c.id = o.channel_id
                WHERE o.status = 'pending' AND o.next_attempt_at <= %(now)s
                AND c.platform = ANY(%(platforms)s) AND {MODE} = 'instant'
                AND NOT (o.channel_id = ANY(%(skip)s))
                AND NOT EXISTS (SELECT 1 FROM outbox w WHERE w.channel_id = o.channel_id
                    AND w.id < o.id AND (w.status = 'sending'
                        OR (w.status = 'pending' AND w.next_attempt_at > %(now)s)))
                ORDER BY o.id LIMIT %(limit)s""",
            {
                "now": ts(now),
                "platforms": list(platforms),
                "skip": [int(c) for c in skip_channels],
                "limit": limit,
            },
        )
        return [self._entry(r) for r in rows]

    def pending_for_channel(self, channel_id: int) -> list[OutboxEntry]:
        rows = self._rows(
            """SELECT o.id, o.match_id, o.channel_id, o.attempts, o.attempt_id, o.created_at,
               c.platform, c.chat_id, c.thread_id FROM outbox o JOIN channels c ON c.id = o.channel_id
               WHERE o.status IN ('pending', 'sending') AND o.channel_id = %s
               ORDER BY o.id""",
            [channel_id],
        )
        return [self._entry(r) for r in rows]

    def _entry(self, r: dict[str, Any]) -> OutboxEntry:
        return OutboxEntry(
            id=r["id"],
            match=self.match(r["match_id"]),
            channel_id=r["channel_id"],
            platform=r["platform"],
            chat_id=r["chat_id"],
            thread_id=r["thread_id"],
            attempts=r["attempts"],
            attempt_id=r.get("attempt_id"),
            queued_at=_dt(r.get("created_at")),
        )

    def mark_sent(self, outbox_id: int, now: datetime, message_ref: str | None = None) -> None:
        self.mark_many_sent([outbox_id], now, message_ref)

    def mark_many_sent(
        self, outbox_ids: Sequence[int], now: datetime, message_ref: str | None = None
    ) -> None:
        with self.transaction() as conn:
            conn.execute(
                """UPDATE outbox SET status = 'sent', sent_at = %s, message_ref = %s,
                   attempts = attempts + 1 WHERE id = ANY(%s)
                   AND status IN ('pending', 'sending')""",
                [ts(now), message_ref, [int(i) for i in outbox_ids]],
            )

    def mark_filtered(self, outbox_id: int, reason: str) -> None:
        """Not sent on purpose (e.g. below the chat's minimum score)."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE outbox SET status = 'filtered', last_error = %s WHERE id = %s",
                [reason[:500], outbox_id],
            )

    def mark_retry(self, outbox_id: int, *, next_attempt_at: datetime, error: str) -> None:
        with self.transaction() as conn:
            conn.execute(
                """UPDATE outbox SET attempts = attempts + 1, next_attempt_at = %s,
                   last_error = %s,
                   status = CASE status WHEN 'sending' THEN 'pending' ELSE status END
                   WHERE id = %s""",
                [ts(next_attempt_at), error[:500], outbox_id],
            )

    def story_root(
        self, channel_id: int, story_id: int, *, before_match: int
    ) -> tuple[int, str] | None:
        """The first alert of a story sent to this channel: (match id, message ref)."""
        row = self._one(
            """SELECT o.match_id, o.message_ref FROM outbox o
               JOIN matches m ON m.id = o.match_id JOIN articles a ON a.id = m.article_id
               WHERE o.channel_id = %s AND a.story_id = %s AND o.status = 'sent'
               AND o.message_ref IS NOT NULL AND o.match_id != %s
               ORDER BY o.sent_at, o.id LIMIT 1""",
            [channel_id, story_id, before_match],
        )
        return (int(row[0]), str(row[1])) if row else None

    def story_reports_sent(self, channel_id: int, message_ref: str) -> list[Match]:
        """Every alert shown in one message (the first report and the ones folded into it)."""
        rows = self._all(
            """SELECT match_id FROM outbox WHERE channel_id = %s AND message_ref = %s
               AND status = 'sent' ORDER BY id""",
            [channel_id, message_ref],
        )
        return [self.match(r[0]) for r in rows]

    def outbox_rows_by_platform(self, match_ids: Sequence[int]) -> dict[str, int]:
        if not match_ids:
            return {}
        return dict(
            self._all(
                """SELECT c.platform, count(*) FROM outbox o JOIN channels c ON c.id = o.channel_id
                   WHERE o.match_id = ANY(%s) GROUP BY c.platform""",
                [list(match_ids)],
            )
        )

    def outbox_counts(self) -> dict[str, int]:
        return dict(self._all("SELECT status, count(*) FROM outbox GROUP BY status"))
