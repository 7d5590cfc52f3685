"""`threatwatch demo`: recorded feeds served from a local HTTP server, run through the real
pipeline (real model, real SQLite, console alerts). No network and no tokens needed."""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
from importlib import resources
from pathlib import Path

import click

from bot.app.compose import App, compose
from bot.core.settings import Settings
from bot.demo.feedserver import RecordedFeedServer

FEED_FILES = ("defense-wire.xml", "mideast-desk.atom", "world-briefing.xml")
LATE_FEED = "defense-wire.xml"


def demo_data_dir() -> Path:
    return Path(str(resources.files("bot.demo") / "data"))


def demo_item_ids() -> frozenset[str]:
    """Corpus ids of the articles the demo feeds serve (bot/demo/data/LABELS.json)."""
    return frozenset(json.loads((demo_data_dir() / "LABELS.json").read_text(encoding="utf-8")))


def seeds_without_demo_items(seeds: Path, dest: Path) -> Path:
    """A copy of the seeds folder without the curated examples the demo serves as news, so the
    demo's alerts are scores on articles its topic never saw. (The shipped topic learns from all
    of the labeled corpus; curated files are named "<event>__<corpus id>.txt" or "<corpus id>.txt",
    scripts/curate_default_topic.py.)"""
    held_out = demo_item_ids()

    def ignore(_folder: str, names: list[str]) -> list[str]:
        return [n for n in names if n.endswith(".txt") and n[:-4].split("__")[-1] in held_out]

    shutil.copytree(seeds, dest, ignore=ignore)
    return dest


def run_demo(settings: Settings, *, keep_db: bool) -> None:
    """Run the demo with ``settings``; its database is a temporary one unless ``keep_db``."""
    with tempfile.TemporaryDirectory(prefix="threatwatch-demo-") as tmp:
        # the model cache (an int8 build, the seeds' vectors) stays where the bot keeps it, so a
        # second demo, or the bot after it, does not embed the shipped seeds again
        settings.model_cache_dir = settings.model_cache_dir or settings.db.parent / "model-cache"
        if not keep_db:
            settings.db = Path(tmp) / "demo.db"
        # The recorded feeds are on this machine, and their article links point at the real
        # outlets, which this demo must not need: full text is already in the recorded items.
        settings.allow_private_networks = True
        settings.fetch_full_text = False
        settings.load_default_feeds = False
        settings.seeds_dir = seeds_without_demo_items(settings.seeds_dir, Path(tmp) / "seeds")
        data = demo_data_dir()
        with RecordedFeedServer(data) as server:
            asyncio.run(_demo(settings, server, data))


async def _demo(settings: Settings, server: RecordedFeedServer, data: Path) -> None:
    app = compose(settings)
    try:
        await _walkthrough(app, server, data)
    finally:
        await app.aclose()


def _say(text: str) -> None:
    click.secho(text, fg="cyan", bold=True)


async def _add_and_poll(app: App, server: RecordedFeedServer, names: list[str], what: str) -> None:
    """Add these feeds, then run a cycle (only new and due feeds are polled) and its alerts."""
    for name in names:
        feed, _ = await app.service.feeds.add_feed(server.url(name))
        _say(f"» added feed {feed.id}: {feed.url}")
    _say(what)
    report = await app.pipeline.poll_once()
    await app.deliverer.drain()
    _say(f"» {report.line()}")


async def _walkthrough(app: App, server: RecordedFeedServer, data: Path) -> None:
    _say(f"» local feed server at {server.base_url}; database {app.settings.db}")
    first, *others = FEED_FILES
    await _add_and_poll(
        app,
        server,
        [first],
        "» cycle 1: fetch, parse, embed (loading the model takes a few seconds), match, alert",
    )
    # Two more outlets, added after the wire's alerts went out: their reports of an event already
    # alerted thread under its story, as an UPDATE when they state new facts
    await _add_and_poll(
        app,
        server,
        others,
        "» cycle 2: the new feeds; a report of an event already alerted threads under its story",
    )

    _say(f"» a new report is published in {LATE_FEED}; cycle 3 polls every feed again")
    original = (data / LATE_FEED).read_text(encoding="utf-8")
    late_item = (data / "late-item.xml").read_text(encoding="utf-8").strip()
    server.set_file(LATE_FEED, original.replace("</channel>", late_item + "</channel>").encode())
    report = await app.pipeline.poll_once(all_feeds=True)
    await app.deliverer.drain()
    _say(f"» {report.line()}   (unchanged feeds answered 304 Not Modified)")

    _say("» semantic search over every stored article: 'drone attack on a base in Syria'")
    for hit in await app.service.queries.search("drone attack on a base in Syria", limit=3):
        click.echo(f"   {hit.score:.3f}  {hit.article.title}  ({hit.article.source})")
    _say("» done. Next: `threatwatch feeds add URL` and `threatwatch run` (see README).")
