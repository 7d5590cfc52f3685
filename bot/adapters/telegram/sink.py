"""Telegram delivery: neutral replies sent with python-telegram-bot, Telegram's errors translated
into the delivery error tree (429 → RateLimited, 403/chat gone → ChatGone, 5xx/timeouts →
TransientDeliveryError)."""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    LinkPreviewOptions,
    Message,
    ReplyParameters,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, RetryAfter, TelegramError

from bot.adapters.telegram.render import TelegramMessage, render
from bot.core.errors import ChatGone, RateLimited, TransientDeliveryError
from bot.core.records import OutboxEntry
from bot.deliver.ratelimit import Rate
from bot.deliver.sink import SendOptions
from bot.messages.alerts import alert_reply
from bot.messages.replies import Reply

TELEGRAM = "telegram"
# BadRequest texts that mean the chat (or forum topic) cannot receive anything any more
GONE_TEXTS = (
    "chat not found",
    "thread not found",
    "topic_closed",
    "topic_deleted",
    "not enough rights",
)


def keyboard(message: TelegramMessage) -> InlineKeyboardMarkup | None:
    if not message.keyboard:
        return None
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(label, callback_data=data) for label, data in row]
            for row in message.keyboard
        ]
    )


def retry_after_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB 22 deprecates the int form of this attribute
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


@asynccontextmanager
async def translated_errors() -> AsyncIterator[None]:
    """Telegram's exceptions → the delivery error tree."""
    try:
        yield
    except RetryAfter as exc:
        raise RateLimited(str(exc), retry_after=retry_after_seconds(exc)) from exc
    except Forbidden as exc:
        raise ChatGone(f"forbidden: {exc.message}") from exc
    except ChatMigrated as exc:
        raise ChatGone(f"group moved to supergroup {exc.new_chat_id}: subscribe there") from exc
    except BadRequest as exc:
        if any(text in exc.message.lower() for text in GONE_TEXTS):
            raise ChatGone(f"bad request: {exc.message}") from exc
        raise TransientDeliveryError(f"bad request: {exc.message}") from exc
    except TelegramError as exc:  # NetworkError, TimedOut, 5xx
        raise TransientDeliveryError(f"{exc.__class__.__name__}: {exc.message}") from exc


async def post_reply(
    bot: Bot,
    chat_id: str | int,
    thread_id: str | int | None,
    reply: Reply,
    *,
    reply_to: int | None = None,
    silent: bool = False,
) -> Message:
    """Send a neutral reply as HTML (or as a document with an HTML caption)."""
    message = render(reply)
    common = {
        "chat_id": int(chat_id),
        "message_thread_id": int(thread_id) if thread_id else None,
        "disable_notification": silent,
        "parse_mode": ParseMode.HTML,
        "reply_markup": keyboard(message),
        "reply_parameters": (
            ReplyParameters(message_id=reply_to, allow_sending_without_reply=True)
            if reply_to
            else None
        ),
    }
    if reply.photo is not None:  # a picture with the reply as its caption
        photo = InputFile(reply.photo.content, filename=reply.photo.filename)
        return await bot.send_photo(photo=photo, caption=message.html[:1024], **common)  # type: ignore[arg-type]
    if reply.document is not None:
        doc = InputFile(reply.document.content, filename=reply.document.filename)
        return await bot.send_document(document=doc, caption=message.html[:1024], **common)  # type: ignore[arg-type]
    return await bot.send_message(
        text=message.html,
        link_preview_options=LinkPreviewOptions(is_disabled=True),
        **common,  # type: ignore[arg-type]
    )


class TelegramSink:
    platform = TELEGRAM
    # Telegram's limits are about 30 messages/s overall, 20/min per group and 1/s per private
    # chat. The bot stays a little under them: requests queue and travel at uneven speeds, so
    # messages spaced exactly at the limit here can arrive closer together there.
    global_rate = Rate(27, 1.0)

    def __init__(self, bot: Bot, *, sends_in_flight: int = 1):
        self.bot = bot
        # one by default: a crash then costs at most one duplicate (see find_sent); more go
        # faster where the round trip to Telegram is long, at up to that many per crash
        self.sends_in_flight = sends_in_flight

    def chat_rate(self, chat_id: str) -> Rate:
        # groups and channels have negative ids: about 20 messages a minute; private: about 1/s
        return Rate(18, 60.0) if chat_id.startswith("-") else Rate(1, 1.15)

    async def send(self, entry: OutboxEntry, options: SendOptions) -> str | None:
        return await self.post(entry.chat_id, entry.thread_id, alert_reply(entry.match), options)

    async def find_sent(self, entry: OutboxEntry, options: SendOptions) -> str | None:
        # The Bot API can neither read a chat's history nor take an idempotency key: an alert
        # whose attempt was cut short (a crash after Telegram accepted it) is sent again, so it
        # may arrive twice, once per crash (docs/RELIABILITY.md)
        return None

    async def post(
        self, chat_id: str, thread_id: str, reply: Reply, options: SendOptions
    ) -> str | None:
        async with translated_errors():
            sent = await post_reply(
                self.bot,
                chat_id,
                thread_id,
                reply,
                reply_to=int(options.reply_to) if options.reply_to else None,
                silent=options.silent,
            )
        return str(sent.message_id)

    async def edit(self, chat_id: str, message_ref: str, reply: Reply) -> None:
        message = render(reply)
        try:
            async with translated_errors():
                await self.bot.edit_message_text(
                    message.html,
                    chat_id=int(chat_id),
                    message_id=int(message_ref),
                    parse_mode=ParseMode.HTML,
                    reply_markup=keyboard(message),
                    link_preview_options=LinkPreviewOptions(is_disabled=True),
                )
        except TransientDeliveryError as exc:
            if "not modified" not in str(exc):  # the same text again: nothing to do
                raise
