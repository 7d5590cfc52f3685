"""Relevance commands: `threatwatch topics …` for topics that learn (train and report, versions,
rollback, threshold, preview), `threatwatch feedback`, and `threatwatch score` (the alert
scoring path on a JSONL file). Registered on the CLI in bot/cli/main.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from bot.cli.context import Context, with_app
from bot.core.errors import BadArgument

if TYPE_CHECKING:
    from bot.core.models import TopicVersion
    from bot.relevance.metrics import Figures


@click.command("train")
@click.argument("topic")
@click.option(
    "--apply",
    "apply_",
    is_flag=True,
    help="Add the pending feedback and retrain (a new version).",
)
@click.pass_obj
def topics_train(ctx: Context, topic: str, apply_: bool) -> None:
    """Cross-validated figures now and with pending 👍/👎 feedback added; --apply to use it."""
    report = with_app(ctx, lambda app: app.service.learning.train_report(topic))
    click.echo(f"topic {report.topic}: {report.pending_feedback} pending feedback")
    click.echo(f"  in use:        {_figures(report.before)}")
    click.echo(f"  with feedback: {_figures(report.after)}   [{report.training}]")
    if not apply_:
        if report.pending_feedback:
            click.echo(f"apply with: threatwatch topics train {topic} --apply")
        return
    version = with_app(ctx, lambda app: app.service.learning.apply_feedback(topic))
    click.echo(f"applied: {_version_line(version)}")


@click.command("versions")
@click.argument("topic")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def topics_versions(ctx: Context, topic: str, as_json: bool) -> None:
    """Every change to a topic, newest first, with its cross-validated figures."""
    versions = with_app(ctx, lambda app: app.service.learning.topic_versions(topic))
    if as_json:
        click.echo(json.dumps([_version_json(v) for v in versions], indent=2))
        return
    for v in versions:
        click.echo(_version_line(v))


@click.command("rollback")
@click.argument("topic")
@click.argument("version", type=int)
@click.pass_obj
def topics_rollback(ctx: Context, topic: str, version: int) -> None:
    """Restore a topic's seeds, counter-examples, feedback and threshold to a version."""
    restored = with_app(ctx, lambda app: app.service.learning.rollback_topic(topic, version))
    click.echo(f"rolled back: {_version_line(restored)}")


@click.command("threshold")
@click.argument("topic")
@click.argument("value")
@click.pass_obj
def topics_threshold(ctx: Context, topic: str, value: str) -> None:
    """Set a topic's threshold (0-1), or "auto" for the one cross-validation picks."""
    before, after = with_app(ctx, lambda app: app.service.topics.set_threshold(topic, value))
    click.echo(
        f"{after.name}: threshold {before.threshold:.2f} ({before.threshold_mode}) → "
        f"{after.threshold:.2f} ({after.threshold_mode})"
    )


@click.command("preview")
@click.argument("topic")
@click.option("--days", type=int, default=7, show_default=True)
@click.option("--top", type=int, default=10, show_default=True)
@click.pass_obj
def topics_preview(ctx: Context, topic: str, days: int, top: int) -> None:
    """What the topic as configured now would match among stored articles of the last N days."""
    if not 1 <= days <= 365:
        raise BadArgument("--days must be between 1 and 365")
    if not 1 <= top <= 100:
        raise BadArgument("--top must be between 1 and 100")
    p = with_app(ctx, lambda app: app.service.topics.preview(topic, days, top=top))
    click.echo(
        f"{p.topic}, last {p.days} days, threshold {p.threshold:.2f}: {p.scored} articles scored, "
        f"{p.would_match} would match ({p.matched_before} matched on arrival; "
        f"+{p.newly_matching} new, -{p.no_longer_matching} no longer)"
    )
    for article, score in p.top:
        click.echo(f"  {score.score:.3f}  {article.title}  ({article.source or '-'})")


