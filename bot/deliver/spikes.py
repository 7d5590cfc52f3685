"""Spike alerts through the durable outbox (rows queued by bot/app/spikes.py): each (spike,
chat) row is claimed, sent once with the chart stored with the spike, and marked sent. A failed
send is retried with the alert outbox's backoff (after a rate limit, when the platform says),
and holds that chat's other alerts back as long; a chat that is gone is paused as for any alert.
A chat that unsubscribed or turned spike alerts off since the spike was queued gets nothing.
Each drain sends spike rows before the alert outbox's, under the same per-chat rate limits."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

from bot.core.channels import Channel
from bot.core.errors import ChatGone, DeliveryError, RateLimited, StoreError
from bot.core.records import SpikeAlert, SpikeDelivery
from bot.deliver.ratelimit import RateLimiter
from bot.deliver.sink import SendOptions, Sink
from bot.messages.spikes import spike_reply
from bot.store import Store

log = logging.getLogger(__name__)

# a row claimed by a process that died before it could mark it is sent again after this long
CLAIM_SECONDS = 120.0


class SpikeSender(Protocol):
    """What sending spike alerts needs of the outbox's deliverer (bot/deliver/outbox.py)."""

    store: Store
    clock: Callable[[], datetime]
    sinks: dict[str, Sink]
    limiters: dict[str, RateLimiter]
    retry_base: float
    max_retry_delay: float


class SpikeOutbox:
    def __init__(self, deliverer: SpikeSender):
        self.deliverer = deliverer
        # rows the platform accepted but the store could not mark sent: marked before anything
        # else is sent, and never sent again meanwhile
        self._unmarked: dict[int, tuple[datetime, str | None]] = {}

    async def drain(self) -> int:
        """Send every due spike row once; returns how many were sent."""
        store, sinks = self.deliverer.store, self.deliverer.sinks
        for delivery_id, (when, ref) in list(self._unmarked.items()):
            store.mark_spike_sent(delivery_id, when, ref)
            del self._unmarked[delivery_id]
        due = store.due_spike_deliveries(self.deliverer.clock(), platforms=list(sinks))
        alerts: dict[int, SpikeAlert] = {}
        sent = 0
        for row in due:
            sent += await self._deliver(row, alerts)
        return sent

    async def _deliver(self, row: SpikeDelivery, alerts: dict[int, SpikeAlert]) -> int:
        d = self.deliverer
        channel = d.store.channel(row.channel_id)
        if not row.subscribed or not channel.settings.spikes:
            reason = "unsubscribed" if not row.subscribed else "spike alerts turned off"
            d.store.drop_spike_delivery(row.id, status="filtered", reason=reason)
            return 0
        limiter = d.limiters[row.platform]
        now = d.clock()
        if limiter.chat_wait(row.chat_id) > 0:  # the chat's limit is full: a later drain
            return 0
        if not d.store.claim_spike_delivery(
            row.id, now=now, until=now + timedelta(seconds=CLAIM_SECONDS)
        ):
            return 0  # another process took it
        if row.spike_id not in alerts:
            alerts[row.spike_id] = d.store.spike_alert(row.spike_id)
        options = SendOptions(silent=channel.settings.in_quiet_hours(now))
        try:
            async with limiter.slot(row.chat_id):
                ref = await d.sinks[row.platform].post(
                    row.chat_id, row.thread_id, spike_reply(alerts[row.spike_id]), options
                )
        except DeliveryError as exc:
            self._failed(channel, row, exc)
            return 0
        try:
            d.store.mark_spike_sent(row.id, d.clock(), ref)
        except StoreError:
            self._unmarked[row.id] = (d.clock(), ref)
            raise
        return 1

    def _failed(self, channel: Channel, row: SpikeDelivery, exc: DeliveryError) -> None:
        d = self.deliverer
        where = {"platform": channel.platform, "chat": channel.chat_id, "topic": row.topic}
        if isinstance(exc, ChatGone):
            paused = d.store.pause_channel(channel.id, str(exc))
            d.store.drop_spike_delivery(row.id, status="undeliverable", reason=str(exc))
            log.warning(
                "chat %s:%s is gone (%s): paused %d subscriptions",
                channel.platform,
                channel.chat_id,
                exc,
                paused,
                extra=where,
            )
            return
        delay = (
            exc.retry_after
            if isinstance(exc, RateLimited)
            else min(d.retry_base * 2.0**row.attempts, d.max_retry_delay)
        )
        d.limiters[channel.platform].chat(channel.chat_id).block(delay)
        d.store.mark_spike_retry(
            row.id, next_attempt_at=d.clock() + timedelta(seconds=delay), error=str(exc)
        )
        log.warning(
            "spike alert of %s to %s:%s deferred %.0fs: %s",
            row.topic,
            channel.platform,
            channel.chat_id,
            delay,
            exc,
            extra=where,
        )
