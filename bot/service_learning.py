"""BotService behaviour for topics that learn: train from feedback and report the
cross-validated figures, list versions, roll back. Mixed into BotService (bot/service.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bot import topic_training
from bot.errors import BadArgument
from bot.models import TopicVersion
from bot.topics import BACKGROUND_DIR, validate_topic_name

if TYPE_CHECKING:
    from bot.pipeline.embed import Embedder
    from bot.settings import Settings
    from bot.store import Store


class LearningServiceMixin:
    store: Store
    embedder: Embedder
    settings: Settings
    clock: Callable[[], datetime]

    @property
    def _background(self) -> Path:
        return self.settings.seeds_dir / BACKGROUND_DIR

    def train_report(self, topic: str) -> topic_training.TrainReport:
        """Cross-validated figures with the examples in use, and with pending feedback added.
        Changes nothing: `apply_feedback` does."""
        return topic_training.train_report(
            self.store,
            self.embedder,
            self.store.topic(validate_topic_name(topic)),
            self._background,
        )

    def apply_feedback(self, topic: str) -> TopicVersion:
        outcome = topic_training.apply_feedback(
            self.store,
            self.embedder,
            self.store.topic(validate_topic_name(topic)),
            self._background,
            self.clock(),
        )
        return self.store.topic_version(topic, outcome.topic.active_version or 0)

    def topic_versions(self, topic: str) -> list[TopicVersion]:
        self.store.topic(validate_topic_name(topic))
        return self.store.topic_versions(topic)

    def rollback_topic(self, topic: str, version: int) -> TopicVersion:
        current = self.store.topic(validate_topic_name(topic))
        if version == current.active_version:
            raise BadArgument(f"version {version} is already the active one")
        outcome = topic_training.rollback(
            self.store, self.embedder, current, version, self._background, self.clock()
        )
        return self.store.topic_version(topic, outcome.topic.active_version or 0)
