"""SQLite store (sqlite-utils, WAL). Every multi-row change happens in one transaction."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import sqlite_utils

from bot.errors import NotFound, StoreError
from bot.models import Article, Feed, FeedItem, FeedStatus, Match, Seed, Topic
from bot.store.migrations import MIGRATIONS


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds")


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _blob(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


@dataclass(frozen=True)
class NewArticle:
    """An item ready to be saved, with its passages and their vectors."""

    item: FeedItem
    feed_id: int | None
    content_hash: str
    passages: Sequence[str]
    vectors: np.ndarray  # (len(passages), dim) float32, L2-normalised


@dataclass(frozen=True)
class NewMatch:
    article_index: int  # index into the NewArticle batch being saved
    topic: str
    score: float
    threshold: float
    seed_id: int | None
    seed_title: str | None
    passage: str


@dataclass(frozen=True)
class OutboxEntry:
    id: int
    match: Match
    channel_id: int
    platform: str
    chat_id: str
    thread_id: str
    attempts: int


class Store:
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
        """BEGIN IMMEDIATE … COMMIT, rolled back on any error; sqlite errors become StoreError."""
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreError(f"database {self.path} is not writable: {exc}") from exc
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        try:
            self._conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self._conn.execute("ROLLBACK")
            raise StoreError(f"database {self.path} write failed: {exc}") from exc

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

    def _rows(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        return list(self.db.query(sql, params))

    # --- feeds ------------------------------------------------------------------------------
    def add_feed(self, url: str, name: str | None, now: datetime) -> tuple[Feed, bool]:
        """Add a feed, due at once. Returns (feed, created)."""
        existing = self._rows("SELECT * FROM feeds WHERE url = ?", [url])
        if existing:
            return _feed(existing[0]), False
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO feeds (url, name, next_check_at, created_at) VALUES (?, ?, ?, ?)",
                [url, name, _iso(now), _iso(now)],
            )
        return self.feed(int(cur.lastrowid or 0)), True

    def feed(self, feed_id: int) -> Feed:
        rows = self._rows("SELECT * FROM feeds WHERE id = ?", [feed_id])
        if not rows:
            raise NotFound(f"no feed with id {feed_id}")
        return _feed(rows[0])

    def find_feed(self, ref: str) -> Feed:
        """A feed by id or exact URL."""
        if ref.isdigit():
            return self.feed(int(ref))
        rows = self._rows("SELECT * FROM feeds WHERE url = ?", [ref])
        if not rows:
            raise NotFound(f"no feed {ref!r}")
        return _feed(rows[0])

    def feeds(self) -> list[Feed]:
        return [_feed(r) for r in self._rows("SELECT * FROM feeds ORDER BY id")]

    def due_feeds(self, now: datetime, *, include_not_due: bool = False) -> list[Feed]:
        if include_not_due:
            sql, params = "SELECT * FROM feeds WHERE status = 'active' ORDER BY id", []
        else:
            sql = "SELECT * FROM feeds WHERE status = 'active' AND next_check_at <= ? ORDER BY next_check_at"
            params = [_iso(now)]
        return [_feed(r) for r in self._rows(sql, params)]

    def remove_feed(self, feed_id: int) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM feeds WHERE id = ?", [feed_id])

    def record_feed_success(
        self,
        feed_id: int,
        *,
        now: datetime,
        next_check_at: datetime,
        etag: str | None,
        last_modified: str | None,
        name: str | None,
        items_seen: int,
    ) -> None:
        with self.transaction() as conn:
            conn.execute(
                """UPDATE feeds SET etag = ?, last_modified = ?, next_check_at = ?,
                   last_checked_at = ?, last_success_at = ?, consecutive_failures = 0,
                   last_error = NULL, name = COALESCE(name, ?), items_seen = items_seen + ?
                   WHERE id = ?""",
                [
                    etag,
                    last_modified,
                    _iso(next_check_at),
                    _iso(now),
                    _iso(now),
                    name,
                    items_seen,
                    feed_id,
                ],
            )

    def record_feed_not_modified(
        self, feed_id: int, *, now: datetime, next_check_at: datetime
    ) -> None:
        with self.transaction() as conn:
            conn.execute(
                """UPDATE feeds SET next_check_at = ?, last_checked_at = ?, last_success_at = ?,
                   consecutive_failures = 0, last_error = NULL WHERE id = ?""",
                [_iso(next_check_at), _iso(now), _iso(now), feed_id],
            )

    def record_feed_failure(
        self, feed_id: int, *, now: datetime, next_check_at: datetime, error: str, disable: bool
    ) -> None:
        with self.transaction() as conn:
            conn.execute(
                """UPDATE feeds SET next_check_at = ?, last_checked_at = ?,
                   consecutive_failures = consecutive_failures + 1, last_error = ?,
                   status = CASE WHEN ? THEN 'disabled' ELSE status END WHERE id = ?""",
                [_iso(next_check_at), _iso(now), error[:500], int(disable), feed_id],
            )

    def set_feed_status(self, feed_id: int, status: FeedStatus, now: datetime) -> None:
        with self.transaction() as conn:
            conn.execute(
                """UPDATE feeds SET status = ?, consecutive_failures = 0, next_check_at = ?
                   WHERE id = ?""",
                [status.value, _iso(now), feed_id],
            )

    # --- articles ---------------------------------------------------------------------------
    def known_items(self, items: Iterable[FeedItem]) -> set[str]:
        """guids of items already stored by guid or canonical URL (before any full-text fetch)."""
        known: set[str] = set()
        for item in items:
            row = self._conn.execute(
                "SELECT 1 FROM articles WHERE guid = ? OR (? IS NOT NULL AND url = ?) LIMIT 1",
                [item.guid, item.url, item.url],
            ).fetchone()
            if row:
                known.add(item.guid)
        return known

    def has_content_hash(self, content_hash: str) -> bool:
        row = self._conn.execute(
            "SELECT 1 FROM articles WHERE content_hash = ? LIMIT 1", [content_hash]
        ).fetchone()
        return row is not None

    def save_articles(
        self,
        batch: Sequence[NewArticle],
        matches: Sequence[NewMatch],
        *,
        model: str,
        now: datetime,
    ) -> tuple[list[Article], list[Match]]:
        """Save articles, their vectors, their matches and the outbox rows for every subscribed
        channel in ONE transaction; returns only what was new (an article already stored by guid,
        url or content hash is skipped, with its matches)."""
        saved: dict[int, Article] = {}
        new_matches: list[Match] = []
        with self.transaction() as conn:
            for index, new in enumerate(batch):
                item = new.item
                dup = conn.execute(
                    """SELECT 1 FROM articles WHERE guid = ? OR content_hash = ?
                       OR (? IS NOT NULL AND url = ?) LIMIT 1""",
                    [item.guid, new.content_hash, item.url, item.url],
                ).fetchone()
                if dup:
                    continue
                published = item.published or now
                cur = conn.execute(
                    """INSERT INTO articles (feed_id, guid, url, title, text, published, first_seen,
                       author, source, content_hash) VALUES (?,?,?,?,?,?,?,?,?,?)""",
                    [
                        new.feed_id,
                        item.guid,
                        item.url,
                        item.title,
                        item.text,
                        _iso(published),
                        _iso(now),
                        item.author,
                        item.source,
                        new.content_hash,
                    ],
                )
                article_id = int(cur.lastrowid or 0)
                conn.executemany(
                    "INSERT INTO article_chunks (article_id, chunk, model, passage, vector) VALUES (?,?,?,?,?)",
                    [
                        (article_id, i, model, p, _blob(v))
                        for i, (p, v) in enumerate(zip(new.passages, new.vectors, strict=True))
                    ],
                )
                saved[index] = Article(
                    id=article_id,
                    feed_id=new.feed_id,
                    guid=item.guid,
                    url=item.url,
                    title=item.title,
                    text=item.text,
                    published=published,
                    first_seen=now,
                    author=item.author,
                    source=item.source,
                    content_hash=new.content_hash,
                )
            for m in matches:
                article = saved.get(m.article_index)
                if article is None:
                    continue
                cur = conn.execute(
                    """INSERT INTO matches (article_id, topic, score, threshold, seed_id, seed_title,
                       passage, created_at) VALUES (?,?,?,?,?,?,?,?)""",
                    [
                        article.id,
                        m.topic,
                        m.score,
                        m.threshold,
                        m.seed_id,
                        m.seed_title,
                        m.passage,
                        _iso(now),
                    ],
                )
                match_id = int(cur.lastrowid or 0)
                conn.execute(
                    """INSERT OR IGNORE INTO outbox (match_id, channel_id, next_attempt_at, created_at)
                       SELECT ?, s.channel_id, ?, ? FROM subscriptions s
                       WHERE s.topic = ? AND s.status = 'active'""",
                    [match_id, _iso(now), _iso(now), m.topic],
                )
                new_matches.append(
                    Match(
                        id=match_id,
                        article=article,
                        topic=m.topic,
                        score=m.score,
                        threshold=m.threshold,
                        seed_title=m.seed_title,
                        passage=m.passage,
                        created_at=now,
                    )
                )
        return list(saved.values()), new_matches

    def article(self, article_id: int) -> Article:
        rows = self._rows("SELECT * FROM articles WHERE id = ?", [article_id])
        if not rows:
            raise NotFound(f"no article with id {article_id}")
        return _article(rows[0])

    def articles_by_ids(self, ids: Sequence[int]) -> dict[int, Article]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        return {
            r["id"]: _article(r)
            for r in self._rows(f"SELECT * FROM articles WHERE id IN ({marks})", list(ids))
        }

    def count_articles(self) -> int:
        return int(self._conn.execute("SELECT count(*) FROM articles").fetchone()[0])

    def chunk_matrix(self, model: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """All stored article passage vectors for one model: (vectors, article_ids, passages)."""
        rows = self._conn.execute(
            "SELECT article_id, passage, vector FROM article_chunks WHERE model = ? ORDER BY article_id, chunk",
            [model],
        ).fetchall()
        if not rows:
            return np.zeros((0, 0), np.float32), np.zeros(0, np.int64), []
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        vectors = np.vstack([np.frombuffer(r[2], dtype=np.float32) for r in rows])
        return vectors, ids, [r[1] for r in rows]

    # --- matches ----------------------------------------------------------------------------
    def latest_matches(self, *, topic: str | None = None, limit: int = 10) -> list[Match]:
        where, params = ("WHERE m.topic = ?", [topic]) if topic else ("", [])
        rows = self._rows(
            f"""SELECT m.*, m.id AS match_id FROM matches m JOIN articles a ON a.id = m.article_id
                {where} ORDER BY a.published DESC, m.id DESC LIMIT ?""",
            [*params, limit],
        )
        return self._matches(rows)

    def count_matches(self, topic: str, *, since: datetime) -> int:
        row = self._conn.execute(
            "SELECT count(*) FROM matches WHERE topic = ? AND created_at >= ?", [topic, _iso(since)]
        ).fetchone()
        return int(row[0])

    def match(self, match_id: int) -> Match:
        rows = self._rows("SELECT m.*, m.id AS match_id FROM matches m WHERE m.id = ?", [match_id])
        if not rows:
            raise NotFound(f"no alert with id {match_id}")
        return self._matches(rows)[0]

    def _matches(self, rows: list[dict[str, Any]]) -> list[Match]:
        articles = self.articles_by_ids([r["article_id"] for r in rows])
        return [
            Match(
                id=r["match_id"],
                article=articles[r["article_id"]],
                topic=r["topic"],
                score=r["score"],
                threshold=r["threshold"],
                seed_title=r["seed_title"],
                passage=r["passage"],
                created_at=datetime.fromisoformat(r["created_at"]),
            )
            for r in rows
        ]

    # --- topics and seeds -------------------------------------------------------------------
    def upsert_topic_default(self, topic: Topic, now: datetime) -> bool:
        """Insert a topic from config unless it exists (admins' edits in the database win)."""
        with self.transaction() as conn:
            cur = conn.execute(
                """INSERT OR IGNORE INTO topics (name, description, threshold, enabled, created_at,
                   updated_at) VALUES (?,?,?,?,?,?)""",
                [
                    topic.name,
                    topic.description,
                    topic.threshold,
                    int(topic.enabled),
                    _iso(now),
                    _iso(now),
                ],
            )
        return cur.rowcount > 0

    def topics(self, *, enabled_only: bool = False) -> list[Topic]:
        where = "WHERE enabled = 1" if enabled_only else ""
        return [
            Topic(
                name=r["name"],
                description=r["description"],
                threshold=r["threshold"],
                enabled=bool(r["enabled"]),
            )
            for r in self._rows(f"SELECT * FROM topics {where} ORDER BY name")
        ]

    def topic(self, name: str) -> Topic:
        for topic in self.topics():
            if topic.name == name:
                return topic
        raise NotFound(f"no topic {name!r}")

    def add_seed(self, seed: Seed, now: datetime, *, revive: bool) -> tuple[Seed, bool]:
        """Add a seed unless the same text is already a seed of the topic. A seed an admin removed
        stays removed when config is re-synced (revive=False) but comes back on an explicit add."""
        with self.transaction() as conn:
            row = conn.execute(
                "SELECT id, removed_at FROM seeds WHERE topic = ? AND kind = ? AND content_hash = ?",
                [seed.topic, seed.kind, seed.content_hash],
            ).fetchone()
            if row is None:
                cur = conn.execute(
                    """INSERT INTO seeds (topic, kind, title, text, content_hash, origin, created_at)
                       VALUES (?,?,?,?,?,?,?)""",
                    [
                        seed.topic,
                        seed.kind,
                        seed.title,
                        seed.text,
                        seed.content_hash,
                        seed.origin,
                        _iso(now),
                    ],
                )
                seed_id, created = int(cur.lastrowid or 0), True
            else:
                seed_id, created = int(row[0]), False
                if row[1] is not None and revive:
                    conn.execute("UPDATE seeds SET removed_at = NULL WHERE id = ?", [seed_id])
                    created = True
        return self.seed(seed_id), created

    def seed(self, seed_id: int) -> Seed:
        rows = self._rows("SELECT * FROM seeds WHERE id = ?", [seed_id])
        if not rows:
            raise NotFound(f"no seed with id {seed_id}")
        return _seed(rows[0])

    def seeds(self, topic: str | None = None, *, kind: str | None = None) -> list[Seed]:
        sql, params = "SELECT * FROM seeds WHERE removed_at IS NULL", []
        if topic:
            sql, params = sql + " AND topic = ?", [topic]
        if kind:
            sql, params = sql + " AND kind = ?", [*params, kind]
        return [_seed(r) for r in self._rows(sql + " ORDER BY topic, id", params)]

    def remove_seed(self, seed_id: int, now: datetime) -> None:
        with self.transaction() as conn:
            cur = conn.execute(
                "UPDATE seeds SET removed_at = ? WHERE id = ? AND removed_at IS NULL",
                [_iso(now), seed_id],
            )
        if cur.rowcount == 0:
            raise NotFound(f"no seed with id {seed_id}")

    def cached_seed_chunks(
        self, content_hash: str, model: str
    ) -> tuple[list[str], np.ndarray] | None:
        rows = self._conn.execute(
            "SELECT passage, vector FROM seed_chunks WHERE content_hash = ? AND model = ? ORDER BY chunk",
            [content_hash, model],
        ).fetchall()
        if not rows:
            return None
        return [r[0] for r in rows], np.vstack(
            [np.frombuffer(r[1], dtype=np.float32) for r in rows]
        )

    def cache_seed_chunks(
        self, content_hash: str, model: str, passages: Sequence[str], vectors: np.ndarray
    ) -> None:
        with self.transaction() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO seed_chunks (content_hash, model, chunk, passage, vector) VALUES (?,?,?,?,?)",
                [
                    (content_hash, model, i, p, _blob(v))
                    for i, (p, v) in enumerate(zip(passages, vectors, strict=True))
                ],
            )

    # --- channels, subscriptions, outbox ------------------------------------------------------
    def ensure_channel(
        self,
        platform: str,
        chat_id: str,
        thread_id: str = "",
        title: str | None = None,
        now: datetime | None = None,
    ) -> int:
        now = now or datetime.now(UTC)
        with self.transaction() as conn:
            conn.execute(
                """INSERT OR IGNORE INTO channels (platform, chat_id, thread_id, title, created_at)
                   VALUES (?,?,?,?,?)""",
                [platform, chat_id, thread_id, title, _iso(now)],
            )
            row = conn.execute(
                "SELECT id FROM channels WHERE platform = ? AND chat_id = ? AND thread_id = ?",
                [platform, chat_id, thread_id],
            ).fetchone()
        return int(row[0])

    def subscribe(self, channel_id: int, topics: Sequence[str], now: datetime) -> None:
        with self.transaction() as conn:
            conn.executemany(
                """INSERT INTO subscriptions (channel_id, topic, created_at) VALUES (?,?,?)
                   ON CONFLICT (channel_id, topic) DO UPDATE SET status = 'active', paused_reason = NULL""",
                [(channel_id, t, _iso(now)) for t in topics],
            )

    def due_outbox(
        self, now: datetime, *, platforms: Sequence[str], limit: int = 100
    ) -> list[OutboxEntry]:
        if not platforms:
            return []
        marks = ",".join("?" * len(platforms))
        rows = self._rows(
            f"""SELECT o.id, o.match_id, o.channel_id, o.attempts, c.platform, c.chat_id, c.thread_id
                FROM outbox o JOIN channels c ON c.id = o.channel_id
                WHERE o.status = 'pending' AND o.next_attempt_at <= ? AND c.platform IN ({marks})
                ORDER BY o.id LIMIT ?""",
            [_iso(now), *platforms, limit],
        )
        return [
            OutboxEntry(
                id=r["id"],
                match=self.match(r["match_id"]),
                channel_id=r["channel_id"],
                platform=r["platform"],
                chat_id=r["chat_id"],
                thread_id=r["thread_id"],
                attempts=r["attempts"],
            )
            for r in rows
        ]

    def mark_sent(self, outbox_id: int, now: datetime, message_ref: str | None = None) -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE outbox SET status = 'sent', sent_at = ?, message_ref = ?, attempts = attempts + 1 WHERE id = ?",
                [_iso(now), message_ref, outbox_id],
            )

    def mark_retry(self, outbox_id: int, *, next_attempt_at: datetime, error: str) -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE id = ?",
                [_iso(next_attempt_at), error[:500], outbox_id],
            )

    def outbox_rows_for(self, match_id: int) -> int:
        return int(
            self._conn.execute(
                "SELECT count(*) FROM outbox WHERE match_id = ?", [match_id]
            ).fetchone()[0]
        )

    def outbox_counts(self) -> dict[str, int]:
        return {
            r[0]: r[1]
            for r in self._conn.execute("SELECT status, count(*) FROM outbox GROUP BY status")
        }

    # --- meta ------------------------------------------------------------------------------------
    def meta(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", [key, value])

    # --- cycle reports ------------------------------------------------------------------------
    def save_cycle_report(self, started_at: datetime, report: dict[str, Any]) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO cycles (started_at, report) VALUES (?, ?)",
                [_iso(started_at), json.dumps(report)],
            )

    def last_cycle_report(self) -> dict[str, Any] | None:
        row = self._conn.execute(
            "SELECT started_at, report FROM cycles ORDER BY id DESC LIMIT 1"
        ).fetchone()
        return {"started_at": row[0], **json.loads(row[1])} if row else None


def _feed(r: dict[str, Any]) -> Feed:
    return Feed(
        id=r["id"],
        url=r["url"],
        name=r["name"],
        status=FeedStatus(r["status"]),
        etag=r["etag"],
        last_modified=r["last_modified"],
        next_check_at=datetime.fromisoformat(r["next_check_at"]),
        last_checked_at=_dt(r["last_checked_at"]),
        last_success_at=_dt(r["last_success_at"]),
        consecutive_failures=r["consecutive_failures"],
        last_error=r["last_error"],
        items_seen=r["items_seen"],
    )


def _article(r: dict[str, Any]) -> Article:
    return Article(
        id=r["id"],
        feed_id=r["feed_id"],
        guid=r["guid"],
        url=r["url"],
        title=r["title"],
        text=r["text"],
        published=datetime.fromisoformat(r["published"]),
        first_seen=datetime.fromisoformat(r["first_seen"]),
        author=r["author"],
        source=r["source"],
        content_hash=r["content_hash"],
    )


def _seed(r: dict[str, Any]) -> Seed:
    return Seed(
        id=r["id"],
        topic=r["topic"],
        title=r["title"],
        text=r["text"],
        content_hash=r["content_hash"],
        origin=r["origin"],
        kind=r["kind"],
    )
