"""Long polling when several processes serve one bot: Telegram allows one ``getUpdates`` consumer
at a time, so the processes elect one listener through the database and the others stand by.

A standby never calls ``getUpdates``; it tries to win the election every
ELECTION_RETRY_SECONDS, so it takes over within seconds of the listener's death (the election is
free the moment the listener's process ends: bot/store/chat_updates.py). The listener re-checks
its election every LEADER_CHECK_SECONDS and stops at once when it has lost it. It keeps the
``getUpdates`` offset in the database, so the next listener goes on where it stopped, and it
records each update's id before handling it, so an update fetched twice (the old listener died
before saving the offset past it) is handled once. Updates go to the Application's queue,
exactly as webhook updates do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import Application

from bot.adapters.telegram.render import ALLOWED_UPDATES
from bot.adapters.telegram.sink import TELEGRAM
from bot.core.errors import ThreatwatchError
from bot.core.models import utcnow

log = logging.getLogger(__name__)

ELECTION_RETRY_SECONDS = 3.0  # a standby asks to become the listener this often
LEADER_CHECK_SECONDS = 5.0  # the listener checks it still holds the election this often
RETRY_SECONDS = 2.0  # after a failed getUpdates or a database error
KEEP_UPDATE_IDS_SECONDS = 2 * 86_400.0  # Telegram keeps an unconfirmed update for 24 hours


class Election(Protocol):
    def try_lead(self) -> bool: ...

    def resign(self) -> None: ...


class UpdateLog(Protocol):
    """What the listener and the webhook keep in the database (the store implements it)."""

    def first_update(
        self, source: str, key: str, now: datetime, *, keep_seconds: float
    ) -> bool: ...

    def update_offset(self, source: str) -> int: ...

    def save_update_offset(self, source: str, offset: int, now: datetime) -> None: ...


async def first_time(log_of: UpdateLog, update: Update, now: datetime) -> bool:
    """Record the update's id; True the first time any process of this bot saw it."""
    return await asyncio.to_thread(
        log_of.first_update,
        TELEGRAM,
        str(update.update_id),
        now,
        keep_seconds=KEEP_UPDATE_IDS_SECONDS,
    )


class ElectedPoller:
    """Runs ``getUpdates`` while this process is the elected listener; stands by otherwise."""

    def __init__(
        self,
        application: Application,  # type: ignore[type-arg]
        election: Election,
        updates: UpdateLog,
        *,
        poll_timeout: int,
        clock: Callable[[], datetime] = utcnow,
    ):
        self.application, self.election, self.updates = application, election, updates
        self.poll_timeout, self.clock = poll_timeout, clock
        self.listening = False  # for the log and for tests

    async def run(self, stop: asyncio.Event) -> None:
        standing_by = False
        try:
            while not stop.is_set():
                if await self._lead():
                    standing_by = False
                    try:
                        await self._listen(stop)
                    except Exception:  # a bug must not leave the bot deaf with the lock held
                        log.exception("telegram: the listener failed; handing over")
                        self.listening = False
                        await asyncio.to_thread(self.election.resign)
                        await _pause(stop, ELECTION_RETRY_SECONDS)
                    continue
                if not standing_by:
                    log.info("telegram: standing by; another process receives the updates")
                    standing_by = True
                await _pause(stop, ELECTION_RETRY_SECONDS)
        finally:
            self.listening = False
            await asyncio.to_thread(self.election.resign)

    async def _lead(self) -> bool:
        try:
            return await asyncio.to_thread(self.election.try_lead)
        except ThreatwatchError as exc:  # the database is unreachable: nobody can be sure
            log.warning("telegram: listener election failed: %s", exc)
            return False

    async def _listen(self, stop: asyncio.Event) -> None:
        bot = self.application.bot
        try:
            await bot.delete_webhook()
            offset = await asyncio.to_thread(self.updates.update_offset, TELEGRAM)
        except (TelegramError, ThreatwatchError) as exc:
            log.warning("telegram: cannot start listening (%s); retrying", exc)
            await _pause(stop, RETRY_SECONDS)
            return
        log.info("telegram: this process is the listener (long polling from update %d)", offset)
        self.listening, checked = True, time.monotonic()
        while not stop.is_set():
            if time.monotonic() - checked >= LEADER_CHECK_SECONDS:
                if not await self._lead():
                    log.warning("telegram: no longer the listener; standing by")
                    break
                checked = time.monotonic()
            try:
                batch = await bot.get_updates(
                    offset=offset or None,
                    timeout=self.poll_timeout,
                    allowed_updates=ALLOWED_UPDATES,
                )
                offset = await self._take(batch, offset)
            except (TelegramError, ThreatwatchError) as exc:
                log.warning("telegram: getUpdates: %s; retrying in %.0fs", exc, RETRY_SECONDS)
                await _pause(stop, RETRY_SECONDS)
        self.listening = False

    async def _take(self, batch: tuple[Update, ...], offset: int) -> int:
        """Queue the updates not seen before; the offset past them, saved."""
        for update in batch:
            if await first_time(self.updates, update, self.clock()):
                await self.application.update_queue.put(update)
        if batch:
            offset = batch[-1].update_id + 1
            await asyncio.to_thread(self.updates.save_update_offset, TELEGRAM, offset, self.clock())
        return offset


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
