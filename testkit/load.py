"""A bounded, loopback-only load run of the real bot (`python -m bot run` as a child process):
many feeds on the local feed server, many new items, many chats across the fake Telegram Bot API
and Slack servers, both enforcing the platforms' rate limits. Used by ``bench/load.py`` (full
size) and ``tests/integration/test_load.py`` (scaled down).

It measures the poll cycle (from the bot's own cycle line), the bot process's peak memory
(VmHWM), and the delivery lag of each alert (first seen by the fake server minus the match's
creation time), and returns what every chat received so callers can check exactly-once.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

from bot.app.compose import compose
from bot.core.channels import ChannelKey
from bot.core.settings import Settings
from bot.store import SqliteStore
from testkit.env import local_env
from testkit.feedserver import FeedServer
from testkit.slack_api import BOT_TOKEN, FakeSlackAPI
from testkit.telegram_api import FakeBotAPI

TOKEN = "123456:LOAD-token"
TOPIC = "militia-attacks"
SEEDS = {
    "rockets.txt": (
        "Iran-backed militia fires rockets at US troops in Iraq\n"
        "An Iran-backed militia fired rockets at a base hosting US troops in western Iraq, "
        "US officials said. The attack on the air base wounded several American service "
        "members. Kataib Hezbollah militia fighters have repeatedly attacked US forces."
    ),
    "drones.txt": (
        "Drone attack on US forces base in Syria blamed on Iran-backed militias\n"
        "A drone attack struck a base housing US forces in eastern Syria. The Pentagon blamed "
        "Iran-backed militias for the drone and rocket attacks on American troops."
    ),
}
PLACES = ["Erbil", "Baghdad", "Anbar", "Deir ez-Zor", "Tanf", "Harir", "Taji", "Besmaya"]
CYCLE = re.compile(
    r"cycle: feeds_due=(\d+) fetched=(\d+) .* new=(\d+) .* matched=(\d+) "
    r"queued=(\d+) .*seconds=([\d.]+)"
)


@dataclass(frozen=True)
class LoadSpec:
    feeds: int
    items: int  # new items across all feeds
    relevant: int  # of them, reports of the watch topic (the rest are unrelated news)
    telegram_private: int
    telegram_groups: int
    slack_channels: int

    @property
    def chats(self) -> int:
        return self.telegram_private + self.telegram_groups + self.slack_channels


@dataclass
class LoadResult:
    cycle_seconds: float
    new: int
    matched: int
    queued: int
    peak_rss_mb: float
    delivery_seconds: float  # from the end of the cycle to the last alert received
    lags: list[float]  # seconds from a match's creation to its arrival, one per message
    received: dict[str, Counter[int]] = field(default_factory=dict)  # chat → alert id counts
    match_ids: set[int] = field(default_factory=set)
    refused_by_limits: int = 0
    output: str = ""

    def lag(self, q: float) -> float:
        ordered = sorted(self.lags)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def relevant_item(n: int) -> tuple[str, str, str]:
    place = PLACES[n % len(PLACES)]
    return (
        f"r{n}",
        f"Rocket attack number {n} on US troops at {place} base",
        f"Iran-backed militia fighters fired rockets at a base hosting US troops near {place} "
        f"in Iraq, report {n}; American service members were attacked by the militia, "
        "US officials said.",
    )


def other_item(n: int) -> tuple[str, str, str]:
    return (
        f"n{n}",
        f"Town council meeting {n} approves new library hours",
        f"The council of town number {n} voted to keep the public library open later on "
        f"weekdays; item {n} of the local news digest also covers road works and a fair.",
    )


def rss(items: list[tuple[str, str, str]]) -> bytes:
    body = "".join(
        f"<item><title>{escape(title)}</title><link>https://news.example/{guid}</link>"
        f'<guid isPermaLink="false">{guid}</guid>'
        f"<pubDate>Mon, 05 Aug 2024 12:00:00 +0000</pubDate>"
        f"<description>{escape(text)}</description></item>"
        for guid, title, text in items
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>Load wire</title><link>https://news.example/</link>{body}</channel></rss>"
    ).encode()


def write_topic(root: Path) -> None:
    """config/ and seeds/ under ``root`` for the one watch topic, and no default feeds."""
    config, seeds = root / "config", root / "seeds" / TOPIC
    for folder in (config, seeds):
        folder.mkdir(parents=True, exist_ok=True)
    (config / "topics.toml").write_text(
        f'[[topic]]\nname = "{TOPIC}"\ndescription = "Militias attacking US forces"\n'
        "threshold = 0.45\nenabled = true\n"
    )
    (config / "feeds.toml").write_text("")
    for name, text in SEEDS.items():
        (seeds / name).write_text(text)


def _write(root: Path, spec: LoadSpec) -> None:
    write_topic(root)
    www = root / "www"
    www.mkdir(parents=True, exist_ok=True)
    per_feed: list[list[tuple[str, str, str]]] = [[] for _ in range(spec.feeds)]
    step = max(1, spec.items // max(1, spec.relevant))
    for n in range(spec.items):
        item = relevant_item(n) if n % step == 0 and n // step < spec.relevant else other_item(n)
        per_feed[n % spec.feeds].append(item)
    for i, items in enumerate(per_feed):
        (www / f"f{i}.xml").write_bytes(rss(items))


def _env(root: Path, tg: FakeBotAPI, slack: FakeSlackAPI) -> dict[str, str]:
    return local_env(
        root,
        poll_interval=3600,  # one cycle
        # every feed is on one loopback host; a real deployment spreads over many hosts
        THREATWATCH_PER_HOST_CONCURRENCY="32",
        THREATWATCH_TELEGRAM_TOKEN=TOKEN,
        THREATWATCH_TELEGRAM_API_URL=tg.api_url,
        THREATWATCH_TELEGRAM_POLL_TIMEOUT="1",
        THREATWATCH_TELEGRAM_REQUEST_TIMEOUT="10",
        THREATWATCH_SLACK_BOT_TOKEN=BOT_TOKEN,
        THREATWATCH_SLACK_API_URL=slack.api_url,
        THREATWATCH_SLACK_SIGNING_SECRET="8f742231b10e8888abcd99yyyzzz85a5",
        THREATWATCH_SLACK_LISTEN="127.0.0.1",
        THREATWATCH_SLACK_PORT="0",
        THREATWATCH_SLACK_REQUEST_TIMEOUT="10",
    )


def _chats(spec: LoadSpec) -> list[ChannelKey]:
    keys = [ChannelKey("telegram", str(10_000 + i)) for i in range(spec.telegram_private)]
    keys += [ChannelKey("telegram", str(-1_000_000 - i)) for i in range(spec.telegram_groups)]
    keys += [ChannelKey("slack", f"CLOAD{i:05d}") for i in range(spec.slack_channels)]
    return keys


async def _prepare(env: dict[str, str], feed_urls: list[str], chats: list[ChannelKey]) -> None:
    """Feeds and subscriptions in the database before the bot starts (as admins would)."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        app = compose(Settings())
    finally:
        for k, v in saved.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    try:
        for url in feed_urls:
            await app.service.feeds.add_feed(url)
        for key in chats:
            app.service.chats.subscribe(key)
    finally:
        await app.aclose()


