"""Articles with their passage vectors, stories, matches, and the outbox rows a match queues.

An item is stored once however many workers see it: guid and content hash are unique keys and
the insert does nothing on a conflict, so of two workers saving the same item one gets it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import psycopg

from bot.core.errors import NotFound
from bot.core.models import Article, FeedItem, Match
from bot.core.records import NewArticle, NewMatch, StoredReport
from bot.store.articles import STORY_CANDIDATES, _article, _reports
from bot.store.postgres.article_insert import OWN_STORY, insert_article, with_story
from bot.store.postgres.base import PgBase, ts

Conn = psycopg.Connection[Any]


class PgArticlesPart(PgBase):
    def known_items(self, items: Iterable[FeedItem]) -> set[str]:
        """guids of items already stored by guid or canonical URL (before any full-text fetch)."""
        items = list(items)
        if not items:
            return set()
        guids = [i.guid for i in items]
        urls = [i.url for i in items if i.url is not None]
        rows = self._all(
            "SELECT guid, url FROM articles WHERE guid = ANY(%s) OR url = ANY(%s)", [guids, urls]
        )
        stored_guids = {r[0] for r in rows}
        stored_urls = {r[1] for r in rows if r[1] is not None}
        return {i.guid for i in items if i.guid in stored_guids or i.url in stored_urls}

    def stored_content_hashes(self, hashes: Iterable[str]) -> set[str]:
        """Which of these content hashes stored articles have: one query for a whole batch."""
        wanted = list(hashes)
        sql = "SELECT content_hash FROM articles WHERE content_hash = ANY(%s)"
        return {r[0] for r in self._all(sql, [wanted])} if wanted else set()

    def save_articles(
        self, batch: Sequence[NewArticle], matches: Sequence[NewMatch], *, model: str, now: datetime
    ) -> tuple[list[Article], list[Match]]:
        """Save articles, their vectors, their matches and the outbox rows for every subscribed
        channel in ONE transaction; returns only what was new (an article already stored, or
        earlier in the batch, by guid, url or content hash is skipped with its matches)."""
        saved: dict[int, Article] = {}
        new_matches: list[Match] = []
        chunks: list[tuple[int, int, str, str, np.ndarray]] = []
        for dims in {int(np.shape(new.vectors)[-1]) for new in batch if np.size(new.vectors)}:
            self.ensure_vector_index(dims)  # before the transaction: it may take a table lock
        with self.transaction() as conn:
            taken = _stored_keys(conn, batch)  # one query for the batch, not one per article
            for index, new in enumerate(batch):
                if _keys(new) & taken:
                    continue
                if new.story_of is not None:  # another stored report's story: looked up after
                    article = insert_article(conn, new, now, None)
                else:  # its own story, or one of this batch: in the insert's statement
                    at = new.story_of_index
                    story = saved[at].story_id if at is not None and at in saved else None
                    article = insert_article(conn, new, now, OWN_STORY if story is None else story)
                if article is None:  # another process stored it meanwhile
                    continue
                taken |= _keys(new)
                chunks += [
                    (article.id, i, model, p, np.asarray(v, np.float32))
                    for i, (p, v) in enumerate(zip(new.passages, new.vectors, strict=True))
                ]
                if article.story_id is None:
                    article = with_story(
                        article, self._join_story(conn, article.id, new, saved, now)
                    )
                saved[index] = article
            with conn.cursor() as cur:  # every passage of the batch in one pipelined round
                cur.executemany(
                    """INSERT INTO article_chunks (article_id, chunk, model, passage, vector)
                       VALUES (%s,%s,%s,%s,%s)""",
                    chunks,
                )
            for m in matches:
                article = saved.get(m.article_index)
                if article is not None:
                    adds = batch[m.article_index].adds_facts
                    new_matches.append(self._insert_match(conn, article, m, adds, now))
        return list(saved.values()), new_matches

    def _insert_match(
        self, conn: Conn, article: Article, m: NewMatch, adds_facts: bool, now: datetime
    ) -> Match:
        role = _story_role(conn, article, m.topic, adds_facts)
        row = conn.execute(
            """INSERT INTO matches (article_id, topic, score, threshold, seed_id, seed_title,
               passage, created_at, story_role, summary, similarity, published, roles)
               VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) RETURNING id""",
            [
                article.id,
                m.topic,
                m.score,
                m.threshold,
                m.seed_id,
                m.seed_title,
                m.passage,
                ts(now),
                role,
                m.summary,
                m.similarity,
                ts(article.published),
                m.roles,
            ],
        ).fetchone()
        assert row is not None
        match_id = int(row[0])
        conn.execute(
            """INSERT INTO outbox (match_id, channel_id, next_attempt_at, created_at)
               SELECT %s, s.channel_id, %s, %s FROM subscriptions s
               WHERE s.topic = %s AND s.status = 'active' ON CONFLICT DO NOTHING""",
            [match_id, ts(now), ts(now), m.topic],
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

    @staticmethod
    def _join_story(
        conn: Conn, article_id: int, new: NewArticle, saved: dict[int, Article], now: datetime
    ) -> int:
        """The story this article joins (an earlier report's, stored or in this batch), or a new
        story it starts."""
        story_id = None
        if new.story_of is not None:
            row = conn.execute(
                "SELECT story_id FROM articles WHERE id = %s FOR UPDATE", [new.story_of]
            ).fetchone()
            story_id = row[0] if row else None
            if row and story_id is None:  # stored before it had a story: it starts one now
                story_id = _new_story(conn, new.story_of, now)
                conn.execute(
                    "UPDATE articles SET story_id = %s WHERE id = %s", [story_id, new.story_of]
                )
        elif new.story_of_index is not None and new.story_of_index in saved:
            story_id = saved[new.story_of_index].story_id
        if story_id is None:
            story_id = _new_story(conn, article_id, now)
        else:
            conn.execute(
                "UPDATE stories SET reports = reports + 1, updated_at = %s WHERE id = %s",
                [ts(now), story_id],
            )
        conn.execute("UPDATE articles SET story_id = %s WHERE id = %s", [story_id, article_id])
        return int(story_id)

    # --- stories ------------------------------------------------------------------------------
    def story_candidates(
        self, since: datetime, model: str, passages: int, limit: int = STORY_CANDIDATES
    ) -> list[tuple[int, int | None, np.ndarray, str, str, datetime]]:
        """What a new article may be another report of, newest first (see the SQLite store)."""
        return self._openings(
            f"{_EMBEDDED} WHERE a.published >= %(since)s"
            " ORDER BY a.published DESC, a.id DESC LIMIT %(limit)s",
            {"model": model, "since": ts(since), "limit": limit, "passages": passages},
        )

    def story_reports(
        self, since: datetime, model: str, passages: int, limit: int
    ) -> list[StoredReport]:
        return _reports(self.story_candidates(since, model, passages, limit))

    def story_reports_saved_after(
        self, article_id: int, since: datetime, model: str, passages: int
    ) -> list[StoredReport]:
        return _reports(
            self._openings(
                f"{_EMBEDDED} WHERE a.id > %(after)s AND a.published >= %(since)s",
                {"model": model, "after": article_id, "since": ts(since), "passages": passages},
            )
        )

    def _openings(
        self, chosen: str, params: dict[str, Any]
    ) -> list[tuple[int, int | None, np.ndarray, str, str, datetime]]:
        articles = self._all(chosen, params)
        vectors: dict[int, list[np.ndarray]] = {}
        for article_id, vector in self._all(
            """SELECT article_id, vector FROM article_chunks
               WHERE article_id = ANY(%s) AND model = %s AND chunk < %s
               ORDER BY article_id, chunk""",
            [[row[0] for row in articles], params["model"], params["passages"]],
            binary=True,
        ):
            vectors.setdefault(article_id, []).append(np.asarray(vector, np.float32))
        return [
            (aid, story_id, np.stack(vectors[aid]), title, text, when.astimezone(UTC))
            for aid, story_id, title, text, when in articles
        ]

    def last_article_id(self) -> int:
        row = self._one("SELECT max(id) FROM articles")
        return int(row[0] or 0) if row else 0

    def story_members(self, article_id: int) -> set[int]:
        rows = self._all(
            """SELECT id FROM articles WHERE id = %(id)s OR story_id =
               (SELECT story_id FROM articles WHERE id = %(id)s)""",
            {"id": article_id},
        )
        return {r[0] for r in rows}

    def article(self, article_id: int) -> Article:
        rows = self._rows("SELECT * FROM articles WHERE id = %s", [article_id])
        if not rows:
            raise NotFound(f"no article with id {article_id}")
        return _article(rows[0])

    def articles_by_ids(self, ids: Sequence[int]) -> dict[int, Article]:
        if not ids:
            return {}
        rows = self._rows("SELECT * FROM articles WHERE id = ANY(%s)", [list(map(int, ids))])
        return {r["id"]: _article(r) for r in rows}

    def count_articles(self) -> int:
        row = self._one("SELECT count(*) FROM articles")
        return int(row[0]) if row else 0

    def chunk_matrix(self, model: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """All stored article passage vectors for one model: (vectors, article_ids, passages)."""
        rows = self._all(
            """SELECT article_id, passage, vector FROM article_chunks WHERE model = %s
               ORDER BY article_id, chunk""",
            [model],
            binary=True,
        )
        if not rows:
            return np.zeros((0, 0), np.float32), np.zeros(0, np.int64), []
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        vectors = np.vstack([np.asarray(r[2], np.float32) for r in rows])
        return vectors, ids, [r[1] for r in rows]

    # --- matches ----------------------------------------------------------------------------
    def latest_matches(self, *, topic: str | None = None, limit: int = 10) -> list[Match]:
        """Newest first by the article's published date, then the match saved last."""
        where, params = ("WHERE m.topic = %s", [topic]) if topic else ("", [])
        rows = self._rows(
            f"""SELECT m.*, m.id AS match_id FROM matches m
                {where} ORDER BY m.published DESC, m.id DESC LIMIT %s""",
            [*params, limit],
        )
        return self._matches(rows)

    def count_matches(self, topic: str, *, since: datetime) -> int:
        row = self._one(
            "SELECT count(*) FROM matches WHERE topic = %s AND created_at >= %s", [topic, ts(since)]
        )
        return int(row[0]) if row else 0

    def match(self, match_id: int) -> Match:
        rows = self._rows("SELECT m.*, m.id AS match_id FROM matches m WHERE m.id = %s", [match_id])
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


# articles embedded with the model %(model)s (their first passage is stored under it)
_EMBEDDED = """SELECT a.id, a.story_id, a.title, a.text, a.published FROM articles a
    JOIN article_chunks c ON c.article_id = a.id AND c.chunk = 0 AND c.model = %(model)s"""


def _keys(new: NewArticle) -> set[tuple[str, str]]:
    """What makes two items the same article: guid, content hash, canonical URL."""
    keys = {("guid", new.item.guid), ("hash", new.content_hash)}
    return keys | ({("url", new.item.url)} if new.item.url is not None else set())


def _stored_keys(conn: Conn, batch: Sequence[NewArticle]) -> set[tuple[str, str]]:
    """The keys of the batch's items that stored articles already have."""
    if not batch:
        return set()
    guids = [n.item.guid for n in batch]
    hashes = [n.content_hash for n in batch]
    urls = [n.item.url for n in batch if n.item.url is not None]
    rows = conn.execute(
        """SELECT guid, content_hash, url FROM articles
           WHERE guid = ANY(%s) OR content_hash = ANY(%s) OR url = ANY(%s)""",
        [guids, hashes, urls],
    ).fetchall()
    found: set[tuple[str, str]] = set()
    for guid, digest, url in rows:
        found |= {("guid", guid), ("hash", digest)} | ({("url", url)} if url else set())
    return found


def _story_role(conn: Conn, article: Article, topic: str, adds_facts: bool) -> str:
    """'first' for a story's first match in a topic; later reports are 'update' when they state
    new facts, else 'repeat'."""
    earlier = conn.execute(
        """SELECT 1 FROM matches m JOIN articles a ON a.id = m.article_id
           WHERE a.story_id = %s AND m.topic = %s AND m.article_id != %s LIMIT 1""",
        [article.story_id, topic, article.id],
    ).fetchone()
    if earlier is None:
        return "first"
    return "update" if adds_facts else "repeat"


def _new_story(conn: Conn, first_article_id: int, now: datetime) -> int:
    row = conn.execute(
        """INSERT INTO stories (first_article_id, created_at, updated_at) VALUES (%s,%s,%s)
           RETURNING id""",
        [first_article_id, ts(now), ts(now)],
    ).fetchone()
    assert row is not None
    return int(row[0])
