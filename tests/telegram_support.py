"""Shared set-up for the Telegram tests: a small watch topic with seeds, a recorded feed with
relevant, irrelevant and hostile items, and settings pointing the bot at the local servers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.app.compose import App, compose
from bot.core.models import utcnow
from bot.core.settings import Settings
from testkit.env import local_env
from testkit.feedserver import FeedServer
from testkit.load import SEEDS as LOAD_SEEDS
from testkit.telegram_api import FakeBotAPI
from testkit.telegram_objects import Sent

TOKEN = "123456:TEST-token"
ADMIN = 4242
USER = 5151
TOPIC = "militia-attacks"

SEEDS = LOAD_SEEDS  # the same two seeds as the load harness

HOSTILE_TITLE = '<script>alert("x")</script> & Rockets hit US base <b>in</b> Iraq'

ITEMS = [
    (
        "a1",
        "Militia rockets hit US troops base in Iraq",
        "Iran-backed militia fighters fired rockets at a base hosting US troops in Iraq. "
        "Several American service members were wounded in the attack, US officials said.",
    ),
    (
        "a2",
        HOSTILE_TITLE,
        "An Iran-backed militia fired rockets at the air base hosting US troops in western Iraq; "
        "the Pentagon said American forces were attacked again by Kataib Hezbollah militia.",
    ),
    (
        "a3",
        "Drone strikes US forces in Syria",
        "A drone attack by Iran-backed militias struck a base housing US forces in eastern Syria, "
        "the Pentagon said, blaming the militias for attacks on American troops.",
    ),
    (
        "n1",
        "Local bakery wins bread contest",
        "The bakery on Main Street won first prize for its sourdough loaf at the county fair.",
    ),
]


def rss(items: list[tuple[str, str, str]]) -> str:
    from xml.sax.saxutils import escape

    body = "".join(
        f"<item><title>{escape(title)}</title><link>https://news.example/{guid}</link>"
        f'<guid isPermaLink="false">{guid}</guid><pubDate>Mon, 05 Aug 2024 12:00:00 +0000</pubDate>'
        f"<description>{escape(text)}</description></item>"
        for guid, title, text in items
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>Wire &amp; Desk</title><link>https://news.example/</link>{body}</channel></rss>"
    )


def many_items(n: int) -> list[tuple[str, str, str]]:
    """n distinct relevant items (a storm of alerts)."""
    places = ["Erbil", "Baghdad", "Anbar", "Deir ez-Zor", "Tanf", "Harir", "Taji", "Besmaya"]
    return [
        (
            f"s{i}",
            f"Rocket attack number {i} on US troops at {places[i % len(places)]} base",
            f"Iran-backed militia fighters fired rockets at a base hosting US troops near "
            f"{places[i % len(places)]} in Iraq, report {i}; American service members were "
            "attacked by the militia, US officials said.",
        )
        for i in range(n)
    ]


def write_watch_config(
    root: Path, items: list[tuple[str, str, str]] = ITEMS
) -> tuple[Path, Path, Path]:
    """config dir, seeds dir and a www dir holding wire.xml."""
    config, seeds, www = root / "config", root / "seeds", root / "www"
    for folder in (config, seeds / TOPIC, www):
        folder.mkdir(parents=True, exist_ok=True)
    (config / "topics.toml").write_text(
        f'[[topic]]\nname = "{TOPIC}"\ndescription = "Militias attacking US forces"\n'
        "threshold = 0.45\nenabled = true\n"
    )
    (config / "feeds.toml").write_text("")
    for name, text in SEEDS.items():
        (seeds / TOPIC / name).write_text(text)
    (www / "wire.xml").write_text(rss(items))
    return config, seeds, www


def bot_env(root: Path, api_url: str, **extra: str) -> dict[str, str]:
    return local_env(
        root,
        THREATWATCH_TELEGRAM_TOKEN=TOKEN,
        THREATWATCH_TELEGRAM_API_URL=api_url,
        THREATWATCH_TELEGRAM_ADMINS=str(ADMIN),
        THREATWATCH_TELEGRAM_POLL_TIMEOUT="1",
        THREATWATCH_TELEGRAM_REQUEST_TIMEOUT="5",
        **extra,
    )


def settings_for(root: Path, api_url: str, **extra: object) -> Settings:
    config, seeds, _ = root / "config", root / "seeds", root / "www"
    values: dict[str, object] = {
        "db": root / "bot.db",
        "config_dir": config,
        "seeds_dir": seeds,
        "embedder": "hashing",
        "allow_private_networks": True,
        "load_default_feeds": False,
        "fetch_full_text": False,
        "telegram_token": TOKEN,
        "telegram_api_url": api_url,
        "telegram_admins": [ADMIN],
        "telegram_poll_timeout": 1,
        "telegram_request_timeout": 5.0,
    }
    return Settings(**(values | extra))  # type: ignore[arg-type]


GROUP = -1001234567890


class Harness:
    """The real bot (python-telegram-bot Application, BotService, SQLite) in this event loop,
    talking to a FakeBotAPI; feeds come from a FeedServer."""

    def __init__(self, api: FakeBotAPI, app: App, feeds: FeedServer):
        self.api, self.app, self.feeds = api, app, feeds

    async def command(self, chat_id: int, text: str, **kwargs: Any) -> Sent:
        """Send a command as a user and wait for the bot's answer in that chat."""
        before = len(self.api.sent_to(chat_id))
        self.api.send_command(chat_id, text, **kwargs)
        return await self.api.next_reply(chat_id, before)

    async def poll_and_deliver(
        self, chat_id: int, expected: int, timeout: float = 15.0
    ) -> list[Sent]:
        """One poll cycle, then drain the outbox until ``expected`` alerts reached the chat."""
        await self.app.pipeline.poll_once(all_feeds=True)
        return await self.deliver(chat_id, expected, timeout)

    async def deliver(self, chat_id: int, expected: int, timeout: float = 15.0) -> list[Sent]:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            await self.app.deliverer.drain()
            alerts = [s for s in self.api.sent_to(chat_id) if s.buttons]
            if len(alerts) >= expected or asyncio.get_running_loop().time() > deadline:
                return alerts
            await asyncio.sleep(0.2)


