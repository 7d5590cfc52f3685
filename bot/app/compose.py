"""compose(settings) builds every long-lived object once and passes it down. Nothing is built at
import time; tests and the CLI get the same wiring."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from bot.core.logsafe import redact_secrets, secrets_of
from bot.core.models import utcnow
from bot.core.settings import Settings
from bot.deliver.console import CONSOLE, ConsoleSink
from bot.deliver.outbox import Deliverer
from bot.deliver.sink import Sink
from bot.ingest.fetch import Fetcher, FetchLimits
from bot.ops.wiring import Ops
from bot.pipeline.cycle import Pipeline
from bot.relevance.embed import Embedder
from bot.relevance.embed_choice import make_embedder
from bot.relevance.multilingual import MultilingualEmbedder
from bot.relevance.vector_files import VectorFiles
from bot.service.bot_service import BotService, build_service
from bot.store import Store
from bot.store.open import open_store
from bot.topics.config import load_default_feeds, sync_from_config
from bot.topics.multilingual import MultilingualTopics
from bot.topics.registry import TopicRegistry
from bot.topics.seeds import BACKGROUND_DIR
from bot.websub.subscriber import WebSubSubscriber

if TYPE_CHECKING:
    from bot.websub.receiver import WebSubReceiver


class ChatAdapter(Protocol):
    """A chat platform's update receiver (Telegram polling/webhook, Slack…), run by the runner."""

    async def start(self, stop: Any) -> bool: ...

    async def stop(self) -> None: ...


@dataclass
class App:
    settings: Settings
    store: Store
    fetcher: Fetcher
    embedder: Embedder
    service: BotService
    registry: TopicRegistry
    pipeline: Pipeline
    deliverer: Deliverer
    clock: Callable[[], datetime] = field(default=utcnow)
    adapters: list[ChatAdapter] = field(default_factory=list)
    websub: WebSubReceiver | None = None  # with THREATWATCH_WEBSUB_CALLBACK_URL
    ops: Ops | None = None  # metrics and health, with THREATWATCH_METRICS_PORT

    async def aclose(self) -> None:
        await self.fetcher.aclose()
        if self.websub is not None:
            await self.websub.subscriber.aclose()
        self.store.close()


def compose(
    settings: Settings,
    *,
    clock: Callable[[], datetime] = utcnow,
    sinks: dict[str, Sink] | None = None,
    sync_config: bool = True,
) -> App:
    _stay_offline()
    # before any client is built: python-telegram-bot logs its base URL, which holds the token
    redact_secrets(secrets_of(settings))
    # SQLite by default, PostgreSQL with THREATWATCH_DATABASE_URL; typed as the protocol, which
    # both implement (mypy checks the assignment in bot/store/open.py)
    store: Store = open_store(settings)
    if sync_config:
        sync_from_config(store, settings.config_dir, settings.seeds_dir, clock())
        if settings.load_default_feeds:
            load_default_feeds(store, settings.config_dir, clock())
    fetcher = Fetcher(FetchLimits.from_settings(settings))
    embedder = _embedder(settings)
    # metrics and health, with THREATWATCH_METRICS_PORT: the embedder and sinks are counted
    ops = Ops.from_settings(settings) if settings.metrics_port is not None else None
    if ops is not None:
        embedder = ops.embedder(embedder)
    # one registry of topic indexes, shared by the poll cycle and the services: built once,
    # rebuilt for a topic only when it changes
    registry = TopicRegistry(
        store, embedder, background_dir=settings.seeds_dir / BACKGROUND_DIR, clock=clock
    )
    # Arabic, Persian and other non-English reporting: the multilingual model and each topic's
    # copy in its space (bot/topics/multilingual.py); None with THREATWATCH_MULTILINGUAL=off
    multilingual = multilingual_topics(settings, store)
    service = build_service(settings, store, embedder, fetcher, registry, clock, multilingual)
    pipeline = Pipeline(settings, store, fetcher, embedder, registry.indexes, clock, multilingual)
    if ops is not None:
        pipeline.observers.append(ops.observe_cycle)
        pipeline.push_observers.append(ops.metrics.observe_push)
    adapters: list[ChatAdapter] = []
    if sinks is None:
        sinks, adapters = _chat_platforms(settings, service, store, ops)
    if CONSOLE in sinks:
        # the console is one channel subscribed to every topic
        channel = store.ensure_channel(CONSOLE, "stdout", now=clock())
        store.subscribe(channel, [t.name for t in store.topics()], clock())
    deliverer = Deliverer(
        store,
        ops.sinks(sinks) if ops is not None else sinks,
        clock,
        retry_base=settings.delivery_retry_base,
        max_retry_delay=settings.delivery_max_retry_delay,
        claim_seconds=settings.delivery_claim_seconds,
    )
    websub = None
    if settings.websub_callback_url:  # its server brings aiohttp: imported only where it runs
        from bot.websub.receiver import WebSubReceiver

        websub = WebSubReceiver(WebSubSubscriber(settings, store, clock), pipeline)
    return App(
        settings,
        store,
        fetcher,
        embedder,
        service,
        registry,
        pipeline,
        deliverer,
        clock,
        adapters,
        websub,
        ops,
    )


