"""Wrappers that count what passes through the model and the chat sinks, so the code they wrap
stays free of metrics: ``compose`` wraps the embedder and each sink when metrics are on."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from bot.core.errors import DeliveryError
from bot.core.records import OutboxEntry
from bot.deliver.ratelimit import Rate
from bot.deliver.sink import SendOptions, Sink
from bot.messages.replies import Reply
from bot.ops.metrics import Metrics
from bot.relevance.embed import Embedder


class MeteredEmbedder:
    """An ``Embedder`` that times every ``encode`` (per text) into the metrics."""

    def __init__(self, inner: Embedder, metrics: Metrics):
        self.inner = inner
        self.metrics = metrics
        self.name = inner.name  # the vector space: the same as the wrapped model's

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        started = time.perf_counter()
        vectors = self.inner.encode(texts)
        self.metrics.observe_embedding(len(texts), time.perf_counter() - started)
        return vectors

    def __getattr__(self, attribute: str) -> Any:  # model details, warm-up hooks…
        return getattr(self.inner, attribute)


class MeteredSink:
    """A ``Sink`` that counts alerts sent or failed and rate-limit waits (API errors are counted
    by the platform clients themselves: bot/adapters/telegram/request.py, slack/client.py)."""

    def __init__(self, inner: Sink, metrics: Metrics):
        self.inner = inner
        self.metrics = metrics
        self.platform = inner.platform
        self.global_rate: Rate = inner.global_rate
        self.sends_in_flight: int = inner.sends_in_flight

    def chat_rate(self, chat_id: str) -> Rate:
        return self.inner.chat_rate(chat_id)

    async def send(self, entry: OutboxEntry, options: SendOptions) -> str | None:
        try:
            ref = await self.inner.send(entry, options)
        except DeliveryError as exc:
            self.metrics.observe_send(self.platform, exc)
            raise
        self.metrics.observe_send(self.platform, None)
        return ref

    async def find_sent(self, entry: OutboxEntry, options: SendOptions) -> str | None:
        return await self.inner.find_sent(entry, options)  # a look-up, not an alert sent

    async def post(
        self, chat_id: str, thread_id: str, reply: Reply, options: SendOptions
    ) -> str | None:
        try:
            return await self.inner.post(chat_id, thread_id, reply, options)
        except DeliveryError as exc:
            self.metrics.observe_send(self.platform, exc)
            raise

    async def edit(self, chat_id: str, message_ref: str, reply: Reply) -> None:
        try:
            await self.inner.edit(chat_id, message_ref, reply)
        except DeliveryError as exc:
            self.metrics.observe_send(self.platform, exc)
            raise
        self.metrics.observe_send(self.platform, None)

    def __getattr__(self, attribute: str) -> Any:  # platform extras (e.g. Slack's history)
        return getattr(self.inner, attribute)
