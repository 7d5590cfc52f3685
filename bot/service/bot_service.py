"""BotService: the one entry the CLI and the chat adapters call. It holds one small service per
domain, each built with what it needs; they call the store, the topic registry and the search
index, and return dataclasses that renderers turn into text."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.core.settings import Settings
from bot.ingest.fetch import Fetcher
from bot.relevance.embed import Embedder
from bot.search.index import VectorIndex
from bot.service.chats import ChatService
from bot.service.feeds import FeedService
from bot.service.learning import LearningService
from bot.service.pages import PageReader
from bot.service.queries import QueryService
from bot.service.topics import TopicService
from bot.service.trends import TrendService
from bot.store import Store
from bot.topics.multilingual import MultilingualTopics
from bot.topics.registry import TopicRegistry
from bot.topics.seeds import BACKGROUND_DIR


@dataclass(frozen=True)
class BotService:
    feeds: FeedService
    topics: TopicService
    learning: LearningService
    chats: ChatService
    queries: QueryService
    trends: TrendService


def build_service(
    settings: Settings,
    store: Store,
    embedder: Embedder,
    fetcher: Fetcher,
    registry: TopicRegistry,
    clock: Callable[[], datetime],
    multilingual: MultilingualTopics | None = None,
) -> BotService:
    pages = PageReader(settings, fetcher)
    return BotService(
        feeds=FeedService(settings, store, clock),
        topics=TopicService(store, registry, pages, clock),
        learning=LearningService(store, embedder, settings.seeds_dir / BACKGROUND_DIR, clock),
        chats=ChatService(store, embedder, clock),
        queries=QueryService(
            store,
            embedder,
            registry,
            VectorIndex(store, embedder.name),
            pages,
            multilingual,
            cascade=settings.embed_cascade,
        ),
        trends=TrendService(store, clock),
    )
