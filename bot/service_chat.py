"""BotService behaviour for chats: subscriptions, chat settings, explanations, similar articles,
status and relevance feedback. Mixed into BotService (bot/service.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot import __version__
from bot.channels import (
    Channel,
    ChannelKey,
    ChatSettings,
    DeliveryMode,
    Subscription,
    apply_setting,
)
from bot.chat.feedback_reasons import REASONS
from bot.errors import BadArgument, NotFound
from bot.models import Article, FeedStatus, Match
from bot.pipeline import extract, netguard
from bot.pipeline.fetch import HTML_ACCEPT
from bot.scoring import embed_documents
from bot.topics import validate_topic_name

if TYPE_CHECKING:
    from bot.pipeline.embed import Embedder
    from bot.pipeline.fetch import Fetcher
    from bot.service import SearchHit
    from bot.settings import Settings
    from bot.store import Store
    from bot.vectorindex import VectorIndex


FEEDBACK_REASONS = tuple(REASONS.values())


@dataclass(frozen=True)
class Explanation:
    """What /why shows: the match with its evidence and the feedback it got."""

    match: Match
    votes_up: int
    votes_down: int
    reasons: dict[str, int] = field(default_factory=dict)  # 👎 reasons given, by reason


@dataclass(frozen=True)
class StatusReport:
    version: str
    feeds_active: int
    feeds_failing: int  # active but last check failed
    feeds_disabled: int
    failing: list[tuple[int, str, str]]  # (feed id, url, last error)
    last_cycle: dict[str, Any] | None
    queue_pending: int
    subscriptions: dict[str, int]
    articles: int


def parse_alert_id(value: str) -> int:
    text = value.strip().lstrip("#")
    if not text.isdigit() or len(text) > 12:
        raise BadArgument(f"bad alert id {value[:30]!r}: use the number shown as #N in an alert")
    return int(text)


class ChatServiceMixin:
    settings: Settings
    store: Store
    embedder: Embedder
    fetcher: Fetcher
    clock: Callable[[], datetime]
    vector_index: VectorIndex

    async def ready_index(self) -> VectorIndex:
        """The vector index with every stored passage loaded: waits, off the event loop, for the
        start-up load to finish, or runs it if none was started."""
        if not self.vector_index.warmed:
            await asyncio.to_thread(self.vector_index.warm)
        return self.vector_index

    # --- subscriptions ----------------------------------------------------------------------
    def channel(self, key: ChannelKey) -> Channel:
        return self.store.channel_for(key, self.clock())

    def _topic_names(self, topic: str | None) -> list[str]:
        if topic is None:
            return [t.name for t in self.store.topics()]
        self.store.topic(validate_topic_name(topic))
        return [topic]

    def subscribe(self, key: ChannelKey, topic: str | None = None) -> list[str]:
        topics = self._topic_names(topic)
        if not topics:
            raise NotFound("there are no topics yet")
        self.store.subscribe(self.channel(key).id, topics, self.clock())
        return topics

    def unsubscribe(self, key: ChannelKey, topic: str | None = None) -> list[str]:
        channel = self.channel(key)
        current = {s.topic for s in self.store.subscriptions(channel.id)}
        if topic is not None:
            validate_topic_name(topic)
            if topic not in current:
                raise NotFound(f"this chat is not subscribed to {topic!r}")
        topics = [topic] if topic else sorted(current)
        self.store.unsubscribe(channel.id, topics)
        return topics

    def subscriptions(self, key: ChannelKey) -> list[Subscription]:
        return self.store.subscriptions(self.channel(key).id)

    # --- chat settings ----------------------------------------------------------------------
    def chat_settings(self, key: ChannelKey) -> ChatSettings:
        return self.channel(key).settings

    def update_chat_settings(self, key: ChannelKey, name: str, values: list[str]) -> ChatSettings:
        channel = self.channel(key)
        updated = apply_setting(channel.settings, name, values)
        if updated.mode is DeliveryMode.DIGEST and channel.settings.mode is not DeliveryMode.DIGEST:
            # the first digest covers what arrives from now until the next digest hour
            updated = replace(updated, last_digest_at=self.clock().isoformat())
        self.store.save_channel_settings(channel.id, updated)
        return updated

    # --- explanations and feedback ----------------------------------------------------------
    def why(self, alert_id: int) -> Explanation:
        match = self.store.match(alert_id)
        up, down = self.store.feedback_counts(alert_id)
        return Explanation(match, up, down, self.store.feedback_reasons(alert_id))

    def record_feedback(
        self, alert_id: int, platform: str, user_id: str, vote: int, *, reason: str | None = None
    ) -> tuple[int, int]:
        if vote not in (-1, 1):
            raise BadArgument("a vote is +1 or -1")
        if reason is not None and (vote != -1 or reason not in FEEDBACK_REASONS):
            raise BadArgument(
                f"a reason goes with a 👎 and is one of: {', '.join(FEEDBACK_REASONS)}"
            )
        self.store.match(alert_id)  # NotFound for an unknown alert
        self.store.record_feedback(alert_id, platform, user_id, vote, self.clock(), reason=reason)
        return self.store.feedback_counts(alert_id)

    # --- similar ----------------------------------------------------------------------------
    async def similar(self, ref: str, *, limit: int = 5) -> tuple[str, list[SearchHit]]:
        """Stored articles most similar to an alert's article or to a URL (stored, or fetched
        and extracted). Returns (what was compared, hits), the article itself left out."""
        from bot.service import SearchHit

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
            await netguard.check_url(ref, allow_private=self.settings.allow_private_networks)
            page = await self.fetcher.fetch(ref, accept=HTML_ACCEPT)
            text = await asyncio.to_thread(extract.extract_main_text, page.content, url=page.url)
            if not text:
                raise BadArgument(f"could not extract article text from {ref}")
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

    # --- status -----------------------------------------------------------------------------
    def status(self) -> StatusReport:
        feeds = self.store.feeds()
        active = [f for f in feeds if f.status is FeedStatus.ACTIVE]
        failing = [f for f in active if f.consecutive_failures > 0]
        return StatusReport(
            version=__version__,
            feeds_active=len(active),
            feeds_failing=len(failing),
            feeds_disabled=len(feeds) - len(active),
            failing=[(f.id, f.url, f.last_error or "") for f in failing[:5]],
            last_cycle=self.store.last_cycle_report(),
            queue_pending=self.store.outbox_counts().get("pending", 0),
            subscriptions=self.store.count_subscriptions(),
            articles=self.store.count_articles(),
        )
