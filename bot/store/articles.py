"""Articles with their passage vectors, matches, and the outbox rows a match queues."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import numpy as np

from bot.core.errors import NotFound
from bot.core.models import Article, FeedItem, Match
from bot.core.records import NewArticle, NewMatch, StoredReport
from bot.store.base import StoreBase, _blob, _iso

STORY_CANDIDATES = 5000  # stored reports a new article is compared with, newest first


class ArticlesPart(StoreBase):
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

    def stored_content_hashes(self, hashes: Iterable[str]) -> set[str]:
        """Which of these content hashes stored articles have (in process: a look-up each)."""
        sql = "SELECT 1 FROM articles WHERE content_hash = ? LIMIT 1"
        return {h for h in hashes if self._conn.execute(sql, [h]).fetchone() is not None}

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
                article = self._insert_article(conn, new, model=model, now=now, saved=saved)
                if article is not None:
                    saved[index] = article
            for m in matches:
                if (article := saved.get(m.article_index)) is not None:
                    adds_facts = batch[m.article_index].adds_facts
                    new_matches.append(self._insert_match(conn, article, m, adds_facts, now))
        return list(saved.values()), new_matches

    def _insert_article(
        self,
        conn: sqlite3.Connection,
        new: NewArticle,
        *,
        model: str,
        now: datetime,
        saved: dict[int, Article],
    ) -> Article | None:
        """The article, its passages and vectors, joined to its story; None for a duplicate."""
        item = new.item
        dup = conn.execute(
            """SELECT 1 FROM articles WHERE guid = ? OR content_hash = ?
               OR (? IS NOT NULL AND url = ?) LIMIT 1""",
            [item.guid, new.content_hash, item.url, item.url],
        ).fetchone()
        if dup:
            return None
        published = item.published or now
        cur = conn.execute(
            """INSERT INTO articles (feed_id, guid, url, title, text, published, first_seen,
               author, source, content_hash, language) VALUES (?,?,?,?,?,?,?,?,?,?,?)""",
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
                new.language,
            ],
        )
        article_id = int(cur.lastrowid or 0)
        pairs = zip(new.passages, new.vectors, strict=True)
        conn.executemany(
            "INSERT INTO article_chunks (article_id, chunk, model, passage, vector) VALUES (?,?,?,?,?)",
            [(article_id, i, model, p, _blob(v)) for i, (p, v) in enumerate(pairs)],
        )
        return Article(
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
            story_id=self._join_story(conn, article_id, new, saved, now),
            language=new.language,
        )

    def _insert_match(
        self,
        conn: sqlite3.Connection,
        article: Article,
        m: NewMatch,
        adds_facts: bool,
        now: datetime,
    ) -> Match:
        """The match, with its place in the story, and one outbox row per subscribed chat."""
        role = self._story_role(conn, article, m.topic, adds_facts)
        cur = conn.execute(
            """INSERT INTO matches (article_id, topic, score, threshold, seed_id, seed_title,
               passage, created_at, story_role, summary, similarity, published, roles)
               VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)""",
            [
                article.id,
                m.topic,
                m.score,
                m.threshold,
                m.seed_id,
                m.seed_title,
                m.passage,
                _iso(now),
                role,
                m.summary,
                m.similarity,
                _iso(article.published),
                m.roles,
            ],
        )
        match_id = int(cur.lastrowid or 0)
        conn.execute(
            """INSERT OR IGNORE INTO outbox (match_id, channel_id, next_attempt_at, created_at)
               SELECT ?, s.channel_id, ?, ? FROM subscriptions s
               WHERE s.topic = ? AND s.status = 'active'""",
            [match_id, _iso(now), _iso(now), m.topic],
        )
        return Match(
            id=match_id,
            article=article,
            topic=m.topic,
            score=m.score,
            threshold=m.threshold,
            seed_title=m.seed_title,
            passage=m.passage,
            created_at=now,
            story_id=article.story_id,
            story_role=role,
            summary=m.summary,
            similarity=m.similarity,
            roles=m.roles,
        )

    # --- stories ------------------------------------------------------------------------------
    @staticmethod
    def _join_story(
        conn: Any, article_id: int, new: NewArticle, saved: dict[int, Article], now: datetime
    ) -> int:
        """The story this article joins (an earlier report's, stored or in this batch), or a new
        story it starts."""
        story_id = None
        if new.story_of is not None:
            row = conn.execute(
                "SELECT story_id FROM articles WHERE id = ?", [new.story_of]
            ).fetchone()
            story_id = row[0] if row else None
            if row and story_id is None:  # stored before stories existed: it starts one now
                story_id = _new_story(conn, new.story_of, now)
                conn.execute(
                    "UPDATE articles SET story_id = ? WHERE id = ?", [story_id, new.story_of]
                )
        elif new.story_of_index is not None and new.story_of_index in saved:
            story_id = saved[new.story_of_index].story_id
        if story_id is None:
            story_id = _new_story(conn, article_id, now)
        else:
            conn.execute(
                "UPDATE stories SET reports = reports + 1, updated_at = ? WHERE id = ?",
                [_iso(now), story_id],
            )
        conn.execute("UPDATE articles SET story_id = ? WHERE id = ?", [story_id, article_id])
        return int(story_id)

    @staticmethod
    def _story_role(conn: Any, article: Article, topic: str, adds_facts: bool) -> str:
        """'first' for a story's first match in a topic; later reports are 'update' when they
        state new facts, else 'repeat'."""
        earlier = conn.execute(
            """SELECT 1 FROM matches m JOIN articles a ON a.id = m.article_id
               WHERE a.story_id = ? AND m.topic = ? AND m.article_id != ? LIMIT 1""",
            [article.story_id, topic, article.id],
        ).fetchone()
        if earlier is None:
            return "first"
        return "update" if adds_facts else "repeat"

    def story_candidates(
        self, since: datetime, model: str, passages: int, limit: int = STORY_CANDIDATES
    ) -> list[tuple[int, int | None, np.ndarray, str, str, datetime]]:
        """(article id, story id, vectors of its first ``passages`` passages, title, text,
        published) of articles published since ``since``: what a new article may be another
        report of. Newest first; of two published in the same second, the one saved later first."""
        return self._openings(
            f"{_EMBEDDED} WHERE a.published >= :since ORDER BY a.published DESC, a.id DESC"
            " LIMIT :limit",
            {"model": model, "since": _iso(since), "limit": limit, "passages": passages},
        )

    def story_reports(
        self, since: datetime, model: str, passages: int, limit: int
    ) -> list[StoredReport]:
        """``story_candidates`` without story ids (they change as stories grow), in the same
        order."""
        return _reports(self.story_candidates(since, model, passages, limit))

    def story_reports_saved_after(
        self, article_id: int, since: datetime, model: str, passages: int
    ) -> list[StoredReport]:
        """``story_reports`` of the articles saved after ``article_id``, in no particular order."""
        return _reports(
            self._openings(
                f"{_EMBEDDED} WHERE a.id > :after AND a.published >= :since",
                {"model": model, "after": article_id, "since": _iso(since), "passages": passages},
            )
        )

    def _openings(
        self, chosen: str, params: dict[str, Any]
    ) -> list[tuple[int, int | None, np.ndarray, str, str, datetime]]:
        """The chosen articles, in their order, each with the vectors of its first passages
        (:passages of them, under :model). Two reads, so a long text is read once and not once
        per passage; the second asks for the first's ids, so an article saved in between by
        another process cannot slip in."""
        articles = self._conn.execute(chosen, params).fetchall()
        ids = json.dumps([row[0] for row in articles])
        vectors: dict[int, list[np.ndarray]] = {}
        for article_id, vector in self._conn.execute(
            """SELECT article_id, vector FROM article_chunks
               WHERE article_id IN (SELECT value FROM json_each(?)) AND model = ? AND chunk < ?
               ORDER BY article_id, chunk""",
            [ids, params["model"], params["passages"]],
        ):
            vectors.setdefault(article_id, []).append(np.frombuffer(vector, np.float32))
        return [
            (aid, story_id, np.stack(vectors[aid]), title, text, datetime.fromisoformat(when))
            for aid, story_id, title, text, when in articles
        ]

    def last_article_id(self) -> int:
        """The id of the article saved last (ids only grow: articles are never deleted)."""
        row = self._conn.execute("SELECT max(id) FROM articles").fetchone()
        return int(row[0] or 0)

    def story_members(self, article_id: int) -> set[int]:
        """Ids of the articles of ``article_id``'s story (just itself when it has none yet)."""
        rows = self._conn.execute(
            """SELECT id FROM articles WHERE id = ?1 OR story_id =
               (SELECT story_id FROM articles WHERE id = ?1)""",
            [article_id],
        ).fetchall()
        return {r[0] for r in rows}

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
        """Newest first by the article's published date, then the match saved last. Walks the
        index on (topic, published, id) or (published, id) and stops after ``limit`` rows."""
        where, params = ("WHERE m.topic = ?", [topic]) if topic else ("", [])
        rows = self._rows(
            f"""SELECT m.*, m.id AS match_id FROM matches m
                {where} ORDER BY m.published DESC, m.id DESC LIMIT ?""",
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
                story_id=articles[r["article_id"]].story_id,
                story_role=r["story_role"],
                summary=r["summary"],
                similarity=r["similarity"],
                roles=r["roles"],
            )
            for r in rows
        ]


# articles embedded with the model :model (their first passage is stored under it)
_EMBEDDED = """SELECT a.id, a.story_id, a.title, a.text, a.published FROM articles a
    JOIN article_chunks c ON c.article_id = a.id AND c.chunk = 0 AND c.model = :model"""


def _reports(
    found: Sequence[tuple[int, int | None, np.ndarray, str, str, datetime]],
) -> list[StoredReport]:
    """``_openings`` rows without their story ids (those change as stories grow)."""
    return [
        StoredReport(article_id, opening, title, text, published)
        for article_id, _, opening, title, text, published in found
    ]


def _new_story(conn: Any, first_article_id: int, now: datetime) -> int:
    cur = conn.execute(
        "INSERT INTO stories (first_article_id, created_at, updated_at) VALUES (?,?,?)",
        [first_article_id, _iso(now), _iso(now)],
    )
    return int(cur.lastrowid or 0)


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
        story_id=r["story_id"],
        language=r.get("language") or "",
    )
