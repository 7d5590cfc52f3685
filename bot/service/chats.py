"""Chats: subscriptions, chat settings, explanations of alerts, relevance feedback, status."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from bot import __version__
from bot.core.channels import (
    Channel,
    ChannelKey,
    ChatSettings,
    DeliveryMode,
    Subscription,
    apply_setting,
)
from bot.core.errors import BadArgument, NotFound
from bot.core.models import FeedStatus, Match, validate_topic_name
from bot.messages.feedback_reasons import REASONS
from bot.relevance.embed import Embedder
from bot.relevance.embed_choice import describe as describe_embedder
from bot.store import Store

FEEDBACK_REASONS = tuple(REASONS.values())


@dataclass(frozen=True)
class Explanation:
    """What /why shows: the match with its evidence and the feedback it got."""

    match: Match
    votes_up: int
    votes_down: int
    reasons: dict[str, int] = field(default_factory=dict)  # 👎 reasons given, by reason
    # the topic version in force when the article was scored (for a non-English article: the
    # version its multilingual copy followed); None when the topic has no versions
    topic_version: int | None = None


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
    embedding: str = ""  # model, runtime and why it was chosen (THREATWATCH_EMBED_PRECISION)


class ChatService:
    def __init__(self, store: Store, embedder: Embedder, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.embedder = embedder  # /status names its model and runtime
        self.clock = clock

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
        return Explanation(
            match, up, down, self.store.feedback_reasons(alert_id), self._version_of(match)
        )

    def _version_of(self, match: Match) -> int | None:
        """The version that scored a match: the newest recorded before it. A topic's index is
        brought to its current version (recorded first) before any article is scored with it,
        and versions are only ever added, a rollback too."""
        versions = [
            v.version
            for v in self.store.topic_versions(match.topic)
            if v.created_at <= match.created_at
        ]
        return max(versions, default=None)

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
            embedding=describe_embedder(self.embedder),
        )
