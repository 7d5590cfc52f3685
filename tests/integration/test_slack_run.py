"""`threatwatch run` as a real process serving Slack in HTTP mode: signed slash commands, app
mentions and button presses from a test client, the Web API answered by FakeSlackAPI, feeds from
a local feed server. One bot process serves the read-only scenarios (module fixture); scenarios
that need their own feeds or faults start their own."""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from slack_support import ADMIN, CHANNEL, OUTSIDER, USER, SlackBot, slack_bot
from telegram_support import HOSTILE_TITLE, ITEMS, many_items, rss

from bot.adapters.chat.commands import COMMANDS
from bot.store import SqliteStore
from testkit.slack_api import BOT_USER
from testkit.slack_requests import direct_message, mention_event, slash_command

ADMIN_SAMPLES = {  # arguments an admin command would accept, so only the refusal can stop it
    "topic_add": "newtopic Attacks on shipping",
    "topic_remove": "militia-attacks",
    "threshold": "militia-attacks 0.9",
    "topic_enable": "militia-attacks",
    "topic_disable": "militia-attacks",
    "seed_add": "militia-attacks https://news.example/a1",
    "seed_remove": "militia-attacks 1",
    "seeds": "militia-attacks",
    "counter_add": "militia-attacks 1",
    "feed_add": "https://news.example/other.xml",
    "feed_remove": "1",
    "feeds": "",
    "feeds_import": "",
    "feeds_export": "",
    "preview": "militia-attacks 7",
}


def snapshot(db: Path) -> tuple[object, ...]:
    """What an admin command could change: topics, their seeds, feeds."""
    store = SqliteStore(db)
    try:
        topics = tuple((t.name, t.threshold, t.enabled) for t in store.topics())
        seeds = tuple((s.id, s.topic, s.kind) for s in store.seeds())
        feeds = tuple((f.id, f.url, f.status) for f in store.feeds())
        return topics, seeds, feeds
    finally:
        store.close()


def subscriptions(db: Path, chat_id: str) -> list[tuple[str, str]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            """SELECT s.topic, s.status FROM subscriptions s JOIN channels c ON c.id = s.channel_id
               WHERE c.platform = 'slack' AND c.chat_id = ?""",
            [chat_id],
        ).fetchall()


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlackBot]:
    """One bot, subscribed in CHANNEL, with the three relevant ITEMS delivered."""
    with slack_bot(tmp_path_factory.mktemp("slack")) as running:
        subscribed = running.command("subscribe", USER)
        assert subscribed.response_type == "in_channel", subscribed
        assert "Subscribed to *militia-attacks*" in subscribed.mrkdwn
        added = running.command(f"feed_add {running.feeds.url('wire.xml')}", ADMIN)
        assert "Feed 1 added" in added.mrkdwn and added.response_type == "ephemeral"
        running.wait_alerts(3)
        yield running


def test_alert_arrives_as_block_kit_with_escaped_text_and_buttons(bot: SlackBot) -> None:
    alerts = bot.wait_alerts(3)
    assert len(alerts) == 3
    first = next(a for a in alerts if "Militia rockets" in a.text)
    top = first.blocks[0]["text"]["text"]
    assert top.startswith("🚨 <https://news.example/a1|Militia rockets hit US troops base in Iraq>")
    assert "_Wire &amp; Desk · 2024-08-05 12:00 UTC_" in top
    assert re.search(r"Topic \*militia-attacks\* · score 0\.\d\d ≥ 0\.45 · alert `#\d+`", top)
    assert "Several American service members were wounded" in first.mrkdwn  # the summary
    assert "Nearest seed: _Iran-backed militia fires rockets at US troops in Iraq_" in first.mrkdwn
    alert_id = first.buttons[0][1]
    assert first.buttons == [
        ("threatwatch:up", alert_id),
        ("threatwatch:down", alert_id),
        ("threatwatch:why", alert_id),
    ]
    assert first.text.startswith("🚨 Militia rockets hit US troops base in Iraq")  # notification
    hostile = next(a for a in alerts if "script" in a.text)
    assert HOSTILE_TITLE not in hostile.mrkdwn and "<script>" not in hostile.text
    assert '&lt;script&gt;alert("x")&lt;/script&gt; &amp; Rockets' in hostile.mrkdwn
    assert "bakery" not in " ".join(a.text for a in alerts)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("help", ["*Threatwatch commands*", "`/threatwatch subscribe [topic]`"]),
        ("", ["*Threatwatch commands*"]),
        ("topics", ["*Watch topics (1)*", "2 seeds", "subscribed here"]),
        ("latest 2", ["*Latest matches*", "Drone strikes US forces in Syria"]),
        (
            "search drone attack Syria",
            ["*Search: drone attack Syria*", "1. <https://news.example/a3|"],
        ),
        ("why 1", ["*Why alert #1 matched*", "vs threshold 0.450", "Passage that matched best"]),
        ("similar 3", ["*Similar to:", "<https://news.example/"]),
        # the last cycle may be a later one than the cycle that matched (the feed then answers
        # 304), so status is checked on what does not change: stored articles, an empty queue
        (
            "status",
            ["Feeds: 1 healthy", "Last cycle", "Articles stored: 4", "waiting to be sent: 0"],
        ),
    ],
)
def test_query_commands_answer_only_the_asker(
    bot: SlackBot, text: str, expected: list[str]
) -> None:
    answer = bot.command(text, USER)
    assert answer.response_type == "ephemeral"
    for needle in expected:
        assert needle in answer.mrkdwn, answer.mrkdwn


