"""`threatwatch run` as a real process with a Telegram token: it long-polls the local Bot API
server for commands and delivers alerts from the local feed server, through faults and crashes."""

from __future__ import annotations

import html
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from process_support import BotProcess
from telegram_support import (
    ADMIN,
    ARTICLE,
    GROUP,
    HOSTILE_TITLE,
    TOKEN,
    USER,
    admin_invocations,
    bot_env,
    many_items,
    write_watch_config,
)

from bot.core.channels import ChannelKey, SubscriptionStatus
from bot.store import SqliteStore
from testkit.feedserver import FeedServer
from testkit.telegram_api import FakeBotAPI
from testkit.telegram_objects import Sent


@contextmanager
def bot_process(env: dict[str, str]) -> Iterator[BotProcess]:
    process = BotProcess(env)
    try:
        yield process
    finally:
        if process.proc.poll() is None:
            process.stop()


def command(api: FakeBotAPI, chat_id: int, text: str, user_id: int, timeout: float = 60) -> Sent:
    before = len(api.sent_to(chat_id))
    api.send_command(chat_id, text, user_id=user_id)
    return api.wait_for_reply(chat_id, before, timeout)


def alerts_to(api: FakeBotAPI, chat_id: int) -> list[Sent]:
    return [s for s in api.sent_to(chat_id) if s.buttons]


def wait_alerts(api: FakeBotAPI, chat_id: int, n: int, timeout: float) -> list[Sent]:
    api.wait_for(
        lambda sent: len([s for s in sent if s.chat_id == chat_id and s.buttons]) >= n, timeout
    )
    return alerts_to(api, chat_id)


def alert_ids(alerts: list[Sent]) -> list[str]:
    return [a.buttons[0][1] for a in alerts]


def test_run_serves_commands_and_delivers_explained_alerts(tmp_path: Path) -> None:
    _, _, www = write_watch_config(tmp_path)
    with FakeBotAPI(TOKEN) as api, FeedServer(www) as feeds:
        with bot_process(bot_env(tmp_path, api.api_url)) as bot:
            assert "Subscribed" in command(api, GROUP, "/subscribe", ADMIN).text
            refused = command(api, GROUP, f"/feed_add {feeds.url('wire.xml')}", USER)
            assert "for Threatwatch admins only" in refused.text
            added = command(api, GROUP, f"/feed_add {feeds.url('wire.xml')}", ADMIN)
            assert "Feed 1 added" in added.text
            alerts = wait_alerts(api, GROUP, 3, 60)
            hostile = next(a for a in alerts if "script" in a.text)
            assert html.escape(HOSTILE_TITLE, quote=False) in hostile.text
            assert HOSTILE_TITLE not in hostile.text
            alert_id = hostile.buttons[0][1].split(":")[1]
            why = command(api, USER, f"/why {alert_id}", USER)
            assert f"Why alert #{alert_id} matched" in why.text and "&lt;script&gt;" in why.text
            latest = command(api, USER, "/latest 3", USER)
            assert latest.text.count("<code>#") == 3
            search = command(api, USER, "/search drone attack Syria", USER)
            assert "1. " in search.text and "Drone strikes US forces in Syria" in search.text
            status = command(api, USER, "/status", USER)
            assert "Feeds: 1 healthy" in status.text and "matched 3" in status.text
            assert [c["command"] for c in api.commands["default:"]][:3] == [
                "start",
                "help",
                "topics",
            ]
        assert bot.proc.returncode == 0, bot.output


def test_run_429_storm_delivers_every_alert_once(tmp_path: Path) -> None:
    _, _, www = write_watch_config(tmp_path, many_items(10))
    with (
        FakeBotAPI(TOKEN) as api,
        FeedServer(www) as feeds,
        bot_process(bot_env(tmp_path, api.api_url)) as bot,
    ):
        command(api, GROUP, "/subscribe", ADMIN)
        command(api, GROUP, f"/feed_add {feeds.url('wire.xml')}", ADMIN)
        api.fail("sendMessage", 429, retry_after=1, times=6)
        alerts = wait_alerts(api, GROUP, 10, 90)
        time.sleep(2)  # nothing else may follow
        assert len(alerts_to(api, GROUP)) == 10 and len(set(alert_ids(alerts))) == 10
        assert "deferred 1s: Flood control exceeded" in bot.output


