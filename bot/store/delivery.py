"""The durable outbox: one row per (match, channel), marked sent exactly once."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.core.models import Match
from bot.core.records import OutboxEntry
from bot.store.articles import ArticlesPart
from bot.store.base import _dt, _iso
from bot.store.channels import ChannelsPart

INSTANT = "coalesce(json_extract(c.settings, '$.mode'), 'instant') = 'instant'"


class DeliveryPart(ChannelsPart, ArticlesPart):
    def due_outbox(
        self,
        now: datetime,
        *,
        platforms: Sequence[str],
        limit: int = 100,
        skip_channels: Sequence[int] = (),
    ) -> list[OutboxEntry]:
        """Pending rows of instant-mode channels that are due, oldest first (digest-mode
        channels are collected by ``pending_for_channel`` at their digest hour). A row waits
        while an older pending row of its channel is waiting for a retry, so a chat receives
        its alerts in the order they were created, however long an outage lasts, and while an
        older row is being sent. (The deliverer takes rows through chat claims instead:
        bot/store/chat_claims.py.)"""
        if not platforms:
            return []
        marks = ",".join("?" * len(platforms))
        skip = ",".join("?" * len(skip_channels))
        skip_sql = f"AND o.channel_id NOT IN ({skip})" if skip_channels else ""
        rows = self._rows(
            f"""SELECT o.id, o.match_id, o.channel_id, o.attempts, c.platform, c.chat_id, c.thread_id
                FROM outbox o JOIN channels c ON c.id = o.channel_id
                WHERE o.status = 'pending' AND o.next_attempt_at <= ? AND c.platform IN ({marks})
                AND {INSTANT} {skip_sql}
                AND NOT EXISTS (SELECT 1 FROM outbox w WHERE w.channel_id = o.channel_id
                    AND w.id < o.id AND (w.status = 'sending'
                        OR (w.status = 'pending' AND w.next_attempt_at > ?)))
                ORDER BY o.id LIMIT ?""",
            [_iso(now), *platforms, *skip_channels, _iso(now), limit],
        )
        return [self._entry(r) for r in rows]

    def pending_for_channel(self, channel_id: int) -> list[OutboxEntry]:
        """Every row of the channel not yet sent (a digest's), with those a digest left
        'sending' when its sender stopped: whoever holds the chat's claim sends them."""
        rows = self._rows(
            """SELECT o.id, o.match_id, o.channel_id, o.attempts, o.attempt_id, o.created_at,
               c.platform, c.chat_id, c.thread_id FROM outbox o JOIN channels c ON c.id = o.channel_id
               WHERE o.status IN ('pending', 'sending') AND o.channel_id = ? ORDER BY o.id""",
            [channel_id],
        )
        return [self._entry(r) for r in rows]

    def _entry(self, r: dict) -> OutboxEntry:  # type: ignore[type-arg]
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
            conn.executemany(
                """UPDATE outbox SET status = 'sent', sent_at = ?, message_ref = ?,
                   attempts = attempts + 1 WHERE id = ? AND status IN ('pending', 'sending')""",
                [(_iso(now), message_ref, i) for i in outbox_ids],
            )

    def mark_filtered(self, outbox_id: int, reason: str) -> None:
        """Not sent on purpose (e.g. below the chat's minimum score)."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE outbox SET status = 'filtered', last_error = ? WHERE id = ?",
                [reason[:500], outbox_id],
            )

    def mark_retry(self, outbox_id: int, *, next_attempt_at: datetime, error: str) -> None:
        """The send failed: pending again, tried at ``next_attempt_at`` (its attempt id stays,
        so a platform that can look sends up checks first that the failed one did not land)."""
        with self.transaction() as conn:
            conn.execute(
                """UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ?,
                   status = CASE status WHEN 'sending' THEN 'pending' ELSE status END
                   WHERE id = ?""",
                [_iso(next_attempt_at), error[:500], outbox_id],
            )

    # --- story threading --------------------------------------------------------------------
    def story_root(
        self, channel_id: int, story_id: int, *, before_match: int
    ) -> tuple[int, str] | None:
        """The first alert of a story that was sent to this channel: (match id, message ref).
        A later report of the same story replies to it, or is folded into it."""
        row = self._conn.execute(
            """SELECT o.match_id, o.message_ref FROM outbox o
               JOIN matches m ON m.id = o.match_id JOIN articles a ON a.id = m.article_id
               WHERE o.channel_id = ? AND a.story_id = ? AND o.status = 'sent'
               AND o.message_ref IS NOT NULL AND o.match_id != ?
               ORDER BY o.sent_at, o.id LIMIT 1""",
            [channel_id, story_id, before_match],
        ).fetchone()
        return (int(row[0]), str(row[1])) if row else None

    def story_reports_sent(self, channel_id: int, message_ref: str) -> list[Match]:
        """Every alert shown in one message (the first report and the ones folded into it)."""
        ids = [
            r[0]
            for r in self._conn.execute(
                """SELECT match_id FROM outbox WHERE channel_id = ? AND message_ref = ?
                   AND status = 'sent' ORDER BY id""",
                [channel_id, message_ref],
            )
        ]
        return [self.match(i) for i in ids]

    # --- counts -----------------------------------------------------------------------------
    def outbox_rows_by_platform(self, match_ids: Sequence[int]) -> dict[str, int]:
        """Outbox rows of these matches (the alerts they queued), by the chat's platform."""
        if not match_ids:
            return {}
        marks = ",".join("?" * len(match_ids))
        return {
            r[0]: r[1]
            for r in self._conn.execute(
                f"""SELECT c.platform, count(*) FROM outbox o JOIN channels c ON c.id = o.channel_id
                    WHERE o.match_id IN ({marks}) GROUP BY c.platform""",
                list(match_ids),
            )
        }

    def outbox_counts(self) -> dict[str, int]:
        return {
            r[0]: r[1]
            for r in self._conn.execute("SELECT status, count(*) FROM outbox GROUP BY status")
        }