def test_bad_input_gets_a_one_line_error_with_usage(bot: SlackBot) -> None:
    answer = bot.command("why", USER)
    assert "wrong number of arguments" in answer.mrkdwn
    assert "usage: `/threatwatch why &lt;alert id&gt;`" in answer.mrkdwn
    assert answer.response_type == "ephemeral"
    unknown = bot.command("frobnicate", USER)
    assert "unknown command /threatwatch frobnicate" in unknown.mrkdwn
    assert "/threatwatch help" in unknown.mrkdwn
    assert "not a web address" in bot.command("similar ftp://x", USER).mrkdwn


@pytest.mark.parametrize("name", [c.name for c in COMMANDS if c.admin_only])
def test_admin_commands_are_refused_for_non_admins(bot: SlackBot, name: str) -> None:
    before = snapshot(bot.root / "bot.db")
    answer = bot.command(f"{name} {ADMIN_SAMPLES[name]}".strip(), USER)
    assert f"/threatwatch {name} is for Threatwatch admins only" in answer.mrkdwn
    assert answer.response_type == "ephemeral"
    assert snapshot(bot.root / "bot.db") == before
    assert not [f for f in bot.api.files if f["channel"] == f"D{USER}"]


def test_every_admin_command_has_a_sample() -> None:
    assert set(ADMIN_SAMPLES) == {c.name for c in COMMANDS if c.admin_only}


def test_admin_commands_work_for_an_admin(bot: SlackBot) -> None:
    assert "0.45 → 0.50" in bot.command("threshold militia-attacks 0.5", ADMIN).mrkdwn
    assert "0.50 → 0.45" in bot.command("threshold militia-attacks 0.45", ADMIN).mrkdwn
    preview = bot.command("preview militia-attacks 90", ADMIN)
    assert "*Preview of militia-attacks* · last 90 days" in preview.mrkdwn
    assert "Feeds (1)" in bot.command("feeds", ADMIN).mrkdwn
    export = bot.command("feeds_export", ADMIN)
    assert "1 feeds as OPML" in export.mrkdwn
    bot.api.wait_for(lambda _: any(f["channel"] == f"D{ADMIN}" for f in bot.api.files))
    sent = next(f for f in bot.api.files if f["channel"] == f"D{ADMIN}")
    assert sent["title"] == "threatwatch-feeds.opml" and b"wire.xml" in sent["content"]


def test_buttons_why_and_votes_answer_the_presser(bot: SlackBot) -> None:
    alert = bot.wait_alerts(3)[0]
    why = bot.press(alert, "why", USER)
    assert (
        why.response_type == "ephemeral"
        and f"*Why alert #{alert.buttons[0][1]} matched*" in why.mrkdwn
    )
    vote = bot.press(alert, "down", "UOTHER01")
    assert "Thanks, noted." in vote.mrkdwn and "👎 1" in vote.mrkdwn
    again = bot.press(alert, "down", "UOTHER01")  # one vote per user: counted once
    assert "👎 1" in again.mrkdwn


def test_app_mention_works_like_the_slash_command_and_a_retried_event_is_answered_once(
    bot: SlackBot,
) -> None:
    before = len(bot.api.posted_to(CHANNEL, "chat.postEphemeral"))
    event = mention_event(f"<@{BOT_USER}> latest 1", user=USER, channel=CHANNEL)
    bot.send("events_api", event)
    bot.send("events_api", event)  # Slack's retry (same event_id), perhaps to another process
    bot.api.wait_for(lambda _: len(bot.api.posted_to(CHANNEL, "chat.postEphemeral")) > before)
    answer = bot.api.posted_to(CHANNEL, "chat.postEphemeral")[-1]
    assert answer.user == USER and "*Latest matches*" in answer.mrkdwn
    time.sleep(0.5)
    assert len(bot.api.posted_to(CHANNEL, "chat.postEphemeral")) == before + 1


def test_non_member_may_not_subscribe_a_channel(bot: SlackBot) -> None:
    answer = bot.command("unsubscribe", OUTSIDER)
    assert "only members of this channel" in answer.mrkdwn and answer.response_type == "ephemeral"
    assert subscriptions(bot.root / "bot.db", CHANNEL) == [("militia-attacks", "active")]


