"""Drains the durable outbox: each (alert, channel) row is sent once and marked sent.

Outcomes map onto the error tree: RateLimited → requeue after retry_after (and hold that chat);
TransientDeliveryError → retry with exponential backoff; ChatGone → pause the channel's
subscriptions and log it. Per channel settings decide the rest: a minimum score, quiet hours
(sent silently), digest mode (one message at the chosen hour, bot/deliver/digest.py), and how a
later report of a story is shown (a reply to the first alert, or folded into it).
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta

from bot.core.channels import Channel, Threading
from bot.core.errors import ChatGone, DeliveryError, RateLimited, StoreError
from bot.core.records import OutboxEntry
from bot.deliver.digest import send_due_digests
from bot.deliver.ratelimit import RateLimiter
from bot.deliver.sink import SendOptions, Sink
from bot.deliver.spikes import SpikeOutbox
from bot.messages.alerts import alert_reply
from bot.store import Store

log = logging.getLogger(__name__)

MAX_RETRY_DELAY = 300.0  # default cap of the retry backoff (THREATWATCH_DELIVERY_MAX_RETRY_DELAY)
MAX_ROUNDS = 1000  # a drain stops after this many batches even if rows keep becoming due
# Sends in flight per platform, each to a different chat: a round trip to the platform takes
# ~0.1-0.3 s, so one at a time could not reach Telegram's 30 messages a second
SEND_CONCURRENCY = 16


class Outcome(enum.Enum):
    SENT = "sent"
    FILTERED = "filtered"  # not for this chat (below its minimum score)
    CHAT_BUSY = "busy"  # the chat's rate limit is full: try it on a later drain
    DEFERRED = "deferred"  # failed; retried later, or the chat was paused


class Deliverer:
    def __init__(
        self,
        store: Store,
        sinks: Mapping[str, Sink],
        clock: Callable[[], datetime],
        *,
        retry_base: float = 1.0,
        max_retry_delay: float = MAX_RETRY_DELAY,
    ):
        self.store = store
        self.sinks = dict(sinks)
        self.clock = clock
        self.retry_base, self.max_retry_delay = retry_base, max_retry_delay
        self.limiters = {p: RateLimiter(s.global_rate, s.chat_rate) for p, s in self.sinks.items()}
        self._lock = asyncio.Lock()
        # rows the platform accepted but the store could not mark sent (disk full, read-only):
        # marked before anything else is sent, and never sent again meanwhile
        self._unmarked: dict[int, tuple[datetime, str | None]] = {}
        self.spikes = SpikeOutbox(self)  # spike alerts: rows of their own (bot/deliver/spikes.py)

    async def drain(self) -> int:
        """Send every due outbox row once (and any digest that is due); returns how many
        alerts were delivered."""

        async with self._lock:
            self._mark_unmarked()
            # spike alerts first: rare, and about what the chat's queued alerts report
            spiked = await self.spikes.drain()
            sent = await self._drain_instant()
            return spiked + sent + await send_due_digests(self)

    async def _drain_instant(self) -> int:
        # Platforms drain side by side: one waiting out Telegram's global window does not hold
        # Slack back. Every platform's sends finish before an error is raised.
        results = await asyncio.gather(
            *(self._drain_platform(platform) for platform in self.sinks), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return sum(results)  # type: ignore[arg-type]

    async def _drain_platform(self, platform: str) -> int:
        """Send the platform's due rows, several chats at once and each chat's rows in order."""
        sent = 0
        held: set[int] = set()  # channels not to try again in this drain
        channels: dict[int, Channel] = {}
        failed: list[Exception] = []  # a store failure stops every chat's next send
        room = asyncio.Semaphore(SEND_CONCURRENCY)

        async def chat(entries: list[OutboxEntry]) -> int:
            delivered = 0
            async with room:
                for entry in entries:
                    if failed:
                        break
                    try:
                        outcome = await self._deliver(entry, channels[entry.channel_id])
                    except Exception as exc:  # a cancellation goes straight through
                        failed.append(exc)
                        break
                    if outcome is Outcome.SENT:
                        delivered += 1
                    elif outcome in (Outcome.CHAT_BUSY, Outcome.DEFERRED):
                        held.add(entry.channel_id)  # keep this chat's alerts in order
                        break
            return delivered

        for _ in range(MAX_ROUNDS):
            due = self.store.due_outbox(
                self.clock(), platforms=[platform], skip_channels=sorted(held)
            )
            if not due:
                break
            by_channel: dict[int, list[OutboxEntry]] = {}
            for entry in due:  # oldest first, so each chat's list is in creation order
                by_channel.setdefault(entry.channel_id, []).append(entry)
                if entry.channel_id not in channels:
                    channels[entry.channel_id] = self.store.channel(entry.channel_id)
            sent += sum(await asyncio.gather(*(chat(rows) for rows in by_channel.values())))
            if failed:
                raise failed[0]
        return sent

    async def _deliver(self, entry: OutboxEntry, channel: Channel) -> Outcome:
        settings, match = channel.settings, entry.match
        if settings.min_score is not None and match.score < settings.min_score:
            self.store.mark_filtered(
                entry.id, f"score below this chat's minimum {settings.min_score}"
            )
            return Outcome.FILTERED
        limiter = self.limiters[entry.platform]
        if limiter.chat_wait(entry.chat_id) > 0:
            return Outcome.CHAT_BUSY
        root = None
        if match.story_role != "first" and match.story_id is not None:
            root = self.store.story_root(channel.id, match.story_id, before_match=match.id)
        sink = self.sinks[entry.platform]
        try:
            async with limiter.slot(entry.chat_id):
                if root is not None and settings.threading is Threading.FOLD:
                    shown = self.store.story_reports_sent(channel.id, root[1])
                    await sink.edit(
                        entry.chat_id, root[1], alert_reply(shown[0], also=[*shown[1:], match])
                    )
                    ref: str | None = root[1]
                else:
                    options = SendOptions(
                        reply_to=root[1] if root else None,
                        silent=settings.in_quiet_hours(self.clock()),
                    )
                    ref = await sink.send(entry, options)
        except DeliveryError as exc:
            self.failed(channel, [entry], exc)
            return Outcome.DEFERRED
        try:
            self.store.mark_sent(entry.id, self.clock(), ref)
        except StoreError:
            self._unmarked[entry.id] = (self.clock(), ref)
            raise
        return Outcome.SENT

    def _mark_unmarked(self) -> None:
        """Raises StoreError while the store is still not writable: then nothing is sent."""
        for outbox_id, (when, ref) in list(self._unmarked.items()):
            self.store.mark_sent(outbox_id, when, ref)
            del self._unmarked[outbox_id]

    def failed(self, channel: Channel, entries: Sequence[OutboxEntry], exc: DeliveryError) -> None:
        """What a failed send means for the chat and its rows (shared with digests)."""
        limiter = self.limiters[channel.platform]
        if isinstance(exc, ChatGone):
            paused = self.store.pause_channel(channel.id, str(exc))
            log.warning(
                "chat %s:%s is gone (%s): paused %d subscriptions",
                channel.platform,
                channel.chat_id + (f"/{channel.thread_id}" if channel.thread_id else ""),
                exc,
                paused,
                extra={"platform": channel.platform, "chat": channel.chat_id},
            )
            return
        attempts = max((e.attempts for e in entries), default=0)
        delay = (
            exc.retry_after
            if isinstance(exc, RateLimited)
            else min(self.retry_base * 2.0**attempts, self.max_retry_delay)
        )
        limiter.chat(channel.chat_id).block(delay)
        log.warning(
            "delivery of %d alert(s) to %s:%s deferred %.0fs: %s",
            len(entries),
            channel.platform,
            channel.chat_id,
            delay,
            exc,
            extra={
                "platform": channel.platform,
                "chat": channel.chat_id,
                "alert_id": ",".join(str(e.match.id) for e in entries),
            },
        )
        for entry in entries:
            self.store.mark_retry(
                entry.id, next_attempt_at=self.clock() + timedelta(seconds=delay), error=str(exc)
            )
