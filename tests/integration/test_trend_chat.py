"""`/trend [topic] [days]` in chat: a PNG photo with a caption in Telegram (sendPhoto against the
local Bot API server, in-process), an image uploaded into the channel in Slack (a real
`threatwatch run` against the fake Slack API); clear answers for an unknown topic or bad days;
the spike alerts' opt-out in /settings."""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime
from pathlib import Path

from PIL import Image
from slack_support import CHANNEL, slack_bot
from slack_support import USER as SLACK_USER
from telegram_support import ADMIN, GROUP, TOPIC, USER, running_bot
from trend_support import add_history, add_topic

from bot.app.spikes import SpikeWatcher
from bot.store import SqliteStore


def png_size(content: bytes | None) -> tuple[int, int]:
    assert content is not None and content.startswith(b"\x89PNG")
    image = Image.open(io.BytesIO(content))
    image.load()
    return image.size


async def test_trend_in_telegram_is_a_photo_with_a_caption(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        add_history(bot.app.store, TOPIC, [1, 0, 2, 0, 3, 6], end=datetime.now(UTC))
        await bot.command(GROUP, "/subscribe", user_id=ADMIN)
        chart = await bot.command(GROUP, "/trend")  # anyone; the chat's only topic, 30 days
        assert chart.method == "sendPhoto"
        assert png_size(chart.document) == (1080, 1440)
        assert f"<b>Trend · {TOPIC}</b> · last 30 days" in chart.text
        assert "12 matches in 12 stories" in chart.text and "last day 6" in chart.text
        week = await bot.command(GROUP, f"/trend 7 {TOPIC}")
        assert week.method == "sendPhoto" and "last 7 days" in week.text
        assert week.document != chart.document

        for args, answer in (
            ("no-such-topic", "no topic 'no-such-topic'"),
            (f"{TOPIC} 0", "days must be a whole number from 2 to 365"),
            (f"{TOPIC} lots", "days must be a whole number from 2 to 365, not 'lots'"),
            (f"{TOPIC} 3 4", "wrong number of arguments"),
        ):
            refused = await bot.command(GROUP, f"/trend {args}")
            assert refused.method == "sendMessage", args
            assert answer in refused.text, (args, refused.text)


async def test_spike_alerts_can_be_turned_off_per_chat(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        shown = await bot.command(GROUP, "/settings")
        assert "activity spike alerts: <code>on</code>" in shown.text
        changed = await bot.command(GROUP, "/settings spikes off", user_id=ADMIN)
        assert "activity spike alerts: <code>off</code>" in changed.text
        bad = await bot.command(GROUP, "/settings spikes maybe", user_id=ADMIN)
        assert "spikes is 'on' or 'off'" in bad.text


def test_trend_in_slack_uploads_the_chart_into_the_channel(tmp_path: Path) -> None:
    with slack_bot(tmp_path) as bot:
        store = SqliteStore(tmp_path / "bot.db")
        add_history(store, "militia-attacks", [2, 1, 4], end=datetime.now(UTC))
        store.close()
        answer = bot.command("trend militia-attacks 14", SLACK_USER)
        assert answer.response_type == "in_channel"
        assert "Trend · militia-attacks" in answer.mrkdwn and "7 matches" in answer.mrkdwn
        deadline = time.monotonic() + 30
        while not bot.api.files and time.monotonic() < deadline:
            time.sleep(0.1)
        upload = bot.api.files[-1]
        assert upload["channel"] == CHANNEL
        assert png_size(upload["content"]) == (1080, 1440)
        refused = bot.command("trend militia-attacks 999", SLACK_USER)
        assert "days must be a whole number from 2 to 365" in refused.mrkdwn
        assert len(bot.api.files) == 1  # no picture for a refusal


async def test_a_spike_alerts_subscribed_chats_once_with_the_chart(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        now = datetime.now(UTC)
        store = bot.app.store
        add_history(store, TOPIC, [1, 0, 0, 2, 1, 0, 1, 0, 1, 1] * 3 + [9], end=now)
        add_topic(store, "quiet-topic", now)
        add_history(store, "quiet-topic", [0] * 30 + [1], end=now)
        await bot.command(GROUP, "/subscribe", user_id=ADMIN)
        await bot.command(USER, "/subscribe", user_id=USER)
        await bot.command(USER, "/settings spikes off", user_id=USER)
        before = len(bot.api.sent_to(USER))

        watcher = SpikeWatcher(bot.app.service.trends, bot.app.deliverer)
        notices = await watcher.check()
        assert [(n.topic, n.chats) for n in notices] == [(TOPIC, 1)]
        assert notices[0].spike.count == 9
        photo = bot.api.sent_to(GROUP)[-1]
        assert photo.method == "sendPhoto" and png_size(photo.document) == (1080, 1440)
        assert (
            f"Activity spike · {TOPIC}" in photo.text and "9 matches in the last 24" in photo.text
        )
        assert photo.text.count("• ") == 5  # the stories behind it
        assert len(bot.api.sent_to(USER)) == before  # turned off there
        assert await watcher.check() == []  # once per day, not once per check


def test_a_running_bot_posts_a_spike_to_a_slack_channel(tmp_path: Path) -> None:
    env = {"THREATWATCH_SPIKE_CHECK_INTERVAL": "1"}
    with slack_bot(tmp_path, extra_env=env) as bot:
        assert "Subscribed" in bot.command("subscribe", SLACK_USER).mrkdwn
        store = SqliteStore(tmp_path / "bot.db")
        add_history(store, "militia-attacks", [0, 1, 0, 0, 1] * 6 + [7], end=datetime.now(UTC))
        store.close()
        deadline = time.monotonic() + 60
        while not bot.api.files and time.monotonic() < deadline:
            time.sleep(0.2)
        assert bot.api.files, bot.process.output[-3000:]
        upload = bot.api.files[0]
        assert upload["channel"] == CHANNEL and png_size(upload["content"]) == (1080, 1440)
        assert "Activity spike · militia-attacks" in upload["comment"]
        assert "7 matches in the last 24 hours" in upload["comment"]
        time.sleep(1.5)  # another check (queueing once is tested in tests/unit/deliver)
        assert len(bot.api.files) == 1