def test_bad_or_stale_signature_is_refused_with_401_and_changes_nothing(bot: SlackBot) -> None:
    assert bot.sender is not None
    bot.api.add_channel("C0OTHER01", [USER])
    payload = slash_command(
        "subscribe", user=USER, channel="C0OTHER01", response_url=bot.api.response_url()
    )
    assert bot.sender.command(payload, secret="not-the-secret").status == 401
    assert bot.sender.command(payload, timestamp=int(time.time()) - 600).status == 401
    event = {
        "type": "event_callback",
        "event": {
            "type": "app_mention",
            "user": USER,
            "text": f"<@{BOT_USER}> subscribe",
            "channel": "C0OTHER01",
            "ts": "1.1",
        },
    }
    assert bot.sender.event(event, secret="wrong").status == 401
    time.sleep(1)
    assert subscriptions(bot.root / "bot.db", "C0OTHER01") == []
    assert not bot.api.posted_to("C0OTHER01")


def test_subscribe_joins_a_public_channel_and_asks_to_be_invited_to_a_private_one(
    bot: SlackBot,
) -> None:
    bot.api.add_channel("C0PUBLIC1", [USER], is_member=False)
    assert "Subscribed" in bot.command("subscribe", USER, channel="C0PUBLIC1").mrkdwn
    assert bot.api.channels["C0PUBLIC1"].is_member
    bot.api.add_channel("G0PRIVAT1", [USER], is_member=False, is_private=True)
    refused = bot.command("subscribe", USER, channel="G0PRIVAT1")
    assert "invite me to this channel first" in refused.mrkdwn
    assert subscriptions(bot.root / "bot.db", "G0PRIVAT1") == []
    bot.command("unsubscribe", USER, channel="C0PUBLIC1")


def test_opml_sent_in_a_direct_message_imports_feeds_for_admins_only(bot: SlackBot) -> None:
    opml = (
        '<?xml version="1.0"?><opml version="2.0"><head/><body><outline type="rss" '
        f'text="Other" xmlUrl="{bot.feeds.url("other.xml")}"/></body></opml>'
    ).encode()
    for user in (USER, ADMIN):
        shared = bot.api.add_file("feeds.opml", opml)
        bot.send("events_api", direct_message("feeds_import", user=user, files=[shared]))
        bot.api.wait_for(lambda _, u=user: bool(bot.api.posted_to("D" + u, "chat.postMessage")))
    refused = bot.api.posted_to("D" + USER)[-1]
    assert "/threatwatch feeds_import is for Threatwatch admins only" in refused.mrkdwn
    imported = bot.api.posted_to("D" + ADMIN, "chat.postMessage")[-1]
    assert "*OPML imported:* 1 new, 0 already present, 0 refused" in imported.mrkdwn
    removed = bot.command(f"feed_remove {bot.feeds.url('other.xml')}", ADMIN)
    assert "removed" in removed.mrkdwn


def test_429_storm_delivers_every_alert_once(tmp_path: Path) -> None:
    with slack_bot(tmp_path, many_items(8)) as b:
        b.command("subscribe", USER)
        b.api.fail("chat.postMessage", "ratelimited", status=429, retry_after=1, times=5)
        b.command(f"feed_add {b.feeds.url('wire.xml')}", ADMIN)
        alerts = b.wait_alerts(8, timeout=90)
        time.sleep(2)  # nothing else may follow
        alerts = b.api.alerts(CHANNEL)
        assert len(alerts) == 8 and len({a.buttons[0][1] for a in alerts}) == 8
        assert len(b.api.calls_to("chat.postMessage")) == 8 + 5
        assert "deferred 1s: rate limited (ratelimited)" in b.process.output


def test_channel_gone_pauses_its_subscription(tmp_path: Path) -> None:
    with slack_bot(tmp_path) as b:
        b.command("subscribe", USER)
        b.api.archive(CHANNEL)
        b.command(f"feed_add {b.feeds.url('wire.xml')}", ADMIN)
        b.process.wait_for_output("is gone \\(slack: is_archived\\): paused 1 subscriptions")
        assert subscriptions(tmp_path / "bot.db", CHANNEL) == [("militia-attacks", "paused")]
        assert b.api.alerts(CHANNEL) == []


def test_a_later_report_of_the_story_lands_in_the_first_alerts_thread(tmp_path: Path) -> None:
    first = ITEMS[0]
    with slack_bot(tmp_path, [first]) as b:
        b.command("subscribe", USER)
        b.command(f"feed_add {b.feeds.url('wire.xml')}", ADMIN)
        [root] = b.wait_alerts(1)
        follow_up = (
            "a1-followup",
            "Militia rockets hit US troops base in Iraq, two killed",
            first[2] + " Two American soldiers were killed in the attack, officials confirmed.",
        )
        (tmp_path / "www" / "wire.xml").write_text(rss([first, follow_up]))
        later = b.wait_alerts(2, timeout=60)[1]
        assert later.thread_ts == root.ts
        assert root.thread_ts is None
