"""What the outbox needs of a chat platform: a Sink sends one alert, posts a neutral reply, edits
a sent message, looks an earlier attempt up where the platform can, and says its rate limits.
Telegram's and Slack's live in bot/adapters/."""

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
    # this attempt's id: a platform that keeps data with a message (Slack's metadata) stores it
    # with the outbox row's and the alert's ids, so the message can be found after a crash
    attempt: str | None = None


class Sink(Protocol):
    platform: str
    global_rate: Rate
    # how many chats one process sends to at once, and claims at a time. Each send in flight
    # when a process dies is one the platform may get twice if it cannot be asked whether the
    # send arrived (Telegram): there, one at a time keeps it to one duplicate per crash
    sends_in_flight: int

    def chat_rate(self, chat_id: str) -> Rate: ...

    async def send(self, entry: OutboxEntry, options: SendOptions) -> str | None:
        """Send one alert; return the platform's message reference. Raises DeliveryError."""
        ...

    async def find_sent(self, entry: OutboxEntry, options: SendOptions) -> str | None:
        """The reference of a message an earlier attempt at ``entry`` left in the chat (where
        ``send`` with these options would have put it), or None: not there, or the platform
        cannot tell (Telegram). Raises DeliveryError when the platform cannot be asked."""
        ...

    async def post(
        self, chat_id: str, thread_id: str, reply: Reply, options: SendOptions
    ) -> str | None:
        """Send any neutral reply (digests). Raises DeliveryError."""
        ...

    async def edit(self, chat_id: str, message_ref: str, reply: Reply) -> None:
        """Replace a sent message (folding later reports into it). Raises DeliveryError."""
        ...
