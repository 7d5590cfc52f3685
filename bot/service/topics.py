"""Watch topics at run time: list them, their seeds and counter-examples, add and remove topics,
thresholds, enable/disable, and a preview of an edit against stored articles."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.core.channels import parse_score
from bot.core.errors import BadArgument
from bot.core.models import Seed, Topic, validate_topic_name
from bot.service.pages import PageReader
from bot.store import Store
from bot.topics.preview import Preview, preview_topic
from bot.topics.registry import TopicRegistry
from bot.topics.seeds import seed_from_text

DEFAULT_THRESHOLD = 0.58  # the shipped topic's threshold; admins tune it with /threshold
MAX_DESCRIPTION = 500


@dataclass(frozen=True)
class TopicSummary:
    topic: Topic
    seeds: int
    counter_examples: int
    matches_7d: int


def parse_alert_id(value: str) -> int:
    text = value.strip().lstrip("#")
    if not text.isdigit() or len(text) > 12:
        raise BadArgument(f"bad alert id {value[:30]!r}: use the number shown as #N in an alert")
    return int(text)


class TopicService:
    def __init__(
        self,
        store: Store,
        registry: TopicRegistry,
        pages: PageReader,
        clock: Callable[[], datetime],
    ) -> None:
        self.store = store
        self.registry = registry
        self.pages = pages
        self.clock = clock

    def summaries(self) -> list[TopicSummary]:
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
            text = await self.pages.article_text(url)
            origin = url
        if not text:
            raise BadArgument("a seed needs text or a URL")
        seed, created = self.store.add_seed(
            seed_from_text(topic, text, origin, kind=kind, title=title), self.clock(), revive=True
        )
        # embed now, so the next cycle scores against it (and a broken model fails here, loudly)
        await asyncio.to_thread(self.registry.indexes, only=topic, enabled_only=False)
        return seed, created

    def remove_seed(self, seed_id: int) -> None:
        self.store.remove_seed(seed_id, self.clock())

    async def add_counter_example(self, topic: str, ref: str) -> tuple[Seed, bool]:
        """A counter-example from a URL (fetched and extracted) or from a stored alert's article."""
        ref = ref.strip()
        if ref.lstrip("#").isdigit():
            article = self.store.match(parse_alert_id(ref)).article
            return await self.add_seed(
                topic, text=article.text, title=article.title, kind="counter"
            )
        return await self.add_seed(topic, url=ref, kind="counter")

    def add_topic(self, name: str, description: str, threshold: float | None = None) -> Topic:
        validate_topic_name(name)
        description = " ".join(description.split())
        if not description:
            raise BadArgument("a topic needs a description")
        if len(description) > MAX_DESCRIPTION:
            raise BadArgument(f"description too long ({MAX_DESCRIPTION} characters at most)")
        topic = Topic(name, description, DEFAULT_THRESHOLD if threshold is None else threshold)
        self.store.add_topic(topic, self.clock())
        return topic

    def remove_topic(self, name: str) -> None:
        self.store.remove_topic(validate_topic_name(name))
        self.registry.invalidate(name)

    def set_threshold(self, name: str, value: str | float) -> tuple[Topic, Topic]:
        """Returns (before, after)."""
        before = self.store.topic(validate_topic_name(name))
        if str(value).strip().lower() == "auto":
            # back to the threshold cross-validation picks; the index build records it
            self.store.set_threshold_mode(name, "auto", before.threshold, self.clock())
        else:
            self.store.update_topic(name, self.clock(), threshold=parse_score(str(value)))
        self.registry.indexes(only=name, enabled_only=False)  # records the version now
        return before, self.store.topic(name)

    def set_topic_enabled(self, name: str, enabled: bool) -> Topic:
        self.store.topic(validate_topic_name(name))
        self.store.update_topic(name, self.clock(), enabled=enabled)
        return self.store.topic(name)

    def preview(self, topic: str, days: int, *, top: int = 5) -> Preview:
        validate_topic_name(topic)
        return preview_topic(
            self.store,
            self.registry.indexes(only=topic, enabled_only=False),
            self.registry.embedder.name,
            topic,
            since=self.clock() - timedelta(days=days),
            days=days,
            top=top,
        )
