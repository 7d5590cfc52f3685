"""Connection, transactions and migrations shared by the store's parts."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import sqlite_utils

from bot.core.errors import StoreError
from bot.store.migrations import MIGRATIONS


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds")


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _blob(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


class StoreBase:
    """Opens the database in WAL mode, runs pending migrations, wraps transactions."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        try:
            conn = sqlite3.connect(
                str(self.path), timeout=30, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open database {self.path}: {exc}") from exc
        self.db = sqlite_utils.Database(conn)
        self._conn = conn
        self._grouping_thread: int | None = None  # the thread inside one_transaction(), if any
        # The connection is shared with worker threads (topic index builds read and write the
        # store off the event loop). A transaction, and sqlite-utils' savepoint around each
        # query, belong to the connection, not to a thread: one thread at a time opens one.
        self._lock = threading.RLock()
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot prepare database {self.path}: {exc}") from exc

    # --- plumbing ---------------------------------------------------------------------------
    def close(self) -> None:
        self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE … COMMIT, rolled back on any error; sqlite errors become StoreError.
        Inside ``one_transaction()`` (same thread) it is part of that transaction instead."""
        if self._grouping_thread == threading.get_ident():
            yield self._conn
            return
        with self._lock:
            yield from self._transaction()

    def _transaction(self) -> Iterator[sqlite3.Connection]:
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreError(f"database {self.path} is not writable: {exc}") from exc
        try:
            yield self._conn
        except sqlite3.Error as exc:  # disk full, read-only file: say so, keep the file intact
            self._rollback()
            raise StoreError(f"database {self.path} write failed: {exc}") from exc
        except BaseException:
            self._rollback()
            raise
        try:
            self._conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            raise StoreError(f"database {self.path} write failed: {exc}") from exc

    @contextmanager
    def one_transaction(self) -> Iterator[None]:
        """Make the writes inside (on this thread) one transaction: one commit instead of one
        per write, and all or none of them are kept."""
        me = threading.get_ident()
        # inside another one of this thread's: part of it, which goes on after this one
        outer = me if self._grouping_thread == me else None
        with self.transaction():
            self._grouping_thread = me
            try:
                yield
            finally:
                self._grouping_thread = outer

    def _rollback(self) -> None:
        # SQLite may already have rolled back on its own (e.g. SQLITE_FULL): nothing to undo then
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")

    def _migrate(self) -> None:
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)"
        )
        done = {r[0] for r in self._conn.execute("SELECT version FROM schema_migrations")}
        for version, script in enumerate(MIGRATIONS, start=1):
            if version in done:
                continue
            # executescript commits implicitly, so the version row goes in the same script.
            self._conn.executescript(
                f"BEGIN;\n{script}\nINSERT INTO schema_migrations VALUES ({version});\nCOMMIT;"
            )

    def schema_version(self) -> int:
        """The number of migrations applied (the last one's version)."""
        row = self._conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations")
        return int(row.fetchone()[0])

    def _rows(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.db.query(sql, params))
