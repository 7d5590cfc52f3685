"""Chat updates when several processes receive them.

Telegram allows one ``getUpdates`` consumer at a time: the processes elect one listener
(``listener_election``) and the others stand by. On SQLite (one file, one machine) the election
is an exclusive ``flock`` on a file next to the database: the kernel frees it the moment the
holding process dies, however it dies. The listener keeps its ``getUpdates`` offset here, so the
next one goes on where it stopped. Webhooks and Slack events may reach any process, and the
platforms retry a delivery that was not acknowledged in time, perhaps onto another process:
``first_update`` records each update's id for a retention window, and only its first arrival
is handled.
"""

from __future__ import annotations

import fcntl
import os
from datetime import datetime, timedelta
from pathlib import Path

from bot.core.errors import StoreError
from bot.store.base import StoreBase, _iso
from bot.store.protocol import Election


class FileElection:
    """One holder at a time of an exclusive flock on ``path``, until it resigns or dies."""

    def __init__(self, path: Path):
        self.path = path
        self._fd: int | None = None

    def try_lead(self) -> bool:
        """True when this process holds the lock (taken now, or held since an earlier call)."""
        if self._fd is not None:
            return True
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StoreError(f"cannot open the listener lock {self.path}: {exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)  # who holds it, for an operator looking at the file
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def resign(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # closing the only descriptor releases the flock


class ChatUpdatesPart(StoreBase):
    def listener_election(self, name: str) -> Election:
        """The election of the one process that receives ``name``'s updates (e.g. Telegram
        long polling): a lock file beside the database."""
        return FileElection(self.path.with_name(f"{self.path.name}.{name}.lock"))

    def first_update(self, source: str, key: str, now: datetime, *, keep_seconds: float) -> bool:
        """Record that update ``key`` of ``source`` arrived; True only the first time within
        ``keep_seconds`` (older records are forgotten here too)."""
        with self.transaction() as conn:
            conn.execute(
                "DELETE FROM chat_updates WHERE seen_at < ?",
                [_iso(now - timedelta(seconds=keep_seconds))],
            )
            cur = conn.execute(
                """INSERT INTO chat_updates (source, update_key, seen_at) VALUES (?, ?, ?)
                   ON CONFLICT DO NOTHING""",
                [source, key, _iso(now)],
            )
            return cur.rowcount == 1

    def update_offset(self, source: str) -> int:
        """The first update ``source``'s listener has not taken yet (0: none recorded)."""
        rows = self._rows(
            "SELECT next_offset FROM chat_update_offsets WHERE source = ?", [source]
        )  # under the connection's lock: the listener reads it from a worker thread
        return int(rows[0]["next_offset"]) if rows else 0

    def save_update_offset(self, source: str, offset: int, now: datetime) -> None:
        """Move the offset forward (never back: a late write of an old listener is ignored)."""
        with self.transaction() as conn:
            conn.execute(
                """INSERT INTO chat_update_offsets (source, next_offset, updated_at)
                   VALUES (?, ?, ?) ON CONFLICT (source) DO UPDATE SET
                   next_offset = MAX(next_offset, excluded.next_offset),
                   updated_at = excluded.updated_at""",
                [source, offset, _iso(now)],
            )
