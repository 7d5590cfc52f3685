"""Drains the durable outbox: each (alert, channel) row is sent once and marked sent.

Any number of processes drain the same outbox, coordinated only through the database: each
chat is held by one sender at a time (a chat claim, renewed with each send), so a chat's alerts
keep their order and its limits; the platforms' limits are shared through the database too
(bot/deliver/shared.py). A send is two-phase: the row is marked 'sending' with a fresh attempt
id before the platform is called, and 'sent' once the platform accepted it. A row that a dead
process left 'sending' is taken up by the chat's next holder once the claim timeout has passed:
Slack's history is searched for the attempt's message first (each alert carries the outbox
row's id in its metadata), so Slack gets each alert once; Telegram cannot be asked, so it may
get that one alert twice (docs/RELIABILITY.md).

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
import os
import secrets
import socket
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta

from bot.core.channels import Channel, Threading
from bot.core.errors import ChatGone, DeliveryError, LeaseLost, RateLimited, StoreError
from bot.core.records import ChatClaim, OutboxEntry
from bot.deliver.digest import send_due_digests
from bot.deliver.ratelimit import RateLimiter
from bot.deliver.shared import SharedLimits
from bot.deliver.sink import SendOptions, Sink
from bot.deliver.spikes import SpikeOutbox
from bot.messages.alerts import alert_reply
from bot.store import Store

log = logging.getLogger(__name__)

MAX_RETRY_DELAY = 300.0  # default cap of the retry backoff (THREATWATCH_DELIVERY_MAX_RETRY_DELAY)
CLAIM_SECONDS = (
    30.0  # default chat claim and 'sending' timeout (THREATWATCH_DELIVERY_CLAIM_SECONDS)
)
MAX_ROUNDS = 1000  # a drain stops after this many batches even if rows keep becoming due
# Sends in flight per platform at most, each to a different chat (each sink says how many it
# takes: Sink.sends_in_flight). It is also how many chats a process claims at a time, so the
# others can take the rest meanwhile
SEND_CONCURRENCY = 16


def sender_id() -> str:
    """This process among all that send: host, process id and a random part (a restarted
    process with a reused pid is still someone else)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class Outcome(enum.Enum):
    SENT = "sent"
    FILTERED = "filtered"  # not for this chat (below its minimum score), or no longer pending
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
        claim_seconds: float = CLAIM_SECONDS,
        owner: str | None = None,
        wall: Callable[[], float] = time.time,
    ):
        self.store = store
        self.sinks = dict(sinks)
        self.clock = clock
        self.retry_base, self.max_retry_delay = retry_base, max_retry_delay
        self.claim_seconds = claim_seconds
        self.owner = owner or sender_id()
        self.limiters = {p: RateLimiter(s.global_rate, s.chat_rate) for p, s in self.sinks.items()}
        self.shared = SharedLimits(store, self.sinks, in_flight_limit=claim_seconds, wall=wall)
        self._lock = asyncio.Lock()
        # rows the platform accepted but the store could not mark sent (disk full, read-only):
        # marked before anything else is sent, and never sent again meanwhile; their chats stay
        # claimed, so no other process takes them up as abandoned while this one lives
        self._unmarked: dict[int, tuple[datetime, str | None, int]] = {}
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
        """Claim chats with due rows, a few at a time, and send their rows: several chats at
        once, each chat's rows in order. The chats are given back when the drain ends."""
        sent = 0
        held: set[int] = set()  # channels not to try again in this drain
        claims: dict[int, ChatClaim] = {}
        try:
            for _ in range(MAX_ROUNDS):
                batch = self.store.claim_chats(
                    self.owner,
                    self.clock(),
                    platforms=[platform],
                    lease_seconds=self.claim_seconds,
                    limit=min(self.sinks[platform].sends_in_flight, SEND_CONCURRENCY),
                    skip_channels=sorted(held),
                )
                if not batch:
                    break
                claims |= {c.channel_id: c for c in batch}
                due = self.store.claimed_outbox(
                    batch, self.clock(), lease_seconds=self.claim_seconds
                )
                held |= {c.channel_id for c in batch} - {e.channel_id for e in due}
                sent += await self._send_round(due, claims, held)
        finally:
            self._release(claims.values())
        return sent

    async def _send_round(
        self, due: list[OutboxEntry], claims: dict[int, ChatClaim], held: set[int]
    ) -> int:
        channels: dict[int, Channel] = {}
        failed: list[Exception] = []  # a store failure stops every chat's next send

        async def chat(entries: list[OutboxEntry]) -> int:
            delivered = 0
            for entry in entries:
                if failed:
                    break
                try:
                    outcome = await self._deliver(
                        entry, channels[entry.channel_id], claims[entry.channel_id]
                    )
                except LeaseLost as exc:  # another process holds the chat now: leave it
                    log.info("%s", exc)
                    held.add(entry.channel_id)
                    break
                except Exception as exc:  # a cancellation goes straight through
                    failed.append(exc)
                    break
                if outcome is Outcome.SENT:
                    delivered += 1
                elif outcome in (Outcome.CHAT_BUSY, Outcome.DEFERRED):
                    held.add(entry.channel_id)  # keep this chat's alerts in order
                    break
            return delivered

        by_channel: dict[int, list[OutboxEntry]] = {}
        for entry in due:  # oldest first, so each chat's list is in creation order
            by_channel.setdefault(entry.channel_id, []).append(entry)
            if entry.channel_id not in channels:
                channels[entry.channel_id] = self.store.channel(entry.channel_id)
        sent = sum(await asyncio.gather(*(chat(rows) for rows in by_channel.values())))
        if failed:
            raise failed[0]
        return sent

    def _release(self, claims: Iterable[ChatClaim]) -> None:
        """Give the chats back, except those with a row sent but not yet marked."""
        keep = {channel for _, _, channel in self._unmarked.values()}
        mine = [c for c in claims if c.channel_id not in keep]
        try:
            self.store.release_chats(mine)
        except StoreError as exc:  # they are free again when their claims run out
            log.warning("could not give back %d chat claims: %s", len(mine), exc)

    async def _deliver(self, entry: OutboxEntry, channel: Channel, claim: ChatClaim) -> Outcome:
        settings, match = channel.settings, entry.match
        if settings.min_score is not None and match.score < settings.min_score:
            self.store.mark_filtered(
                entry.id, f"score below this chat's minimum {settings.min_score}"
            )
            return Outcome.FILTERED
        if self.limiters[entry.platform].chat_wait(entry.chat_id) > 0:
            return Outcome.CHAT_BUSY
        root = None
        if match.story_role != "first" and match.story_id is not None:
            root = self.store.story_root(channel.id, match.story_id, before_match=match.id)
        fold_into = root[1] if root is not None and settings.threading is Threading.FOLD else None
        options = SendOptions(
            reply_to=root[1] if root is not None and fold_into is None else None,
            silent=settings.in_quiet_hours(self.clock()),
            attempt=secrets.token_hex(8),
        )
        # tried before, and the outcome may be unknown (a crash or a timeout after the platform
        # took it): ask the platform first where it can tell. An edit is safe to make twice
        if entry.attempt_id is not None and fold_into is None:
            try:
                found = await self.sinks[entry.platform].find_sent(entry, options)
            except DeliveryError as exc:
                self.failed(channel, [entry], exc)
                return Outcome.DEFERRED
            if found is not None:
                log.info("alert %d was already in %s:%s (attempt %s): not sent again",
                         match.id, entry.platform, entry.chat_id, entry.attempt_id)  # fmt: skip
                self._mark(entry, found)
                return Outcome.SENT
        return await self._send(entry, channel, claim, options, fold_into)

    async def _send(
        self,
        entry: OutboxEntry,
        channel: Channel,
        claim: ChatClaim,
        options: SendOptions,
        fold_into: str | None,
    ) -> Outcome:
        """Take the shared slots, mark the row 'sending', send (or fold into the story's first
        alert), mark it sent."""
        attempt, limiter = options.attempt or secrets.token_hex(8), self.limiters[entry.platform]
        busy = await self.shared.take(entry.platform, entry.chat_id, attempt)
        if busy > 0:  # another process sent to this chat a moment ago
            limiter.chat(entry.chat_id).block(busy)
            return Outcome.CHAT_BUSY
        counted = False
        try:
            marked = self.store.begin_send(
                claim, [entry.id], attempt, self.clock(), lease_seconds=self.claim_seconds
            )
            if not marked:  # dropped (unsubscribed) or sent by another process meanwhile
                return Outcome.FILTERED
            counted = True
            sink = self.sinks[entry.platform]
            async with limiter.slot(entry.chat_id):
                if fold_into is not None:
                    shown = self.store.story_reports_sent(channel.id, fold_into)
                    also = [*shown[1:], entry.match]
                    await sink.edit(entry.chat_id, fold_into, alert_reply(shown[0], also=also))
                    ref: str | None = fold_into
                else:
                    ref = await sink.send(entry, options)
        except DeliveryError as exc:
            self.failed(channel, [entry], exc)
            return Outcome.DEFERRED
        finally:
            self.shared.end(entry.platform, entry.chat_id, attempt, counted=counted)
        self._mark(entry, ref)
        return Outcome.SENT

    def _mark(self, entry: OutboxEntry, ref: str | None) -> None:
        try:
            self.store.mark_sent(entry.id, self.clock(), ref)
        except StoreError:
            self._unmarked[entry.id] = (self.clock(), ref, entry.channel_id)
            raise

    def _mark_unmarked(self) -> None:
        """Raises StoreError while the store is still not writable: then nothing is sent."""
        for outbox_id, (when, ref, _) in list(self._unmarked.items()):
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
