"""The Telegram adapter: python-telegram-bot's Application, started inside our own event loop
(initialize / start, then the elected long-poll listener of bot/adapters/telegram/listener.py
or a webhook), turning updates into neutral command contexts for bot/adapters/chat/dispatch.py
and rendering the replies as HTML."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re

from telegram import (
    BotCommand,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    Chat,
    ChatMember,
    Message,
    Update,
)
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.adapters.chat.commands import COMMANDS
from bot.adapters.chat.context import ChatKind, CommandContext
from bot.adapters.chat.dispatch import act, dispatch
from bot.adapters.telegram.listener import ElectedPoller, Election, UpdateLog
from bot.adapters.telegram.render import parse_callback
from bot.adapters.telegram.request import ObservedRequest
from bot.adapters.telegram.sink import TELEGRAM, post_reply
from bot.core.channels import ChannelKey
from bot.core.errors import ConfigError, ThreatwatchError
from bot.core.settings import Settings
from bot.deliver.sink import ApiErrorObserver
from bot.messages.replies import Reply
from bot.service.bot_service import BotService

log = logging.getLogger(__name__)

COMMAND = re.compile(r"^/([A-Za-z0-9_]{1,64})(?:@([A-Za-z0-9_]{3,64}))?(?:\s+|$)(.*)$", re.S)
START_RETRY_SECONDS = 5.0
KIND = {Chat.PRIVATE: ChatKind.PRIVATE, Chat.CHANNEL: ChatKind.CHANNEL}


def file_url(settings: Settings) -> str:
    if settings.telegram_file_url:
        return settings.telegram_file_url
    base = settings.telegram_api_url.rstrip("/")
    return base[: -len("/bot")] + "/file/bot" if base.endswith("/bot") else base + "/file/bot"


def build_application(
    settings: Settings, on_api_error: ApiErrorObserver | None = None
) -> Application:  # type: ignore[type-arg]
    """The Application; every failed Bot API call it makes is told to ``on_api_error``."""
    if not settings.telegram_token:
        raise ConfigError("THREATWATCH_TELEGRAM_TOKEN is not set")
    # opt in to PTB's timedelta durations (RetryAfter.retry_after): the int form is deprecated
    # and warns on every 429
    os.environ.setdefault("PTB_TIMEDELTA", "1")
    timeout = settings.telegram_request_timeout
    files = file_url(settings)
    # the pool sizes are ApplicationBuilder's own defaults (256 for calls, 1 for getUpdates)
    requests = ObservedRequest(
        on_api_error,
        file_url=files,
        connection_pool_size=256,
        http_version="1.1",
        connect_timeout=timeout,
        read_timeout=timeout,
        write_timeout=timeout,
    )
    updates = ObservedRequest(
        on_api_error,
        connection_pool_size=1,
        http_version="1.1",
        read_timeout=settings.telegram_poll_timeout + timeout,
    )
    builder = (
        ApplicationBuilder()
        .token(settings.telegram_token)
        .base_url(settings.telegram_api_url)
        .base_file_url(files)
        .request(requests)
        .get_updates_request(updates)
        .concurrent_updates(8)  # a slow /seed_add fetch does not hold up other chats
        # updates come from our own elected poller or the webhook, never PTB's Updater: only
        # one process of several may call getUpdates, and the offset is kept in the database
        .updater(None)
    )
    return builder.build()


class TelegramAdapter:
    def __init__(
        self,
        settings: Settings,
        service: BotService,
        application: Application,  # type: ignore[type-arg]
        *,
        updates: UpdateLog,
        election: Election,
    ):
        self.settings = settings
        self.service = service
        self.application = application
        self.updates = updates
        self.poller = ElectedPoller(
            application, election, updates, poll_timeout=settings.telegram_poll_timeout
        )
        self.username: str | None = None
        self._webhook: object | None = None
        self._polling: asyncio.Task[None] | None = None
        application.add_handler(
            MessageHandler(
                (filters.COMMAND | filters.CaptionRegex(r"^/")) & ~filters.UpdateType.EDITED,
                self.on_command,
            )
        )
        application.add_handler(CallbackQueryHandler(self.on_button))
        application.add_error_handler(self.on_error)

    # --- lifecycle --------------------------------------------------------------------------
    async def start(self, stop: asyncio.Event) -> bool:
        """Connect (retrying while the Bot API is unreachable), publish the command menu and
        start receiving updates. Returns False if stopped before it could connect."""
        while not stop.is_set():
            try:
                await self.application.initialize()
                break
            except TelegramError as exc:
                log.warning(
                    "telegram: cannot connect (%s); retrying in %.0fs", exc, START_RETRY_SECONDS
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), START_RETRY_SECONDS)
        if stop.is_set():
            return False
        self.username = self.application.bot.username
        await self.publish_commands()
        await self.application.start()
        if self.settings.telegram_webhook_url:
            from bot.adapters.telegram.webhook import start_webhook

            self._webhook = await start_webhook(self.settings, self.application, self.updates)
            log.info("telegram: @%s receiving updates", self.username)
        else:  # the elected listener polls; the other processes stand by
            self._polling = asyncio.create_task(self.poller.run(stop))
            log.info("telegram: @%s connected", self.username)
        return True

    async def stop(self) -> None:
        if self._webhook is not None:
            await self._webhook.cleanup()  # type: ignore[attr-defined]
        if self._polling is not None:
            self._polling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._polling
        if self.application.running:
            await self.application.stop()
        await self.application.shutdown()

    async def publish_commands(self) -> None:
        """setMyCommands from the command table: everyone's commands for all chats, every
        command in the private chats of the bot's admins."""
        bot = self.application.bot
        everyone = [BotCommand(c.name, c.description[:256]) for c in COMMANDS if not c.admin_only]
        every = [BotCommand(c.name, c.description[:256]) for c in COMMANDS]
        try:
            await bot.set_my_commands(everyone, scope=BotCommandScopeDefault())
            for admin in self.settings.telegram_admins:
                await bot.set_my_commands(every, scope=BotCommandScopeChat(admin))
        except TelegramError as exc:  # e.g. an admin who never opened a chat with the bot
            log.warning("telegram: setMyCommands: %s", exc)

    # --- updates ----------------------------------------------------------------------------
    def context_for(self, message: Message, user_id: int | None) -> CommandContext:
        chat = message.chat
        thread = (
            str(message.message_thread_id)
            if message.is_topic_message and message.message_thread_id
            else ""
        )
        anonymous_admin = message.sender_chat is not None and message.sender_chat.id == chat.id

        async def is_chat_admin() -> bool:
            if anonymous_admin:
                return True
            if user_id is None:
                return False
            try:
                member = await self.application.bot.get_chat_member(chat.id, user_id)
            except TelegramError as exc:
                log.warning("telegram: getChatMember %s/%s: %s", chat.id, user_id, exc)
                return False
            return member.status in (ChatMember.ADMINISTRATOR, ChatMember.OWNER)

        title = chat.title or chat.username or chat.full_name
        return CommandContext(
            service=self.service,
            chat=ChannelKey(TELEGRAM, str(chat.id), thread, title),
            chat_kind=KIND.get(chat.type, ChatKind.GROUP),
            user_id=None if user_id is None else str(user_id),
            is_bot_admin=user_id is not None and user_id in self.settings.telegram_admins,
            is_chat_admin=is_chat_admin,
        )

    async def on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None:
            return
        parsed = COMMAND.match(message.text or message.caption or "")
        if parsed is None:
            return
        name, addressee, rest = parsed.groups()
        if addressee and self.username and addressee.lower() != self.username.lower():
            return  # a command for another bot in the same group
        user = message.from_user
        ctx = self.context_for(message, user.id if user and not user.is_bot else None)
        replied = message.reply_to_message
        if replied is not None and not replied.forum_topic_created:
            ctx.replied_text = replied.text or replied.caption
        if message.document is not None:
            document = message.document
            ctx.attachment_name = document.file_name

            async def download() -> bytes:
                try:
                    file = await document.get_file()
                    return bytes(await file.download_as_bytearray())
                except TelegramError as exc:
                    raise ThreatwatchError(f"could not download the file: {exc}") from exc

            ctx.attachment = download
        reply = await dispatch(ctx, name, rest)
        await self.answer(message, reply)

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None or query.data is None or not isinstance(query.message, Message):
            return
        action, value = parse_callback(query.data)
        ctx = self.context_for(query.message, query.from_user.id)
        notice, reply = await act(ctx, action, value)
        await query.answer(notice or None)
        if reply is not None:
            await self.answer(query.message, reply)

    async def answer(self, message: Message, reply: Reply) -> None:
        try:
            await post_reply(
                self.application.bot,
                message.chat.id,
                message.message_thread_id if message.is_topic_message else None,
                reply,
                reply_to=message.message_id,
            )
        except TelegramError as exc:
            log.warning("telegram: reply to %s failed: %s", message.chat.id, exc)

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("telegram: error handling an update: %s", context.error, exc_info=context.error)
