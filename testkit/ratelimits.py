"""Rate limits as a chat platform enforces them, for the local fake servers: sliding windows
per key (a chat, or the whole bot), a 429 with a retry delay when a request would exceed one,
and a record of every refusal so tests can assert that the bot never went over."""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Limit:
    messages: int
    per_seconds: float


@dataclass
class PlatformLimits:
    """``limit_for(key)`` names the windows a request to a chat counts against: (key, Limit)
    pairs, e.g. the chat's own window and the bot's global one. ``tolerance`` seconds of network
    jitter are forgiven at each window's edge (a real platform allows short bursts too)."""

    limit_for: Callable[[str], list[tuple[str, Limit]]]
    tolerance: float = 0.1
    clock: Callable[[], float] = time.monotonic
    refused: list[tuple[float, str, str]] = field(default_factory=list)  # (when, chat, window)
    _sent: dict[str, deque[float]] = field(default_factory=lambda: defaultdict(deque))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def check(self, chat: str) -> int | None:
        """Count one request to ``chat``; None when it fits, else the seconds to wait (and the
        request is refused, not counted)."""
        with self._lock:
            now = self.clock()
            windows = self.limit_for(chat)
            for key, limit in windows:
                sent = self._sent[key]
                span = limit.per_seconds - self.tolerance
                while sent and sent[0] <= now - span:
                    sent.popleft()
                if len(sent) >= limit.messages:
                    self.refused.append((now, chat, key))
                    return max(1, math.ceil(sent[0] + span - now))
            for key, _ in windows:
                self._sent[key].append(now)
            return None


def telegram_limits() -> PlatformLimits:
    """Telegram's published limits: 30 messages a second overall, 20 a minute in a group,
    one a second in a private chat."""

    def limit_for(chat: str) -> list[tuple[str, Limit]]:
        own = Limit(20, 60.0) if chat.startswith("-") else Limit(1, 1.0)
        return [("*", Limit(30, 1.0)), (chat, own)]

    return PlatformLimits(limit_for)


def slack_limits() -> PlatformLimits:
    """Slack's chat.postMessage limit: one message a second per channel."""
    return PlatformLimits(lambda chat: [(chat, Limit(1, 1.0))])
