"""Delivery to Telegram in-process: the real Deliverer and TelegramSink against the local Bot
API server with faults (429, 5xx, 403), chat rate limits, per-chat settings (minimum score,
quiet hours, digest), and later reports of a story threaded or folded."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError
from telegram_support import ADMIN, GROUP, USER, Harness, many_items, running_bot

from bot.core.channels import ChannelKey, SubscriptionStatus
from bot.core.settings import Settings
from bot.deliver.ratelimit import Rate, RateLimiter, SlidingWindow

KEY = ChannelKey("telegram", str(GROUP))


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def alert_ids(alerts: list) -> list[str]:  # type: ignore[type-arg]
    return [a.buttons[0][1].split(":")[1] for a in alerts]


async def test_429_storm_every_alert_arrives_once(tmp_path: Path) -> None:
    async with running_bot(tmp_path, many_items(8)) as bot:
        await bot.command(GROUP, "/subscribe", user_id=ADMIN)
        bot.api.fail("sendMessage", 429, retry_after=1, times=4)
        alerts = await bot.poll_and_deliver(GROUP, 8, timeout=30)
        assert len(alerts) == 8
        assert len(set(alert_ids(alerts))) == 8  # none twice
        assert bot.app.store.outbox_counts() == {"sent": 8}
        refused = [p for p in bot.api.calls_of("sendMessage")]
        assert len(refused) == 8 + 1 + 4  # 8 alerts, the /subscribe answer, 4 refused by 429


async def test_server_errors_are_retried_with_backoff(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        await bot.command(GROUP, "/subscribe", user_id=ADMIN)
        bot.api.fail("sendMessage", 500, times=2)
        alerts = await bot.poll_and_deliver(GROUP, 3, timeout=30)
        assert len(alerts) == 3 and len(set(alert_ids(alerts))) == 3


async def test_403_pauses_the_subscription_and_subscribe_resumes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_bot(tmp_path) as bot:
        await bot.command(GROUP, "/subscribe", user_id=ADMIN)
        bot.api.block_chat(GROUP)
        with caplog.at_level(logging.WARNING, logger="bot.deliver.outbox"):
            await bot.app.pipeline.poll_once(all_feeds=True)
            await bot.app.deliverer.drain()
        [subscription] = bot.app.service.chats.subscriptions(KEY)
        assert subscription.status is SubscriptionStatus.PAUSED
        assert "kicked" in (subscription.paused_reason or "")
        assert f"chat telegram:{GROUP} is gone" in caplog.text
        assert bot.app.store.outbox_counts() == {"undeliverable": 3}
        assert len(bot.api.calls_of("sendMessage")) == 1 + 1  # /subscribe answer, one 403
        await bot.app.deliverer.drain()
        assert len(bot.api.calls_of("sendMessage")) == 2  # nothing more is tried
        bot.api.blocked_chats.clear()
        await bot.command(GROUP, "/subscribe", user_id=ADMIN)
        assert bot.app.service.chats.subscriptions(KEY)[0].status is SubscriptionStatus.ACTIVE


async def test_group_rate_limit_holds_the_rest_for_later(tmp_path: Path) -> None:
    async with running_bot(tmp_path, many_items(23)) as bot:
        await bot.command(GROUP, "/subscribe", user_id=ADMIN)
        await bot.command(USER, "/subscribe")
        await bot.app.pipeline.poll_once(all_feeds=True)
        await bot.app.deliverer.drain()
        # the /subscribe answer is a reply, not counted by the outbox limiter: 18 a minute
        # (a little under Telegram's 20)
        assert len([s for s in bot.api.sent_to(GROUP) if s.buttons]) == 18
        # a busy group does not hold back another chat (private: one a second)
        assert len([s for s in bot.api.sent_to(USER) if s.buttons]) == 1
        assert bot.app.store.outbox_counts()["pending"] == 5 + 22


def test_sliding_window_counts_and_blocks() -> None:
    now = [0.0]
    window = SlidingWindow(Rate(2, 10.0), clock=lambda: now[0])
    assert window.wait_time() == 0
    for _ in range(2):
        window.begin()
        window.finish()
    assert window.wait_time() == 10.0
    now[0] = 10.0
    assert window.wait_time() == 0
    window.block(5)
    assert window.wait_time() == 5


def test_sends_in_flight_fill_the_window_until_they_finish() -> None:
    # two sends at once to different chats: however long they take, a third waits for one of
    # them to finish, then for the window counted from that finish
    now = [0.0]
    window = SlidingWindow(Rate(2, 1.0), clock=lambda: now[0])
    window.begin()
    window.begin()
    now[0] = 5.0  # long past their start
    assert window.wait_time() == SlidingWindow.IN_FLIGHT_POLL
    window.finish()
    assert window.wait_time() == 1.0  # one in flight, one finished just now
    now[0] = 5.4
    window.finish()
    assert window.wait_time() == pytest.approx(0.6)
    now[0] = 6.0
    assert window.wait_time() == 0  # the first finish has left the window


async def test_a_send_counts_from_when_it_finished() -> None:
    # the platform sees a request some time between its start and its end: spacing the next
    # send from the previous one's end keeps them spaced there, however slow the first was
    now = [0.0]
    limiter = RateLimiter(Rate(30, 1.0), lambda chat: Rate(1, 1.0), clock=lambda: now[0])
    async with limiter.slot("7"):
        now[0] += 0.6  # a slow request
    assert limiter.chat_wait("7") == 1.0
    with pytest.raises(RuntimeError):
        async with limiter.slot("8"):
            now[0] += 0.3
            raise RuntimeError("failed sends count too: the platform may have seen them")
    assert limiter.chat_wait("8") == 1.0
    assert limiter.global_window.wait_time() == 0  # 2 of 30


async def test_min_score_and_quiet_hours(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        await bot.command(GROUP, "/subscribe", user_id=ADMIN)
        await bot.command(GROUP, "/settings min_score 0.99", user_id=ADMIN)
        await bot.app.pipeline.poll_once(all_feeds=True)
        await bot.app.deliverer.drain()
        assert [s for s in bot.api.sent_to(GROUP) if s.buttons] == []
        assert bot.app.store.outbox_counts() == {"filtered": 3}
    async with running_bot(tmp_path / "quiet") as bot:
        await bot.command(GROUP, "/subscribe", user_id=ADMIN)
        await bot.command(GROUP, "/settings quiet 00:00-23:59", user_id=ADMIN)
        alerts = await bot.poll_and_deliver(GROUP, 3)
        assert len(alerts) == 3 and all(
            a.params.get("disable_notification") in ("True", True, "true") for a in alerts
        )


def make_story(bot: Harness, article_ids: list[int]) -> None:
    """Group articles into one story (the relevance stage does this in production), the first
    report leading, the later ones repeats."""
    with bot.app.store.transaction() as conn:
        now = datetime.now(UTC).isoformat()
        story = conn.execute(
            "INSERT INTO stories (first_article_id, reports, created_at, updated_at) VALUES (?,?,?,?)",
            [article_ids[0], len(article_ids), now, now],
        ).lastrowid
        for i, article_id in enumerate(article_ids):
            conn.execute("UPDATE articles SET story_id = ? WHERE id = ?", [story, article_id])
            role = "first" if i == 0 else "repeat"
            conn.execute(
                "UPDATE matches SET story_role = ? WHERE article_id = ?", [role, article_id]
            )


async def story_alerts(bot: Harness) -> list:  # type: ignore[type-arg]
    """Poll, hold delivery, put the three matches into one story, then deliver."""
    await bot.command(GROUP, "/subscribe", user_id=ADMIN)
    await bot.app.pipeline.poll_once(all_feeds=True)
    matches = sorted(bot.app.service.queries.latest(limit=10), key=lambda m: m.id)
    make_story(bot, [m.article.id for m in matches])
    return await bot.deliver(GROUP, 3, timeout=5)


async def test_later_reports_of_a_story_reply_to_the_first_alert(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        alerts = await story_alerts(bot)
        first, *later = sorted(alerts, key=lambda a: a.message_id)
        assert first.reply_to is None
        assert [a.reply_to for a in later] == [first.message_id, first.message_id]


async def test_later_reports_of_a_story_fold_into_the_first_alert(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        await bot.command(GROUP, "/settings threading fold", user_id=ADMIN)
        await story_alerts(bot)
        alerts = [s for s in bot.api.sent_to(GROUP) if s.buttons]
        assert len(alerts) == 1  # one message, edited twice
        [message] = alerts
        assert len(message.edits) == 2
        assert "Also reported by (2):" in message.text
        assert bot.app.store.outbox_counts() == {"sent": 3}


async def test_digest_mode_sends_one_message_at_the_hour_grouped_by_story(tmp_path: Path) -> None:
    clock = Clock()
    clock.now = datetime(2026, 11, 21, 6, 0, tzinfo=UTC)
    async with running_bot(tmp_path, clock=clock) as bot:
        await bot.command(GROUP, "/subscribe", user_id=ADMIN)
        await bot.command(GROUP, "/settings mode digest 08:00", user_id=ADMIN)
        await bot.app.pipeline.poll_once(all_feeds=True)
        matches = sorted(bot.app.service.queries.latest(limit=10), key=lambda m: m.id)
        make_story(bot, [m.article.id for m in matches[:2]])
        before = len(bot.api.sent_to(GROUP))
        await bot.app.deliverer.drain()
        assert len(bot.api.sent_to(GROUP)) == before  # not yet: 06:00 < 08:00
        clock.now += timedelta(hours=2, minutes=1)
        await bot.app.deliverer.drain()
        [digest] = bot.api.sent_to(GROUP)[before:]
        assert "Threatwatch digest · 2026-11-21" in digest.text
        assert "3 alerts, 2 stories" in digest.text and "also: Wire &amp; Desk" in digest.text
        assert bot.app.store.outbox_counts() == {"sent": 3}
        await bot.app.deliverer.drain()  # the same day: nothing more
        assert len(bot.api.sent_to(GROUP)) == before + 1


async def test_one_send_in_flight_unless_set_and_a_bad_count_is_refused(tmp_path: Path) -> None:
    # each send in flight at a crash may reach Telegram twice: one at a time unless set
    async with running_bot(tmp_path / "default", many_items(1)) as bot:
        assert bot.app.deliverer.sinks["telegram"].sends_in_flight == 1
    async with running_bot(tmp_path / "set", many_items(1), telegram_sends_in_flight=4) as bot:
        assert bot.app.deliverer.sinks["telegram"].sends_in_flight == 4
    for bad in (0, 17):
        with pytest.raises(ValidationError, match="telegram_sends_in_flight"):
            Settings(telegram_sends_in_flight=bad)
