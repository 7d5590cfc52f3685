"""Sliding-window rate limits for sending: one global window per platform and one per chat.

Telegram allows about 30 messages a second overall, about 20 a minute in one group and about
one a second in one private chat. A chat over its limit is skipped until it has room, so one
busy group never holds back the others; the global window is waited out.

A send counts from the moment it finished, not the moment it started: the platform sees the
request somewhere in between, so spacing sends from the previous one's end keeps them spaced
there however slowly a request travelled. Until it finishes it counts as happening now, so sends
to several chats at once never overfill the global window.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class Rate:
    messages: int
    per_seconds: float


class SlidingWindow:
    """At most ``rate.messages`` sends in any ``rate.per_seconds``, counting a send from when it
    finished, and a send still in flight as if it were happening now (the platform may see it
    at any moment until its answer arrives)."""

    # how often to look again while only sends in flight fill the window
    IN_FLIGHT_POLL = 0.05

    def __init__(self, rate: Rate, clock: Callable[[], float] = time.monotonic):
        self.rate = rate
        self.clock = clock
        self.sent: deque[float] = deque()  # when each finished send finished, oldest first
        self.in_flight = 0
        self.blocked_until = 0.0

    def wait_time(self) -> float:
        """Seconds until one more message fits (0 when it fits now)."""
        now = self.clock()
        while self.sent and self.sent[0] <= now - self.rate.per_seconds:
            self.sent.popleft()
        wait = max(self.blocked_until - now, 0.0)
        over = len(self.sent) + self.in_flight - self.rate.messages  # ≥ 0: no room
        if over >= 0:
            if over < len(self.sent):  # room once the (over+1)-th oldest finished send expires
                wait = max(wait, self.sent[over] + self.rate.per_seconds - now)
            else:  # sends in flight alone fill the window: room when one of them is answered
                wait = max(wait, self.IN_FLIGHT_POLL)
        return wait

    def begin(self) -> None:
        """A send starts: it counts until it finishes, and then from when it finished."""
        self.in_flight += 1

    def finish(self) -> None:
        self.in_flight -= 1
        self.sent.append(self.clock())  # the latest time yet: the deque stays in order

    def block(self, seconds: float) -> None:
        """The platform asked us to wait (429 retry_after)."""
        self.blocked_until = max(self.blocked_until, self.clock() + seconds)


class RateLimiter:
    def __init__(
        self,
        global_rate: Rate,
        chat_rate: Callable[[str], Rate],
        clock: Callable[[], float] = time.monotonic,
    ):
        self.clock = clock
        self.global_window = SlidingWindow(global_rate, clock)
        self.chat_rate = chat_rate
        self.chats: dict[str, SlidingWindow] = {}

    def chat(self, chat_id: str) -> SlidingWindow:
        if chat_id not in self.chats:
            self.chats[chat_id] = SlidingWindow(self.chat_rate(chat_id), self.clock)
        return self.chats[chat_id]

    def chat_wait(self, chat_id: str) -> float:
        return self.chat(chat_id).wait_time()

    @asynccontextmanager
    async def slot(self, chat_id: str) -> AsyncIterator[None]:
        """Wait for room in the global window, count one message for it and the chat, and
        when the send inside is over (sent or failed) count it from then."""
        while (wait := self.global_window.wait_time()) > 0:
            await asyncio.sleep(wait)
        window = self.chat(chat_id)
        self.global_window.begin()
        window.begin()
        try:
            yield
        finally:
            self.global_window.finish()
            window.finish()
