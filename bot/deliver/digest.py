"""Digest mode: one message per chat at its chosen hour, with the alerts queued since the last
digest grouped by story. The rows stay in the outbox until the digest is sent."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Protocol

from bot.core.channels import Channel
from bot.core.errors import DeliveryError
from bot.core.records import OutboxEntry
from bot.deliver.ratelimit import RateLimiter
from bot.deliver.sink import SendOptions, Sink
from bot.messages.alerts import digest_reply
from bot.store import Store


class DigestSender(Protocol):
    """What sending digests needs of the outbox's deliverer (bot/deliver/outbox.py)."""

    store: Store
    clock: Callable[[], datetime]
    sinks: dict[str, Sink]
    limiters: dict[str, RateLimiter]

    def failed(
        self, channel: Channel, entries: Sequence[OutboxEntry], exc: DeliveryError
    ) -> None: ...


async def send_due_digests(deliverer: DigestSender) -> int:
    store, now = deliverer.store, deliverer.clock()
    delivered = 0
    for channel in store.digest_channels(list(deliverer.sinks)):
        settings = channel.settings
        if not settings.digest_due(now):
            continue
        limiter = deliverer.limiters[channel.platform]
        if limiter.chat_wait(channel.chat_id) > 0:
            continue
        entries = []
        for entry in store.pending_for_channel(channel.id):
            if settings.min_score is not None and entry.match.score < settings.min_score:
                store.mark_filtered(
                    entry.id, f"score below this chat's minimum {settings.min_score}"
                )
            else:
                entries.append(entry)
        if entries:
            reply = digest_reply([e.match for e in entries], day=now)
            options = SendOptions(silent=settings.in_quiet_hours(now))
            try:
                async with limiter.slot(channel.chat_id):
                    ref = await deliverer.sinks[channel.platform].post(
                        channel.chat_id, channel.thread_id, reply, options
                    )
            except DeliveryError as exc:
                deliverer.failed(channel, entries, exc)
                continue
            store.mark_many_sent([e.id for e in entries], now, ref)
            delivered += len(entries)
        store.save_channel_settings(channel.id, replace(settings, last_digest_at=now.isoformat()))
    return delivered
