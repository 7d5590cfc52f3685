"""The platforms' rate limits shared by every sending process through the database.

Each process keeps its own sliding windows (bot/deliver/ratelimit.py) as the first gate; before
a send it also takes a slot in the platform's shared window (Telegram: 30 messages a second per
bot, whichever process sends them) and in the chat's, through ``Store.take_send_slots``. A full
platform window is waited out; a full chat window (another process sent to the chat a moment
ago) makes the chat wait like its own full window does. The store keeps the windows
(bot/store/send_windows.py); times are wall-clock seconds, the same on every machine (NTP).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping

from bot.core.errors import StoreError
from bot.core.records import SendWindow
from bot.deliver.sink import Sink
from bot.store import Store

log = logging.getLogger(__name__)


def windows(sink: Sink, chat_id: str) -> tuple[SendWindow, SendWindow]:
    """The platform's window and the chat's, as the sink states its limits."""
    bot, chat = sink.global_rate, sink.chat_rate(chat_id)
    return (
        SendWindow(sink.platform, bot.messages, bot.per_seconds),
        SendWindow(f"{sink.platform}:chat:{chat_id}", chat.messages, chat.per_seconds),
    )


class SharedLimits:
    def __init__(
        self,
        store: Store,
        sinks: Mapping[str, Sink],
        *,
        in_flight_limit: float,
        wall: Callable[[], float] = time.time,
    ):
        self.store, self.sinks = store, sinks
        self.in_flight_limit = in_flight_limit  # a send never takes longer (the claim timeout)
        self.wall = wall

    async def take(self, platform: str, chat_id: str, token: str) -> float:
        """Count the send ``token`` in the platform's and the chat's shared windows, waiting
        while the platform's is full: 0 once counted, or (nothing counted) the seconds until
        the chat's window has room. Raises StoreError."""
        shared = windows(self.sinks[platform], chat_id)
        while True:
            bot_wait, chat_wait = self.store.take_send_slots(
                shared, token, self.wall(), in_flight_limit=self.in_flight_limit
            )
            if chat_wait > 0:
                return chat_wait
            if bot_wait <= 0:
                return 0.0
            await asyncio.sleep(bot_wait)

    def end(self, platform: str, chat_id: str, token: str, *, counted: bool) -> None:
        """The send is over: it counts from now (or not at all when it never reached the
        platform). A store that cannot record it only leaves the slot taken until
        ``in_flight_limit`` has passed: the limits stay safe, nothing is lost."""
        scopes = [w.scope for w in windows(self.sinks[platform], chat_id)]
        try:
            self.store.end_send_slots(scopes, token, self.wall(), counted=counted)
        except StoreError as exc:
            log.warning("could not record the end of a send to %s:%s: %s", platform, chat_id, exc)
