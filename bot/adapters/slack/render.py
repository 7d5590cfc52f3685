"""Neutral replies → Slack Block Kit (pure).

Every string is escaped for Slack mrkdwn (``&``, ``<``, ``>``), so text from a feed can never
become a link, a mention or ``<!channel>``. Messages keep to Block Kit's limits: a section's text
at most 3000 characters, at most 50 blocks, the plain-text fallback (used for notifications) at
most 3000 characters; what does not fit is cut on a line or span boundary and marked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bot.adapters.chat.commands import BY_NAME
from bot.messages.replies import Button, Line, Reply, Span, Style

MAX_SECTION = 3000  # characters of mrkdwn in one section block
MAX_BLOCKS = 50
MAX_FALLBACK = 3000  # the message's `text`: notifications and clients without blocks
MAX_BUTTON_LABEL = 75
ACTION_PREFIX = "threatwatch:"  # action_id of our buttons: threatwatch:<action>
TRUNCATED = "… (truncated)"
PREFIX = "/threatwatch "

# formatting characters that would close a styled span early: replaced by look-alikes inside it
_DELIMITER = {
    Style.BOLD: ("*", "∗"),
    Style.ITALIC: ("_", "ˍ"),
    Style.CODE: ("`", "ˋ"),
}
_COMMAND = re.compile(
    r"(?<![\w/.:-])/(" + "|".join(sorted(BY_NAME, key=len, reverse=True)) + r")\b"
)

Block = dict[str, Any]


@dataclass(frozen=True)
class SlackMessage:
    text: str  # mrkdwn fallback
    blocks: list[Block]

    def payload(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": self.blocks}


def escape(text: str) -> str:
    """Slack's three control characters; nothing else needs (or has) an escape."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slash_commands(text: str, prefix: str = PREFIX) -> str:
    """The neutral layer names commands Telegram-style (``/latest``); on Slack they are
    ``/threatwatch latest``."""
    return _COMMAND.sub(lambda m: prefix + m.group(1), text)


def _safe_url(url: str | None) -> str | None:
    if not url or not url.lower().startswith(("http://", "https://")):
        return None
    # inside <url|label> a "|" would end the URL and whitespace breaks it
    return escape(url.replace("|", "%7C").replace(" ", "%20"))


def span_mrkdwn(span: Span) -> str:
    text = span.text
    if span.style is Style.LINK:
        url = _safe_url(span.url)
        label = escape(text).replace("\n", " ")
        return f"<{url}|{label}>" if url and label.strip() else escape(text)
    text = slash_commands(text)
    if span.style not in _DELIMITER:
        return escape(text)
    char, lookalike = _DELIMITER[span.style]
    core = text.strip()
    if not core:
        return escape(text)
    # a delimiter must touch its text: keep surrounding blanks outside it
    lead = text[: len(text) - len(text.lstrip())]
    trail = text[len(text.rstrip()) :]
    return f"{lead}{char}{escape(core.replace(char, lookalike))}{char}{trail}"


def line_mrkdwn(line: Line) -> str:
    return "".join(span_mrkdwn(s) for s in line)


def _fit_line(line: Line, budget: int) -> str:
    """One line too long for a section on its own: cut inside the span that overflows, so no
    markup or escape is ever split."""
    out = ""
    for span in line:
        piece = span_mrkdwn(span)
        if len(out) + len(piece) <= budget:
            out += piece
            continue
        text = span.text
        while text:
            overflow = len(out) + len(piece) - budget
            text = text[: max(len(text) * 3 // 4, len(text) - overflow)]
            piece = span_mrkdwn(Span(text.rstrip() + "…", span.style, span.url))
            if len(out) + len(piece) <= budget:
                return out + piece
        break
    # nothing of the overflowing span fits with its markup (e.g. a huge URL): plain text
    return out or clip_escaped("".join(s.text for s in line), budget)


def _paragraphs(reply: Reply) -> list[list[Line]]:
    paragraphs: list[list[Line]] = [[]]
    for line in reply.lines:
        if not any(span.text.strip() for span in line):
            if paragraphs[-1]:
                paragraphs.append([])
        else:
            paragraphs[-1].append(line)
    return [p for p in paragraphs if p]


def _sections(reply: Reply) -> list[str]:
    """mrkdwn texts, one per section block: a paragraph each, split where it is too long."""
    sections: list[str] = []
    for paragraph in _paragraphs(reply):
        current: list[str] = []
        size = 0
        for line in paragraph:
            text = line_mrkdwn(line)
            if len(text) > MAX_SECTION:
                text = _fit_line(line, MAX_SECTION)
            if current and size + 1 + len(text) > MAX_SECTION:
                sections.append("\n".join(current))
                current, size = [], 0
            current.append(text)
            size += len(text) + (1 if size else 0)
        sections.append("\n".join(current))
    return sections


def fallback_text(reply: Reply, limit: int = MAX_FALLBACK) -> str:
    """The notification text: the reply as plain text, escaped, at most ``limit`` characters."""
    return clip_escaped(reply.plain_text().strip() or " ", limit)


def clip_escaped(raw: str, limit: int) -> str:
    """``raw`` escaped, cut before escaping so no entity is split, at most ``limit`` long."""
    text = escape(raw)
    while len(text) > limit:
        raw = raw[: len(raw) - (len(text) - limit) - 1].rstrip()
        text = escape(raw) + "…"
    return text


def action_id(button: Button) -> str:
    return ACTION_PREFIX + button.action.value


def parse_action(action_id_: str) -> str:
    """The neutral action name of one of our buttons ("" for anything else)."""
    return action_id_[len(ACTION_PREFIX) :] if action_id_.startswith(ACTION_PREFIX) else ""


def _actions(buttons: tuple[Button, ...]) -> Block:
    return {
        "type": "actions",
        "block_id": "threatwatch-actions",
        "elements": [
            {
                "type": "button",
                "text": {"type": "plain_text", "text": b.label[:MAX_BUTTON_LABEL], "emoji": True},
                "action_id": action_id(b),
                "value": b.value[:2000],
            }
            for b in buttons[:25]
        ],
    }


def render(reply: Reply) -> SlackMessage:
    sections = _sections(reply)
    room = MAX_BLOCKS - (1 if reply.buttons else 0)
    truncated = len(sections) > room
    if truncated:
        sections = sections[: room - 1]
    blocks: list[Block] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": text}} for text in sections
    ]
    if truncated:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": TRUNCATED}]})
    if reply.buttons:
        blocks.append(_actions(reply.buttons))
    return SlackMessage(fallback_text(reply), blocks)
