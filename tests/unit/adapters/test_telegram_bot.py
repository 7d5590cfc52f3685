"""The Telegram bot in-process: the real python-telegram-bot Application against the local Bot
API server, the real BotService and SQLite. Commands, alerts, buttons, groups, forum topics."""

from __future__ import annotations

import asyncio
import html
from pathlib import Path

from telegram_support import ADMIN, GROUP, HOSTILE_TITLE, TOPIC, USER, running_bot


async def test_subscribe_then_alerts_arrive_with_escaped_html_and_all_fields(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path) as bot:
        reply = await bot.command(GROUP, "/subscribe", user_id=ADMIN)
        assert "Subscribed" in reply.text and TOPIC in reply.text
        alerts = await bot.poll_and_deliver(GROUP, 3)
        assert len(alerts) == 3  # three relevant items; the bakery story does not match
        assert not any("bakery" in a.text.lower() for a in alerts)
        hostile = next(a for a in alerts if "script" in a.text)
        # the title is text: escaped once, never markup
        assert html.escape(HOSTILE_TITLE, quote=False) in hostile.text
        assert "<script>" not in hostile.text and "<b>in</b>" not in hostile.text
        assert hostile.params["parse_mode"] == "HTML"
        first = next(a for a in alerts if "Militia rockets hit" in a.text)
        assert (
            '<a href="https://news.example/a1">Militia rockets hit US troops base in Iraq</a>'
            in first.text
        )
        assert "Wire &amp; Desk · 2024-08-05 12:00 UTC" in first.text  # source and published
        assert f"<b>{TOPIC}</b>" in first.text and "≥ 0.45" in first.text  # topic, score
        assert "Nearest seed: <i>" in first.text
        assert "Several American service members were wounded" in first.text  # summary/passage
        match_id = first.buttons[0][1].split(":")[1]
        assert first.buttons == [
            ("👍", f"up:{match_id}"),
            ("👎", f"down:{match_id}"),
            ("Why?", f"why:{match_id}"),
        ]
        assert all(len(a.text) <= 4096 for a in alerts)


