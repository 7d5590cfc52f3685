"""What a handler knows about the command it serves, filled in by each platform adapter."""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.core.channels import ChannelKey
from bot.service.bot_service import BotService


class ChatKind(enum.StrEnum):
    PRIVATE = "private"  # one user and the bot
    GROUP = "group"  # a group or supergroup (Slack: a channel with members)
    CHANNEL = "channel"  # a broadcast channel: only its admins can post


async def _no() -> bool:
    return False


@dataclass
class CommandContext:
    service: BotService
    chat: ChannelKey
    chat_kind: ChatKind
    user_id: str | None  # None when posted by a channel or an anonymous admin
    is_bot_admin: bool  # configured admin of this bot (THREATWATCH_TELEGRAM_ADMINS, …)
    # asks the platform whether the sender administers this chat (groups only)
    is_chat_admin: Callable[[], Awaitable[bool]] = _no
    command_prefix: str = "/"  # "/" on Telegram, "/threatwatch " on Slack
    replied_text: str | None = None  # text of the message this command replies to
    attachment: Callable[[], Awaitable[bytes]] | None = None  # a file sent with the command
    attachment_name: str | None = None

    async def may_manage_chat(self) -> bool:
        """Who may change this chat's subscriptions and settings: anyone in a private chat; in
        groups the chat's administrators (and the bot's admins); in channels only admins can
        post, so whoever posted."""
        if self.chat_kind is not ChatKind.GROUP or self.is_bot_admin:
            return True
        return await self.is_chat_admin()
