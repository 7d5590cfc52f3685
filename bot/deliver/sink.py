"""What the outbox needs of a chat platform: a Sink sends one alert, posts a neutral reply, edits
a sent message, and says its rate limits. Telegram's and Slack's live in bot/adapters/."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from bot.core.records import OutboxEntry
from bot.deliver.ratelimit import Rate
from bot.messages.replies import Reply

# Told of every chat platform API call that failed, whatever made it (a send, an edit, an upload,
# getUpdates, auth.test…): (platform, API method, code), the code being the HTTP status, the
# platform's own error name when it answered 200 with an error (Slack), or timeout / network
ApiErrorObserver = Callable[[str, str, str], None]


@dataclass(frozen=True)
class SendOptions:
    reply_to: str | None = None  # message ref of the first alert of the same story
    silent: bool = False  # quiet hours: deliver without a notification sound


class Sink(Protocol):
    platform: str
    global_rate: Rate

    def chat_rate(self, chat_id: str) -> Rate: ...

    async def send(self, entry: OutboxEntry, options: SendOptions) -> str | None:
        """Send one alert; return the platform's message reference. Raises DeliveryError."""
        ...

    async def post(
        self, chat_id: str, thread_id: str, reply: Reply, options: SendOptions
    ) -> str | None:
        """Send any neutral reply (digests). Raises DeliveryError."""
        ...

    async def edit(self, chat_id: str, message_ref: str, reply: Reply) -> None:
        """Replace a sent message (folding later reports into it). Raises DeliveryError."""
        ...
