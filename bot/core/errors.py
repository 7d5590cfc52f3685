"""One error tree, grouped by what the caller does about it.

Foreign exceptions (httpx, sqlite3, feedparser, model loading) are translated into these where
they are caught, so callers above the I/O seams only ever handle this tree.
"""

from __future__ import annotations

import re


class ThreatwatchError(Exception):
    """Base of every error this package raises on purpose."""


# --- refuse: the input is bad or not allowed; nothing changes -------------------------------
class Refused(ThreatwatchError):
    """Bad input or not allowed. The message is safe to show to the user as is."""


class BadArgument(Refused):
    """A command or CLI argument failed validation."""


class URLRefused(Refused):
    """A URL is malformed, has a scheme other than http(s), or points into a private network."""


class NotFound(Refused):
    """The named feed, topic, seed or article does not exist."""


# --- back off: a source is unavailable right now; try later --------------------------------
class FeedUnavailable(ThreatwatchError):
    """A fetch failed in a way that is worth retrying later (network, 5xx, 429, timeout)."""

    def __init__(
        self, message: str, *, retry_after: float | None = None, status: int | None = None
    ):
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status


class FetchTooLarge(FeedUnavailable):
    """The body (after decompression) went past the size cap. Retrying rarely helps."""


class FeedInvalid(ThreatwatchError):
    """The body was fetched but is not a feed we can read (or is hostile, e.g. carries a DTD)."""


# --- requeue / unsubscribe: delivery outcomes -----------------------------------------------
class DeliveryError(ThreatwatchError):
    """A send to a chat platform failed."""


class RateLimited(DeliveryError):
    """The platform asked us to wait; requeue after ``retry_after`` seconds."""

    def __init__(self, message: str, *, retry_after: float):
        super().__init__(message)
        self.retry_after = retry_after


class ChatGone(DeliveryError):
    """The chat is gone or the bot was removed/blocked: pause the subscription."""


class TransientDeliveryError(DeliveryError):
    """5xx, timeout, connection error: retry with backoff."""


# --- setup ------------------------------------------------------------------------------------
class ConfigError(ThreatwatchError):
    """Settings, config files or the model package are missing or broken; the message names the fix."""


class StoreError(ThreatwatchError):
    """The database cannot be written (read-only, disk full, locked past the timeout)."""


class LeaseLost(StoreError):
    """This process's lease on a feed (or its claim on a chat) ran out, or another took it
    over: its results for that feed are dropped, the feed's new holder polls it again; a chat
    whose claim was lost gets nothing more from this process until it claims the chat again."""


def error_kind(error: Exception) -> str:
    """``FetchTooLarge`` → ``fetch_too_large``: a metric label for a failed fetch."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(error).__name__).lower()