def test_run_kill_9_mid_delivery_then_restart_loses_nothing_sends_nothing_twice(
    tmp_path: Path,
) -> None:
    _, _, www = write_watch_config(tmp_path, many_items(8))
    env = bot_env(tmp_path, api_url="")
    with FakeBotAPI(TOKEN) as api, FeedServer(www) as feeds:
        env["THREATWATCH_TELEGRAM_API_URL"] = api.api_url
        with bot_process(env) as bot:
            command(api, USER, "/subscribe", USER)  # a private chat: one alert a second
            command(api, USER, f"/feed_add {feeds.url('wire.xml')}", ADMIN)
            wait_alerts(api, USER, 3, 60)
            time.sleep(0.5)  # between two sends
            bot.kill9()
        delivered_before = len(alerts_to(api, USER))
        assert delivered_before < 8, "the crash came too late to test anything"
        with bot_process(env) as bot:
            alerts = wait_alerts(api, USER, 8, 60)
            time.sleep(2)
            assert len(alerts_to(api, USER)) == 8, bot.output
            assert len(set(alert_ids(alerts))) == 8


def test_run_403_pauses_the_subscription(tmp_path: Path) -> None:
    _, _, www = write_watch_config(tmp_path)
    with FakeBotAPI(TOKEN) as api, FeedServer(www) as feeds:
        with bot_process(bot_env(tmp_path, api.api_url)) as bot:
            command(api, GROUP, "/subscribe", ADMIN)
            api.block_chat(GROUP)
            command(api, ADMIN, f"/feed_add {feeds.url('wire.xml')}", ADMIN)
            deadline = time.monotonic() + 60
            while "is gone" not in bot.output and time.monotonic() < deadline:
                time.sleep(0.2)
        assert f"chat telegram:{GROUP} is gone (forbidden: Forbidden: bot was kicked" in bot.output
    store = SqliteStore(tmp_path / "bot.db")
    try:
        channel = store.channel_for(ChannelKey("telegram", str(GROUP)), datetime.now(UTC))
        [subscription] = store.subscriptions(channel.id)
        assert subscription.status is SubscriptionStatus.PAUSED
        assert store.outbox_counts() == {"undeliverable": 3}
    finally:
        store.close()


def test_run_admin_commands_refused_for_others_and_working_for_admins(tmp_path: Path) -> None:
    from bot.adapters.chat.commands import COMMANDS

    _, _, www = write_watch_config(tmp_path)
    (www / "article.html").write_text(ARTICLE)
    opml = b'<?xml version="1.0"?><opml version="2.0"><body></body></opml>'
    with (
        FakeBotAPI(TOKEN) as api,
        FeedServer(www) as feeds,
        bot_process(bot_env(tmp_path, api.api_url)) as bot,
    ):
        command(api, GROUP, "/subscribe", ADMIN)
        command(api, ADMIN, f"/feed_add {feeds.url('wire.xml')}", ADMIN)
        wait_alerts(api, GROUP, 3, 60)
        invocations = admin_invocations(feeds)
        admin_only = [c.name for c in COMMANDS if c.admin_only]
        for name in admin_only:
            reply = command(api, USER, f"/{name} {invocations[name]}".strip(), USER)
            assert "for Threatwatch admins only; nothing was changed" in reply.text, name
        assert "<code>1</code> active · ok" in command(api, ADMIN, "/feeds", ADMIN).text
        # topic_remove and feed_remove last: the other commands need the topic and the feed
        for name in sorted(admin_only, key=lambda n: n in ("topic_remove", "feed_remove")):
            text = f"/{name} {invocations[name]}".strip()
            before = len(api.sent_to(ADMIN))
            api.send_command(
                ADMIN,
                text,
                user_id=ADMIN,
                document=("feeds.opml", opml) if name == "feeds_import" else None,
            )
            reply = api.wait_for_reply(ADMIN, before, 60)
            assert "⚠️" not in reply.text, (name, reply.text)
        topics = command(api, USER, "/topics", USER).text
        assert "<b>new-topic</b>" in topics and "militia-attacks" not in topics  # added, removed
    assert bot.proc.returncode == 0, bot.output
