"""Keeps tokens and secrets out of log output.

Libraries log what they see: httpx logs request URLs, and a Telegram Bot API URL carries the bot
token (``…/bot<token>/sendMessage``); a traceback may quote one too. Every handler of the root
logger gets a formatter that replaces each configured secret in the finished text (message,
arguments and traceback alike).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from bot.settings import Settings

REDACTED = "[redacted]"
MIN_SECRET = 6  # shorter values would blank out ordinary words


def secrets_of(settings: Settings) -> list[str]:
    """Every secret setting, and the secret half of a Telegram token (after its colon)."""
    values = [
        settings.telegram_token,
        settings.telegram_webhook_secret,
        settings.slack_bot_token,
        settings.slack_app_token,
        settings.slack_signing_secret,
    ]
    out = [v for v in values if v]
    if settings.telegram_token and ":" in settings.telegram_token:
        out.append(settings.telegram_token.split(":", 1)[1])
    return out


class RedactingFormatter(logging.Formatter):
    def __init__(self, inner: logging.Formatter | None, secrets: Iterable[str]):
        super().__init__()
        self.inner = inner or logging.Formatter()
        self.secrets = sorted({s for s in secrets if len(s) >= MIN_SECRET}, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        return redact(self.inner.format(record), self.secrets)


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text


def redact_secrets(secrets: Iterable[str]) -> None:
    """Wrap the formatter of every root handler (once; a second call adds the new secrets)."""
    wanted = list(secrets)
    if not wanted:
        return
    for handler in logging.getLogger().handlers:
        current = handler.formatter
        if isinstance(current, RedactingFormatter):
            handler.setFormatter(RedactingFormatter(current.inner, [*current.secrets, *wanted]))
        else:
            handler.setFormatter(RedactingFormatter(current, wanted))
