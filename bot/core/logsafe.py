"""Keeps tokens and secrets out of log output.

Libraries log what they see: httpx logs request URLs, and a Telegram Bot API URL carries the bot
token (``…/bot<token>/sendMessage``); a traceback may quote one too. Every handler of the root
logger gets a formatter that replaces each configured secret in the finished text (message,
arguments and traceback alike). The command line's one-line errors (`error: …` on stderr) go
through ``redact_configured`` the same way.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable

from bot.core.settings import Settings

REDACTED = "[redacted]"
MIN_SECRET = 6  # shorter values would blank out ordinary words
SECRET_SETTINGS = (
    "telegram_token",
    "telegram_webhook_secret",
    "slack_bot_token",
    "slack_app_token",
    "slack_signing_secret",
    "database_url",  # may carry a password
)


def secrets_of(settings: Settings) -> list[str]:
    """Every secret setting, and the secret half of a Telegram token (after its colon)."""
    return _with_token_half({name: getattr(settings, name) for name in SECRET_SETTINGS})


def configured_secrets() -> list[str]:
    """The secrets the settings hold (environment and ``.env``). When the settings cannot be
    read (the error being reported may say why), the secret variables of the environment."""
    try:
        return secrets_of(Settings())
    except Exception:
        return _with_token_half(
            {name: os.environ.get(f"THREATWATCH_{name.upper()}") for name in SECRET_SETTINGS}
        )


def redact_configured(text: str) -> str:
    """``text`` with every configured secret replaced, as the log formatter does."""
    return redact(text, RedactingFormatter(None, configured_secrets()).secrets)


def _with_token_half(values: dict[str, str | None]) -> list[str]:
    out = [v for v in values.values() if v]
    token = values.get("telegram_token")
    if token and ":" in token:
        out.append(token.split(":", 1)[1])
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
