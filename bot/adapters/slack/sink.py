"""Slack delivery: neutral replies posted with slack-sdk's AsyncWebClient as Block Kit, Slack's
errors translated into the delivery error tree (429 → RateLimited with Retry-After; a channel
that is gone, archived or no longer has the bot → ChatGone; network, 5xx and anything else →
TransientDeliveryError)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack.render import clip_escaped, render
from bot.core.errors import ChatGone, RateLimited, TransientDeliveryError
from bot.core.records import OutboxEntry
from bot.deliver.ratelimit import Rate
from bot.deliver.sink import SendOptions
from bot.messages.alerts import alert_reply
from bot.messages.replies import Reply

SLACK = "slack"
# errors after which this channel cannot receive anything until someone acts (re-invites the
# bot, unarchives the channel, reinstalls the app): pause its subscriptions
GONE_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "restricted_action",
        "account_inactive",
        "token_revoked",
        "team_access_not_granted",
    }
)
DEFAULT_RETRY_AFTER = 1.0


def retry_after(response: Any) -> float:
    headers = getattr(response, "headers", None) or {}
    for key, value in headers.items():
        if key.lower() == "retry-after":
            try:
                return max(float(value if isinstance(value, str) else value[0]), 0.0)
            except (TypeError, ValueError, IndexError):
                break
    return DEFAULT_RETRY_AFTER


def error_code(exc: SlackApiError) -> str:
    """Slack's error code ("channel_not_found"…), or the HTTP status when the body had none."""
    response = exc.response
    data = getattr(response, "data", None)
    if isinstance(data, dict) and data.get("error"):
        return str(data["error"])
    return f"HTTP {getattr(response, 'status_code', '?')}"


@asynccontextmanager
async def translated_errors() -> AsyncIterator[None]:
    """slack-sdk's and aiohttp's exceptions → the delivery error tree."""
    try:
        yield
    except SlackApiError as exc:
        error = error_code(exc)
        if getattr(exc.response, "status_code", 0) == 429 or error == "ratelimited":
            raise RateLimited(
                f"rate limited ({error})", retry_after=retry_after(exc.response)
            ) from exc
        if error in GONE_ERRORS:
            raise ChatGone(f"slack: {error}") from exc
        raise TransientDeliveryError(f"slack: {error}") from exc
    except (SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
        raise TransientDeliveryError(f"slack: {exc.__class__.__name__}: {exc}") from exc


async def post_reply(
    client: AsyncWebClient, channel: str, reply: Reply, *, thread_ts: str | None = None
) -> str:
    """Post a neutral reply to a channel (a document is uploaded as a file with the reply as
    its comment); returns the message's ts."""
    message = render(reply)
    if reply.photo is not None:  # Slack shows an uploaded PNG inline, the reply its comment
        await client.files_upload_v2(
            channel=channel,
            thread_ts=thread_ts,
            content=reply.photo.content,
            filename=reply.photo.filename,
            title=reply.photo.filename,
            initial_comment=clip_escaped(reply.plain_text(), 3000),
        )
        return ""
    if reply.document is not None:
        await client.files_upload_v2(
            channel=channel,
            thread_ts=thread_ts,
            content=reply.document.content,
            filename=reply.document.filename,
            title=reply.document.filename,
            initial_comment=clip_escaped(reply.plain_text(), 3000),
        )
        return ""
    response = await client.chat_postMessage(
        channel=channel,
        thread_ts=thread_ts or None,
        unfurl_links=False,
        unfurl_media=False,
        **message.payload(),
    )
    return str(response["ts"])


class SlackSink:
    platform = SLACK
    # Slack allows about one message a second per channel (short bursts tolerated) and a few
    # hundred a minute per workspace; like the Telegram sink, it stays a little under them
    global_rate = Rate(18, 1.0)

    def __init__(self, client: AsyncWebClient):
        self.client = client

    def chat_rate(self, chat_id: str) -> Rate:
        return Rate(1, 1.15)

    async def send(self, entry: OutboxEntry, options: SendOptions) -> str | None:
        return await self.post(entry.chat_id, entry.thread_id, alert_reply(entry.match), options)

    async def post(
        self, chat_id: str, thread_id: str, reply: Reply, options: SendOptions
    ) -> str | None:
        # Slack has no silent send: quiet hours do not change a Slack message
        async with translated_errors():
            return await post_reply(
                self.client, chat_id, reply, thread_ts=options.reply_to or thread_id or None
            )

    async def edit(self, chat_id: str, message_ref: str, reply: Reply) -> None:
        async with translated_errors():
            await self.client.chat_update(
                channel=chat_id, ts=message_ref, **render(reply).payload()
            )
