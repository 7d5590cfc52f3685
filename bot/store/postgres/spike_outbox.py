"""The spike outbox on PostgreSQL: the same operations as the SQLite part
(bot/store/spike_outbox.py). Queueing takes a transaction-scoped advisory lock per topic, so
processes that see the same spike at once queue it once."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.core.errors import NotFound
from bot.core.records import SpikeAlert, SpikeDelivery
from bot.store.postgres.base import PgBase, ts
from bot.store.spike_outbox import DUE_SPIKES, reports_json, reports_of, spike_delivery

SPIKE_LOCK = 0x7477737069  # the seed of the per-topic advisory lock's key ("twspi")


class PgSpikeOutboxPart(PgBase):
    def queue_spike(
        self, alert: SpikeAlert, channel_ids: Sequence[int], *, not_since: datetime
    ) -> int | None:
        with self.transaction() as conn:
            conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, %s))", [alert.topic, SPIKE_LOCK]
            )
            if conn.execute(
                "SELECT 1 FROM spike_alerts WHERE topic = %s AND detected_at > %s LIMIT 1",
                [alert.topic, ts(not_since)],
            ).fetchone():
                return None
            row = conn.execute(
                """INSERT INTO spike_alerts (topic, detected_at, measure, count, median, z,
                   reports, chart_filename, chart)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id""",
                [
                    alert.topic,
                    ts(alert.detected_at),
                    alert.measure,
                    alert.count,
                    alert.median,
                    alert.z,
                    reports_json(alert.reports),
                    alert.chart_filename,
                    alert.chart,
                ],
            ).fetchone()
            assert row is not None
            spike_id = int(row[0])
            with conn.cursor() as cur:
                cur.executemany(
                    """INSERT INTO spike_outbox (spike_id, channel_id, next_attempt_at,
                       created_at) VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING""",
                    [(spike_id, c, ts(alert.detected_at), ts(alert.detected_at))
                     for c in channel_ids],
                )  # fmt: skip
        return spike_id

    def spike_alert(self, spike_id: int) -> SpikeAlert:
        rows = self._rows("SELECT * FROM spike_alerts WHERE id = %s", [spike_id])
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
        if not platforms:
            return []
        rows = self._rows(
            f"""{DUE_SPIKES} WHERE o.status = 'pending' AND o.next_attempt_at <= %s
                AND c.platform = ANY(%s) ORDER BY o.id LIMIT %s""",
            [ts(now), list(platforms), limit],
        )
        return [spike_delivery(r) for r in rows]

    def claim_spike_delivery(self, delivery_id: int, *, now: datetime, until: datetime) -> bool:
        with self.transaction() as conn:
            claimed = conn.execute(
                """UPDATE spike_outbox SET next_attempt_at = %s, attempts = attempts + 1
                   WHERE id = %s AND status = 'pending' AND next_attempt_at <= %s""",
                [ts(until), delivery_id, ts(now)],
            ).rowcount
        return claimed == 1

    def mark_spike_sent(
        self, delivery_id: int, now: datetime, message_ref: str | None = None
    ) -> None:
        with self.transaction() as conn:
            conn.execute(
                """UPDATE spike_outbox SET status = 'sent', sent_at = %s, message_ref = %s
                   WHERE id = %s AND status = 'pending'""",
                [ts(now), message_ref, delivery_id],
            )

    def mark_spike_retry(self, delivery_id: int, *, next_attempt_at: datetime, error: str) -> None:
        with self.transaction() as conn:
            conn.execute(
                """UPDATE spike_outbox SET next_attempt_at = %s, last_error = %s
                   WHERE id = %s AND status = 'pending'""",
                [ts(next_attempt_at), error[:500], delivery_id],
            )

    def drop_spike_delivery(self, delivery_id: int, *, status: str, reason: str) -> None:
        with self.transaction() as conn:
            conn.execute(
                """UPDATE spike_outbox SET status = %s, last_error = %s
                   WHERE id = %s AND status = 'pending'""",
                [status, reason[:500], delivery_id],
            )

    def spike_outbox_counts(self) -> dict[str, int]:
        return dict(self._all("SELECT status, count(*) FROM spike_outbox GROUP BY status"))
