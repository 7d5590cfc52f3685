"""`threatwatch feeds …`: add, list, remove, import and export the feeds that are polled."""

from __future__ import annotations

import json
from typing import Any

import click

from bot.cli.context import Context, with_feeds


@click.group()
def feeds() -> None:
    """Manage the feeds that are polled."""


@feeds.command("add")
@click.argument("url")
@click.option("--name", default=None)
@click.pass_obj
def feeds_add(ctx: Context, url: str, name: str | None) -> None:
    feed, created = with_feeds(ctx, lambda feeds: feeds.add_feed(url, name))
    click.echo(f"{'added' if created else 'already present'}: feed {feed.id} {feed.url}")


@feeds.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def feeds_list(ctx: Context, as_json: bool) -> None:
    rows = with_feeds(ctx, lambda feeds: feeds.list_feeds())
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "id": f.id,
                        "url": f.url,
                        "name": f.name,
                        "status": f.status.value,
                        "next_check_at": f.next_check_at.isoformat(),
                        "consecutive_failures": f.consecutive_failures,
                        "last_error": f.last_error,
                        "last_success_at": f.last_success_at and f.last_success_at.isoformat(),
                    }
                    for f in rows
                ],
                indent=2,
            )
        )
        return
    if not rows:
        click.echo("no feeds: add one with `threatwatch feeds add URL`")
    for f in rows:
        health = "ok" if f.consecutive_failures == 0 else f"{f.consecutive_failures} failures"
        click.echo(f"{f.id:>4}  {f.status.value:<8}  {health:<12}  {f.name or '-'}  {f.url}")
        if f.last_error:
            click.echo(f"      last error: {f.last_error}")


@feeds.command("remove")
@click.argument("ref")
@click.pass_obj
def feeds_remove(ctx: Context, ref: str) -> None:
    """Remove a feed by id or URL."""
    feed = with_feeds(ctx, lambda feeds: feeds.remove_feed(ref))
    click.echo(f"removed: feed {feed.id} {feed.url}")


@feeds.command("import")
@click.argument("opml", type=click.File("rb"))
@click.pass_obj
def feeds_import(ctx: Context, opml: Any) -> None:
    """Import feeds from an OPML file ('-' for standard input)."""
    data = opml.read()
    result = with_feeds(ctx, lambda feeds: feeds.import_opml(data))
    click.echo(
        f"imported {len(result.added)} new feeds, {len(result.existing)} already present, "
        f"{len(result.refused)} refused"
    )
    for url, reason in result.refused:
        click.echo(f"  refused {url}: {reason}")


@feeds.command("export")
@click.pass_obj
def feeds_export(ctx: Context) -> None:
    """Print the feed list as OPML."""
    click.echo(with_feeds(ctx, lambda feeds: feeds.export_opml()), nl=False)
