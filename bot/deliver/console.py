"""Console alerts: what `threatwatch run` prints when no chat platform is configured."""

from __future__ import annotations

import sys
import textwrap
import time
from typing import TYPE_CHECKING, TextIO

from bot.core.models import Match
from bot.core.records import OutboxEntry
from bot.deliver.ratelimit import Rate
from bot.messages.replies import Reply, clip

if TYPE_CHECKING:
    from bot.deliver.sink import SendOptions

CONSOLE = "console"


def render_console_alert(match: Match) -> str:
    """A readable, explained alert (pure)."""
    a = match.article
    verdict = f"{match.score:.3f} ≥ threshold {match.threshold:.3f}"
    if match.similarity is not None:
        verdict += f"  (similarity to nearest seed {match.similarity:.3f})"
    kind = {"update": "UPDATE", "repeat": "ALSO REPORTED"}.get(match.story_role, "ALERT")
    story = f" · story #{match.story_id}" if match.story_id is not None else ""
    lines = [
        f"━━ {kind} #{match.id} · topic {match.topic}{story} ━━",
        f"{a.title}",
        *([f"  {match.roles}"] if match.roles else []),
        f"  source:    {a.source or '-'}",
        f"  published: {a.published:%Y-%m-%d %H:%M} UTC",
        f"  score:     {verdict}",
        f"  link:      {a.url or '-'}",
        f"  nearest seed: {match.seed_title or '-'}",
    ]
    if match.summary:
        lines += [
            "  summary:",
            textwrap.indent(textwrap.fill(match.summary, width=96), "    "),
        ]
    lines += [
        "  best passage:",
        textwrap.indent(textwrap.fill(clip(match.passage, 600), width=96), "    "),
    ]
    return "\n".join(lines)


class ConsoleSink:
    platform = CONSOLE
    global_rate = Rate(1000, 1.0)  # a terminal has no rate limit worth the name
    sends_in_flight = 16

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stdout
        self.printed = 0

    def chat_rate(self, chat_id: str) -> Rate:
        return self.global_rate

    async def send(self, entry: OutboxEntry, options: SendOptions) -> str | None:
        print(render_console_alert(entry.match), file=self.stream, flush=True)
        return self._ref()

    async def find_sent(self, entry: OutboxEntry, options: SendOptions) -> str | None:
        return None  # what was printed cannot be read back: an interrupted alert prints again

    async def post(
        self, chat_id: str, thread_id: str, reply: Reply, options: SendOptions
    ) -> str | None:
        print(reply.plain_text(), file=self.stream, flush=True)
        return self._ref()

    async def edit(self, chat_id: str, message_ref: str, reply: Reply) -> None:
        print(
            f"(update of message {message_ref})\n{reply.plain_text()}", file=self.stream, flush=True
        )

    def _ref(self) -> str:
        # a reference lets later reports of the same story be threaded under this one; the
        # time keeps references unique across restarts
        self.printed += 1
        return f"console-{time.time_ns()}-{self.printed}"
