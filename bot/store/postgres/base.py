"""Connections, transactions and migrations shared by the PostgreSQL store's parts."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from bot.core.errors import StoreError
from bot.store.postgres.connect import check_url, check_vector_extension, open_pool, redact
from bot.store.postgres.schema import MIGRATIONS

# pg_advisory_xact_lock key of schema migrations ("twmigrat" as 8 bytes): several processes
# that start at once run them one after the other; the later ones find nothing left to do
MIGRATION_LOCK = 0x74776D6967726174
INDEX_LOCK = 0x7477766563696478  # the same for creating a vector index ("twvecidx")


def ts(value: datetime) -> datetime:
    """A time as the store keeps it: UTC, whole seconds (the SQLite store's precision)."""
    return value.astimezone(UTC).replace(microsecond=0)


def texts(row: dict[str, Any]) -> dict[str, Any]:
    """A row with its times as ISO strings, the form the SQLite store's row readers take."""
    return {
        k: v.astimezone(UTC).isoformat(timespec="seconds") if isinstance(v, datetime) else v
        for k, v in row.items()
    }


class PgBase:
    """A pool of connections; a transaction takes one connection, plain reads another."""

    def __init__(self, url: str, *, pool_size: int | None = None):
        check_url(url)
        self.url = url
        check_vector_extension(url)
        self._pool = open_pool(url) if pool_size is None else open_pool(url, max_size=pool_size)
        self._held = threading.local()  # the connection of this thread's one_transaction()
        self._indexed_dims: set[int] = set()
        try:
            self._migrate()
        except BaseException:
            self._pool.close()
            raise

    def __repr__(self) -> str:
        return f"PostgresStore({redact(self.url)})"

    # --- plumbing ---------------------------------------------------------------------------
    def close(self) -> None:
        self._pool.close()

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection[Any]]:
        """One transaction on one connection, rolled back on any error; database errors become
        StoreError. Inside ``one_transaction()`` (same thread) it is part of that one."""
        held = getattr(self._held, "conn", None)
        if held is not None:
            yield held
            return
        with self._errors("write"), self._pool.connection() as conn, conn.transaction():
            yield conn

    @contextmanager
    def one_transaction(self) -> Iterator[None]:
        """Make the writes inside (on this thread) one transaction."""
        outer = getattr(self._held, "conn", None)  # inside another one: part of it
        with self.transaction() as conn:
            self._held.conn = conn
            try:
                yield
            finally:
                self._held.conn = outer

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except psycopg.Error as exc:
            raise StoreError(f"database {redact(self.url)} {doing} failed: {exc}") from exc

    @contextmanager
    def _reader(self) -> Iterator[psycopg.Connection[Any]]:
        held = getattr(self._held, "conn", None)
        if held is not None:
            yield held
            return
        with self._errors("read"), self._pool.connection() as conn:
            yield conn

    def _rows(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        """Rows as dicts, times as ISO strings (what the row readers of bot.store take)."""
        with self._reader() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(sql, params)  # type: ignore[arg-type]
            return [texts(r) for r in cur.fetchall()]

    def _all(
        self, sql: str, params: Sequence[Any] | dict[str, Any] = (), *, binary: bool = False
    ) -> list[tuple[Any, ...]]:
        """Rows as tuples; ``binary`` for results with vectors (read without text parsing)."""
        with self._reader() as conn:
            return conn.execute(sql, params, binary=binary).fetchall()  # type: ignore[arg-type]

    def _one(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> tuple[Any, ...] | None:
        with self._reader() as conn:
            return conn.execute(sql, params).fetchone()  # type: ignore[arg-type]

    def _migrate(self) -> None:
        """Run pending migrations in one transaction under an advisory lock."""
        with self.transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", [MIGRATION_LOCK])
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY)"
            )
            done = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
            for version, script in enumerate(MIGRATIONS, start=1):
                if version in done:
                    continue
                conn.execute(script)  # type: ignore[arg-type]
                conn.execute("INSERT INTO schema_migrations VALUES (%s)", [version])

    def schema_version(self) -> int:
        row = self._one("SELECT coalesce(max(version), 0) FROM schema_migrations")
        return int(row[0]) if row else 0

    def ensure_vector_index(self, dims: int) -> None:
        """The HNSW index over binary-quantised passage vectors of ``dims`` dimensions (one per
        size: a bit string's length is part of its type), made when the first vectors of that
        size are saved. Looked up first, so only the first process takes the table's lock."""
        if dims in self._indexed_dims:
            return
        name = f"article_chunks_bq{int(dims)}"
        if self._one("SELECT 1 FROM pg_indexes WHERE indexname = %s", [name]) is None:
            with self.transaction() as conn:
                conn.execute("SELECT pg_advisory_xact_lock(%s)", [INDEX_LOCK])
                conn.execute(
                    f"""CREATE INDEX IF NOT EXISTS {name} ON article_chunks
                        USING hnsw ((binary_quantize(vector)::bit({int(dims)})) bit_hamming_ops)
                        WHERE vector_dims(vector) = {int(dims)}"""  # type: ignore[arg-type]
                )
        self._indexed_dims.add(dims)
