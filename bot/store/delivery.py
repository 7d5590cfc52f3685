"""Channels, subscriptions and the durable outbox."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from bot.store.articles import ArticlesPart
from bot.store.base import _iso
from bot.store.records import OutboxEntry


class DeliveryPart(ArticlesPart):
    # --- channels, subscriptions, outbox ------------------------------------------------------
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
            row = conn.execute(
                "SELECT id FROM channels WHERE platform = ? AND chat_id = ? AND thread_id = ?",
                [platform, chat_id, thread_id],
            ).fetchone()
        return int(row[0])

    def subscribe(self, channel_id: int, topics: Sequence[str], now: datetime) -> None:
        with self.transaction() as conn:
            conn.executemany(
                """INSERT INTO subscriptions (channel_id, topic, created_at) VALUES (?,?,?)
                   ON CONFLICT (channel_id, topic) DO UPDATE SET status = 'active', paused_reason = NULL""",
                [(channel_id, t, _iso(now)) for t in topics],
            )

    def due_outbox(
        self, now: datetime, *, platforms: Sequence[str], limit: int = 100
    ) -> list[OutboxEntry]:
        if not platforms:
            return []
        marks = ",".join("?" * len(platforms))
        rows = self._rows(
            f"""SELECT o.id, o.match_id, o.channel_id, o.attempts, c.platform, c.chat_id, c.thread_id
                FROM outbox o JOIN channels c ON c.id = o.channel_id
                WHERE o.status = 'pending' AND o.next_attempt_at <= ? AND c.platform IN ({marks})
                ORDER BY o.id LIMIT ?""",
            [_iso(now), *platforms, limit],
        )
        return [
            OutboxEntry(
                id=r["id"],
                match=self.match(r["match_id"]),
                channel_id=r["channel_id"],
                platform=r["platform"],
                chat_id=r["chat_id"],
                thread_id=r["thread_id"],
                attempts=r["attempts"],
            )
            for r in rows
        ]

    def mark_sent(self, outbox_id: int, now: datetime, message_ref: str | None = None) -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE outbox SET status = 'sent', sent_at = ?, message_ref = ?, attempts = attempts + 1 WHERE id = ?",
                [_iso(now), message_ref, outbox_id],
            )

    def mark_retry(self, outbox_id: int, *, next_attempt_at: datetime, error: str) -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE id = ?",
                [_iso(next_attempt_at), error[:500], outbox_id],
            )

    def outbox_rows_for(self, match_id: int) -> int:
        return int(
            self._conn.execute(
                "SELECT count(*) FROM outbox WHERE match_id = ?", [match_id]
            ).fetchone()[0]
        )

    def outbox_counts(self) -> dict[str, int]:
        return {
            r[0]: r[1]
            for r in self._conn.execute("SELECT status, count(*) FROM outbox GROUP BY status")
        }
