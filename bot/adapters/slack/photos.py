"""Pictures in Slack: a PNG (the trend chart) uploaded into a channel or thread, where Slack
shows it inline. The text that goes with it was already posted as the command's answer."""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.messages.replies import Document

log = logging.getLogger(__name__)


async def upload_photo(
    client: AsyncWebClient, channel: str, photo: Document, thread_ts: str | None = None
) -> None:
    try:
        await client.files_upload_v2(
            channel=channel,
            thread_ts=thread_ts or None,
            content=photo.content,
            filename=photo.filename,
            title=photo.filename,
        )
    except (SlackApiError, SlackClientError, OSError, TimeoutError) as exc:
        log.warning("slack: could not upload %s to %s: %s", photo.filename, channel, exc)