def _stay_offline() -> None:
    # The model comes from an installed package; never let a library reach for a model hub.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def _embedder(settings: Settings) -> Embedder:
    return make_embedder(
        settings.embedder,
        settings.model,
        batch_size=settings.embed_batch_size,
        precision=settings.embed_precision,
        compile_model=settings.embed_compile,
        cache_dir=settings.model_cache_dir or settings.db.parent / "model-cache",
    )


def _chat_platforms(
    settings: Settings, service: BotService, store: Store, ops: Ops | None = None
) -> tuple[dict[str, Sink], list[ChatAdapter]]:
    """A sink and an adapter per platform that has a token; the console when none has. The
    store keeps what several processes of one bot share: the elected Telegram listener, its
    offset, and the ids of updates and events already taken. With metrics on, every failed API
    call of their clients is counted."""
    sinks: dict[str, Sink] = {}
    adapters: list[ChatAdapter] = []
    on_api_error = ops.metrics.observe_api_error if ops is not None else None
    if settings.telegram_token:
        from bot.adapters.telegram.app import TelegramAdapter, build_application
        from bot.adapters.telegram.sink import TELEGRAM, TelegramSink

        application = build_application(settings, on_api_error)
        sinks["telegram"] = TelegramSink(
            application.bot, sends_in_flight=settings.telegram_sends_in_flight
        )
        election = store.listener_election(TELEGRAM)
        adapters.append(
            TelegramAdapter(settings, service, application, updates=store, election=election)
        )
    if settings.slack_bot_token:
        from bot.adapters.slack.app import SlackAdapter, build_client
        from bot.adapters.slack.sink import SLACK, SlackSink

        client = build_client(settings, on_api_error)
        sinks[SLACK] = SlackSink(client)
        adapters.append(SlackAdapter(settings, service, client, updates=store))
    if not settings.telegram_token and not settings.slack_bot_token:
        sinks[CONSOLE] = ConsoleSink()
    return sinks, adapters


def multilingual_topics(settings: Settings, store: Store) -> MultilingualTopics | None:
    """The multilingual path, unless switched off; with "eager" its model is loaded now."""
    if settings.multilingual == "off":
        return None
    embedder = MultilingualEmbedder(threads=settings.multilingual_threads)
    # the copies' examples in this space are the slowest texts to embed (one engine thread,
    # ~3 passages a second): kept on disk like the English seeds', for every database here
    cache_dir = settings.model_cache_dir or settings.db.parent / "model-cache"
    embedder.vector_files = VectorFiles(cache_dir / "seed-vectors")
    if settings.multilingual == "eager":
        embedder.load()
    return MultilingualTopics(store, embedder, settings.seeds_dir, mode=settings.multilingual)
