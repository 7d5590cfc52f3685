"""Chats that receive alerts ("channels"), their settings and subscriptions (pure).

A channel is one place alerts go: a private chat, a group, a Telegram channel, a forum topic
(chat id + thread id) or a Slack channel. Its settings are stored as JSON in the store's
``channels.settings`` column and parsed here, so validation has one home.
"""

from __future__ import annotations

import enum
import re
from dataclasses import asdict, dataclass, replace
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.core.errors import BadArgument

HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


class DeliveryMode(enum.StrEnum):
    INSTANT = "instant"  # one message per alert, as it arrives
    DIGEST = "digest"  # one message per day at the chosen hour, grouped by story


class Threading(enum.StrEnum):
    REPLY = "reply"  # a later report of a story is sent as a reply to its first alert
    FOLD = "fold"  # …or folded into the first alert ("also reported by …"), no new message


class SubscriptionStatus(enum.StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"  # the platform said the chat is gone or the bot was blocked


def parse_hhmm(value: str) -> time:
    m = HHMM.match(value.strip())
    if not m:
        raise BadArgument(f"bad time {value[:20]!r}: use HH:MM, e.g. 08:00")
    return time(int(m.group(1)), int(m.group(2)))


def parse_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise BadArgument(
            f"unknown time zone {value[:40]!r}: use e.g. UTC or Europe/Berlin"
        ) from exc
    return value


@dataclass(frozen=True)
class ChatSettings:
    mode: DeliveryMode = DeliveryMode.INSTANT
    digest_at: str = "08:00"  # local time of the daily digest (HH:MM)
    timezone: str = "UTC"
    min_score: float | None = None  # alerts below this score are not sent to this chat
    quiet: str | None = None  # "22:00-07:00": alerts arrive silently (no notification)
    threading: Threading = Threading.REPLY
    last_digest_at: str | None = None  # ISO time of the last digest sent
    spikes: bool = True  # activity spike alerts (with the trend chart) for subscribed topics

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ChatSettings:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        settings = cls(**known)
        return replace(
            settings, mode=DeliveryMode(settings.mode), threading=Threading(settings.threading)
        )

    def to_json(self) -> dict[str, Any]:
        return {k: (v.value if isinstance(v, enum.Enum) else v) for k, v in asdict(self).items()}

    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def in_quiet_hours(self, now: datetime) -> bool:
        if not self.quiet:
            return False
        start_text, end_text = self.quiet.split("-")
        start, end = parse_hhmm(start_text), parse_hhmm(end_text)
        local = now.astimezone(self.zone()).time()
        if start <= end:
            return start <= local < end
        return local >= start or local < end  # spans midnight

    def digest_due(self, now: datetime) -> bool:
        """True once today's digest hour (local time) has passed and no digest was sent since."""
        local_now = now.astimezone(self.zone())
        at = parse_hhmm(self.digest_at)
        slot = local_now.replace(hour=at.hour, minute=at.minute, second=0, microsecond=0)
        if local_now < slot:
            slot -= timedelta(days=1)
        if self.last_digest_at is None:
            # a chat that just switched to digest mode gets its first digest at the next slot
            return False
        return datetime.fromisoformat(self.last_digest_at) < slot


def apply_setting(settings: ChatSettings, key: str, values: list[str]) -> ChatSettings:
    """One `/settings KEY VALUE…` change, validated; raises BadArgument with the fix."""
    key = key.lower()
    value = values[0] if values else ""
    if key == "mode":
        if value == DeliveryMode.INSTANT:
            return replace(settings, mode=DeliveryMode.INSTANT)
        if value == DeliveryMode.DIGEST:
            at = parse_hhmm(values[1]) if len(values) > 1 else parse_hhmm(settings.digest_at)
            return replace(settings, mode=DeliveryMode.DIGEST, digest_at=f"{at:%H:%M}")
        raise BadArgument("mode is 'instant' or 'digest HH:MM'")
    if key == "digest":
        return replace(settings, digest_at=f"{parse_hhmm(value):%H:%M}")
    if key in ("timezone", "tz"):
        return replace(settings, timezone=parse_timezone(value))
    if key in ("min_score", "minscore"):
        if value in ("off", "none"):
            return replace(settings, min_score=None)
        return replace(settings, min_score=parse_score(value))
    if key == "quiet":
        if value in ("off", "none"):
            return replace(settings, quiet=None)
        start, sep, end = value.partition("-")
        if not sep:
            raise BadArgument("quiet hours look like 22:00-07:00 (or 'off')")
        return replace(settings, quiet=f"{parse_hhmm(start):%H:%M}-{parse_hhmm(end):%H:%M}")
    if key == "threading":
        try:
            return replace(settings, threading=Threading(value))
        except ValueError as exc:
            raise BadArgument("threading is 'reply' or 'fold'") from exc
    if key == "spikes":
        if value not in ("on", "off"):
            raise BadArgument("spikes is 'on' or 'off'")
        return replace(settings, spikes=value == "on")
    raise BadArgument(
        f"unknown setting {key[:30]!r}: use mode, digest, timezone, min_score, quiet, "
        "threading or spikes"
    )


def parse_score(value: str) -> float:
    try:
        score = float(value)
    except ValueError as exc:
        raise BadArgument(f"bad score {value[:20]!r}: use a number between 0 and 1") from exc
    if not 0.0 <= score <= 1.0:
        raise BadArgument(f"score {score} is out of range: use a number between 0 and 1")
    return score


@dataclass(frozen=True)
class ChannelKey:
    """Where a command came from / where alerts go, as the platform names it."""

    platform: str
    chat_id: str
    thread_id: str = ""  # forum topic (Telegram message_thread_id); "" for the whole chat
    title: str | None = None


@dataclass(frozen=True)
class Channel:
    id: int
    platform: str
    chat_id: str
    thread_id: str
    title: str | None
    settings: ChatSettings


@dataclass(frozen=True)
class Subscription:
    channel_id: int
    topic: str
    status: SubscriptionStatus
    paused_reason: str | None
