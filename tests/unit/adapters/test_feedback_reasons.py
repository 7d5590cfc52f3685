"""A 👎 with its reason ("wrong target", "not an attack", "old news"), through the real Telegram
Application against the local Bot API server, the real BotService and SQLite."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from telegram_support import ADMIN, GROUP, USER, running_bot

from bot.core.errors import BadArgument
from bot.messages.feedback_reasons import REASONS, reason_of, reasons_line


async def test_a_thumbs_down_asks_why_and_stores_the_reason_with_the_vote(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        await bot.command(GROUP, "/subscribe", user_id=ADMIN)
        alert = (await bot.poll_and_deliver(GROUP, 1))[0]
        _, down, _ = (data for _, data in alert.buttons)
        match_id = int(down.split(":")[1])
        before = len(bot.api.sent_to(GROUP))
        bot.api.press(alert, down, user_id=USER)
        prompt = await bot.api.next_reply(GROUP, before)
        assert f"#{match_id}" in prompt.text and "What was wrong?" in prompt.text
        assert prompt.buttons == [
            ("wrong target", f"wrong-target:{match_id}"),
            ("not an attack", f"not-attack:{match_id}"),
            ("old news", f"old-news:{match_id}"),
        ]
        bot.api.press(prompt, f"wrong-target:{match_id}", user_id=USER)
        bot.api.press(prompt, f"old-news:{match_id}", user_id=ADMIN)
        store = bot.app.store
        for _ in range(100):  # the presses are handled by the running bot
            if sum(store.feedback_reasons(match_id).values()) == 2:
                break
            await asyncio.sleep(0.05)
        assert store.feedback_reasons(match_id) == {"wrong target": 1, "old news": 1}
        assert store.feedback_counts(match_id) == (0, 2)  # one vote per user, with its reason
        why = await bot.command(USER, f"/why {match_id}")
        assert "Reasons for 👎: old news 1 · wrong target 1" in why.text
        assert "Roles: " in why.text
        # the 👎 makes the article a counter-example when an admin applies feedback
        [(voted, _, net)] = store.feedback_votes(alert_topic(bot, match_id), applied_only=False)
        assert voted == match_id and net == -2


def alert_topic(bot, match_id: int) -> str:
    return bot.app.service.chats.why(match_id).match.topic


def test_reasons_are_the_three_kinds_of_error_and_nothing_else() -> None:
    assert list(REASONS.values()) == ["wrong target", "not an attack", "old news"]
    assert reason_of("old-news") == "old news" and reason_of("down") is None
    assert reasons_line({"old news": 1, "wrong target": 0}) == "old news 1"


async def test_a_reason_needs_a_thumbs_down_and_a_known_kind(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        await bot.command(GROUP, "/subscribe", user_id=ADMIN)
        alert = (await bot.poll_and_deliver(GROUP, 1))[0]
        match_id = int(alert.buttons[0][1].split(":")[1])
        service = bot.app.service
        with pytest.raises(BadArgument, match="a reason goes with a 👎"):
            service.chats.record_feedback(match_id, "telegram", "9", 1, reason="old news")
        with pytest.raises(BadArgument, match="one of: wrong target, not an attack, old news"):
            service.chats.record_feedback(match_id, "telegram", "9", -1, reason="boring")
        assert bot.app.store.feedback_counts(match_id) == (0, 0)  # nothing half-stored


def test_slack_reason_buttons_have_distinct_action_ids_and_parse_back() -> None:
    from bot.adapters.slack.render import parse_action, render
    from bot.messages.feedback_reasons import reason_reply

    [actions] = [b for b in render(reason_reply(5)).blocks if b["type"] == "actions"]
    ids = [e["action_id"] for e in actions["elements"]]
    assert len(set(ids)) == 3  # Slack refuses a block whose action ids repeat
    assert [reason_of(parse_action(i)) for i in ids] == list(REASONS.values())
    assert {e["value"] for e in actions["elements"]} == {"5"}
