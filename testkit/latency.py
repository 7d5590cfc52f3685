"""Latency harness: how long from an item appearing in a feed to its alert's outbox row, with the
real bot (`python -m bot run`) polling a feed on the local feed server, or subscribed to it
through the local WebSub hub (testkit/websub_hub.py). Used by ``bench/latency.py``; the
feed and topic helpers are shared with the WebSub tests.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import httpx

from bot.store import SqliteStore, Store
from testkit.env import local_env
from testkit.feedserver import FeedServer
from testkit.load import other_item, relevant_item, write_topic
from testkit.websub_hub import LocalHub

FEED = "wire.xml"
CALLBACK = "http://127.0.0.1:0/websub"  # port 0: the port the bot binds
PUSHED = re.compile(r"websub push: deliveries=\d+ feeds=[\d,]+ new=(\d+)")
Item = tuple[str, str, str]  # guid, title, text


def wire_feed(
    items: list[Item], *, hub: str | None = None, self_url: str | None = None, link: str = ""
) -> bytes:
    """An RSS 2.0 document, newest item first, advertising ``hub`` and ``self_url`` as
    <atom:link> elements when given. Item links are ``link`` + guid + ``.html``."""
    links = "".join(
        f"<atom:link rel={quoteattr(rel)} href={quoteattr(href)}/>"
        for rel, href in (("hub", hub), ("self", self_url))
        if href
    )
    body = "".join(
        f"<item><title>{escape(title)}</title><link>{escape(link or 'https://news.example/')}"
        f'{guid}.html</link><guid isPermaLink="false">{guid}</guid>'
        f"<description>{escape(text)}</description></item>"
        for guid, title, text in reversed(items)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel>'
        f"<title>Wire</title><link>https://news.example/</link>{links}{body}</channel></rss>"
    ).encode()


def article_page(item: Item) -> bytes:
    """The item's article page, for the full-text stage (a teaser in the feed, more here)."""
    _, title, text = item
    paragraphs = "".join(f"<p>{escape(text)} Paragraph {n} of the report.</p>" for n in range(6))
    return (
        f"<html><head><title>{escape(title)}</title></head><body><article>"
        f"<h1>{escape(title)}</h1>{paragraphs}</article></body></html>"
    ).encode()


@dataclass
class LatencyResult:
    mode: str  # "poll" or "websub"
    poll_interval: int
    latencies: list[float] = field(default_factory=list)  # seconds, one per new item
    pushes: int = 0  # deliveries the bot ingested from the hub (websub mode)
    output: str = ""

    def quantile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return 0.0
        position = q * (len(ordered) - 1)  # linear interpolation between closest ranks
        low = int(position)
        high = min(low + 1, len(ordered) - 1)
        return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


class _Bot:
    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            env={**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1", **env},
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.lines: list[str] = []
        self.pump = threading.Thread(target=lambda: self.lines.extend(self.proc.stdout or []))
        self.pump.start()

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, pattern: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not re.search(pattern, self.output):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise AssertionError(f"no {pattern!r} in the bot's output:\n{self.output[-4000:]}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.pump.join(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def run_latency(
    root: Path,
    *,
    mode: str,
    poll_interval: int,
    runs: int,
    embedder: str = "sentence-transformers",
    seed: int = 1,
    timeout: float = 600.0,
) -> LatencyResult:
    """Start the bot on one feed, then ``runs`` times: wait a random while, add a relevant item to
    the feed (and, with WebSub, ping the hub as a publisher does), and time until its outbox row
    is in the database."""
    write_topic(root)
    www = root / "www"
    www.mkdir(exist_ok=True)
    rng = random.Random(seed)
    result = LatencyResult(mode, poll_interval)
    with FeedServer(www) as feeds, LocalHub() as hub:
        topic = feeds.url(FEED)
        items: list[Item] = [other_item(n) for n in range(3)]

        def publish(new: list[Item]) -> None:
            for item in new:
                feeds.set_file(f"a/{item[0]}.html", article_page(item))
            advertised = hub.url if mode == "websub" else None
            doc = wire_feed(items, hub=advertised, self_url=topic, link=feeds.url("a/"))
            feeds.set_file(FEED, doc)

        publish(items)
        env = bot_env(root, poll_interval=poll_interval, embedder=embedder, websub=mode == "websub")
        subprocess.run(
            [sys.executable, "-m", "bot", "feeds", "add", topic],
            env={**os.environ, "HF_HUB_OFFLINE": "1", **env},
            check=True,
            capture_output=True,
        )
        bot = _Bot(env)
        store = SqliteStore(root / "bot.db")
        try:
            bot.wait_for(r"cycle: feeds_due=1 ", timeout)
            if mode == "websub":
                bot.wait_for(r"websub: feed \d+ verified", timeout)
            for n in range(runs):
                time.sleep(rng.uniform(0, poll_interval) if mode == "poll" else rng.uniform(0.5, 1))
                before = _outbox_rows(store)
                items.append(relevant_item(1000 + n))
                publish(items[-1:])
                appeared = time.monotonic()
                if mode == "websub":  # the publisher's ping
                    httpx.post(hub.url, data={"hub.mode": "publish", "hub.url": topic})
                while _outbox_rows(store) <= before:
                    if time.monotonic() - appeared > poll_interval + timeout:
                        raise AssertionError("no outbox row:\n" + bot.output[-4000:])
                    time.sleep(0.02)
                result.latencies.append(time.monotonic() - appeared)
        finally:
            store.close()
            bot.stop()
        result.output = bot.output
        result.pushes = sum(int(n) > 0 for n in PUSHED.findall(result.output))
    return result


def _outbox_rows(store: Store) -> int:
    return sum(store.outbox_counts().values())


def bot_env(root: Path, *, poll_interval: int, embedder: str, websub: bool) -> dict[str, str]:
    """Settings for a bot on loopback with its files under ``root`` (see ``write_topic``); with
    ``websub``, callbacks on 127.0.0.1 at a port the bot picks."""
    # the item pages are fetched for full text, as a deployment does by default
    env = local_env(
        root, embedder=embedder, poll_interval=poll_interval, THREATWATCH_FETCH_FULL_TEXT="true"
    )
    if websub:
        env |= {
            "THREATWATCH_WEBSUB_CALLBACK_URL": CALLBACK,
            "THREATWATCH_WEBSUB_LISTEN": "127.0.0.1",
            "THREATWATCH_WEBSUB_PORT": "0",
        }
    return env
