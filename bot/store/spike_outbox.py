"""The spike outbox: each activity spike alert stored once with its chart, and one row per
subscribed chat that is claimed, sent once and marked sent, retried after a failure like the
alert outbox's rows (bot/store/delivery.py)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from bot.core.errors import NotFound
from bot.core.records import RecentReport, SpikeAlert, SpikeDelivery
from bot.store.base import StoreBase, _iso

DUE_SPIKES = """SELECT o.id, o.spike_id, s.topic, o.channel_id, c.platform, c.chat_id,
        c.thread_id, o.attempts, EXISTS (SELECT 1 FROM subscriptions u
            WHERE u.channel_id = o.channel_id AND u.topic = s.topic AND u.status = 'active')
        AS subscribed
    FROM spike_outbox o JOIN spike_alerts s ON s.id = o.spike_id
    JOIN channels c ON c.id = o.channel_id"""


def reports_json(reports: Sequence[RecentReport]) -> str:
    return json.dumps(
        [
            {
                "match_id": r.match_id,
                "title": r.title,
                "url": r.url,
                "source": r.source,
                "published": r.published.isoformat(),
            }
            for r in reports
        ]
    )


def reports_of(text: str) -> tuple[RecentReport, ...]:
    return tuple(
        RecentReport(
            int(r["match_id"]),
            str(r["title"]),
            r["url"],
            r["source"],
            datetime.fromisoformat(r["published"]),
        )
        for r in json.loads(text)
    )


def spike_delivery(r: dict) -> SpikeDelivery:  # type: ignore[type-arg]
    return SpikeDelivery(
        id=int(r["id"]),
        spike_id=int(r["spike_id"]),
        topic=str(r["topic"]),
        channel_id=int(r["channel_id"]),
        platform=str(r["platform"]),
        chat_id=str(r["chat_id"]),
        thread_id=str(r["thread_id"]),
        attempts=int(r["attempts"]),
        subscribed=bool(r["subscribed"]),
    )


class SpikeOutboxPart(StoreBase):
    def queue_spike(
        self, alert: SpikeAlert, channel_ids: Sequence[int], *, not_since: datetime
    ) -> int | None:
        """Store the alert and queue it for each chat, in one transaction; None (and nothing
        written) when an alert of the same topic was queued after ``not_since``: the check and
        the write are one transaction, so two processes that see the same spike queue it once."""
        with self.transaction() as conn:
            if conn.execute(
                "SELECT 1 FROM spike_alerts WHERE topic = ? AND detected_at > ? LIMIT 1",
                [alert.topic, _iso(not_since)],
            ).fetchone():
                return None
            spike_id = conn.execute(
                """INSERT INTO spike_alerts (topic, detected_at, measure, count, median, z,
                   reports, chart_filename, chart) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                [
                    alert.topic,
                    _iso(alert.detected_at),
                    alert.measure,
                    alert.count,
                    alert.median,
                    alert.z,
                    reports_json(alert.reports),
                    alert.chart_filename,
                    alert.chart,
                ],
            ).lastrowid
            conn.executemany(
                """INSERT OR IGNORE INTO spike_outbox (spike_id, channel_id, next_attempt_at,
                   created_at) VALUES (?, ?, ?, ?)""",
                [(spike_id, c, _iso(alert.detected_at), _iso(alert.detected_at))
                 for c in channel_ids],
            )  # fmt: skip
        return int(spike_id)  # type: ignore[arg-type]

    def spike_alert(self, spike_id: int) -> SpikeAlert:
        rows = self._rows("SELECT * FROM spike_alerts WHERE id = ?", [spike_id])
        if not rows:
            raise NotFound(f"no spike alert {spike_id}")
        r = rows[0]
        return SpikeAlert(
            id=int(r["id"]),
            topic=r["topic"],
            detected_at=datetime.fromisoformat(r["detected_at"]),
            measure=r["measure"],
            count=int(r["count"]),
            median=float(r["median"]),
            z=float(r["z"]),
            reports=reports_of(r["reports"]),
            chart_filename=r["chart_filename"],
            chart=bytes(r["chart"]),
        )

    def due_spike_deliveries(
        self, now: datetime, *, platforms: Sequence[str], limit: int = 100
    ) -> list[SpikeDelivery]:
        """Pending rows whose next attempt is due, oldest first."""
        if not platforms:
            return []
        marks = ",".join("?" * len(platforms))
        rows = self._rows(
            f"""{DUE_SPIKES} WHERE o.status = 'pending' AND o.next_attempt_at <= ?
                AND c.platform IN ({marks}) ORDER BY o.id LIMIT ?""",
            [_iso(now), *platforms, limit],
        )
        return [spike_delivery(r) for r in rows]

    def claim_spike_delivery(self, delivery_id: int, *, now: datetime, until: datetime) -> bool:
        """Take a due row for one send: its next attempt moves to ``until`` (when a process
        that died mid-send is given up on), so no other process sends it meanwhile."""
        with self.transaction() as conn:
            claimed = conn.execute(
                """UPDATE spike_outbox SET next_attempt_at = ?, attempts = attempts + 1
                   WHERE id = ? AND status = 'pending' AND next_attempt_at <= ?""",
                [_iso(until), delivery_id, _iso(now)],
            ).rowcount
        return claimed == 1

    def mark_spike_sent(
        self, delivery_id: int, now: datetime, message_ref: str | None = None
    ) -> None:
        with self.transaction() as conn:
            conn.execute(
                """UPDATE spike_outbox SET status = 'sent', sent_at = ?, message_ref = ?
                   WHERE id = ? AND status = 'pending'""",
                [_iso(now), message_ref, delivery_id],
            )

    def mark_spike_retry(self, delivery_id: int, *, next_attempt_at: datetime, error: str) -> None:
        with self.transaction() as conn:
            conn.execute(
                """UPDATE spike_outbox SET next_attempt_at = ?, last_error = ?
                   WHERE id = ? AND status = 'pending'""",
                [_iso(next_attempt_at), error[:500], delivery_id],
            )

    def drop_spike_delivery(self, delivery_id: int, *, status: str, reason: str) -> None:
        """Not sent, for good: 'filtered' (the chat unsubscribed or turned spike alerts off)
        or 'undeliverable' (the chat is gone)."""
        with self.transaction() as conn:
            conn.execute(
                """UPDATE spike_outbox SET status = ?, last_error = ?
                   WHERE id = ? AND status = 'pending'""",
                [status, reason[:500], delivery_id],
            )

    def spike_outbox_counts(self) -> dict[str, int]:
        return {
            r[0]: r[1]
            for r in self._conn.execute("SELECT status, count(*) FROM spike_outbox GROUP BY status")
        }