@asynccontextmanager
async def running_bot(
    root: Path,
    items: list[tuple[str, str, str]] = ITEMS,
    clock: Callable[[], datetime] | None = None,
    **settings: object,
) -> AsyncIterator[Harness]:
    _, _, www = write_watch_config(root, items)
    with FakeBotAPI(TOKEN) as api, FeedServer(www) as feeds:
        app = compose(settings_for(root, api.api_url, **settings), clock=clock or utcnow)
        await app.service.feeds.add_feed(feeds.url("wire.xml"))
        adapter = app.adapters[0]
        assert await adapter.start(asyncio.Event())
        try:
            yield Harness(api, app, feeds)
        finally:
            await adapter.stop()
            await app.aclose()


# an article page that matches the watch topic of write_watch_config
ARTICLE = (
    "<html><head><title>Rocket attack on US base</title></head><body><article>"
    "<h1>Rockets hit a base hosting US troops in Iraq</h1>"
    + "".join(
        f"<p>In report {i}, officials said an Iran-backed militia fired {i + 2} rockets at a base "
        f"hosting US troops in western Iraq on day {i}, the latest of a series of attacks on "
        "American forces that the Pentagon blames on Kataib Hezbollah.</p>"
        for i in range(8)
    )
    + "</article></body></html>"
)


def admin_invocations(feeds: FeedServer) -> dict[str, str]:
    """A valid argument text for every admin command."""
    return {
        "topic_add": "new-topic Drone strikes on shipping in the Red Sea",
        "topic_remove": TOPIC,
        "threshold": f"{TOPIC} 0.5",
        "topic_enable": TOPIC,
        "topic_disable": TOPIC,
        "seed_add": f"{TOPIC} {feeds.url('article.html')}",
        "seed_remove": f"{TOPIC} 1",
        "seeds": TOPIC,
        "counter_add": f"{TOPIC} 1",
        "feed_add": feeds.url("other.xml"),
        "feed_remove": "1",
        "feeds": "",
        "feeds_import": "",
        "feeds_export": "",
        "preview": f"{TOPIC} 30",
    }
