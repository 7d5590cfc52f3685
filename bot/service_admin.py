"""BotService behaviour for admins editing topics at run time: add/remove a topic, thresholds,
enable/disable, counter-examples from an alert. Mixed into BotService (bot/service.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from bot.channels import parse_score
from bot.errors import BadArgument
from bot.models import Seed, Topic
from bot.service_chat import parse_alert_id
from bot.topics import validate_topic_name

if TYPE_CHECKING:
    from bot.store import Store

DEFAULT_THRESHOLD = 0.58  # the shipped topic's threshold; admins tune it with /threshold
MAX_DESCRIPTION = 500


class AdminServiceMixin:
    store: Store
    clock: Callable[[], datetime]

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

    def set_threshold(self, name: str, value: str | float) -> tuple[Topic, Topic]:
        """Returns (before, after)."""
        before = self.store.topic(validate_topic_name(name))
        if str(value).strip().lower() == "auto":
            # back to the threshold cross-validation picks; the next index build records it
            self.store.set_threshold_mode(name, "auto", before.threshold, self.clock())
        else:
            self.store.update_topic(name, self.clock(), threshold=parse_score(str(value)))
        self.indexes(only=name, enabled_only=False)  # type: ignore[attr-defined]  # records the version now
        return before, self.store.topic(name)

    def set_topic_enabled(self, name: str, enabled: bool) -> Topic:
        self.store.topic(validate_topic_name(name))
        self.store.update_topic(name, self.clock(), enabled=enabled)
        return self.store.topic(name)

    async def add_counter_example(self, topic: str, ref: str) -> tuple[Seed, bool]:
        """A counter-example from a URL (fetched and extracted) or from a stored alert's article."""
        ref = ref.strip()
        if ref.lstrip("#").isdigit():
            article = self.store.match(parse_alert_id(ref)).article
            return await self.add_seed(  # type: ignore[attr-defined, no-any-return]
                topic, text=article.text, title=article.title, kind="counter"
            )
        return await self.add_seed(topic, url=ref, kind="counter")  # type: ignore[attr-defined, no-any-return]