async def test_latest_search_why_similar_answer_from_the_store(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        await bot.command(GROUP, "/subscribe", user_id=ADMIN)
        alerts = await bot.poll_and_deliver(GROUP, 3)
        latest = await bot.command(USER, "/latest 2")
        assert latest.text.count("<code>#") == 2
        everything = await bot.command(USER, f"/latest {TOPIC} 10")
        assert everything.text.count("<code>#") == 3
        search = await bot.command(USER, "/search sourdough bread contest")
        # search covers every stored article, matched or not: the bakery story ranks first
        assert (
            search.text.split("\n")[2].startswith("1. ")
            and "bakery" in search.text.split("\n")[2].lower()
        )
        alert_id = alerts[0].buttons[0][1].split(":")[1]
        why = await bot.command(USER, f"/why {alert_id}")
        assert f"Why alert #{alert_id} matched" in why.text
        assert "vs threshold 0.450 (match)" in why.text and "Passage that matched best" in why.text
        assert "Feedback: 👍 0 · 👎 0" in why.text
        similar = await bot.command(USER, f"/similar {alert_id}")
        compared = bot.app.service.chats.why(int(alert_id)).match.article
        assert similar.text.startswith("<b>Similar to:") and "\n1. " in similar.text
        hits = similar.text.split("\n", 1)[1]
        assert f'href="{compared.url}"' not in hits  # the article itself is left out
        assert all(f"\n{rank}. " in hits for rank in (1, 2, 3)) and "\n4. " not in hits
        by_url = await bot.command(USER, "/similar https://news.example/a3")
        assert "Drone strikes US forces in Syria" in by_url.text.split("\n")[0]


async def test_feedback_buttons_one_vote_per_user_and_why_button(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        await bot.command(GROUP, "/subscribe", user_id=ADMIN)
        alert = (await bot.poll_and_deliver(GROUP, 1))[0]
        up, down, why = (data for _, data in alert.buttons)
        bot.api.press(alert, up, user_id=USER)
        asked = len(bot.api.sent_to(GROUP))
        bot.api.press(alert, down, user_id=USER)  # the same user changes their mind
        await bot.api.next_reply(GROUP, asked)  # a 👎 asks what was wrong (optional)
        bot.api.press(alert, up, user_id=ADMIN)
        before = len(bot.api.sent_to(GROUP))
        bot.api.press(alert, why, user_id=USER)
        explanation = await bot.api.next_reply(GROUP, before)
        assert "Feedback: 👍 1 · 👎 1" in explanation.text
        assert explanation.reply_to == alert.message_id
        notices = [c.get("text", "") for c in bot.api.answered_callbacks]
        assert any("👍 1 · 👎 1" in n for n in notices)


async def test_group_subscriptions_need_a_chat_admin(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        refused = await bot.command(GROUP, "/subscribe", user_id=USER)
        assert "only this chat's administrators" in refused.text
        assert bot.app.service.chats.subscriptions(_key(GROUP)) == []
        bot.api.chat_admins[GROUP] = {USER}
        accepted = await bot.command(GROUP, "/subscribe", user_id=USER)
        assert "Subscribed" in accepted.text
        anonymous = await bot.command(GROUP, f"/unsubscribe {TOPIC}", user_id=None)
        assert "Unsubscribed" in anonymous.text
        private = await bot.command(USER, "/subscribe")  # anyone may in a private chat
        assert "Subscribed" in private.text


async def test_forum_topic_subscription_gets_alerts_in_its_thread(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        reply = await bot.command(GROUP, "/subscribe", user_id=ADMIN, thread_id=77)
        assert reply.thread_id == 77 and "this forum topic" in reply.text
        alerts = await bot.poll_and_deliver(GROUP, 3)
        assert len(alerts) == 3 and {a.thread_id for a in alerts} == {77}


async def test_unknown_commands_and_other_bots(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        unknown = await bot.command(USER, "/frobnicate now")
        assert "unknown command /frobnicate" in unknown.text and "/help" in unknown.text
        bot.api.send_command(GROUP, "/help@some_other_bot", user_id=USER)
        mine = await bot.command(GROUP, "/help@threatwatch_test_bot", user_id=USER)
        assert "Threatwatch commands" in mine.text
        assert len(bot.api.sent_to(GROUP)) == 1  # the other bot's command got no answer


async def test_command_menu_is_published_from_the_table(tmp_path: Path) -> None:
    from bot.adapters.chat.commands import COMMANDS

    async with running_bot(tmp_path) as bot:
        everyone = [c["command"] for c in bot.api.commands["default:"]]
        assert everyone == [c.name for c in COMMANDS if not c.admin_only]
        admins = [c["command"] for c in bot.api.commands[f"chat:{ADMIN}"]]
        assert admins == [c.name for c in COMMANDS]


async def test_opml_import_by_document_and_export(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        opml = (
            '<?xml version="1.0"?><opml version="2.0"><body>'
            f'<outline type="rss" text="Second" xmlUrl="{bot.feeds.url("second.xml")}"/>'
            '<outline type="rss" text="Bad" xmlUrl="file:///etc/passwd"/></body></opml>'
        ).encode()
        reply = await bot.command(
            ADMIN, "/feeds_import", user_id=ADMIN, document=("feeds.opml", opml)
        )
        assert "1 new, 0 already present, 1 refused" in reply.text
        assert bot.feeds.url("second.xml") in [f.url for f in bot.app.service.feeds.list_feeds()]
        exported = await bot.command(ADMIN, "/feeds_export", user_id=ADMIN)
        assert exported.method == "sendDocument" and exported.document is not None
        assert bot.feeds.url("second.xml").encode() in exported.document


async def test_seed_add_from_a_replied_message(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        text = (
            "Militants attacked a US patrol near Tanf garrison with drones and rockets on Sunday."
        )
        original = bot.api.message(ADMIN, text, user_id=USER)
        reply = await bot.command(ADMIN, f"/seed_add {TOPIC}", user_id=ADMIN, reply_to=original)
        assert "added to" in reply.text
        assert any(s.text == text for s in bot.app.service.topics.seeds(TOPIC))


def _key(chat_id: int):  # type: ignore[no-untyped-def]
    from bot.core.channels import ChannelKey

    return ChannelKey("telegram", str(chat_id))


async def test_webhook_mode_checks_the_secret_and_serves_commands(tmp_path: Path) -> None:
    import socket

    import httpx

    with socket.socket() as probe:  # a free port for the webhook listener
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    secret = "s3cret-token_for-tests"
    hook = f"http://127.0.0.1:{port}/telegram/hook"
    async with running_bot(
        tmp_path,
        telegram_webhook_url=hook,
        telegram_webhook_secret=secret,
        telegram_webhook_listen="127.0.0.1",
        telegram_webhook_port=port,
    ) as bot:
        assert bot.api.webhook is not None and bot.api.webhook["url"] == hook
        assert bot.api.webhook["secret_token"] == secret
        update = {"update_id": 1, "message": bot.api.message(USER, "/topics", user_id=USER)}
        async with httpx.AsyncClient() as client:
            wrong = await client.post(
                hook, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "nope"}
            )
            assert wrong.status_code == 403
            right = await client.post(
                hook, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": secret}
            )
            assert right.status_code == 200
            # Telegram retries an update it thinks was not taken, perhaps onto another process
            again = await client.post(
                hook, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": secret}
            )
            assert again.status_code == 200
        reply = await bot.api.next_reply(USER)
        assert "Watch topics (1)" in reply.text
        await asyncio.sleep(0.3)
        # the refused request did nothing, the retry was recognised by its id
        assert len(bot.api.sent_to(USER)) == 1
        assert bot.api.calls_of("getUpdates") == []  # no long polling in webhook mode
