"""The chaos test's world: many tiny feeds on the local feed server (each with its own unrelated
item, a few items of the watch topic, some items carried by several feeds), subscribed Telegram
chats and Slack channels, and what the test reads back: the database's leases, outbox and
articles, and the fake servers' deliveries and send times."""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from bot.core.channels import ChannelKey
from bot.store.postgres import PostgresStore
from testkit.load import other_item, relevant_item, rss, write_topic
from testkit.slack_api import FakeSlackAPI
from testkit.telegram_api import FakeBotAPI

FEEDS = 2_000
RELEVANT = 8  # items of the watch topic, each carried by RELEVANT_COPIES feeds
RELEVANT_COPIES = 3
SHARED = 20  # unrelated items, each carried by SHARED_COPIES feeds
SHARED_COPIES = 5
PRIVATE_CHATS = [10_000 + i for i in range(32)]  # more than Telegram's 30 a second together
GROUP_CHATS = [-1_000_000 - i for i in range(2)]
SLACK_CHANNELS = [f"CCHAOS{i:03d}" for i in range(4)]
DISTINCT_ITEMS = FEEDS + RELEVANT + SHARED


def write_feeds(www: Path) -> None:
    """f{i}.xml for each feed: its own unrelated item, plus the relevant and shared items it
    carries; every feed is a few hundred bytes."""
    www.mkdir(parents=True, exist_ok=True)
    carried: list[list[tuple[str, str, str]]] = [[other_item(i)] for i in range(FEEDS)]
    spacing = FEEDS // RELEVANT
    for k in range(RELEVANT):
        for copy in range(RELEVANT_COPIES):
            carried[k * spacing + copy * 7].append(relevant_item(k))
    for j in range(SHARED):
        shared = other_item(FEEDS + j)
        for copy in range(SHARED_COPIES):
            carried[(j * 97 + copy * 13 + 3) % FEEDS].append(shared)
    for i, items in enumerate(carried):
        (www / f"f{i}.xml").write_bytes(rss(items))


def prepare(root: Path, database_url: str, feed_urls: Iterable[str], slack: FakeSlackAPI) -> None:
    """The topic's config, the feeds and the subscriptions, as admins would have made them."""
    write_topic(root)
    for channel in SLACK_CHANNELS:
        slack.add_channel(channel, ["UADMIN01"])
    keys = [ChannelKey("telegram", str(c)) for c in PRIVATE_CHATS + GROUP_CHATS]
    keys += [ChannelKey("slack", c) for c in SLACK_CHANNELS]
    store = PostgresStore(database_url)
    try:
        now = datetime.now(UTC)
        for url in feed_urls:
            store.add_feed(url, None, now)
        for key in keys:
            store.subscribe(store.channel_for(key, now).id, ["militia-attacks"], now)
    finally:
        store.close()


class Database:
    """Read-only questions about the shared database, asked with plain SQL."""

    def __init__(self, url: str):
        self.conn = psycopg.connect(url, autocommit=True)

    def close(self) -> None:
        self.conn.close()

    def _rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        return self.conn.execute(sql, params).fetchall()

    def leases_of(self, pid: int) -> list[int]:
        """The feeds the process ``pid`` holds by a lease that has not run out."""
        rows = self._rows(
            "SELECT id FROM feeds WHERE lease_owner LIKE %s AND lease_until > now()", f"%:{pid}:%"
        )
        return [r[0] for r in rows]

    def holders_of(self, feed_ids: list[int]) -> list[str | None]:
        rows = self._rows(
            "SELECT lease_owner FROM feeds WHERE id = ANY(%s) AND lease_until > now()", feed_ids
        )
        return [r[0] for r in rows]

    def feeds_checked_since(self, at: datetime) -> int:
        return int(self._rows("SELECT count(*) FROM feeds WHERE last_checked_at >= %s", at)[0][0])

    def article_count(self) -> int:
        return int(self._rows("SELECT count(*) FROM articles")[0][0])

    def articles(self) -> dict[str, int]:
        """How many times each item is stored, by guid, by title and by content hash."""
        rows = self._rows("SELECT guid, title, content_hash FROM articles")
        return {
            "rows": len(rows),
            "max_per_guid": max(Counter(r[0] for r in rows).values(), default=0),
            "max_per_title": max(Counter(r[1] for r in rows).values(), default=0),
            "max_per_hash": max(Counter(r[2] for r in rows).values(), default=0),
        }

    def outbox(self) -> tuple[Counter[str], set[tuple[str, int]]]:
        """Rows by status, and the (chat, alert) pairs the outbox holds."""
        rows = self._rows(
            "SELECT o.status, c.platform || ':' || c.chat_id, o.match_id"
            " FROM outbox o JOIN channels c ON c.id = o.channel_id"
        )
        return Counter(r[0] for r in rows), {(r[1], int(r[2])) for r in rows}

    def sending_by(self, pid: int) -> set[tuple[str, int]]:
        """The (chat, alert) pairs process ``pid`` has marked 'sending' and not yet 'sent'."""
        rows = self._rows(
            "SELECT c.platform || ':' || c.chat_id, o.match_id"
            " FROM outbox o JOIN channels c ON c.id = o.channel_id"
            " WHERE o.status = 'sending' AND o.sending_by LIKE %s",
            f"%:{pid}:%",
        )
        return {(r[0], int(r[1])) for r in rows}

    def matched_guids(self) -> set[str]:
        rows = self._rows("SELECT a.guid FROM matches m JOIN articles a ON a.id = m.article_id")
        return {r[0] for r in rows}


