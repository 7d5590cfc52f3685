"""The role line an alert states under its title: stored with the match on a real SQLite file,
and shown in Telegram, Slack, the console and /why, escaped like every other feed string."""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from bot.adapters.slack.render import render as render_slack
from bot.adapters.telegram.render import render_html
from bot.core.models import Article, FeedItem, Match, Topic
from bot.core.records import NewArticle, NewMatch
from bot.deliver.console import render_console_alert
from bot.messages.alerts import alert_reply, why_reply
from bot.store import SqliteStore

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
# a feed controls every word of the role line: it must reach a channel as text, never markup
HOSTILE = "<b>Kata'ib</b> & <!channel> *x* → drone attack → <a href='x'>US</a> `base`, Syria"


def alert(roles: str) -> Match:
    article = Article(
        1, None, "g", "https://x.example/a", "Drone hits base", "Body.", NOW, NOW, None, "S", "h"
    )
    return Match(7, article, "topic-a", 0.9, 0.7, "seed", "passage", NOW, roles=roles)


def test_telegram_alert_shows_the_role_line_under_the_title_escaped() -> None:
    html = render_html(alert_reply(alert(HOSTILE)))
    lines = html.splitlines()
    assert "Drone hits base" in lines[0]
    assert lines[1] == (
        "&lt;b&gt;Kata'ib&lt;/b&gt; &amp; &lt;!channel&gt; *x* → drone attack → "
        "&lt;a href='x'&gt;US&lt;/a&gt; `base`, Syria"
    )
    assert "<b>Kata" not in html and "<a href='x'>" not in html


def test_slack_alert_shows_the_role_line_escaped() -> None:
    message = render_slack(alert_reply(alert(HOSTILE)))
    text = "\n".join(b["text"]["text"] for b in message.blocks if b["type"] == "section")
    role = next(line for line in text.splitlines() if "drone attack" in line)
    assert "&lt;!channel&gt;" in role and "&amp;" in role
    # only the title's link may be markup: the role line has none
    assert re.findall(r"<[^>]*>", role) == []
    assert "<!channel>" not in message.text


def test_console_and_why_show_the_role_line() -> None:
    match = alert("Kataib Hezbollah → drone attack → US base at al-Tanf, Syria")
    console = render_console_alert(match).splitlines()
    assert console[2] == "  Kataib Hezbollah → drone attack → US base at al-Tanf, Syria"
    why = why_reply(match, 1, 0).plain_text()
    assert "Roles: Kataib Hezbollah → drone attack → US base at al-Tanf, Syria" in why


def test_an_alert_without_a_role_line_has_no_empty_line_and_why_says_so() -> None:
    match = alert("")
    assert len(alert_reply(match).lines) == len(alert_reply(alert("x")).lines) - 1
    assert "Roles: none stated" in why_reply(match, 0, 0).plain_text()


def test_role_line_is_stored_with_the_match(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "t.db")
    store.upsert_topic_default(Topic("t1", "d", 0.5), NOW)
    item = FeedItem(guid="g1", url="https://n.example/1", title="T", text="B.", published=NOW)
    article = NewArticle(
        item=item,
        feed_id=None,
        content_hash="h1",
        passages=["B."],
        vectors=np.ones((1, 4), np.float32) / 2,
    )
    line = "militia → rockets → U.S. personnel, Iraq"
    new = NewMatch(0, "t1", 0.9, 0.5, None, "seed", "passage", roles=line)
    _, [saved] = store.save_articles([article], [new], model="m", now=NOW)
    assert saved.roles == line
    store.close()
    reopened = SqliteStore(tmp_path / "t.db")
    assert reopened.match(saved.id).roles == line
    assert reopened.latest_matches(topic="t1")[0].roles == line
    reopened.close()


def test_matches_stored_before_the_role_line_read_as_none(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "t.db")
    store.upsert_topic_default(Topic("t1", "d", 0.5), NOW)
    item = FeedItem(guid="g1", url="https://n.example/1", title="T", text="B.", published=NOW)
    article = NewArticle(
        item=item, feed_id=None, content_hash="h1", passages=["B."], vectors=np.ones((1, 4)) / 2
    )
    _, [saved] = store.save_articles(
        [article], [NewMatch(0, "t1", 0.9, 0.5, None, "s", "p")], model="m", now=NOW
    )
    store.close()
    conn = sqlite3.connect(tmp_path / "t.db")
    assert conn.execute("SELECT roles FROM matches").fetchone() == ("",)
    conn.close()
    assert SqliteStore(tmp_path / "t.db").match(saved.id).roles == ""
