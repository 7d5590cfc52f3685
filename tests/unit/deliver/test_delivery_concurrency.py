"""How the deliverer spreads sends: chats side by side, each chat's alerts one at a time and in
order, each platform on its own, and a store failure stops every chat's next send.

The sinks here stand in for a platform whose answers take a while: each send waits until the
test lets it finish, so what is in flight at once is observed, not timed."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from store_support import new_article

from bot.core.errors import StoreError
from bot.core.models import Topic
from bot.core.records import NewMatch, OutboxEntry
from bot.deliver.outbox import SEND_CONCURRENCY, Deliverer
from bot.deliver.ratelimit import Rate
from bot.deliver.sink import SendOptions
from bot.store import Store

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


class SlowPlatform:
    """Answers a send only when ``release`` is set; records what was in flight."""

    def __init__(self, platform: str, sends_in_flight: int = SEND_CONCURRENCY):
        self.platform = platform
        self.sends_in_flight = sends_in_flight
        self.global_rate = Rate(10_000, 1.0)
        self.release = asyncio.Event()
        self.in_flight: dict[str, int] = defaultdict(int)
        self.most_in_flight = 0
        self.most_per_chat = 0
        self.sent: list[tuple[str, int]] = []  # (chat, match id) in the order they finished
        self.started = 0

    def chat_rate(self, chat_id: str) -> Rate:
        return Rate(10_000, 1.0)

    async def send(self, entry: OutboxEntry, options: SendOptions) -> str | None:
        self.started += 1
        self.in_flight[entry.chat_id] += 1
        self.most_in_flight = max(self.most_in_flight, sum(self.in_flight.values()))
        self.most_per_chat = max(self.most_per_chat, self.in_flight[entry.chat_id])
        await self.release.wait()
        self.in_flight[entry.chat_id] -= 1
        self.sent.append((entry.chat_id, entry.match.id))
        return f"{entry.chat_id}:{entry.match.id}"

    async def post(self, *args: object) -> str | None:
        return None

    async def edit(self, *args: object) -> None:
        return None


def queue_alerts(store: Store, chats: dict[str, list[str]], alerts: int) -> list[int]:
    """``alerts`` matches, each queued for every chat; returns the match ids in order."""
    store.upsert_topic_default(Topic("t1", "d", 0.5), NOW)
    for platform, ids in chats.items():
        for chat in ids:
            store.subscribe(store.ensure_channel(platform, chat, now=NOW), ["t1"], NOW)
    match_ids = []
    for n in range(alerts):
        match = NewMatch(0, "t1", 0.9, 0.5, None, "seed", "passage")
        _, saved = store.save_articles([new_article(n, NOW)], [match], model="m", now=NOW)
        match_ids.append(saved[0].id)
    return match_ids


async def drain_released(deliverer: Deliverer, platforms: list[SlowPlatform]) -> int:
    drain = asyncio.create_task(deliverer.drain())
    for _ in range(50):  # let every send that can start, start
        await asyncio.sleep(0)
    for platform in platforms:
        platform.release.set()
    return await drain


async def test_chats_are_sent_to_side_by_side_each_in_order(
    tmp_path: Path, open_test_store: Callable[[str], Store]
) -> None:
    store = open_test_store("t")
    chats = [f"c{i}" for i in range(SEND_CONCURRENCY + 4)]
    match_ids = queue_alerts(store, {"console": chats}, alerts=3)
    platform = SlowPlatform("console")
    deliverer = Deliverer(store, {"console": platform}, lambda: NOW)

    assert await drain_released(deliverer, [platform]) == 3 * len(chats)
    # several chats at once, never more than the limit, and never two sends to one chat
    assert platform.most_in_flight == SEND_CONCURRENCY
    assert platform.most_per_chat == 1
    for chat in chats:
        assert [m for c, m in platform.sent if c == chat] == match_ids
    assert store.outbox_counts() == {"sent": 3 * len(chats)}


async def test_a_platform_that_takes_one_send_at_a_time_gets_one_chat_at_a_time(
    tmp_path: Path, open_test_store: Callable[[str], Store]
) -> None:
    # Telegram's default: a crash may then resend at most one alert
    store = open_test_store("t")
    chats = [f"c{i}" for i in range(5)]
    match_ids = queue_alerts(store, {"telegram": chats}, alerts=2)
    platform = SlowPlatform("telegram", sends_in_flight=1)
    deliverer = Deliverer(store, {"telegram": platform}, lambda: NOW)

    drain = asyncio.create_task(deliverer.drain())
    for _ in range(50):
        await asyncio.sleep(0)
    assert platform.started == 1  # the first send waits, and nothing else starts meanwhile
    claimed = store.claim_chats(
        "someone else", NOW, platforms=["telegram"], lease_seconds=30, limit=16
    )
    assert len(claimed) == len(chats) - 1  # and it holds that one chat only: the rest are free
    store.release_chats(claimed)
    platform.release.set()
    assert await drain == 2 * len(chats)
    assert platform.most_in_flight == 1
    for chat in chats:
        assert [m for c, m in platform.sent if c == chat] == match_ids


async def test_one_platform_waiting_does_not_hold_the_other_back(
    tmp_path: Path, open_test_store: Callable[[str], Store]
) -> None:
    store = open_test_store("t")
    queue_alerts(store, {"telegram": ["1", "2"], "slack": ["C1", "C2"]}, alerts=2)
    telegram, slack = SlowPlatform("telegram"), SlowPlatform("slack")
    deliverer = Deliverer(store, {"telegram": telegram, "slack": slack}, lambda: NOW)

    drain = asyncio.create_task(deliverer.drain())
    for _ in range(50):
        await asyncio.sleep(0)
    assert telegram.most_in_flight == 2 and slack.most_in_flight == 2  # both at once
    slack.release.set()  # Slack answers; Telegram is still waiting
    for _ in range(50):
        await asyncio.sleep(0)
    assert len(slack.sent) == 4 and telegram.sent == []
    telegram.release.set()
    assert await drain == 8


async def test_a_store_failure_stops_every_chats_next_send(
    tmp_path: Path, open_test_store: Callable[[str], Store]
) -> None:
    store = open_test_store("t")
    queue_alerts(store, {"console": ["a", "b", "c"]}, alerts=3)
    platform = SlowPlatform("console")
    deliverer = Deliverer(store, {"console": platform}, lambda: NOW)
    mark_sent = store.mark_sent
    started_before_failure: list[int] = []

    def disk_full_after_one(outbox_id: int, now: datetime, ref: str | None = None) -> None:
        if platform.started > 1:  # the first mark is written, every later one fails
            started_before_failure.append(platform.started)
            raise StoreError("database or disk is full")
        mark_sent(outbox_id, now, ref)

    store.mark_sent = disk_full_after_one  # type: ignore[method-assign]
    with pytest.raises(StoreError):
        await drain_released(deliverer, [platform])
    # no send started once a mark had failed: every send counted was under way before it
    assert platform.started == started_before_failure[0] == len(platform.sent)
    first = platform.started
    assert 3 <= first < 9
    store.mark_sent = mark_sent  # type: ignore[method-assign]
    # the sent but unmarked rows are marked first and never sent again; the rest go out
    platform.release = asyncio.Event()
    delivered_now = await drain_released(deliverer, [platform])
    assert delivered_now == 9 - first
    assert sorted(platform.sent) == sorted(set(platform.sent))  # nothing twice
    assert len(platform.sent) == 9
    assert store.outbox_counts() == {"sent": 9}
