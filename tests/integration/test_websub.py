"""WebSub end to end on loopback: the bot discovers a feed's hub, subscribes through the local
hub (testkit/websub_hub.py), answers its verification, and ingests signed pushes into the
outbox as a poll would. Real SQLite, real HTTP; the hashing embedder stands in for the model."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from process_support import BotProcess

from bot.app.compose import App, compose
from bot.core.models import WebSubState, WebSubSubscription
from bot.core.settings import Settings
from bot.websub.protocol import callback_url, sign
from bot.websub.receiver import WebSubReceiver
from testkit.feedserver import FeedServer
from testkit.latency import bot_env, wire_feed
from testkit.load import other_item, relevant_item, write_topic
from testkit.websub_hub import LocalHub

START = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def www(tmp_path: Path) -> Path:
    write_topic(tmp_path)
    (tmp_path / "www").mkdir()
    return tmp_path / "www"


@pytest.fixture
def feeds(www: Path) -> FeedServer:
    with FeedServer(www) as server:
        yield server  # type: ignore[misc]


@pytest.fixture
def hub() -> LocalHub:
    with LocalHub() as local:
        yield local  # type: ignore[misc]


def settings_for(root: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "db": root / "bot.db",
        "config_dir": root / "config",
        "seeds_dir": root / "seeds",
        "embedder": "hashing",
        "allow_private_networks": True,
        "load_default_feeds": False,
        "fetch_full_text": False,
        "websub_callback_url": "http://127.0.0.1:0/websub",
        "websub_listen": "127.0.0.1",
        "websub_port": 0,
    }
    return Settings(**(values | overrides))  # type: ignore[arg-type]


class Bot:
    """The composed app with its WebSub receiver serving callbacks; maintenance is driven by the
    test (``maintain``) so that request counts are exact."""

    def __init__(self, app: App) -> None:
        assert app.websub is not None
        self.app = app
        self.subscriber = app.websub.subscriber
        self.receiver = WebSubReceiver(self.subscriber, app.pipeline, maintain_every=None)

    def subscription(self) -> WebSubSubscription:
        (sub,) = self.app.store.websub_subscriptions()
        return sub

    def callback(self) -> str:
        return callback_url(self.subscriber.callback_base, self.subscription().callback_token)


@pytest.fixture
async def bot(www: Path) -> AsyncIterator[Bot]:
    app = compose(settings_for(www.parent), clock=Clock())
    bot = Bot(app)
    await bot.receiver.start()
    try:
        yield bot
    finally:
        await bot.receiver.stop()
        await app.aclose()


async def wait_until(condition: Callable[[], bool], timeout: float = 20) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


def titles(app: App) -> set[str]:
    return {m.article.title for m in app.store.latest_matches(limit=100)}


async def subscribed(bot: Bot, feeds: FeedServer, hub: LocalHub) -> str:
    """Serve a feed that advertises ``hub``, poll it once, subscribe; returns the topic."""
    topic = feeds.url("wire.xml")
    feeds.set_file("wire.xml", wire_feed([other_item(1)], hub=hub.url, self_url=topic))
    await bot.app.service.feeds.add_feed(topic)
    await bot.app.pipeline.poll_once()
    assert await bot.subscriber.maintain() == 1
    await wait_until(lambda: bot.subscription().state is WebSubState.ACTIVE)
    # the bot is active once it has answered the challenge; the hub, once it has read the answer
    await wait_until(lambda: bool(hub.active(topic)))
    return topic


async def test_subscribe_verify_and_signed_push_reach_the_outbox(
    bot: Bot, feeds: FeedServer, hub: LocalHub
) -> None:
    topic = await subscribed(bot, feeds, hub)
    (request,) = hub.requests
    assert request["hub.mode"] == "subscribe" and request["hub.topic"] == topic
    assert request["hub.callback"] == bot.callback() and request["hub.secret"]
    assert request["hub.lease_seconds"] == str(7 * 86_400)
    verifications = hub.wait_for_verification(1, timeout=10)  # recorded when the answer arrives
    assert [(v.mode, v.confirmed) for v in verifications] == [("subscribe", True)]
    sub = bot.subscription()
    assert sub.expires_at == START + timedelta(days=7) and not sub.awaiting_verification
    assert bot.app.store.feed(sub.feed_id).hub_url == hub.url

    new = relevant_item(7)
    feeds.set_file("wire.xml", wire_feed([other_item(1), new], hub=hub.url, self_url=topic))
    polls_before = len(feeds.requests)
    assert await asyncio.to_thread(hub.publish, topic) == [202]
    await wait_until(lambda: new[1] in titles(bot.app))
    assert bot.app.store.outbox_counts() == {"pending": 1}  # the console channel's alert
    # the hub's fetch of the topic is the only request since: the bot did not poll
    assert len(feeds.requests) == polls_before + 1
    assert bot.subscription().deliveries == 1
    # the same document pushed again stores nothing twice; pushes are ingested in order, so
    # once a third one's new item is in, the repeat has been through the pipeline
    assert await asyncio.to_thread(hub.publish, topic) == [202]
    third = relevant_item(8)
    items = [other_item(1), new, third]
    body = wire_feed(items, hub=hub.url, self_url=topic)
    assert await asyncio.to_thread(hub.publish, topic, body, "application/rss+xml") == [202]
    await wait_until(lambda: third[1] in titles(bot.app))
    assert bot.app.store.outbox_counts() == {"pending": 2}
    assert bot.subscription().deliveries == 3


async def test_pushes_waiting_together_are_ingested_as_one_batch(
    bot: Bot, feeds: FeedServer, hub: LocalHub, caplog: pytest.LogCaptureFixture
) -> None:
    # while one push is being ingested, three more arrive: the worker takes the three at once
    # (their items embedded in one batch), and the one that is not a feed fails alone
    caplog.set_level(logging.INFO, logger="bot.websub.receiver")
    topic = await subscribed(bot, feeds, hub)
    ingest, batches, hold = bot.app.pipeline.ingest_pushed, [], asyncio.Event()

    async def observed(pushed):  # type: ignore[no-untyped-def]
        batches.append(len(pushed))
        if len(batches) == 1:
            await hold.wait()
        return await ingest(pushed)

    bot.app.pipeline.ingest_pushed = observed  # type: ignore[method-assign]
    first, second, third = relevant_item(20), relevant_item(21), relevant_item(22)
    for items in ([first], [second], None, [third]):
        body = b"<html>no feed here</html>" if items is None else wire_feed(items)
        kind = "text/html" if items is None else "application/rss+xml"
        assert await asyncio.to_thread(hub.publish, topic, body, kind) == [202]
    await wait_until(lambda: bot.receiver._queue.qsize() == 3)
    hold.set()
    await wait_until(lambda: "websub push: deliveries=3 feeds=1 new=2" in caplog.text)
    assert {first[1], second[1], third[1]} <= titles(bot.app)
    assert batches == [1, 3]
    assert "websub push for feed 1 not ingested: not a feed" in caplog.text


async def test_missing_or_wrong_signature_is_acknowledged_and_ignored(
    bot: Bot, feeds: FeedServer, hub: LocalHub
) -> None:
    topic = await subscribed(bot, feeds, hub)
    secret = bot.subscription().secret
    bad = relevant_item(8)
    body = wire_feed([bad], hub=hub.url, self_url=topic)
    async with httpx.AsyncClient(trust_env=False) as client:
        for signature in (None, sign(body, "not the secret"), "sha256=", "md5=00"):
            headers = {"Content-Type": "application/rss+xml"}
            if signature:
                headers["X-Hub-Signature"] = signature
            response = await client.post(bot.callback(), content=body, headers=headers)
            assert response.status_code == 202
        assert bad[1] not in titles(bot.app)
        assert bot.subscription().deliveries == 0
        # signed with the secret (sha1 is allowed too), the same body goes in
        headers = {"X-Hub-Signature": sign(body, secret, "sha1")}
        assert (await client.post(bot.callback(), content=body, headers=headers)).status_code == 202
    await wait_until(lambda: bad[1] in titles(bot.app))


async def test_unknown_callbacks_topics_and_modes_are_404(
    bot: Bot, feeds: FeedServer, hub: LocalHub
) -> None:
    topic = await subscribed(bot, feeds, hub)
    base = bot.subscriber.callback_base
    async with httpx.AsyncClient(trust_env=False) as client:
        verify = {"hub.mode": "subscribe", "hub.topic": topic, "hub.challenge": "c1"}
        unknown = callback_url(base, "not-a-token")
        assert (await client.get(unknown, params=verify)).status_code == 404
        assert (await client.post(unknown, content=b"<rss/>")).status_code == 404
        assert (await client.get(base + "/")).status_code == 404
        known = bot.callback()
        other_topic = verify | {"hub.topic": topic + "?other"}
        assert (await client.get(known, params=other_topic)).status_code == 404
        unsubscribe = verify | {"hub.mode": "unsubscribe"}
        assert (await client.get(known, params=unsubscribe)).status_code == 404
        answer = await client.get(known, params=verify)  # a hub re-verifying a lease we hold
        assert (answer.status_code, answer.text) == (200, "c1")


async def test_oversized_push_is_refused(www: Path, feeds: FeedServer, hub: LocalHub) -> None:
    app = compose(settings_for(www.parent, max_body_bytes=20_000), clock=Clock())
    bot = Bot(app)
    await bot.receiver.start()
    try:
        topic = await subscribed(bot, feeds, hub)
        big = relevant_item(9)
        body = wire_feed([big, *(other_item(n) for n in range(100))], hub=hub.url, self_url=topic)
        assert len(body) > 20_000
        headers = {"X-Hub-Signature": sign(body, bot.subscription().secret)}

        async def chunked() -> AsyncIterator[bytes]:
            for start in range(0, len(body), 4096):
                yield body[start : start + 4096]

        async with httpx.AsyncClient(trust_env=False) as client:
            sized = await client.post(bot.callback(), content=body, headers=headers)
            streamed = await client.post(bot.callback(), content=chunked(), headers=headers)
        assert (sized.status_code, streamed.status_code) == (413, 413)
        assert big[1] not in titles(app) and bot.subscription().deliveries == 0
    finally:
        await bot.receiver.stop()
        await app.aclose()


async def test_hub_on_a_private_address_is_refused_unless_allowed(www: Path, hub: LocalHub) -> None:
    app = compose(settings_for(www.parent, allow_private_networks=False), clock=Clock())
    try:
        # the feed itself is public; only its advertised hub is on loopback
        feed, _ = app.store.add_feed("https://news.example/wire.xml", None, START)
        app.store.record_feed_success(
            feed.id,
            now=START,
            next_check_at=START + timedelta(minutes=5),
            etag=None,
            last_modified=None,
            name="Wire",
            items_seen=0,
            hub_url=hub.url,
            self_url=feed.url,
        )
        assert app.websub is not None
        await app.websub.subscriber.maintain()
        (sub,) = app.store.websub_subscriptions()
        assert sub.state is WebSubState.FAILED and "loopback" in (sub.last_error or "")
        assert "THREATWATCH_ALLOW_PRIVATE_NETWORKS" in (sub.last_error or "")
        assert hub.requests == []
        assert sub.next_attempt_at > START  # retried later, with backoff
        assert await app.websub.subscriber.maintain() == 0
    finally:
        await app.aclose()


async def test_leases_are_renewed_before_they_end(www: Path, feeds: FeedServer) -> None:
    with LocalHub(lease_seconds=600) as hub:
        clock = Clock()
        app = compose(settings_for(www.parent), clock=clock)
        bot = Bot(app)
        await bot.receiver.start()
        try:
            await subscribed(bot, feeds, hub)
            first = bot.subscription()
            assert first.lease_seconds == 600 and first.expires_at == START + timedelta(minutes=10)
            # while the hub pushes, polling is the fallback, at its own (longer) interval
            app.settings.websub_poll_interval = 3600
            await app.pipeline.poll_once(all_feeds=True)
            next_check = app.store.feed(first.feed_id).next_check_at
            assert next_check == START + timedelta(hours=1)
            clock.now = START + timedelta(seconds=530)  # renewal is due a minute before the end
            assert await bot.subscriber.maintain() == 0
            clock.now = START + timedelta(seconds=541)
            assert await bot.subscriber.maintain() == 1
            hub.wait_for_verification(2)
            await wait_until(lambda: bot.subscription().expires_at != first.expires_at)
            renewed = bot.subscription()
            assert renewed.expires_at == clock.now + timedelta(minutes=10)
            assert renewed.callback_token == first.callback_token  # same callback, same secret
            assert [r["hub.mode"] for r in hub.requests] == ["subscribe", "subscribe"]
            assert len(hub.active(first.topic_url)) == 1
        finally:
            await bot.receiver.stop()
            await app.aclose()


async def test_a_denied_subscription_is_recorded_and_asked_again_later(
    www: Path, feeds: FeedServer
) -> None:
    with LocalHub(deny=True) as hub:
        clock = Clock()
        app = compose(settings_for(www.parent), clock=clock)
        bot = Bot(app)
        await bot.receiver.start()
        try:
            topic = feeds.url("wire.xml")
            feeds.set_file("wire.xml", wire_feed([other_item(1)], hub=hub.url, self_url=topic))
            await app.service.feeds.add_feed(topic)
            await app.pipeline.poll_once()
            await bot.subscriber.maintain()
            await wait_until(lambda: bot.subscription().state is WebSubState.DENIED)
            assert "not allowed" in (bot.subscription().last_error or "")
            assert hub.active(topic) == []
            assert bot.subscription().next_attempt_at == START + timedelta(days=1)
        finally:
            await bot.receiver.stop()
            await app.aclose()


def test_threatwatch_run_subscribes_and_alerts_on_a_push(www: Path, feeds: FeedServer) -> None:
    root = www.parent
    env = bot_env(root, poll_interval=3600, embedder="hashing", websub=True)
    env["THREATWATCH_WEBSUB_CALLBACK_URL"] = "http://127.0.0.1:0/hooks/websub/"
    env["THREATWATCH_FETCH_FULL_TEXT"] = "false"
    with LocalHub() as hub:
        topic = feeds.url("wire.xml")
        feeds.set_file("wire.xml", wire_feed([other_item(1)], hub=hub.url, self_url=topic))
        adding = BotProcess(env, ("feeds", "add", topic))
        assert adding.proc.wait(60) == 0
        adding.stop()
        bot = BotProcess(env)
        try:
            bot.wait_for_output(r"websub: feed 1 verified", timeout=60)
            # the bot logs on answering the challenge; the hub records it when the answer arrives
            (verification,) = hub.wait_for_verification(1, timeout=10)
            assert verification.confirmed and "/hooks/websub/" in verification.callback
            assert verification.callback.split("/")[-1] not in bot.output  # the token stays secret
            new = relevant_item(3)
            feeds.set_file("wire.xml", wire_feed([other_item(1), new], hub=hub.url, self_url=topic))
            assert hub.publish(topic) == [202]
            bot.wait_for_output(re.escape(new[1]), timeout=60)
            assert "websub push: deliveries=1 feeds=1 new=1" in bot.output
        finally:
            assert bot.stop() == 0
