"""Alerts, digests and explanations as neutral replies (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from bot.core.languages import language_name
from bot.core.models import Article, Match
from bot.messages.bidi import isolate
from bot.messages.feedback_reasons import reasons_line
from bot.messages.replies import (
    Action,
    Button,
    Reply,
    ReplyBuilder,
    bold,
    clip,
    code,
    italic,
    link,
)

SUMMARY_CHARS = 700
SEED_CHARS = 160
TITLE_CHARS = 300
MAX_ALSO = 12
DIGEST_STORIES = 25


def summary_of(match: Match) -> str:
    """The extractive summary; until stories carry one, the passage that matched best."""
    return clip(match.summary or match.passage, SUMMARY_CHARS)


def foreign(article: Article) -> str | None:
    """The language's name when the article is not in English (nor undetermined)."""
    if article.language in ("", "en", "und"):
        return None
    return f"{language_name(article.language)} ({article.language})"


def title_of(article: Article, limit: int) -> str:
    """The title as shown in a left-to-right line: right-to-left titles isolated."""
    return isolate(clip(article.title, limit)) or "(untitled)"


def when(value: datetime) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC"


def alert_buttons(match_id: int) -> tuple[Button, ...]:
    value = str(match_id)
    return (
        Button("👍", Action.VOTE_UP, value),
        Button("👎", Action.VOTE_DOWN, value),
        Button("Why?", Action.WHY, value),
    )


def alert_reply(match: Match, *, also: Sequence[Match] = ()) -> Reply:
    """One alert: linked title, source and time, topic, score vs threshold, summary, nearest
    seed; ``also`` lists later reports of the same story folded into this message."""
    a = match.article
    b = ReplyBuilder()
    marker = "🔄 Update" if match.story_role == "update" else "🚨"
    b.line(marker, " ", link(title_of(a, TITLE_CHARS), a.url))
    if match.roles:  # who → what → whom, where: the article's own words, escaped like the rest
        b.line(match.roles)
    b.line(italic(f"{a.source or 'unknown source'} · {when(a.published)}"))
    language = foreign(a)
    b.line(
        "Topic ",
        bold(match.topic),
        f" · score {match.score:.2f} ≥ {match.threshold:.2f}",
        " · alert ",
        code(f"#{match.id}"),
    )
    if language:  # the passage that matched, in the original, marked with its language
        b.blank().line(bold(f"Matched passage · {language}:"))
        b.line(isolate(clip(match.passage, SUMMARY_CHARS)))
    else:
        b.blank().line(summary_of(match))
    if match.seed_title:
        b.blank().line("Nearest seed: ", italic(clip(match.seed_title, SEED_CHARS)))
    if also:
        b.blank().line(bold(f"Also reported by ({len(also)}):"))
        for other in also[:MAX_ALSO]:
            oa = other.article
            b.line("• ", link(isolate(clip(oa.source or oa.title, 80)), oa.url), f" · #{other.id}")
        if len(also) > MAX_ALSO:
            b.line(f"… and {len(also) - MAX_ALSO} more")
    b.buttons.extend(alert_buttons(match.id))
    return b.build()


def digest_reply(matches: Sequence[Match], *, day: datetime) -> Reply:
    """One digest message: the day's alerts grouped by story, first report leading."""
    stories: dict[object, list[Match]] = {}
    for m in matches:
        stories.setdefault(m.story_id if m.story_id is not None else f"m{m.id}", []).append(m)
    b = ReplyBuilder()
    b.line(
        bold(f"Threatwatch digest · {day:%Y-%m-%d}"),
        f" · {len(matches)} alerts, {len(stories)} stories",
    )
    for reports in list(stories.values())[:DIGEST_STORIES]:
        lead = reports[0]
        a = lead.article
        b.blank().line("• ", link(clip(a.title, 200), a.url), " ", code(f"#{lead.id}"))
        b.line(
            italic(f"  {a.source or 'unknown source'} · {when(a.published)}"),
            f" · {lead.topic} {lead.score:.2f}",
        )
        b.line("  ", clip(summary_of(lead), 280))
        if len(reports) > 1:
            others = ", ".join(clip(r.article.source or r.article.title, 40) for r in reports[1:6])
            b.line(italic(f"  also: {others}" + (" …" if len(reports) > 6 else "")))
    if len(stories) > DIGEST_STORIES:
        b.blank().line(f"… and {len(stories) - DIGEST_STORIES} more stories: see /latest")
    return b.build()


def why_reply(
    match: Match,
    votes_up: int,
    votes_down: int,
    reasons: Mapping[str, int] | None = None,
    *,
    version: int | None = None,
) -> Reply:
    a = match.article
    verdict = "match" if match.score >= match.threshold else "below threshold"
    b = ReplyBuilder()
    b.line(bold(f"Why alert #{match.id} matched"), " ", link(title_of(a, 200), a.url))
    if language := foreign(a):
        b.line(f"Language: {language} · scored in the multilingual model's space")
    b.line(
        "Topic ",
        bold(match.topic),
        f": score {match.score:.3f} vs threshold {match.threshold:.3f} ({verdict})",
    )
    if version is not None:
        by = "the multilingual copy of topic version" if language else "topic version"
        b.line(f"Scored by {by} v{version}")
    if match.similarity is not None:
        b.line(f"Raw similarity to the nearest seed: {match.similarity:.3f}")
    b.line("Nearest seed: ", italic(clip(match.seed_title or "-", SEED_CHARS)))
    b.line(bold("Roles: "), match.roles or "none stated (no sentence names who acted on whom)")
    b.blank().line(bold("Passage that matched best:"))
    b.line(isolate(clip(match.passage, 900)))
    if match.summary:
        b.blank().line(bold("Summary: "), isolate(clip(match.summary, SUMMARY_CHARS)))
    if match.story_id is not None:
        b.blank().line(f"Story #{match.story_id} · this report: {match.story_role}")
    b.blank().line(f"Feedback: 👍 {votes_up} · 👎 {votes_down}")
    if given := reasons_line(reasons or {}):
        b.line("Reasons for 👎: ", given)
    return b.build()
