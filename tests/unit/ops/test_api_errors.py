"""Every failed chat platform API call is counted by platform, method and code, whatever made it:
the real python-telegram-bot and slack-sdk clients that compose() builds with metrics on,
against the fake Bot API and Slack API with faults (sends, edits, photo and file uploads,
getUpdates, downloads, auth.test, conversations.*, timeouts, a refused connection)."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from telegram import File
from telegram.error import TelegramError
from telegram_support import GROUP, TOKEN, settings_for, write_watch_config

from bot.adapters.slack.app import build_client
from bot.app.compose import App, compose
from bot.core.errors import ChatGone, RateLimited, TransientDeliveryError
from bot.deliver.sink import SendOptions
from bot.messages.replies import Document, ReplyBuilder, text_reply
from bot.ops.metrics import Metrics
from testkit.slack_api import BOT_TOKEN, FakeSlackAPI
from testkit.telegram_api import FakeBotAPI

CHANNEL = "C0ERRORS1"
PNG = b"\x89PNG\r\n\x1a\n picture"


def errors(metrics: Metrics) -> dict[tuple[str, str, str], float]:
    """threatwatch_api_errors_total by (platform, method, code)."""
    found: dict[tuple[str, str, str], float] = {}
    for family in metrics.registry.collect():
        for s in family.samples:
            if s.name == "threatwatch_api_errors_total":
                key = (s.labels["platform"], s.labels["method"], s.labels["code"])
                found[key] = s.value
    return found


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def metrics_of(app: App) -> Metrics:
    assert app.ops is not None
    return app.ops.metrics


async def test_telegram_errors_of_every_kind_of_call_are_counted(tmp_path: Path) -> None:
    write_watch_config(tmp_path)
    with FakeBotAPI(TOKEN) as tg:
        settings = settings_for(tmp_path, tg.api_url, metrics_port=0, telegram_request_timeout=0.5)
        app = compose(settings)
        telegram = app.adapters[0]
        sink = app.deliverer.sinks["telegram"]
        try:
            tg.fail("getUpdates", 502)  # the adapter's long poll: it tries again
            assert await telegram.start(asyncio.Event())
            deadline = time.monotonic() + 15
            while not errors(metrics_of(app)) and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            photo = ReplyBuilder().line("chart").build(photo=Document("c.png", PNG))
            tg.fail("sendPhoto", 502)
            with pytest.raises(TransientDeliveryError):
                await sink.post(str(GROUP), "", photo, SendOptions())
            tg.fail("editMessageText", 400, description="Bad Request: message to edit not found")
            with pytest.raises(TransientDeliveryError):
                await sink.edit(str(GROUP), "77", text_reply("folded"))
            tg.fail("sendDocument", 403)
            document = ReplyBuilder().line("feeds").build(document=Document("f.opml", b"<x/>"))
            with pytest.raises(ChatGone):
                await sink.post(str(GROUP), "", document, SendOptions())
            tg.slow("sendMessage", 1.5)  # longer than the request timeout
            with pytest.raises(TransientDeliveryError):
                await sink.post(str(GROUP), "", text_reply("slow"), SendOptions())
            bot = app.adapters[0].application.bot  # type: ignore[attr-defined]
            # getFile answers the file's full URL: {file URL}{token}/{path}
            missing = File("f1", "u1", file_path=f"{bot.base_file_url}/documents/gone.opml")
            missing.set_bot(bot)
            with pytest.raises(TelegramError):  # 404: python-telegram-bot calls it InvalidToken
                await missing.download_as_bytearray()
            assert await sink.post(str(GROUP), "", text_reply("fine"), SendOptions())
            counted = errors(metrics_of(app))
        finally:
            await telegram.stop()
            await app.aclose()
    assert counted == {
        ("telegram", "getUpdates", "502"): 1.0,
        ("telegram", "sendPhoto", "502"): 1.0,
        ("telegram", "editMessageText", "400"): 1.0,
        ("telegram", "sendDocument", "403"): 1.0,
        ("telegram", "sendMessage", "timeout"): 1.0,
        ("telegram", "download", "404"): 1.0,
    }
    assert not any(TOKEN in method for _, method, _ in counted)  # the URL's token never shows


async def test_slack_errors_of_every_kind_of_call_are_counted(tmp_path: Path) -> None:
    write_watch_config(tmp_path)
    with FakeSlackAPI() as slack:
        slack.add_channel(CHANNEL, ["UADMIN01"])
        settings = settings_for(
            tmp_path,
            "http://127.0.0.1:9/bot",
            telegram_token=None,
            slack_bot_token=BOT_TOKEN,
            slack_api_url=slack.api_url,
            slack_signing_secret="8f742231b10e8888abcd99yyyzzz85a5",
            metrics_port=0,
        )
        app = compose(settings)
        sink, metrics = app.deliverer.sinks["slack"], metrics_of(app)
        try:
            slack.fail("auth.test", "invalid_auth")
            client = app.adapters[0].client  # type: ignore[attr-defined]
            with pytest.raises(SlackApiError, match="invalid_auth"):
                await client.auth_test()
            slack.fail("conversations.info", "channel_not_found")
            with pytest.raises(SlackApiError, match="channel_not_found"):
                await client.conversations_info(channel="C0NOWHERE")
            slack.outage(503)  # posts, updates and uploads
            photo = ReplyBuilder().line("chart").build(photo=Document("c.png", PNG))
            for attempt in (
                sink.post(CHANNEL, "", photo, SendOptions()),
                sink.edit(CHANNEL, "1700000000.000001", text_reply("folded")),
            ):
                with pytest.raises(TransientDeliveryError):
                    await attempt
            slack.restore()
            slack.fail("chat.postMessage", "ratelimited", status=429, retry_after=1)
            with pytest.raises(RateLimited):
                await sink.post(CHANNEL, "", text_reply("busy"), SendOptions())
            assert await sink.post(CHANNEL, "", text_reply("fine"), SendOptions())
            # a Slack that cannot be reached at all
            unreachable = settings.model_copy(
                update={"slack_api_url": f"http://127.0.0.1:{closed_port()}/api/"}
            )
            lost = build_client(unreachable, metrics.observe_api_error)
            with pytest.raises(aiohttp.ClientConnectionError):
                await lost.auth_test()
            counted = errors(metrics)
        finally:
            await app.aclose()
    assert counted == {
        ("slack", "auth.test", "invalid_auth"): 1.0,
        ("slack", "conversations.info", "channel_not_found"): 1.0,
        ("slack", "files.getUploadURLExternal", "503"): 1.0,
        ("slack", "chat.update", "503"): 1.0,
        ("slack", "chat.postMessage", "429"): 1.0,
        ("slack", "auth.test", "network"): 1.0,
    }
