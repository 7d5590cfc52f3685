"""`threatwatch latest` and `threatwatch search`: what matched, and what is stored."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from bot.cli.context import Context, with_app

if TYPE_CHECKING:
    from bot.core.models import Match


def match_json(m: Match) -> dict[str, Any]:
    a = m.article
    return {
        "id": m.id,
        "topic": m.topic,
        "title": a.title,
        "url": a.url,
        "source": a.source,
        "published": a.published.isoformat(),
        "score": m.score,
        "threshold": m.threshold,
        "seed": m.seed_title,
        "passage": m.passage,
        "article_id": a.id,
    }


@click.command()
@click.option("--topic", default=None)
@click.option("--limit", default=10, show_default=True, type=int)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def latest(ctx: Context, topic: str | None, limit: int, as_json: bool) -> None:
    """Newest matches, newest first."""
    rows = with_app(ctx, lambda app: app.service.queries.latest(topic=topic, limit=limit))
    if as_json:
        click.echo(json.dumps([match_json(m) for m in rows], indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo("no matches yet")
    for m in rows:
        click.echo(
            f"#{m.id}  {m.article.published:%Y-%m-%d %H:%M}  {m.score:.3f}  [{m.topic}]  "
            f"{m.article.title}  ({m.article.source or '-'})\n      {m.article.url or ''}"
        )


@click.command()
@click.argument("text")
@click.option("--limit", default=10, show_default=True, type=int)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def search(ctx: Context, text: str, limit: int, as_json: bool) -> None:
    """Semantic search over every stored article."""
    hits = with_app(ctx, lambda app: app.service.queries.search(text, limit=limit))
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "id": h.article.id,
                        "title": h.article.title,
                        "url": h.article.url,
                        "source": h.article.source,
                        "published": h.article.published.isoformat(),
                        "score": h.score,
                        "passage": h.passage,
                    }
                    for h in hits
                ],
                indent=2,
                ensure_ascii=False,
            )
        )
        return
    if not hits:
        click.echo("no stored articles yet")
    for h in hits:
        click.echo(
            f"{h.score:.3f}  {h.article.title}  ({h.article.source or '-'})\n       {h.article.url or ''}"
        )
