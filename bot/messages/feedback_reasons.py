"""Why a 👎: "wrong target", "not an attack", "old news" — the errors role reading is about.

A 👎 on an alert is answered with three buttons, one per reason; pressing one records the 👎
with its reason (one vote per user per alert: a reason replaces the bare vote). The alert's
article then trains the topic as a counter-example like any 👎, and the reason stays with the
vote, shown by /why, so an admin sees which kind of error the topic makes."""

from __future__ import annotations

from collections.abc import Mapping

from bot.messages.replies import Action, Button, Reply, ReplyBuilder, code

REASONS: dict[Action, str] = {
    Action.WRONG_TARGET: "wrong target",
    Action.NOT_AN_ATTACK: "not an attack",
    Action.OLD_NEWS: "old news",
}


def reason_of(action: str) -> str | None:
    """The reason a button stands for; None for any other action."""
    return next((r for a, r in REASONS.items() if a.value == action), None)


def reason_reply(match_id: int) -> Reply:
    """Asked after a 👎: which kind of error it was (optional)."""
    b = ReplyBuilder()
    b.line("👎 on alert ", code(f"#{match_id}"), " noted. What was wrong? (optional)")
    b.buttons.extend(Button(label, action, str(match_id)) for action, label in REASONS.items())
    return b.build()


def reasons_line(reasons: Mapping[str, int]) -> str:
    """ "wrong target 2 · old news 1", or "" when no 👎 gave a reason."""
    return " · ".join(f"{reason} {n}" for reason, n in sorted(reasons.items()) if n)
