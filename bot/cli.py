"""The `threatwatch` command line: a thin layer over BotService and the pipeline."""

from __future__ import annotations

import asyncio
import inspect
import io
import json
import logging
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from bot import __version__
from bot.cli_ops import register as register_ops_commands
from bot.cli_relevance import register as register_topic_commands
from bot.cli_relevance import register_score
from bot.compose import App, compose
from bot.errors import BadArgument, ThreatwatchError
from bot.logsafe import redact_configured
from bot.models import Match
from bot.ops.jsonlog import configure_logging, log_format_from_env
from bot.settings import Settings


class Context:
    def __init__(self, db: Path | None, verbose: bool):
        self.db = db
        self.verbose = verbose

    def settings(self) -> Settings:
        try:
            settings = Settings()
        except ValidationError as exc:
            first = exc.errors()[0]
            raise ThreatwatchError(
                f"bad setting THREATWATCH_{str(first['loc'][0]).upper()}: {first['msg']}"
            ) from exc
        if self.db is not None:
            settings.db = self.db
        return settings


def with_app(ctx: Context, fn: Callable[[App], Any]) -> Any:
    """Build the app, run ``fn(app)`` (sync or async) and close the app, all on one event loop:
    the HTTP client must be closed on the loop that used it."""

    async def main() -> Any:
        app = compose(ctx.settings())
        try:
            result = fn(app)
            return await result if inspect.isawaitable(result) else result
        finally:
            await app.aclose()

    return asyncio.run(main())


@click.group()
@click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="SQLite database file (overrides THREATWATCH_DB; default threatwatch.db).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log debug detail.")
@click.version_option(__version__, prog_name="threatwatch")
@click.pass_context
def cli(click_ctx: click.Context, db: Path | None, verbose: bool) -> None:
    """Threatwatch: watches news feeds for reporting related to seed threat reports."""
    configure_logging(
        logging.DEBUG if verbose else logging.INFO, log_format_from_env(dict(os.environ))
    )
    for noisy in ("httpx", "httpcore", "apscheduler", "sentence_transformers", "trafilatura"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.WARNING)
    click_ctx.obj = Context(db, verbose)


# --- run / poll ---------------------------------------------------------------------------------
@cli.command()
@click.pass_obj
def run(ctx: Context) -> None:
    """Run the scheduler and delivery until interrupted."""
    from bot.runner import run as run_forever

    with_app(ctx, run_forever)


@cli.command()
@click.option("--once", is_flag=True, required=True, help="Run one cycle and exit.")
@click.option("--all", "all_feeds", is_flag=True, help="Poll every active feed, due or not.")
@click.pass_obj
def poll(ctx: Context, once: bool, all_feeds: bool) -> None:
    """Run one poll cycle over due feeds, print new alerts and the cycle report."""

    async def cycle(app: App) -> None:
        report = await app.pipeline.poll_once(all_feeds=all_feeds)
        await app.deliverer.drain()
        click.echo(report.line())
        for error in report.errors:
            click.echo(f"  {error}")

    with_app(ctx, cycle)


# --- feeds --------------------------------------------------------------------------------------
@cli.group()
def feeds() -> None:
    """Manage the feeds that are polled."""


@feeds.command("add")
@click.argument("url")
@click.option("--name", default=None)
@click.pass_obj
def feeds_add(ctx: Context, url: str, name: str | None) -> None:
    feed, created = with_app(ctx, lambda app: app.service.add_feed(url, name))
    click.echo(f"{'added' if created else 'already present'}: feed {feed.id} {feed.url}")


@feeds.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def feeds_list(ctx: Context, as_json: bool) -> None:
    rows = with_app(ctx, lambda app: app.service.feeds())
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
    feed = with_app(ctx, lambda app: app.service.remove_feed(ref))
    click.echo(f"removed: feed {feed.id} {feed.url}")


@feeds.command("import")
@click.argument("opml", type=click.File("rb"))
@click.pass_obj
def feeds_import(ctx: Context, opml: Any) -> None:
    """Import feeds from an OPML file ('-' for standard input)."""
    data = opml.read()
    result = with_app(ctx, lambda app: app.service.import_opml(data))
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
    click.echo(with_app(ctx, lambda app: app.service.export_opml()), nl=False)


# --- topics and seeds ---------------------------------------------------------------------------
@cli.group()
def topics() -> None:
    """Watch topics."""


@topics.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def topics_list(ctx: Context, as_json: bool) -> None:
    rows = with_app(ctx, lambda app: app.service.topics())
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


register_topic_commands(cli, topics, with_app)
register_score(cli, with_app)
register_ops_commands(cli, with_app)


@cli.group()
def seeds() -> None:
    """Seed documents of a topic."""


@seeds.command("list")
@click.argument("topic")
@click.pass_obj
def seeds_list(ctx: Context, topic: str) -> None:
    rows = with_app(ctx, lambda app: app.service.seeds(topic))
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
        ctx, lambda app: app.service.add_seed(topic, text=text, url=url, title=title, kind=kind)
    )
    click.echo(
        f"{'added' if created else 'already present'}: seed {seed.id} ({seed.kind}) {seed.title}"
    )


@seeds.command("remove")
@click.argument("seed_id", type=int)
@click.pass_obj
def seeds_remove(ctx: Context, seed_id: int) -> None:
    with_app(ctx, lambda app: app.service.remove_seed(seed_id))
    click.echo(f"removed: seed {seed_id}")


# --- queries ------------------------------------------------------------------------------------
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


@cli.command()
@click.option("--topic", default=None)
@click.option("--limit", default=10, show_default=True, type=int)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def latest(ctx: Context, topic: str | None, limit: int, as_json: bool) -> None:
    """Newest matches, newest first."""
    rows = with_app(ctx, lambda app: app.service.latest(topic=topic, limit=limit))
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


@cli.command()
@click.argument("text")
@click.option("--limit", default=10, show_default=True, type=int)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def search(ctx: Context, text: str, limit: int, as_json: bool) -> None:
    """Semantic search over every stored article."""
    hits = with_app(ctx, lambda app: app.service.search(text, limit=limit))
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


@cli.command()
@click.pass_obj
def demo(ctx: Context) -> None:
    """Serve bundled recorded feeds locally and run the real pipeline on them (no network needed)."""
    from bot.demo import run_demo

    run_demo(ctx)


def main() -> None:
    try:
        cli.main(standalone_mode=False, prog_name="threatwatch")
    except click.exceptions.Abort:
        sys.exit(130)
    except click.ClickException as exc:
        shown = io.StringIO()
        exc.show(file=shown)
        _error(shown.getvalue().rstrip("\n"))
        sys.exit(exc.exit_code)
    except ThreatwatchError as exc:
        _error(f"error: {exc}")
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception:  # a bug: its traceback helps, but it may quote a secret like any error
        _error(f"error: unexpected failure, please report it:\n{traceback.format_exc()}")
        sys.exit(1)


def _error(text: str) -> None:
    """Errors quote what they were given (a feed, a file, a setting): secrets never appear."""
    click.echo(redact_configured(text), err=True)
