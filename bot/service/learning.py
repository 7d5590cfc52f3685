"""Topics that learn: train from feedback and report the cross-validated figures, list versions,
roll back."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from bot.core.errors import BadArgument
from bot.core.models import TopicVersion, validate_topic_name
from bot.relevance.embed import Embedder
from bot.store import Store
from bot.topics import training as topic_training


class LearningService:
    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        background: Path,
        clock: Callable[[], datetime],
    ) -> None:
        self.store = store
        self.embedder = embedder
        self._background = background  # seeds/_background: unrelated news every topic learns from
        self.clock = clock

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