@click.command("feedback")
@click.argument("alert_id", type=int)
@click.argument("vote", type=click.Choice(["up", "down"]))
@click.option(
    "--user",
    default="cli",
    show_default=True,
    help="Who is voting (one vote per user per alert).",
)
@click.pass_obj
def feedback(ctx: Context, alert_id: int, vote: str, user: str) -> None:
    """Mark an alert relevant (up) or not (down): a labeled example for `topics train`."""
    up, down = with_app(
        ctx,
        lambda app: app.service.chats.record_feedback(
            alert_id, "cli", user, 1 if vote == "up" else -1
        ),
    )
    click.echo(f"alert {alert_id}: 👍 {up} · 👎 {down}")


@click.command()
@click.option(
    "--input",
    "input_file",
    required=True,
    type=click.File("r", encoding="utf-8"),
    help='JSONL: one {"id", "title", "text"} object per line (\'-\' for stdin).',
)
@click.option("--topic", default=None, help="Only this topic (default: every enabled topic).")
@click.option(
    "--stories",
    is_flag=True,
    help="Instead of scores, group the texts into stories as the poll cycle does "
    '(uses "published", YYYY-MM-DD, when given); one {"id", "story"} line each.',
)
@click.pass_obj
def score(ctx: Context, input_file: Any, topic: str | None, stories: bool) -> None:
    """Score texts with the shipped topics exactly as alerts are scored; one JSON line each."""
    docs, ids, dates = [], [], []
    for number, line in enumerate(input_file, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            ids.append(row["id"])
            docs.append((str(row.get("title") or ""), str(row.get("text") or "")))
            dates.append(_input_date(row.get("published")))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise BadArgument(
                f"input line {number}: expected a JSON object with id, title, text ({exc})"
            ) from exc
    if not docs and topic is None:
        return  # nothing to score: no model to load, no topic to train
    if stories:
        labels = with_app(ctx, lambda app: app.service.queries.group_stories(docs, dates))
        for doc_id, label in zip(ids, labels, strict=True):
            click.echo(json.dumps({"id": doc_id, "story": label}))
        return
    results, stops = with_app(
        ctx, lambda app: app.service.queries.score_documents_with_stops(docs, topic=topic)
    )
    for doc_id, scores, stop in zip(ids, results, stops, strict=True):
        for s in scores:
            click.echo(
                json.dumps(
                    {
                        "id": doc_id,
                        "topic": s.topic,
                        "score": s.score,
                        "threshold": s.threshold,
                        "match": s.is_match,
                        "seed": s.seed_title,
                        "similarity": s.similarity,
                        "passage": s.passage,
                        # the poll cycle's cascade would embed only its lead and match
                        # nothing (its score here is its whole text's)
                        "stops_at_lead": stop,
                    },
                    ensure_ascii=False,
                )
            )


TOPIC_COMMANDS = (topics_train, topics_versions, topics_rollback, topics_threshold, topics_preview)


def register(cli: click.Group, topics: click.Group) -> None:
    """`topics train|versions|rollback|threshold|preview`, `feedback` and `score`."""
    for command in TOPIC_COMMANDS:
        topics.add_command(command)
    cli.add_command(feedback)
    cli.add_command(score)


def _input_date(value: object) -> datetime | None:
    if value in (None, ""):
        return None
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


def _figures(f: Figures | None) -> str:
    return f.line() if f else "not enough examples to train (similarity only)"


def _version_line(v: TopicVersion) -> str:
    cv = v.snapshot.get("cv")
    figures = (
        f"CV AP {cv['ap']:.3f} P {cv['precision']:.3f} R {cv['recall']:.3f}" if cv else "untrained"
    )
    return (
        f"v{v.version}  {v.created_at:%Y-%m-%d %H:%M}  threshold {v.snapshot['threshold']:.2f} "
        f"({v.snapshot['threshold_mode']})  {figures}  — {v.reason}"
    )


def _version_json(v: TopicVersion) -> dict[str, Any]:
    snap = dict(v.snapshot)
    return {
        "version": v.version,
        "created_at": v.created_at.isoformat(),
        "reason": v.reason,
        "threshold": snap["threshold"],
        "threshold_mode": snap["threshold_mode"],
        "seeds": len(snap["positives"]),
        "counter_examples": len(snap["counters"]),
        "feedback": len(snap["feedback"]),
        "cv": snap.get("cv"),
    }
