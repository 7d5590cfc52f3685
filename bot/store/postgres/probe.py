"""The health probe on PostgreSQL: the same counts as bot/store/probe.py, from a connection opened
for the check alone (read-only, short timeouts), so a server that went away is seen at once."""

from __future__ import annotations

from datetime import datetime

import psycopg

from bot.core.errors import StoreError
from bot.core.records import DatabaseProbe
from bot.store.postgres.connect import redact as shown_url

INSTANT = "coalesce(c.settings::jsonb ->> 'mode', 'instant') = 'instant'"


def probe_postgres(url: str, now: datetime, *, timeout: float) -> DatabaseProbe:
    try:
        conn = psycopg.connect(
            url,
            connect_timeout=max(1, int(timeout)),
            options=f"-c statement_timeout={int(timeout * 1000)}"
            " -c default_transaction_read_only=on",
        )
    except psycopg.Error as exc:
        raise StoreError(f"database {shown_url(url)} cannot be reached: {exc}") from exc
    try:
        with conn:
            feeds: dict[str, int] = dict(
                conn.execute("SELECT status, count(*) FROM feeds GROUP BY status").fetchall()
            )
            outbox = {
                (str(platform), str(status)): int(n)
                for platform, status, n in conn.execute(
                    "SELECT c.platform, o.status, count(*) FROM outbox o "
                    "JOIN channels c ON c.id = o.channel_id GROUP BY c.platform, o.status"
                )
            }
            row = conn.execute(
                f"""SELECT count(*), min(o.created_at),
                          min(CASE WHEN o.next_attempt_at <= %s THEN o.next_attempt_at END)
                    FROM outbox o JOIN channels c ON c.id = o.channel_id
                    WHERE o.status IN ('pending', 'sending') AND {INSTANT}""",
                [now],
            ).fetchone()
            vectors = conn.execute("SELECT count(*) FROM article_chunks").fetchone()
    except psycopg.Error as exc:
        raise StoreError(f"database {shown_url(url)} cannot be read: {exc}") from exc
    pending, oldest, overdue = row if row else (0, None, None)
    return DatabaseProbe(
        feeds_by_status={str(k): int(v) for k, v in feeds.items()},
        outbox_by_status=outbox,
        outbox_pending=int(pending),
        oldest_pending_seconds=max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
        overdue_seconds=max(0.0, (now - overdue).total_seconds()) if overdue else 0.0,
        vectors=int(vectors[0]) if vectors else 0,
    )
