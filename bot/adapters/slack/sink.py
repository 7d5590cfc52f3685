"""Slack delivery: neutral replies posted with slack-sdk's AsyncWebClient as Block Kit, Slack's
errors translated into the delivery error tree (429 → RateLimited with Retry-After; a channel
that is gone, archived or no longer has the bot → ChatGone; network, 5xx and anything else →
TransientDeliveryError)."""

from __future__ import annotations

import logging
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
log = logging.getLogger(__name__)
ALERT_EVENT = "threatwatch_alert"  # the event_type of an alert's message metadata
DIGEST_EVENT = "threatwatch_digest"  # …and of a digest's (its attempt, shared by its rows)
HISTORY_PAGE = 200  # messages per page of conversations.history / .replies
HISTORY_PAGES = 5  # how far back an earlier attempt is looked for: at most 1,000 messages
CLOCK_SLACK_SECONDS = 300  # look from a little before the alert was queued (clocks differ)
# history errors that mean the app may not read it (not a passing failure)
UNREADABLE_HISTORY = frozenset(
    {"missing_scope", "not_allowed_token_type", "method_not_supported_for_channel_type"}
)


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
    client: AsyncWebClient,
    channel: str,
    reply: Reply,
    *,
    thread_ts: str | None = None,
    metadata: dict[str, Any] | None = None,
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
        metadata=metadata,
        **message.payload(),
    )
    return str(response["ts"])


def alert_metadata(entry: OutboxEntry, attempt: str | None) -> dict[str, Any]:
    """What an alert's message carries (Slack's message metadata): the outbox row, the alert
    and the attempt, so that the message can be found in the channel after a crash."""
    payload: dict[str, Any] = {"outbox_id": entry.id, "alert_id": entry.match.id}
    if attempt:
        payload["attempt"] = attempt
    return {"event_type": ALERT_EVENT, "event_payload": payload}


def is_alert_for(message: dict[str, Any], entry: OutboxEntry) -> bool:
    """The message shows ``entry``: its own alert message, or the digest of its last attempt."""
    metadata = message.get("metadata") or {}
    payload = metadata.get("event_payload") or {}
    if metadata.get("event_type") == DIGEST_EVENT:
        return entry.attempt_id is not None and payload.get("attempt") == entry.attempt_id
    return (
        metadata.get("event_type") == ALERT_EVENT
        and str(payload.get("outbox_id")) == str(entry.id)
        and str(payload.get("alert_id")) == str(entry.match.id)
    )


class SlackSink:
    platform = SLACK
    # Slack allows about one message a second per channel (short bursts tolerated) and a few
    # hundred a minute per workspace; like the Telegram sink, it stays a little under them
    global_rate = Rate(18, 1.0)
    # a send cut short by a crash is looked up in the channel's history (find_sent), never
    # posted twice: any number may be in flight
    sends_in_flight = 16

    def __init__(self, client: AsyncWebClient):
        self.client = client

    def chat_rate(self, chat_id: str) -> Rate:
        return Rate(1, 1.15)

    async def send(self, entry: OutboxEntry, options: SendOptions) -> str | None:
        async with translated_errors():
            return await post_reply(
                self.client,
                entry.chat_id,
                alert_reply(entry.match),
                thread_ts=options.reply_to or entry.thread_id or None,
                metadata=alert_metadata(entry, options.attempt),
            )

    async def find_sent(self, entry: OutboxEntry, options: SendOptions) -> str | None:
        """The ts of a message of an earlier attempt at ``entry``: looked for by its metadata in
        the channel's history (or the thread's, for a reply), from a little before the alert was
        queued. Needs the channels:history (groups:history) scope."""
        thread = options.reply_to or entry.thread_id or None
        oldest = (
            f"{entry.queued_at.timestamp() - CLOCK_SLACK_SECONDS:.6f}" if entry.queued_at else None
        )
        async with translated_errors():
            try:
                return await self._find(entry, thread, oldest)
            except SlackApiError as exc:
                if error_code(exc) not in UNREADABLE_HISTORY:
                    raise
                reason = error_code(exc)
        # an app installed before it asked for the history scopes: it cannot tell, so it sends
        # again (at most one duplicate per crash, as on Telegram) rather than hold the alert
        log.warning(
            "slack: cannot read the history of %s (%s): give the app the channels:history and "
            "groups:history scopes; alert %d is sent again and may arrive twice",
            entry.chat_id,
            reason,
            entry.match.id,
            extra={"platform": SLACK, "chat": entry.chat_id, "alert_id": entry.match.id},
        )
        return None

    async def _find(self, entry: OutboxEntry, thread: str | None, oldest: str | None) -> str | None:
        cursor = None
        for _ in range(HISTORY_PAGES):
            page = await self._history_page(entry.chat_id, thread, oldest, cursor)
            for message in page.get("messages") or []:
                if is_alert_for(message, entry):
                    return str(message["ts"])
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
        return None

    async def post(
        self, chat_id: str, thread_id: str, reply: Reply, options: SendOptions
    ) -> str | None:
        # Slack has no silent send: quiet hours do not change a Slack message. A reply sent for
        # outbox rows (a digest) carries its attempt, so it can be found after a crash
        metadata = (
            {"event_type": DIGEST_EVENT, "event_payload": {"attempt": options.attempt}}
            if options.attempt
            else None
        )
        async with translated_errors():
            return await post_reply(
                self.client,
                chat_id,
                reply,
                thread_ts=options.reply_to or thread_id or None,
                metadata=metadata,
            )

    async def edit(self, chat_id: str, message_ref: str, reply: Reply) -> None:
        async with translated_errors():
            await self.client.chat_update(
                channel=chat_id, ts=message_ref, **render(reply).payload()
            )

    async def _history_page(
        self, channel: str, thread: str | None, oldest: str | None, cursor: str | None
    ) -> Any:
        # Slack returns message metadata only when asked for it
        if thread:
            return await self.client.conversations_replies(
                channel=channel, ts=thread, oldest=oldest, cursor=cursor, limit=HISTORY_PAGE,
                include_all_metadata=True,
            )  # fmt: skip
        return await self.client.conversations_history(
            channel=channel, oldest=oldest, cursor=cursor, limit=HISTORY_PAGE,
            include_all_metadata=True,
        )  # fmt: skip
