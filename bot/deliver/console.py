"""Console alerts: what `threatwatch run` prints when no chat platform is configured."""

from __future__ import annotations

import sys
import textwrap
from typing import TextIO

from bot.models import Match
from bot.store.store import OutboxEntry

CONSOLE = "console"


def render_console_alert(match: Match) -> str:
    """A readable, explained alert (pure)."""
    a = match.article
    verdict = f"{match.score:.3f} ≥ threshold {match.threshold:.3f}"
    lines = [
        f"━━ ALERT #{match.id} · topic {match.topic} ━━",
        f"{a.title}",
        f"  source:    {a.source or '-'}",
        f"  published: {a.published:%Y-%m-%d %H:%M} UTC",
        f"  score:     {verdict}",
        f"  link:      {a.url or '-'}",
        f"  nearest seed: {match.seed_title or '-'}",
        "  best passage:",
        textwrap.indent(textwrap.fill(_clip(match.passage, 600), width=96), "    "),
    ]
    return "\n".join(lines)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


class ConsoleSink:
    platform = CONSOLE

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stdout

    async def send(self, entry: OutboxEntry) -> str | None:
        print(render_console_alert(entry.match), file=self.stream, flush=True)
        return None
