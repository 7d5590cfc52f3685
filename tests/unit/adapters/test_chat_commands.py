"""The command table and the neutral handlers in-process (real BotService and SQLite, the
local feed server for URLs): admin refusals, admin success, argument errors, the README."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from telegram_support import (
    ADMIN,
    ARTICLE,
    TOPIC,
    USER,
    admin_invocations,
    settings_for,
    write_watch_config,
)

from bot.adapters.chat.commands import BY_NAME, COMMANDS, readme_section
from bot.adapters.chat.context import ChatKind, CommandContext
from bot.adapters.chat.dispatch import dispatch
from bot.app.compose import App, compose
from bot.core.channels import ChannelKey
from testkit.feedserver import FeedServer

REPO = Path(__file__).resolve().parents[3]
OPML = b'<?xml version="1.0"?><opml version="2.0"><body></body></opml>'


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[tuple[App, FeedServer]]:
    _, _, www = write_watch_config(tmp_path)
    (www / "article.html").write_text(ARTICLE)
    with FeedServer(www) as feeds:
        app = compose(settings_for(tmp_path, "http://127.0.0.1:9/bot"), sinks={})
        await app.service.feeds.add_feed(feeds.url("wire.xml"))
        await app.pipeline.poll_once(all_feeds=True)  # stores articles and matches
        yield app, feeds
        await app.aclose()


def context(
    app: App, user: int, *, kind: ChatKind = ChatKind.PRIVATE, chat: int | None = None
) -> CommandContext:
    async def opml() -> bytes:
        return OPML

    return CommandContext(
        service=app.service,
        chat=ChannelKey("telegram", str(chat or user)),
        chat_kind=kind,
        user_id=str(user),
        is_bot_admin=user == ADMIN,
        attachment=opml,
    )


def snapshot(app: App) -> tuple[object, ...]:
    s = app.store
    return (s.topics(), s.seeds(), [f.url for f in s.feeds()], s.outbox_counts())


ADMIN_COMMANDS = [c.name for c in COMMANDS if c.admin_only]


def test_every_admin_command_has_an_invocation_here(feed_server: FeedServer) -> None:
    assert set(admin_invocations(feed_server)) == set(ADMIN_COMMANDS)


@pytest.mark.parametrize("name", ADMIN_COMMANDS)
async def test_admin_commands_are_refused_for_everyone_else(
    env: tuple[App, FeedServer], name: str
) -> None:
    app, feeds = env
    before = snapshot(app)
    reply = await dispatch(context(app, USER), name, admin_invocations(feeds)[name])
    assert (
        reply.is_error and "for Threatwatch admins only; nothing was changed" in reply.plain_text()
    )
    assert snapshot(app) == before


@pytest.mark.parametrize("name", ADMIN_COMMANDS)
async def test_admin_commands_work_for_an_admin(env: tuple[App, FeedServer], name: str) -> None:
    app, feeds = env
    reply = await dispatch(context(app, ADMIN), name, admin_invocations(feeds)[name])
    assert not reply.is_error, reply.plain_text()
    service, store = app.service, app.store
    if name == "topic_add":
        assert store.topic("new-topic").description.startswith("Drone strikes")
    elif name == "topic_remove":
        assert TOPIC not in [t.name for t in store.topics()]
    elif name == "threshold":
        assert store.topic(TOPIC).threshold == 0.5
    elif name == "topic_disable":
        assert not store.topic(TOPIC).enabled
    elif name == "seed_add":
        assert any(s.origin == feeds.url("article.html") for s in service.topics.seeds(TOPIC))
    elif name == "seed_remove":
        assert 1 not in [s.id for s in service.topics.seeds(TOPIC)]
    elif name == "counter_add":
        assert [s.kind for s in service.topics.seeds(TOPIC)].count("counter") == 1
    elif name == "feed_add":
        assert feeds.url("other.xml") in [f.url for f in service.feeds.list_feeds()]
    elif name == "feed_remove":
        assert service.feeds.list_feeds() == []
    elif name == "feeds_export":
        assert reply.document is not None and b"wire.xml" in reply.document.content
    elif name == "preview":
        assert (
            "4 stored articles scored: 3 would match now, 3 matched on arrival"
            in reply.plain_text()
        )
    else:
        assert reply.plain_text()


BAD_INPUT = [
    ("subscribe", "No_Such topic", "wrong number of arguments"),
    ("subscribe", "NoSuch!", "bad topic name"),
    ("subscribe", "unknown-topic", "no topic 'unknown-topic'"),
    ("unsubscribe", TOPIC, "not subscribed"),
    ("latest", "0", "n must be a whole number from 1 to 20"),
    ("latest", f"{TOPIC} {TOPIC}", "unexpected argument"),
    ("search", "", "wrong number of arguments"),
    ("search", "x" * 2100, "search text too long"),
    ("why", "abc", "bad alert id"),
    ("why", "99999", "no alert with id 99999"),
    ("similar", "ftp://example.org/a", "not a web address"),
    ("similar", "http://127.0.0.1:9/nothing", "could not do that now"),
    ("settings", "mode weekly", "mode is 'instant' or 'digest HH:MM'"),
    ("settings", "mode digest 25:00", "bad time '25:00'"),
    ("settings", "timezone Mars/Olympus", "unknown time zone"),
    ("settings", "min_score 2", "out of range"),
    ("settings", "quiet 22:00", "quiet hours look like 22:00-07:00"),
    ("settings", "colour blue", "unknown setting 'colour'"),
    ("topic_add", "Bad/Name description here", "bad topic name"),
    ("topic_add", f"{TOPIC} again", "already exists"),
    ("topic_add", "lonely", "wrong number of arguments"),
    ("threshold", f"{TOPIC} high", "bad score 'high'"),
    ("threshold", f"{TOPIC} 1.5", "out of range"),
    ("topic_enable", "missing", "no topic 'missing'"),
    ("seed_add", TOPIC, "give a URL, or reply to a message"),
    ("seed_add", f"{TOPIC} notaurl", "not a web address"),
    ("seed_remove", f"{TOPIC} x", "seed id must be a whole number"),
    ("seed_remove", f"{TOPIC} 9999", "has no seed 9999"),
    ("counter_add", f"{TOPIC} 424242", "no alert with id 424242"),
    ("feed_add", "javascript:alert(1)", "not a web address"),
    ("feed_remove", "12345", "no feed with id 12345"),
    ("preview", f"{TOPIC} 400", "days must be a whole number from 1 to 90"),
    ("threshold", TOPIC, "wrong number of arguments"),
]


@pytest.mark.parametrize(("name", "text", "expected"), BAD_INPUT)
async def test_bad_arguments_get_a_one_line_error(
    env: tuple[App, FeedServer], name: str, text: str, expected: str
) -> None:
    app, _ = env
    before = snapshot(app)
    reply = await dispatch(context(app, ADMIN), name, text)
    assert reply.is_error
    message = reply.plain_text()
    assert expected in message, message
    assert message.splitlines()[0].startswith("⚠️ ") and len(message.splitlines()) <= 2
    if "usage" in message:
        assert BY_NAME[name].usage_line() in message
    assert snapshot(app) == before


async def test_settings_round_trip_and_group_admin_rule(
    env: tuple[App, FeedServer],
) -> None:
    app, _ = env
    ctx = context(app, USER, kind=ChatKind.GROUP, chat=-100)
    refused = await dispatch(ctx, "settings", "mode digest 07:30")
    assert refused.is_error and "administrators" in refused.plain_text()
    shown = await dispatch(ctx, "settings", "")  # anyone may look
    assert "mode: instant" in shown.plain_text()
    admin = context(app, ADMIN, kind=ChatKind.GROUP, chat=-100)
    for change in (
        "mode digest 07:30",
        "timezone Europe/Berlin",
        "min_score 0.6",
        "quiet 22:00-06:00",
        "threading fold",
    ):
        assert not (await dispatch(admin, "settings", change)).is_error
    text = (await dispatch(ctx, "settings", "")).plain_text()
    assert "mode: digest at 07:30 (Europe/Berlin)" in text and "minimum score: 0.60" in text
    assert (
        "quiet hours (sent silently): 22:00-06:00" in text
        and "later reports of a story: fold" in text
    )


async def test_topics_and_status_and_help(env: tuple[App, FeedServer]) -> None:
    app, _ = env
    topics = (await dispatch(context(app, USER), "topics", "")).plain_text()
    assert (
        TOPIC in topics
        and "2 seeds" in topics
        and "threshold 0.45" in topics
        and "3 matches in 7 days" in topics
    )
    status = (await dispatch(context(app, USER), "status", "")).plain_text()
    assert "Feeds: 1 healthy, 0 failing, 0 disabled" in status and "matched 3" in status
    assert "Articles stored: 4" in status
    assert "Embedding: hashing-256" in status  # the model (and runtime) that embeds
    user_help = (await dispatch(context(app, USER), "help", "")).plain_text()
    admin_help = (await dispatch(context(app, ADMIN), "help", "")).plain_text()
    for command in COMMANDS:
        assert (command.usage_line() in admin_help) and (
            (command.usage_line() in user_help) != command.admin_only
        )


def test_readme_command_section_matches_the_table() -> None:
    readme = (REPO / "README.md").read_text()
    start = readme.index("<!-- commands:start -->") + len("<!-- commands:start -->\n")
    end = readme.index("<!-- commands:end -->")
    assert readme[start:end] == readme_section(), (
        "run: python -m bot.adapters.chat.readme to regenerate"
    )


def test_command_names_and_descriptions_fit_telegram() -> None:
    import re

    for command in COMMANDS:
        assert re.fullmatch(r"[a-z0-9_]{1,32}", command.name)
        assert 3 <= len(command.description) <= 256
