"""Neutral replies → Telegram HTML (pure). Every external string is escaped; a message never
exceeds Telegram's 4096-character limit (whole lines are dropped from the end first)."""

from __future__ import annotations

import html
from dataclasses import dataclass

from bot.messages.replies import Button, Line, Reply, Span, Style

MAX_MESSAGE = 4096
TRUNCATED = "\n… (truncated)"
CALLBACK_SEP = ":"

# the updates the bot asks Telegram for, polling or by webhook
ALLOWED_UPDATES = ["message", "channel_post", "callback_query"]


@dataclass(frozen=True)
class TelegramMessage:
    html: str
    keyboard: tuple[tuple[tuple[str, str], ...], ...]  # rows of (label, callback_data)


def utf16_len(text: str) -> int:
    """Telegram measures message length in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def span_html(span: Span) -> str:
    text = html.escape(span.text, quote=False)
    if span.style is Style.BOLD:
        return f"<b>{text}</b>"
    if span.style is Style.ITALIC:
        return f"<i>{text}</i>"
    if span.style is Style.CODE:
        return f"<code>{text}</code>"
    if (
        span.style is Style.LINK
        and span.url
        and span.url.lower().startswith(("http://", "https://"))
    ):
        return f'<a href="{html.escape(span.url, quote=True)}">{text}</a>'
    return text


def line_html(line: Line) -> str:
    return "".join(span_html(s) for s in line)


def _fit_line(line: Line, budget: int) -> str:
    """A single line that is too long on its own: cut its text, keeping tags balanced."""
    out = ""
    for span in line:
        piece = span_html(span)
        if utf16_len(out + piece) <= budget:
            out += piece
            continue
        room = budget - utf16_len(out) - len("<code></code>") - 1
        if room > 0:
            cut = Span(span.text[: max(room // 2, 0)] + "…", span.style, span.url)
            while utf16_len(span_html(cut)) > room and len(cut.text) > 1:
                cut = Span(cut.text[: len(cut.text) // 2] + "…", span.style, span.url)
            out += span_html(cut)
        break
    return out


def render_html(reply: Reply, limit: int = MAX_MESSAGE) -> str:
    lines = [line_html(line) for line in reply.lines]
    text = "\n".join(lines)
    if utf16_len(text) <= limit:
        return text
    budget = limit - utf16_len(TRUNCATED)
    kept: list[str] = []
    used = 0
    for line in reply.lines:
        piece = line_html(line)
        cost = utf16_len(piece) + (1 if kept else 0)
        if used + cost > budget:
            if not kept:  # the first line alone is too long
                kept.append(_fit_line(line, budget))
            break
        kept.append(piece)
        used += cost
    return "\n".join(kept) + TRUNCATED


def callback_data(button: Button) -> str:
    return f"{button.action.value}{CALLBACK_SEP}{button.value}"[:64]


def parse_callback(data: str) -> tuple[str, str]:
    action, _, value = data.partition(CALLBACK_SEP)
    return action, value


def render(reply: Reply) -> TelegramMessage:
    keyboard = (tuple((b.label, callback_data(b)) for b in reply.buttons),) if reply.buttons else ()
    return TelegramMessage(render_html(reply), keyboard)
