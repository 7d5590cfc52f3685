"""Platform-neutral replies: lines of styled spans, buttons and an optional document.

Handlers build these; each platform renders them (Telegram HTML in bot/adapters/telegram/render.py,
Slack mrkdwn/blocks in the Slack adapter). Every string here is plain text: escaping is the
renderer's job, so no handler can forget it.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field


class Style(enum.StrEnum):
    PLAIN = "plain"
    BOLD = "bold"
    ITALIC = "italic"
    CODE = "code"
    LINK = "link"


@dataclass(frozen=True)
class Span:
    text: str
    style: Style = Style.PLAIN
    url: str | None = None


Line = tuple[Span, ...]


class Action(enum.StrEnum):
    """What an inline button does when pressed; the value is an alert id."""

    VOTE_UP = "up"
    VOTE_DOWN = "down"
    WHY = "why"
    # a 👎 with its reason (bot/chat/feedback_reasons.py)
    WRONG_TARGET = "wrong-target"
    NOT_AN_ATTACK = "not-attack"
    OLD_NEWS = "old-news"


@dataclass(frozen=True)
class Button:
    label: str
    action: Action
    value: str


@dataclass(frozen=True)
class Document:
    filename: str
    content: bytes


@dataclass(frozen=True)
class Reply:
    lines: tuple[Line, ...]
    buttons: tuple[Button, ...] = ()
    document: Document | None = None
    is_error: bool = False
    photo: Document | None = None  # a PNG shown as a picture (the trend chart), text its caption

    def plain_text(self) -> str:
        return "\n".join("".join(s.text for s in line) for line in self.lines)


def bold(text: str) -> Span:
    return Span(text, Style.BOLD)


def italic(text: str) -> Span:
    return Span(text, Style.ITALIC)


def code(text: str) -> Span:
    return Span(text, Style.CODE)


def link(text: str, url: str | None) -> Span:
    return Span(text, Style.LINK, url) if url else Span(text)


@dataclass
class ReplyBuilder:
    lines: list[Line] = field(default_factory=list)
    buttons: list[Button] = field(default_factory=list)

    def line(self, *parts: str | Span) -> ReplyBuilder:
        self.lines.append(tuple(p if isinstance(p, Span) else Span(p) for p in parts))
        return self

    def blank(self) -> ReplyBuilder:
        return self.line()

    def build(self, document: Document | None = None, photo: Document | None = None) -> Reply:
        return Reply(tuple(self.lines), tuple(self.buttons), document, photo=photo)


def text_reply(*lines: str | Sequence[str | Span]) -> Reply:
    builder = ReplyBuilder()
    for line in lines:
        builder.line(*(line,) if isinstance(line, str) else tuple(line))
    return builder.build()


def error_reply(message: str, usage: str | None = None) -> Reply:
    builder = ReplyBuilder().line("⚠️ ", message)
    if usage:
        builder.line("usage: ", code(usage))
    return Reply(tuple(builder.lines), is_error=True)


def clip(text: str, limit: int) -> str:
    """Cut on a word boundary with an ellipsis; never mid-word unless one word is too long."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut.rsplit(" ", 1)[0]
    return cut + "…"
