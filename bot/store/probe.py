"""Read-only look at a database file for health checks and scrape-time metrics.

Each probe opens the file afresh, read-only (``mode=ro``: never created, never written), so it
sees a database that was moved, deleted or made unreadable, which a long-open connection would
not. Only this package speaks SQL; callers get a frozen summary.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from bot.core.errors import StoreError
from bot.core.records import DatabaseProbe
from bot.store.delivery import INSTANT

PROBE_TIMEOUT = 2.0  # seconds to wait for a lock: a busy writer must not hang a health check


def probe_database(path: Path | str, now: datetime | None = None) -> DatabaseProbe:
    """Counts from a fresh read-only connection; raises StoreError naming what failed. ``path``
    is a SQLite file, or a ``postgresql://`` URL (THREATWATCH_DATABASE_URL)."""
    now = now or datetime.now(UTC)
    if isinstance(path, str) and path.startswith(("postgresql://", "postgres://")):
        from bot.store.postgres.probe import probe_postgres

        return probe_postgres(path, now, timeout=PROBE_TIMEOUT)
    target = Path(path)
    if not target.exists():
        raise StoreError(f"database {target} does not exist")
    try:
        conn = sqlite3.connect(
            f"{target.resolve().as_uri()}?mode=ro", uri=True, timeout=PROBE_TIMEOUT
        )
    except sqlite3.Error as exc:
        raise StoreError(f"database {target} cannot be opened: {exc}") from exc
    try:
        return _counts(conn, now)
    except sqlite3.Error as exc:
        raise StoreError(f"database {target} cannot be read: {exc}") from exc
    finally:
        conn.close()


def _counts(conn: sqlite3.Connection, now: datetime) -> DatabaseProbe:
    feeds = dict(conn.execute("SELECT status, COUNT(*) FROM feeds GROUP BY status").fetchall())
    outbox = {
        (str(platform), str(status)): int(count)
        for platform, status, count in conn.execute(
            "SELECT c.platform, o.status, COUNT(*) FROM outbox o "
            "JOIN channels c ON c.id = o.channel_id GROUP BY c.platform, o.status"
        )
    }
    now_iso = now.astimezone(UTC).isoformat(timespec="seconds")
    # digest-mode chats hold their alerts until the digest hour on purpose: not counted; an
    # alert being sent counts (one left sending by a process that died is still to deliver)
    pending, oldest, overdue = conn.execute(
        f"""SELECT COUNT(*), MIN(o.created_at),
                  MIN(CASE WHEN o.next_attempt_at <= ? THEN o.next_attempt_at END)
           FROM outbox o JOIN channels c ON c.id = o.channel_id
           WHERE o.status IN ('pending', 'sending') AND {INSTANT}""",
        [now_iso],
    ).fetchone()
    (vectors,) = conn.execute("SELECT COUNT(*) FROM article_chunks").fetchone()
    return DatabaseProbe(
        feeds_by_status={str(k): int(v) for k, v in feeds.items()},
        outbox_by_status=outbox,
        outbox_pending=int(pending),
        oldest_pending_seconds=_age(now, oldest),
        overdue_seconds=_age(now, overdue),
        vectors=int(vectors),
    )


def _age(now: datetime, iso: str | None) -> float:
    return max(0.0, (now - datetime.fromisoformat(iso)).total_seconds()) if iso else 0.0
