"""Moving a deployment: copy a SQLite database into an empty PostgreSQL one, ids and all, then
check that every table holds as many rows on both sides.

Rows keep their ids, so every reference (a match's article, an outbox row's channel, the vector
index's row ids) means the same thing afterwards; the identity sequences then continue after the
highest id copied. The copy is one transaction: a failure leaves the target empty.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import psycopg

from bot.core.errors import BadArgument, StoreError
from bot.store.postgres.base import PgBase

# parents before children; stories' first article is filled in once the articles are there
TABLES = (
    "feeds",
    "topics",
    "seeds",
    "seed_chunks",
    "stories",
    "articles",
    "article_chunks",
    "matches",
    "channels",
    "subscriptions",
    "outbox",
    "feedback",
    "topic_versions",
    "meta",
    "cycles",
    "websub_subscriptions",
    "spike_alerts",
    "spike_outbox",
)
PAGE = 5_000  # rows read from SQLite at a time


@dataclass(frozen=True)
class CopyReport:
    counts: dict[str, int]  # rows per table, the same on both sides

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def copy_sqlite_to_postgres(source: Path, target: PgBase) -> CopyReport:
    """Copy every table of the SQLite database ``source`` into ``target`` (migrated, empty)."""
    if not source.is_file():
        raise BadArgument(f"no SQLite database at {source}")
    from bot.store.sqlite import SqliteStore

    SqliteStore(source).close()  # brings an older file up to the latest schema first
    src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
    try:
        with target.transaction() as conn:
            _refuse_non_empty(conn)
            for table in TABLES:
                _copy_table(src, conn, table)
            _link_first_reports(src, conn)
            _continue_ids(conn)
            counts = _verify(src, conn)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read {source}: {exc}") from exc
    finally:
        src.close()
    return CopyReport(counts)


def _refuse_non_empty(conn: psycopg.Connection[Any]) -> None:
    filled = [t for t in TABLES if conn.execute(f"SELECT 1 FROM {t} LIMIT 1").fetchone()]  # type: ignore[arg-type]
    if filled:
        raise BadArgument(
            f"the target database is not empty ({', '.join(filled)} hold rows): "
            "migrate-store only writes into an empty database"
        )


def _copy_table(src: sqlite3.Connection, conn: psycopg.Connection[Any], table: str) -> None:
    types = dict(
        conn.execute(  # type: ignore[arg-type]
            """SELECT column_name, data_type FROM information_schema.columns
               WHERE table_schema = current_schema() AND table_name = %s""",
            [table],
        ).fetchall()
    )
    theirs = [r[1] for r in src.execute(f"PRAGMA table_info({table})")]
    rowid = "id" in types and "id" not in theirs  # article_chunks: SQLite's rowid is the id
    columns = (["id"] if rowid else []) + [c for c in theirs if c in types]
    convert = [_converter(types[c]) for c in columns]
    select = ", ".join((["rowid"] if rowid else []) + [c for c in theirs if c in types])
    if table == "stories":  # its first article is linked after the articles are copied
        convert[columns.index("first_article_id")] = lambda _: None
    with conn.cursor().copy(
        f"COPY {table} ({', '.join(columns)}) FROM STDIN"  # type: ignore[arg-type]
    ) as copy:
        for row in _pages(src, f"SELECT {select} FROM {table} ORDER BY rowid"):
            copy.write_row([f(v) for f, v in zip(convert, row, strict=True)])


def _pages(src: sqlite3.Connection, sql: str) -> Iterator[tuple[Any, ...]]:
    cursor = src.execute(sql)
    while rows := cursor.fetchmany(PAGE):
        yield from rows


def _converter(pg_type: str) -> Callable[[Any], Any]:
    if pg_type == "boolean":
        return lambda v: None if v is None else bool(v)
    if pg_type == "USER-DEFINED":  # pgvector's vector: float32 bytes in SQLite
        return lambda v: np.frombuffer(v, np.float32)
    if pg_type.startswith("timestamp"):  # ISO text in SQLite; PostgreSQL reads it as given
        return lambda v: v or None
    return lambda v: v


def _link_first_reports(src: sqlite3.Connection, conn: psycopg.Connection[Any]) -> None:
    rows = src.execute(
        "SELECT id, first_article_id FROM stories WHERE first_article_id IS NOT NULL"
    ).fetchall()
    if rows:
        with conn.cursor() as cur:
            cur.executemany("UPDATE stories SET first_article_id = %s WHERE id = %s",
                            [(first, sid) for sid, first in rows])  # fmt: skip


def _continue_ids(conn: psycopg.Connection[Any]) -> None:
    """Each identity sequence continues after the highest id copied."""
    for (table,) in conn.execute(
        """SELECT table_name FROM information_schema.columns WHERE table_schema =
           current_schema() AND column_name = 'id' AND is_identity = 'YES'"""
    ).fetchall():
        conn.execute(
            f"""SELECT setval(pg_get_serial_sequence('{table}', 'id'),
                coalesce((SELECT max(id) FROM {table}), 0) + 1, false)"""  # type: ignore[arg-type]
        )


def _verify(src: sqlite3.Connection, conn: psycopg.Connection[Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for table in TABLES:
        theirs = src.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()  # type: ignore[arg-type]
        ours = int(row[0]) if row else -1
        if ours != theirs:
            raise StoreError(
                f"copy check failed: {table} has {theirs} rows in SQLite, {ours} in PostgreSQL"
            )
        counts[table] = ours
    return counts
