"""`threatwatch run` over Slack Socket Mode (apps.connections.open and a local websocket), a slow
command answered after its ack through the response_url, Telegram and Slack served together
by one process, and a crash mid-delivery."""

from __future__ import annotations

import time
from pathlib import Path

from process_support import BotProcess
from slack_support import ADMIN, CHANNEL, USER, WORKING, SlackBot, slack_bot, slack_env
from telegram_support import ADMIN as TELEGRAM_ADMIN
from telegram_support import GROUP, TOKEN, bot_env, many_items, write_watch_config

from testkit.feedserver import FeedServer
from testkit.slack_api import BOT_USER, FakeSlackAPI
from testkit.slack_requests import button_press, mention_event, slash_command
from testkit.telegram_api import FakeBotAPI

ARTICLE = """<html><head><title>Rocket attack on Ain al-Asad</title></head><body><article>
<h1>Rocket attack on Ain al-Asad air base</h1>
<p>Rockets fired by an Iran-backed militia struck Ain al-Asad air base in western Iraq on
Wednesday, where US troops are stationed, officials said. A US contractor died of a heart
attack while sheltering. Kataib Hezbollah praised the attack on the American forces.</p>
<p>The Pentagon said it was assessing the damage and that US forces would respond at a time
and place of their choosing. Militia groups have attacked US troops in Iraq and Syria many
times, using rockets and drones against bases that host the coalition.</p>
</article></body></html>"""


def test_socket_mode_commands_mentions_buttons_and_slow_work(tmp_path: Path) -> None:
    with slack_bot(tmp_path, socket=True) as b:
        assert b.api.calls_to("apps.connections.open")
        ack = b.api.socket_mode.send(
            "slash_commands",
            slash_command(
                "subscribe", user=USER, channel=CHANNEL, response_url=b.api.response_url()
            ),
        )
        assert (
            ack["response_type"] == "in_channel"
            and "Subscribed" in ack["blocks"][0]["text"]["text"]
        )
        b.command(f"feed_add {b.feeds.url('wire.xml')}", ADMIN)
        alert = b.wait_alerts(3)[0]

        # slow work: the ack comes at once, the answer later through the response_url
        (tmp_path / "www" / "page.html").write_text(ARTICLE)
        response_url = b.api.response_url()
        slow = f"seed_add militia-attacks {b.feeds.url('_slow/4/page.html')}"
        started = time.monotonic()
        ack = b.api.socket_mode.send(
            "slash_commands",
            slash_command(slow, user=ADMIN, channel=CHANNEL, response_url=response_url),
        )
        assert time.monotonic() - started < 3.0  # Slack's limit for the acknowledgement
        assert WORKING in ack["text"] and ack["response_type"] == "ephemeral"
        target = "respond:" + response_url.rsplit("/", 1)[1]
        b.api.wait_for(lambda ps: any(p.channel == target for p in ps), 60)
        [answer] = b.api.posted_to(target)
        assert "added to *militia-attacks*" in answer.mrkdwn and "Ain al-Asad" in answer.mrkdwn

        b.api.socket_mode.send(
            "events_api", mention_event(f"<@{BOT_USER}> topics", user=USER, channel=CHANNEL)
        )
        b.api.wait_for(lambda _: bool(b.api.posted_to(CHANNEL, "chat.postEphemeral")))
        assert "*Watch topics (1)*" in b.api.posted_to(CHANNEL, "chat.postEphemeral")[0].mrkdwn

        why_url = b.api.response_url()
        press = button_press(
            "threatwatch:why",
            alert.buttons[0][1],
            user=USER,
            channel=CHANNEL,
            message_ts=alert.ts,
            response_url=why_url,
        )
        b.api.socket_mode.send("interactive", press)
        target = "respond:" + why_url.rsplit("/", 1)[1]
        b.api.wait_for(lambda ps: any(p.channel == target for p in ps))
        assert "*Why alert #" in b.api.posted_to(target)[0].mrkdwn


def test_telegram_and_slack_served_by_one_process(tmp_path: Path) -> None:
    with FakeBotAPI(TOKEN) as telegram:
        telegram_env = {
            k: v for k, v in bot_env(tmp_path, telegram.api_url).items() if "TELEGRAM" in k
        }
        with slack_bot(tmp_path, extra_env=telegram_env, api=FakeSlackAPI()) as b:
            assert "Subscribed" in b.command("subscribe", USER).mrkdwn
            before = len(telegram.sent_to(GROUP))
            telegram.send_command(GROUP, "/subscribe", user_id=TELEGRAM_ADMIN)
            assert "Subscribed" in telegram.wait_for_reply(GROUP, before, 60).text
            b.command(f"feed_add {b.feeds.url('wire.xml')}", ADMIN)
            slack_alerts = b.wait_alerts(3)
            telegram.wait_for(
                lambda sent: len([s for s in sent if s.chat_id == GROUP and s.buttons]) >= 3, 60
            )
            telegram_alerts = [s for s in telegram.sent_to(GROUP) if s.buttons]
            assert {a.buttons[0][1] for a in slack_alerts} == {
                a.buttons[0][1].split(":")[1] for a in telegram_alerts
            }
            assert "<b>militia-attacks</b>" in telegram_alerts[0].text
            assert "*militia-attacks*" in slack_alerts[0].mrkdwn


def test_kill_9_mid_delivery_then_restart_loses_nothing_and_sends_nothing_twice(
    tmp_path: Path,
) -> None:
    write_watch_config(tmp_path, many_items(8))
    with FakeSlackAPI() as api, FeedServer(tmp_path / "www") as feeds:
        api.add_channel(CHANNEL, [ADMIN, USER])
        env = slack_env(tmp_path, api.api_url, socket=True)
        first = BotProcess(env)
        bot = SlackBot(api, first, feeds, tmp_path)
        api.wait_for(lambda _: api.socket_mode.connected(), 60)
        bot.command("subscribe", USER)
        bot.command(f"feed_add {feeds.url('wire.xml')}", ADMIN)
        bot.wait_alerts(3)  # one a second per channel: the rest are still queued
        # between two sends: a kill in the instant between Slack's answer and the outbox's
        # "sent" mark would send that one alert again (at-least-once to the platform)
        time.sleep(0.5)
        first.kill9()
        delivered = len(api.alerts(CHANNEL))
        assert delivered < 8, "all were sent before the kill: nothing was tested"
        second = BotProcess(env)
        try:
            alerts = bot.wait_alerts(8, timeout=60)
            time.sleep(2)  # nothing else may follow
            ids = [a.buttons[0][1] for a in api.alerts(CHANNEL)]
            assert len(ids) == 8 and len(set(ids)) == 8, ids
            assert len(alerts) == 8
        finally:
            assert second.stop() == 0, second.output[-3000:]
