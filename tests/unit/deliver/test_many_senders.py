"""Several deliverers draining one outbox at once, each on its own store object, thread and event
loop, as separate processes do, on both store backends: every chat gets its alerts once and in
order, and the platform's limit holds over the sends of all of them together in every window.

The platform here records when each send reached it; it answers after a few milliseconds, so
sends overlap as they do against a real platform."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from test_delivery_concurrency import queue_alerts

from bot.core.records import OutboxEntry
from bot.deliver.outbox import Deliverer
from bot.deliver.ratelimit import Rate
from bot.deliver.sink import SendOptions
from bot.store import Store

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


class RecordingPlatform:
    """Accepts every send after ``latency`` seconds; records (chat, alert, when) under a lock,
    shared by every deliverer that sends to it."""

    platform = "telegram"
    sends_in_flight = 16

    def __init__(self, global_rate: Rate, chat_rate: Rate, latency: float = 0.003):
        self.global_rate, self._chat_rate, self.latency = global_rate, chat_rate, latency
        self.lock = threading.Lock()
        self.sent: list[tuple[str, int, float]] = []
        self.senders: dict[str, set[str]] = {}  # chat → the threads (senders) that sent to it

    def chat_rate(self, chat_id: str) -> Rate:
        return self._chat_rate

    async def send(self, entry: OutboxEntry, options: SendOptions) -> str | None:
        await asyncio.sleep(self.latency / 2)
        with self.lock:
            self.sent.append((entry.chat_id, entry.match.id, time.time()))
            self.senders.setdefault(entry.chat_id, set()).add(threading.current_thread().name)
        await asyncio.sleep(self.latency / 2)
        return f"{entry.chat_id}:{entry.match.id}:{options.attempt}"

    async def find_sent(self, entry: OutboxEntry, options: SendOptions) -> str | None:
        return None

    async def post(self, *args: object) -> str | None:
        return None

    async def edit(self, *args: object) -> None:
        return None


def drain_in_threads(stores: list[Store], platform: RecordingPlatform, until: int) -> None:
    """One deliverer per store, each draining on its own thread until ``until`` sends were
    made (or 20 s passed)."""
    errors: list[BaseException] = []
    start = threading.Barrier(len(stores))

    def run(store: Store, name: str) -> None:
        async def main() -> None:
            deliverer = Deliverer(store, {"telegram": platform}, lambda: NOW, owner=name)
            deadline = time.monotonic() + 20
            while len(platform.sent) < until and time.monotonic() < deadline:
                await deliverer.drain()
                await asyncio.sleep(0.01)

        start.wait()
        try:
            asyncio.run(main())
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=run, args=(s, f"p{i}"), name=f"p{i}") for i, s in enumerate(stores)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


@pytest.mark.parametrize("chat_limit", [None, Rate(1, 0.05)], ids=["no-chat-limit", "chat-limit"])
def test_two_senders_never_send_a_chat_out_of_order_or_twice(
    open_test_store: Callable[[str], Store], chat_limit: Rate | None
) -> None:
    base = open_test_store("t")
    chats = [f"c{i}" for i in range(20)]  # more than one sender claims at a time
    match_ids = queue_alerts(base, {"telegram": chats}, alerts=4)
    # without a chat limit a sender sends all of a claimed chat's alerts in one drain; with one
    # alert per chat every 50 ms a chat is full after each send, so it is given back at the end
    # of the drain and the next drain, of either sender, may take it up
    platform = RecordingPlatform(Rate(10_000, 1.0), chat_limit or Rate(10_000, 1.0))
    drain_in_threads([open_test_store("t"), open_test_store("t")], platform, len(chats) * 4)

    for chat in chats:
        assert [m for c, m, _ in platform.sent if c == chat] == match_ids, chat
    assert base.outbox_counts() == {"sent": len(chats) * 4}
    assert set().union(*platform.senders.values()) == {"p0", "p1"}  # both sent


def test_the_platform_limit_holds_over_every_sender_in_every_window(
    open_test_store: Callable[[str], Store],
) -> None:
    base = open_test_store("t")
    chats = [f"c{i}" for i in range(24)]  # more than one sender claims at a time: both send
    queue_alerts(base, {"telegram": chats}, alerts=1)
    limit = Rate(10, 1.0)  # each deliverer alone would allow 10 a second: together, 20
    platform = RecordingPlatform(limit, Rate(10_000, 1.0))
    drain_in_threads([open_test_store("t"), open_test_store("t")], platform, len(chats))

    times = sorted(t for _, _, t in platform.sent)
    assert len(times) == len(chats)
    assert set().union(*platform.senders.values()) == {"p0", "p1"}
    busiest = max(
        sum(1 for t in times if start <= t < start + limit.per_seconds) for start in times
    )
    assert busiest <= limit.messages, times
    # and the senders were not merely taking turns a second apart: the limit was used
    assert times[-1] - times[0] < len(chats) / limit.messages + 1.0