def _peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _ids_of(tg: FakeBotAPI, slack: FakeSlackAPI, chats: list[ChannelKey]) -> dict[str, list[int]]:
    with tg.lock:
        sent = list(tg.sent)
    with slack.lock:
        posted = list(slack.posted)
    out: dict[str, list[int]] = {f"{k.platform}:{k.chat_id}": [] for k in chats}
    for s in sent:
        if s.buttons:
            out[f"telegram:{s.chat_id}"].append(int(s.buttons[0][1].split(":")[1]))
    for p in posted:
        if p.method == "chat.postMessage" and p.buttons:
            out[f"slack:{p.channel}"].append(int(p.buttons[0][1]))
    return out


def run_load(root: Path, spec: LoadSpec, *, timeout: float = 600.0) -> LoadResult:
    _write(root, spec)
    chats = _chats(spec)
    with (
        FeedServer(root / "www") as feeds,
        FakeBotAPI(TOKEN) as tg,
        FakeSlackAPI() as slack,
    ):
        tg_limits, slack_limits = tg.enforce_limits(), slack.enforce_limits()
        for key in chats:
            if key.platform == "slack":
                slack.add_channel(key.chat_id, ["UADMIN01"])
        env = _env(root, tg, slack)
        asyncio.run(_prepare(env, [feeds.url(f"f{i}.xml") for i in range(spec.feeds)], chats))
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        lines: list[str] = []
        pump = threading.Thread(target=lambda: lines.extend(proc.stdout or []), daemon=True)
        pump.start()
        try:
            result = _observe(root, spec, proc, lines, tg, slack, chats, timeout)
            result.refused_by_limits = len(tg_limits.refused) + len(slack_limits.refused)
            return result
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            pump.join(10)
            if proc.stdout is not None:
                proc.stdout.close()


def _observe(
    root: Path,
    spec: LoadSpec,
    proc: subprocess.Popen[str],
    lines: list[str],
    tg: FakeBotAPI,
    slack: FakeSlackAPI,
    chats: list[ChannelKey],
    timeout: float,
) -> LoadResult:
    deadline = time.monotonic() + timeout
    first_seen: dict[tuple[str, int], float] = {}

    def look() -> int:
        """Notes the alerts that arrived since the last look; returns how many have arrived."""
        now = time.time()
        ids = _ids_of(tg, slack, chats)
        for chat, alert_ids in ids.items():
            for alert in alert_ids:
                first_seen.setdefault((chat, alert), now)
        return sum(len(v) for v in ids.values())

    cycle = None
    while cycle is None and time.monotonic() < deadline and proc.poll() is None:
        cycle = CYCLE.search("".join(lines))
        look()  # alerts go out while the cycle still runs
        time.sleep(0.1)
    if cycle is None:
        raise AssertionError("no poll cycle line:\n" + "".join(lines)[-5000:])
    cycle_done = time.time()
    expected = int(cycle.group(4)) * spec.chats
    while look() < expected and time.monotonic() < deadline:
        time.sleep(0.1)
    delivered_at = max(first_seen.values(), default=cycle_done)
    time.sleep(2.0)  # nothing more may arrive
    peak = _peak_rss_mb(proc.pid)
    ids = _ids_of(tg, slack, chats)
    store = SqliteStore(root / "bot.db")
    try:
        created = {m.id: m.created_at.timestamp() for m in store.latest_matches(limit=1_000_000)}
    finally:
        store.close()
    lags = [first_seen[(c, a)] - created[a] for (c, a) in first_seen if a in created]
    return LoadResult(
        cycle_seconds=float(cycle.group(6)),
        new=int(cycle.group(3)),
        matched=int(cycle.group(4)),
        queued=int(cycle.group(5)),
        peak_rss_mb=peak,
        delivery_seconds=max(0.0, delivered_at - cycle_done),
        lags=lags,
        received={chat: Counter(v) for chat, v in ids.items()},
        match_ids=set(created),
        output="".join(lines),
    )
