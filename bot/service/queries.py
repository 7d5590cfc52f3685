"""Queries over what is stored: latest matches, semantic search, similar articles, and scoring or
grouping documents exactly as the poll cycle would."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.core.errors import BadArgument, NotFound
from bot.core.models import Article, Match, TopicScore, validate_topic_name
from bot.relevance import stories
from bot.relevance.embed import Embedder
from bot.relevance.scoring import embed_documents
from bot.search.index import VectorIndex
from bot.search.query import QueryEncoder
from bot.service.pages import PageReader
from bot.service.topics import parse_alert_id
from bot.store import Store
from bot.topics.multilingual import MultilingualTopics, score_with_stops
from bot.topics.registry import TopicRegistry

MAX_LIMIT = 100
MAX_QUERY_CHARS = 2000


@dataclass(frozen=True)
class SearchHit:
    article: Article
    score: float
    passage: str


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise BadArgument(f"limit must be between 1 and {MAX_LIMIT}")
    return limit


class QueryService:
    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        registry: TopicRegistry,
        vector_index: VectorIndex,
        pages: PageReader,
        multilingual: MultilingualTopics | None = None,
        *,
        cascade: bool = True,  # THREATWATCH_EMBED_CASCADE: score as the poll cycle embeds
    ) -> None:
        self.cascade = cascade
        self.store = store
        self.embedder = embedder
        self.registry = registry
        # loaded in the background at start-up (bot/app/runner.py), else by the first query
        self.vector_index = vector_index
        self.query_encoder = QueryEncoder(embedder)
        self.pages = pages
        self.multilingual = multilingual  # non-English documents are scored in its space

    async def ready_index(self) -> VectorIndex:
        """The vector index with every stored passage loaded: waits, off the event loop, for the
        start-up load to finish, or runs it if none was started."""
        if not self.vector_index.warmed:
            await asyncio.to_thread(self.vector_index.warm)
        return self.vector_index

    def latest(self, *, topic: str | None = None, limit: int = 10) -> list[Match]:
        if topic:
            self.store.topic(validate_topic_name(topic))
        return self.store.latest_matches(topic=topic, limit=check_limit(limit))

    async def search(self, query: str, *, limit: int = 10) -> list[SearchHit]:
        """Semantic search over every stored article (not only matches): best passage per article.
        Waits, off the event loop, for the index and the model to load if they have not yet."""
        query = query.strip()
        if not query:
            raise BadArgument("search needs some text")
        if len(query) > MAX_QUERY_CHARS:
            raise BadArgument(f"search text too long ({MAX_QUERY_CHARS} characters at most)")
        check_limit(limit)
        index = await self.ready_index()
        index.sync()
        if len(index) == 0:
            return []  # nothing stored: no need to load the model
        query_vector = await self.query_encoder.encode(query)
        hits = index.search(query_vector, limit=limit)
        articles = self.store.articles_by_ids([h.article_id for h in hits])
        return [SearchHit(articles[h.article_id], round(h.score, 4), h.passage) for h in hits]

    async def similar(self, ref: str, *, limit: int = 5) -> tuple[str, list[SearchHit]]:
        """Stored articles most similar to an alert's article or to a URL (stored, or fetched
        and extracted). Returns (what was compared, hits), the article itself left out."""
        ref = ref.strip()
        article: Article | None = None
        if ref.lstrip("#").isdigit():
            article = self.store.match(parse_alert_id(ref)).article
        else:
            article = self.store.article_by_url(ref)
        if article is not None:
            label = article.title
            passages, vectors = self.store.article_vectors(article.id, self.embedder.name)
        else:  # a page we have not stored: fetch it (through the SSRF guard) and embed it
            text = await self.pages.article_text(ref)
            label = ref
            [doc] = await asyncio.to_thread(embed_documents, self.embedder, [("", text)])
            passages, vectors = doc.passages, doc.vectors
        if len(passages) == 0:
            raise NotFound("that article has no stored text to compare")
        # on the event loop's thread, like every other store read: the index reads the store
        exclude = article.id if article is not None else None
        found = (await self.ready_index()).search(vectors, limit=limit, exclude=exclude)
        articles = self.store.articles_by_ids([h.article_id for h in found])
        hits = [SearchHit(articles[h.article_id], round(h.score, 4), h.passage) for h in found]
        return label, hits

    def group_stories(
        self, docs: Sequence[tuple[str, str]], dates: Sequence[datetime | None]
    ) -> list[int]:
        """Story labels for (title, text) documents in order, grouped as the poll cycle groups
        new articles (a label is the position of the story's first report)."""
        embedded = embed_documents(self.embedder, docs)
        reports = [
            stories.Report.unsaved(i, t, x, stories.gist(doc.vectors), date)
            for i, ((t, x), doc, date) in enumerate(zip(docs, embedded, dates, strict=True))
        ]
        return stories.group(reports)

    def score_documents(
        self, docs: Sequence[tuple[str, str]], *, topic: str | None = None
    ) -> list[list[TopicScore]]:
        """Score (title, text) documents exactly as the poll cycle scores new articles."""
        return self.score_documents_with_stops(docs, topic=topic)[0]

    def score_documents_with_stops(
        self, docs: Sequence[tuple[str, str]], *, topic: str | None = None
    ) -> tuple[list[list[TopicScore]], list[bool]]:
        """The scores, and whether the poll cycle's cascade would stop each document at its
        lead (embed nothing more, match nothing); a stopped one is scored on its whole text."""
        indexes = self.registry.indexes(only=topic)
        if topic and not indexes:
            raise NotFound(f"no enabled topic {topic!r}")
        return score_with_stops(
            docs, self.embedder, indexes, self.multilingual, cascade=self.cascade
        )
