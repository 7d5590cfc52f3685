"""`threatwatch topics list` and `threatwatch seeds …`: watch topics and their seed documents.
The commands for topics that learn are in bot/cli/learning.py."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from bot.cli.context import Context, with_app
from bot.core.errors import BadArgument


@click.group()
def topics() -> None:
    """Watch topics."""


@topics.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def topics_list(ctx: Context, as_json: bool) -> None:
    rows = with_app(ctx, lambda app: app.service.topics.summaries())
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "name": s.topic.name,
                        "description": s.topic.description,
                        "threshold": s.topic.threshold,
                        "enabled": s.topic.enabled,
                        "seeds": s.seeds,
                        "counter_examples": s.counter_examples,
                        "matches_7d": s.matches_7d,
                    }
                    for s in rows
                ],
                indent=2,
            )
        )
        return
    for s in rows:
        state = "enabled" if s.topic.enabled else "disabled"
        click.echo(
            f"{s.topic.name}  [{state}, threshold {s.topic.threshold:.2f}, {s.seeds} seeds, "
            f"{s.counter_examples} counter-examples, {s.matches_7d} matches in 7 days]"
        )
        click.echo(f"    {s.topic.description}")


@click.group()
def seeds() -> None:
    """Seed documents of a topic."""


@seeds.command("list")
@click.argument("topic")
@click.pass_obj
def seeds_list(ctx: Context, topic: str) -> None:
    rows = with_app(ctx, lambda app: app.service.topics.seeds(topic))
    for seed in rows:
        click.echo(f"{seed.id:>4}  {seed.kind:<8}  {seed.title[:90]}  ({seed.origin})")


@seeds.command("add")
@click.argument("topic")
@click.argument("source")
@click.option("--title", default=None, help="Title (default: the first headline-like line).")
@click.option("--counter", is_flag=True, help="Add as a counter-example (must not match).")
@click.pass_obj
def seeds_add(ctx: Context, topic: str, source: str, title: str | None, counter: bool) -> None:
    """Add a seed from FILE, URL (fetched and extracted) or '-' (standard input)."""
    kind = "counter" if counter else "positive"
    text = url = None
    if source == "-":
        text = sys.stdin.read()
    elif source.startswith(("http://", "https://")):
        url = source
    else:
        try:
            text = Path(source).read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise BadArgument(f"cannot read {source}: {exc.strerror}") from exc
    seed, created = with_app(
        ctx,
        lambda app: app.service.topics.add_seed(topic, text=text, url=url, title=title, kind=kind),
    )
    click.echo(
        f"{'added' if created else 'already present'}: seed {seed.id} ({seed.kind}) {seed.title}"
    )


@seeds.command("remove")
@click.argument("seed_id", type=int)
@click.pass_obj
def seeds_remove(ctx: Context, seed_id: int) -> None:
    with_app(ctx, lambda app: app.service.topics.remove_seed(seed_id))
    click.echo(f"removed: seed {seed_id}")
