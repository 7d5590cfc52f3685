"""BotService: the one place behaviour lives. The CLI and the chat adapters call it; it calls the
store and the pipeline, and returns dataclasses that renderers turn into text."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.errors import BadArgument, NotFound, Refused
from bot.models import Article, Feed, Match, Seed, Topic, TopicScore
from bot.opml import OutlineFeed, parse_opml, to_opml
from bot.pipeline import extract, netguard
from bot.pipeline.embed import Embedder
from bot.pipeline.fetch import HTML_ACCEPT, Fetcher
from bot.pipeline.match import TopicIndex
from bot.relevance import stories
from bot.scoring import embed_documents
from bot.service_admin import AdminServiceMixin
from bot.service_chat import ChatServiceMixin
from bot.service_learning import LearningServiceMixin
from bot.service_query import QueryEncoder
from bot.settings import Settings
from bot.store import Store
from bot.topic_multilingual import MultilingualTopics, score_in_spaces
from bot.topics import BACKGROUND_DIR, build_indexes, seed_from_text, validate_topic_name
from bot.vectorindex import VectorIndex

MAX_LIMIT = 100
MAX_QUERY_CHARS = 2000


@dataclass(frozen=True)
class TopicSummary:
    topic: Topic
    seeds: int
    counter_examples: int
    matches_7d: int


@dataclass(frozen=True)
class SearchHit:
    article: Article
    score: float
    passage: str


@dataclass(frozen=True)
class ImportResult:
    added: list[Feed]
    existing: list[str]
    refused: list[tuple[str, str]]  # (url, reason)


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise BadArgument(f"limit must be between 1 and {MAX_LIMIT}")
    return limit


class BotService(ChatServiceMixin, AdminServiceMixin, LearningServiceMixin):
    def __init__(
        self,
        settings: Settings,
        store: Store,
        embedder: Embedder,
        fetcher: Fetcher,
        clock: Callable[[], datetime],
    ):
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self.fetcher = fetcher
        self.clock = clock
        # loaded in the background at start-up (bot/runner.py), else by the first query
        self.vector_index = VectorIndex(store, embedder.name)
        self.query_encoder = QueryEncoder(embedder)
        # non-English articles' path (bot/topic_multilingual.py); set by compose, None: English only
        self.multilingual: MultilingualTopics | None = None

    # --- topics ---------------------------------------------------------------------------------
    def indexes(self, *, only: str | None = None, enabled_only: bool = True) -> list[TopicIndex]:
        return build_indexes(
            self.store,
            self.embedder,
            only=only,
            enabled_only=enabled_only,
            background_dir=self.settings.seeds_dir / BACKGROUND_DIR,
            now=self.clock(),
        )

    def topics(self) -> list[TopicSummary]:
        since = self.clock() - timedelta(days=7)
        return [
            TopicSummary(
                topic=t,
                seeds=len(self.store.seeds(t.name, kind="positive")),
                counter_examples=len(self.store.seeds(t.name, kind="counter")),
                matches_7d=self.store.count_matches(t.name, since=since),
            )
            for t in self.store.topics()
        ]

    def seeds(self, topic: str) -> list[Seed]:
        self.store.topic(validate_topic_name(topic))
        return self.store.seeds(topic)

    async def add_seed(
        self,
        topic: str,
        *,
        text: str | None = None,
        url: str | None = None,
        title: str | None = None,
        kind: str = "positive",
    ) -> tuple[Seed, bool]:
        """Add a seed from text, or from a URL whose article text is fetched and extracted."""
        self.store.topic(validate_topic_name(topic))
        origin = "text"
        if url is not None:
            await netguard.check_url(url, allow_private=self.settings.allow_private_networks)
            page = await self.fetcher.fetch(url, accept=HTML_ACCEPT)
            text = await asyncio.to_thread(extract.extract_main_text, page.content, url=page.url)
            if not text:
                raise BadArgument(f"could not extract article text from {url}")
            origin = url
        if not text:
            raise BadArgument("a seed needs text or a URL")
        seed, created = self.store.add_seed(
            seed_from_text(topic, text, origin, kind=kind, title=title), self.clock(), revive=True
        )
        # embed now, so the next cycle scores against it (and a broken model fails here, loudly)
        await asyncio.to_thread(self.indexes, only=topic, enabled_only=False)
        return seed, created

    def remove_seed(self, seed_id: int) -> None:
        self.store.remove_seed(seed_id, self.clock())

    # --- feeds ----------------------------------------------------------------------------------
    async def add_feed(self, url: str, name: str | None = None) -> tuple[Feed, bool]:
        url = url.strip()
        await netguard.check_url(url, allow_private=self.settings.allow_private_networks)
        if name is not None and len(name) > 200:
            raise BadArgument("feed name too long (200 characters at most)")
        return self.store.add_feed(url, name, self.clock())

    def feeds(self) -> list[Feed]:
        return self.store.feeds()

    def remove_feed(self, ref: str) -> Feed:
        feed = self.store.find_feed(ref.strip())
        self.store.remove_feed(feed.id)
        return feed

    async def import_opml(self, data: bytes) -> ImportResult:
        added: list[Feed] = []
        existing: list[str] = []
        refused: list[tuple[str, str]] = []
        for outline in parse_opml(data):
            try:
                feed, created = await self.add_feed(outline.url, outline.name)
            except Refused as exc:  # a bad or hostile URL in the file: skip it, keep the rest
                refused.append((outline.url, str(exc)))
                continue
            (added.append(feed) if created else existing.append(feed.url))
        return ImportResult(added, existing, refused)

    def export_opml(self) -> str:
        return to_opml([OutlineFeed(f.url, f.name) for f in self.store.feeds()])

    # --- queries --------------------------------------------------------------------------------
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
        indexes = self.indexes(only=topic)
        if topic and not indexes:
            raise NotFound(f"no enabled topic {topic!r}")
        return score_in_spaces(docs, self.embedder, indexes, self.multilingual)