def received(tg: FakeBotAPI, slack: FakeSlackAPI) -> Counter[tuple[str, int]]:
    """How many times each (chat, alert) arrived at the platforms."""
    with tg.lock:
        sent = [s for s in tg.sent if s.buttons and s.method == "sendMessage"]
    with slack.lock:
        posted = [p for p in slack.posted if p.method == "chat.postMessage" and p.buttons]
    got: Counter[tuple[str, int]] = Counter()
    for s in sent:
        got[(f"telegram:{s.chat_id}", int(s.buttons[0][1].split(":")[1]))] += 1
    for p in posted:
        got[(f"slack:{p.channel}", int(p.buttons[0][1]))] += 1
    return got


def most_in_window(times: Iterable[float], seconds: float) -> int:
    """The most sends within any window of ``seconds`` (a send at its start included)."""
    ordered = sorted(times)
    return max(
        (bisect.bisect_left(ordered, t + seconds) - i for i, t in enumerate(ordered)), default=0
    )


def send_times(tg: FakeBotAPI, slack: FakeSlackAPI) -> dict[str, list[float]]:
    """Accepted message sends per chat ("telegram:…", "slack:…"), and all Telegram's ("*")."""
    times: dict[str, list[float]] = {"telegram:*": []}
    with tg.lock:
        for s in tg.sent:
            if s.method.startswith("send"):
                times.setdefault(f"telegram:{s.chat_id}", []).append(s.at)
                times["telegram:*"].append(s.at)
    with slack.lock:
        for p in slack.posted:
            if p.method == "chat.postMessage":
                times.setdefault(f"slack:{p.channel}", []).append(float(p.ts))
    return times


def telegram_copies(tg: FakeBotAPI, pairs: Iterable[tuple[str, int]]) -> dict[str, list[str]]:
    """Who sent each copy of the given (chat, alert) pairs, and when (monotonic seconds)."""
    wanted = set(pairs)
    out: dict[str, list[str]] = {}
    with tg.lock:
        for s in tg.sent:
            if (
                s.buttons
                and (f"telegram:{s.chat_id}", int(s.buttons[0][1].split(":")[1])) in wanted
            ):
                out.setdefault(f"{s.chat_id}/{s.buttons[0][1]}", []).append(
                    f"{s.caller}@{s.at:.2f}"
                )
    return out


def copy_senders(
    tg: FakeBotAPI, pairs: Iterable[tuple[str, int]]
) -> dict[tuple[str, int], list[str]]:
    """The processes that sent each copy of the given (chat, alert) pairs, in order of arrival."""
    wanted: set[tuple[str, int]] = set(pairs)
    senders: dict[tuple[str, int], list[str]] = {}
    with tg.lock:
        for s in tg.sent:
            if s.buttons:
                pair = (f"telegram:{s.chat_id}", int(s.buttons[0][1].split(":")[1]))
                if pair in wanted:
                    senders.setdefault(pair, []).append(s.caller)
    return senders
