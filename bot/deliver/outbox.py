"""Drains the durable outbox: each (alert, channel) row is sent once and marked sent.

Outcomes map onto the error tree: RateLimited → requeue after retry_after; TransientDeliveryError
→ retry with exponential backoff; ChatGone → pause the subscription (in the chat issues).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Protocol

from bot.errors import DeliveryError, RateLimited
from bot.store import Store
from bot.store.store import OutboxEntry

log = logging.getLogger(__name__)

MAX_RETRY_DELAY = 3600.0


class Sink(Protocol):
    platform: str

    async def send(self, entry: OutboxEntry) -> str | None:
        """Send one alert; return the platform's message reference. Raises DeliveryError."""
        ...


class Deliverer:
    def __init__(self, store: Store, sinks: Mapping[str, Sink], clock: Callable[[], datetime]):
        self.store = store
        self.sinks = dict(sinks)
        self.clock = clock
        self._lock = asyncio.Lock()

    async def drain(self) -> int:
        """Send every due outbox row once; returns how many were sent."""
        sent = 0
        async with self._lock:
            while True:
                due = self.store.due_outbox(self.clock(), platforms=list(self.sinks))
                if not due:
                    return sent
                progressed = False
                for entry in due:
                    if await self._send_one(entry):
                        sent += 1
                        progressed = True
                if not progressed:
                    return sent

    async def _send_one(self, entry: OutboxEntry) -> bool:
        sink = self.sinks[entry.platform]
        try:
            ref = await sink.send(entry)
        except RateLimited as exc:
            self._retry(entry, exc.retry_after, exc)
            return False
        except DeliveryError as exc:
            self._retry(entry, min(2.0**entry.attempts, MAX_RETRY_DELAY), exc)
            return False
        self.store.mark_sent(entry.id, self.clock(), ref)
        return True

    def _retry(self, entry: OutboxEntry, delay: float, exc: Exception) -> None:
        log.warning(
            "delivery of alert %s to %s:%s deferred %.0fs: %s",
            entry.match.id,
            entry.platform,
            entry.chat_id,
            delay,
            exc,
        )
        self.store.mark_retry(
            entry.id, next_attempt_at=self.clock() + timedelta(seconds=delay), error=str(exc)
        )

    async def run_forever(self, interval: float = 1.0) -> None:
        while True:
            try:
                await self.drain()
            except Exception:  # keep delivering after a bug in one send
                log.exception("delivery loop error")
            await asyncio.sleep(interval)
