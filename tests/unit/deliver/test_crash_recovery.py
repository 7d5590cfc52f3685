"""A sender that dies in the middle of a send, on both store backends, with the real slack-sdk
and python-telegram-bot clients against the local Slack and Bot API servers.

The dead sender's state is made with the same store calls a live one makes: it claimed the
chat, marked the row 'sending' with its attempt id and had the platform accept the message,
then stopped before marking it sent. Another sender takes the chat once the claim timeout has
passed: Slack's history shows the attempt's message (its metadata names the outbox row), so the
row is marked sent with that message's ts and nothing is posted again; Telegram cannot be
asked, so the alert is sent again: one duplicate."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from store_support import query
from telegram import Bot
from telegram_support import TOKEN
from test_delivery_concurrency import queue_alerts

from bot.adapters.slack.sink import SlackSink
from bot.adapters.telegram.sink import TelegramSink
from bot.core.channels import ChatSettings, DeliveryMode
from bot.core.errors import StoreError
from bot.core.records import OutboxEntry
from bot.deliver.outbox import Deliverer
from bot.deliver.sink import SendOptions, Sink
from bot.messages.alerts import digest_reply
from bot.store import Store
from testkit.slack_api import BOT_TOKEN, FakeSlackAPI
from testkit.telegram_api import FakeBotAPI

CHANNEL = "C0ALERTS1"
CHAT = -1004242  # a Telegram group: 20 alerts a minute, so the test waits for no limit
LEASE = 30.0
# now: Slack's message ts are the times the messages were posted
T0 = datetime.now(UTC).replace(microsecond=0)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def slack() -> Iterator[FakeSlackAPI]:
    with FakeSlackAPI() as api:
        api.add_channel(CHANNEL, ["UADMIN01"])
        yield api


async def die_mid_send(store: Store, sink: Sink, platform: str, *, accepted: bool) -> OutboxEntry:
    """What a sender leaves behind when it dies after marking the first row 'sending' (and,
    with ``accepted``, after the platform took the message)."""
    (claim,) = store.claim_chats(
        "dead:1:00", T0, platforms=[platform], lease_seconds=LEASE, limit=1
    )
    entry = store.claimed_outbox([claim], T0, lease_seconds=LEASE)[0]
    assert store.begin_send(claim, [entry.id], "attempt-1", T0, lease_seconds=LEASE)
    if accepted:
        await sink.send(entry, SendOptions(attempt="attempt-1"))
    return entry


async def drain_at(deliverer: Deliverer, clock: Clock, seconds: float) -> int:
    clock.now = T0 + timedelta(seconds=seconds)
    return await deliverer.drain()


async def test_slack_finds_the_dead_senders_message_and_posts_nothing_twice(
    store: Store, slack: FakeSlackAPI
) -> None:
    match_ids = queue_alerts(store, {"slack": [CHANNEL]}, alerts=2)
    sink = SlackSink(AsyncWebClient(token=BOT_TOKEN, base_url=slack.api_url))
    entry = await die_mid_send(store, sink, "slack", accepted=True)
    [first_post] = slack.alerts(CHANNEL)
    assert first_post.metadata == {
        "event_type": "threatwatch_alert",
        "event_payload": {"outbox_id": entry.id, "alert_id": match_ids[0], "attempt": "attempt-1"},
    }
    clock = Clock()
    deliverer = Deliverer(store, {"slack": sink}, clock, claim_seconds=LEASE)
    assert await drain_at(deliverer, clock, LEASE - 1) == 0  # the dead sender's claim holds

    # found in history and marked sent; the next alert is posted in the same drain
    assert await drain_at(deliverer, clock, LEASE) == 2
    history = slack.calls_to("conversations.history")
    assert len(history) == 1 and history[0]["include_all_metadata"] in (True, "1", "true")
    assert query(store, "SELECT message_ref FROM outbox WHERE id = ?", [entry.id]) == [
        (first_post.ts,)
    ]
    assert len(slack.calls_to("conversations.history")) == 1  # fresh rows are not looked up
    assert [int(p.buttons[0][1]) for p in slack.alerts(CHANNEL)] == match_ids  # each once
    assert store.outbox_counts() == {"sent": 2}


async def test_slack_posts_the_alert_when_the_dead_sender_never_reached_slack(
    store: Store, slack: FakeSlackAPI
) -> None:
    match_ids = queue_alerts(store, {"slack": [CHANNEL]}, alerts=1)
    sink = SlackSink(AsyncWebClient(token=BOT_TOKEN, base_url=slack.api_url))
    await die_mid_send(store, sink, "slack", accepted=False)
    clock = Clock()
    deliverer = Deliverer(store, {"slack": sink}, clock, claim_seconds=LEASE)
    assert await drain_at(deliverer, clock, LEASE) == 1
    assert [int(p.buttons[0][1]) for p in slack.alerts(CHANNEL)] == match_ids


async def test_slack_history_unavailable_defers_the_row_without_posting(
    store: Store, slack: FakeSlackAPI
) -> None:
    queue_alerts(store, {"slack": [CHANNEL]}, alerts=1)
    sink = SlackSink(AsyncWebClient(token=BOT_TOKEN, base_url=slack.api_url))
    await die_mid_send(store, sink, "slack", accepted=True)
    slack.fail("conversations.history", "internal_error", status=500)
    clock = Clock()
    deliverer = Deliverer(store, {"slack": sink}, clock, claim_seconds=LEASE, retry_base=0.05)
    assert await drain_at(deliverer, clock, LEASE) == 0
    assert store.outbox_counts() == {"pending": 1} and len(slack.alerts(CHANNEL)) == 1
    # the retry looks again (the attempt id was kept) and finds the message
    await asyncio.sleep(0.1)
    assert await drain_at(deliverer, clock, LEASE + 60) == 1
    assert len(slack.alerts(CHANNEL)) == 1 and store.outbox_counts() == {"sent": 1}


async def test_telegram_sends_the_dead_senders_alert_again_once(store: Store) -> None:
    with FakeBotAPI(TOKEN) as api:
        async with Bot(TOKEN, base_url=api.api_url) as bot:
            match_ids = queue_alerts(store, {"telegram": [str(CHAT)]}, alerts=2)
            sink = TelegramSink(bot)
            await die_mid_send(store, sink, "telegram", accepted=True)
            clock = Clock()
            deliverer = Deliverer(store, {"telegram": sink}, clock, claim_seconds=LEASE)
            assert await drain_at(deliverer, clock, LEASE - 1) == 0
            # sent again (there is no way to ask), then the next alert
            assert await drain_at(deliverer, clock, LEASE) == 2
            assert await drain_at(deliverer, clock, LEASE + 4) == 0
    received = [int(s.buttons[0][1].split(":")[1]) for s in api.sent_to(CHAT) if s.buttons]
    assert received == [match_ids[0], match_ids[0], match_ids[1]]  # one duplicate, in order
    assert store.outbox_counts() == {"sent": 2}


async def test_a_store_failure_before_the_send_sends_nothing_and_loses_nothing(
    store: Store, slack: FakeSlackAPI
) -> None:
    match_ids = queue_alerts(store, {"slack": [CHANNEL]}, alerts=1)
    sink = SlackSink(AsyncWebClient(token=BOT_TOKEN, base_url=slack.api_url))
    clock = Clock()
    deliverer = Deliverer(store, {"slack": sink}, clock, claim_seconds=LEASE)
    begin_send = store.begin_send

    def disk_full(*args: object, **kwargs: object) -> list[int]:
        raise StoreError("database or disk is full")

    store.begin_send = disk_full  # type: ignore[method-assign]
    with pytest.raises(StoreError, match="disk is full"):
        await drain_at(deliverer, clock, 0)
    assert slack.alerts(CHANNEL) == [] and store.outbox_counts() == {"pending": 1}
    store.begin_send = begin_send  # type: ignore[method-assign]
    # the chat was given back when the drain failed: sent at the next drain, once
    assert await drain_at(deliverer, clock, 1) == 1
    assert [int(p.buttons[0][1]) for p in slack.alerts(CHANNEL)] == match_ids


async def test_slack_history_shows_metadata_only_when_asked_and_threads_are_searched(
    store: Store, slack: FakeSlackAPI
) -> None:
    """As Slack does: conversations.history carries message metadata only with
    include_all_metadata, and a reply in a thread is found through conversations.replies."""
    queue_alerts(store, {"slack": [CHANNEL]}, alerts=2)
    client = AsyncWebClient(token=BOT_TOKEN, base_url=slack.api_url)
    sink = SlackSink(client)
    (claim,) = store.claim_chats("a", T0, platforms=["slack"], lease_seconds=LEASE, limit=1)
    first, second = store.claimed_outbox([claim], T0, lease_seconds=LEASE)
    parent = await sink.send(first, SendOptions(attempt="a1"))
    reply = await sink.send(second, SendOptions(reply_to=parent, attempt="a2"))

    plain = await client.conversations_history(channel=CHANNEL)
    assert [m["ts"] for m in plain["messages"]] == [parent]  # top level only, no metadata
    assert "metadata" not in plain["messages"][0]
    asked = await client.conversations_history(channel=CHANNEL, include_all_metadata=True)
    assert asked["messages"][0]["metadata"]["event_payload"]["outbox_id"] == first.id

    later = replace(second, attempt_id="a2")  # how a row left 'sending' comes back
    assert await sink.find_sent(later, SendOptions(reply_to=parent)) == reply
    assert await sink.find_sent(later, SendOptions()) is None  # not in the channel's top level
    assert await sink.find_sent(replace(first, attempt_id="a1"), SendOptions()) == parent


async def test_an_app_without_the_history_scope_sends_again_and_says_so(
    store: Store, slack: FakeSlackAPI, caplog: pytest.LogCaptureFixture
) -> None:
    queue_alerts(store, {"slack": [CHANNEL]}, alerts=1)
    sink = SlackSink(AsyncWebClient(token=BOT_TOKEN, base_url=slack.api_url))
    await die_mid_send(store, sink, "slack", accepted=True)
    slack.fail("conversations.history", "missing_scope")
    clock = Clock()
    deliverer = Deliverer(store, {"slack": sink}, clock, claim_seconds=LEASE)
    assert await drain_at(deliverer, clock, LEASE) == 1  # not held back: sent again
    assert len(slack.alerts(CHANNEL)) == 2 and store.outbox_counts() == {"sent": 1}
    assert "channels:history" in caplog.text and "may arrive twice" in caplog.text


async def test_a_slack_digest_cut_short_after_posting_is_not_posted_again(
    store: Store, slack: FakeSlackAPI
) -> None:
    queue_alerts(store, {"slack": [CHANNEL]}, alerts=3)
    channel = store.ensure_channel("slack", CHANNEL, now=T0)
    store.save_channel_settings(  # the digest hour has just passed
        channel,
        replace(
            ChatSettings(),
            mode=DeliveryMode.DIGEST,
            digest_at=f"{T0 - timedelta(minutes=1):%H:%M}",
            last_digest_at=(T0 - timedelta(days=2)).isoformat(),
        ),
    )
    sink = SlackSink(AsyncWebClient(token=BOT_TOKEN, base_url=slack.api_url))
    # the dead sender claimed the chat, marked the rows and posted the digest, then died
    claim = store.claim_chat(channel, "dead:1:00", T0, lease_seconds=LEASE)
    assert claim is not None
    rows = store.pending_for_channel(channel)
    store.begin_send(claim, [r.id for r in rows], "d1", T0, lease_seconds=LEASE)
    reply = digest_reply([r.match for r in rows], day=T0)
    await sink.post(CHANNEL, "", reply, SendOptions(attempt="d1"))
    clock = Clock()
    deliverer = Deliverer(store, {"slack": sink}, clock, claim_seconds=LEASE)
    assert await drain_at(deliverer, clock, LEASE - 1) == 0  # still the dead sender's chat
    assert await drain_at(deliverer, clock, LEASE) == 3  # found in the channel: marked sent
    assert len(slack.posted_to(CHANNEL, "chat.postMessage")) == 1
    assert store.outbox_counts() == {"sent": 3}
    assert store.channel(channel).settings.last_digest_at is not None
    assert await drain_at(deliverer, clock, LEASE + 60) == 0  # and not due again today
