"""What users type in Slack → a command name and its argument text (pure).

Slack sends message text escaped (``&amp;``, ``&lt;``, ``&gt;``) and wraps links, mentions and
channels in ``<…>``; commands want the plain text and bare URLs.
"""

from __future__ import annotations

import re

_LINK = re.compile(r"<((?:https?|mailto):[^|>\s]+)(?:\|[^>]*)?>")
_USER = re.compile(r"<@([A-Z0-9]+)(?:\|[^>]*)?>")
_NAME = re.compile(r"^[A-Za-z0-9_]{1,64}$")


def unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def plain_text(text: str) -> str:
    """Links → their URL, then Slack's escapes undone."""
    return unescape(_LINK.sub(lambda m: m.group(1), text))


def without_mention(text: str, bot_user_id: str | None) -> str:
    """An app mention's text with the bot's own mention(s) removed."""
    if not bot_user_id:
        return _USER.sub("", text, count=1)
    return _USER.sub(lambda m: "" if m.group(1) == bot_user_id else m.group(0), text)


def split_command(text: str) -> tuple[str, str]:
    """``"latest militia 3"`` → ``("latest", "militia 3")``; empty text asks for help. A
    leading ``/`` is tolerated (``/threatwatch /latest``)."""
    text = plain_text(text).strip()
    if not text:
        return "help", ""
    parts = text.split(None, 1)
    name = parts[0].lstrip("/")
    rest = parts[1] if len(parts) > 1 else ""
    if name.lower() == "threatwatch":  # "/threatwatch latest" typed into a message
        return split_command(rest)
    if not _NAME.match(name):
        # not a command word: let the dispatcher answer "unknown command" with the pointer
        return name[:40] or "help", rest
    return name, rest
