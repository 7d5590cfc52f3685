"""Digest mode: one message per chat at its chosen hour, with the alerts queued since the last
digest grouped by story. The rows stay in the outbox until the digest is sent; while it is
being sent they are marked 'sending' with the digest's attempt id. A digest cut short by a
crash is taken up by the chat's next holder with the rows it left 'sending': found in the chat
where the platform can tell (Slack: the digest's metadata), else sent again."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Protocol

from bot.core.channels import Channel
from bot.core.errors import DeliveryError
from bot.core.records import ChatClaim, OutboxEntry
from bot.deliver.ratelimit import RateLimiter
from bot.deliver.shared import SharedLimits
from bot.deliver.sink import SendOptions, Sink
from bot.messages.alerts import digest_reply
from bot.store import Store


class DigestSender(Protocol):
    """What sending digests needs of the outbox's deliverer (bot/deliver/outbox.py)."""

    store: Store
    clock: Callable[[], datetime]
    sinks: dict[str, Sink]
    limiters: dict[str, RateLimiter]
    shared: SharedLimits
    owner: str
    claim_seconds: float

    def failed(
        self, channel: Channel, entries: Sequence[OutboxEntry], exc: DeliveryError
    ) -> None: ...


async def send_due_digests(deliverer: DigestSender) -> int:
    """Each digest chat whose hour has come, claimed first: with several processes, one of
    them sends it, and the others find it sent when they get the claim."""
    store, now = deliverer.store, deliverer.clock()
    delivered = 0
    for channel in store.digest_channels(list(deliverer.sinks)):
        if not channel.settings.digest_due(now):
            continue
        if deliverer.limiters[channel.platform].chat_wait(channel.chat_id) > 0:
            continue
        claim = store.claim_chat(
            channel.id, deliverer.owner, now, lease_seconds=deliverer.claim_seconds
        )
        if claim is None:  # another process is sending it
            continue
        try:
            delivered += await _send_digest(deliverer, claim, now)
        finally:
            store.release_chats([claim])
    return delivered


async def _send_digest(deliverer: DigestSender, claim: ChatClaim, now: datetime) -> int:
    store = deliverer.store
    channel = store.channel(claim.channel_id)  # as it is now: another process may have sent it
    settings = channel.settings
    if not settings.digest_due(now):
        return 0
    entries = []
    for entry in store.pending_for_channel(channel.id):
        if settings.min_score is not None and entry.match.score < settings.min_score:
            store.mark_filtered(entry.id, f"score below this chat's minimum {settings.min_score}")
        else:
            entries.append(entry)
    try:
        entries, found = await _drop_already_posted(deliverer, channel, entries, now)
    except DeliveryError as exc:
        deliverer.failed(channel, entries, exc)
        return 0
    if entries:
        attempt = secrets.token_hex(8)
        limiter = deliverer.limiters[channel.platform]
        busy = await deliverer.shared.take(channel.platform, channel.chat_id, attempt)
        if busy > 0:
            limiter.chat(channel.chat_id).block(busy)
            return 0
        counted = False
        try:
            ids = store.begin_send(
                claim, [e.id for e in entries], attempt, now, lease_seconds=deliverer.claim_seconds
            )
            entries = [e for e in entries if e.id in set(ids)]
            counted = bool(entries)
            if entries:
                reply = digest_reply([e.match for e in entries], day=now)
                options = SendOptions(silent=settings.in_quiet_hours(now), attempt=attempt)
                async with limiter.slot(channel.chat_id):
                    ref = await deliverer.sinks[channel.platform].post(
                        channel.chat_id, channel.thread_id, reply, options
                    )
        except DeliveryError as exc:
            deliverer.failed(channel, entries, exc)
            return 0
        finally:
            deliverer.shared.end(channel.platform, channel.chat_id, attempt, counted=counted)
        if entries:
            store.mark_many_sent([e.id for e in entries], now, ref)
    store.save_channel_settings(channel.id, replace(settings, last_digest_at=now.isoformat()))
    return len(entries) + found


async def _drop_already_posted(
    deliverer: DigestSender, channel: Channel, entries: list[OutboxEntry], now: datetime
) -> tuple[list[OutboxEntry], int]:
    """Rows an earlier attempt may have delivered (a digest cut short after the platform took
    it): where the platform can tell (Slack), those found in the chat are marked sent with that
    message and left out. Returns the rest and how many were found. Raises DeliveryError."""
    sink, found = deliverer.sinks[channel.platform], 0
    for attempt in dict.fromkeys(e.attempt_id for e in entries if e.attempt_id is not None):
        group = [e for e in entries if e.attempt_id == attempt]
        ref = await sink.find_sent(group[0], SendOptions())
        if ref is not None:
            deliverer.store.mark_many_sent([e.id for e in group], now, ref)
            entries = [e for e in entries if e.attempt_id != attempt]
            found += len(group)
    return entries, found
