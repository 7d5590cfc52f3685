"""Chat updates on PostgreSQL (the contract is bot/store/chat_updates.py's). The listener
election is a session-level advisory lock (``pg_try_advisory_lock``) on a connection of its own,
held for as long as the process listens: when the process dies its session ends and the lock
is free. The server drops the session of a holder whose machine died or was cut off within
about half a minute (TCP keepalives set on the session), and the holder notices a broken
connection at its next check and stops listening."""

from __future__ import annotations

import contextlib
import hashlib
import logging
from datetime import datetime, timedelta
from typing import Any

import psycopg

from bot.core.errors import StoreError
from bot.store.postgres.base import PgBase, ts
from bot.store.postgres.connect import redact
from bot.store.protocol import Election

log = logging.getLogger(__name__)

# libpq keepalives on the holder's side (a dead server is noticed in ~11 s) and the server's
# own on its side of the session (a dead holder's lock is freed in ~25 s)
KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
}
SERVER_KEEPALIVES = (
    "SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 3"
)


def advisory_key(name: str) -> int:
    """A stable signed 64-bit lock key for an election's name."""
    digest = hashlib.sha256(f"threatwatch election {name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class AdvisoryElection:
    """One holder at a time of a session advisory lock, on a connection kept for it (a
    standby keeps its connection too, and asks again on it)."""

    def __init__(self, url: str, name: str):
        self.url, self.key = url, advisory_key(name)
        self._conn: psycopg.Connection[Any] | None = None
        self._held = False

    def try_lead(self) -> bool:
        """True when this process holds the lock; while held, each call checks that the
        session (and so the lock) is still alive."""
        try:
            conn = self._conn or self._connect()
            if self._held:
                conn.execute("SELECT 1")
                return True
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", [self.key]).fetchone()
        except psycopg.Error as exc:  # the session is gone, and a lock it held with it
            if self._held:
                log.warning("listener election: lost the database session (%s)", exc)
            self.resign()
            raise StoreError(f"database {redact(self.url)} election failed: {exc}") from exc
        self._held = bool(row and row[0])
        return self._held

    def _connect(self) -> psycopg.Connection[Any]:
        conninfo = psycopg.conninfo.make_conninfo(self.url, connect_timeout=10, **KEEPALIVES)
        conn = psycopg.connect(conninfo, autocommit=True)
        try:
            conn.execute(SERVER_KEEPALIVES)  # type: ignore[arg-type]
        except psycopg.Error:
            conn.close()
            raise
        self._conn = conn
        return conn

    def resign(self) -> None:
        """Give the lock up. Unlocked first: closing the session frees it too, but only once the
        server's backend has ended, after close() returns, so another process trying at once
        could still find it held. If the unlock fails, closing frees it all the same."""
        held, self._held = self._held, False
        if self._conn is not None:
            conn, self._conn = self._conn, None
            with contextlib.suppress(psycopg.Error):
                if held:
                    conn.execute("SELECT pg_advisory_unlock(%s)", [self.key])
            with contextlib.suppress(psycopg.Error):
                conn.close()


class PgChatUpdatesPart(PgBase):
    def listener_election(self, name: str) -> Election:
        return AdvisoryElection(self.url, name)

    def first_update(self, source: str, key: str, now: datetime, *, keep_seconds: float) -> bool:
        with self.transaction() as conn:
            conn.execute(
                "DELETE FROM chat_updates WHERE seen_at < %s",
                [ts(now - timedelta(seconds=keep_seconds))],
            )
            cur = conn.execute(
                """INSERT INTO chat_updates (source, update_key, seen_at) VALUES (%s, %s, %s)
                   ON CONFLICT DO NOTHING""",
                [source, key, ts(now)],
            )
            return cur.rowcount == 1

    def update_offset(self, source: str) -> int:
        row = self._one("SELECT next_offset FROM chat_update_offsets WHERE source = %s", [source])
        return int(row[0]) if row else 0

    def save_update_offset(self, source: str, offset: int, now: datetime) -> None:
        with self.transaction() as conn:
            conn.execute(
                """INSERT INTO chat_update_offsets (source, next_offset, updated_at)
                   VALUES (%s, %s, %s) ON CONFLICT (source) DO UPDATE SET
                   next_offset = greatest(chat_update_offsets.next_offset, excluded.next_offset),
                   updated_at = excluded.updated_at""",
                [source, offset, ts(now)],
            )
