"""The `threatwatch` command line: a thin layer over BotService and the pipeline. Each command
lives in the module of its group and imports what it uses when it runs."""

from __future__ import annotations

import io
import logging
import os
import sys
import traceback
from pathlib import Path

import click

from bot import __version__
from bot.cli import feeds, learning, models, ops, queries, run, store, topics
from bot.cli.context import Context, with_app
from bot.core.errors import ThreatwatchError


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
    from bot.ops.jsonlog import configure_logging, log_format_from_env

    # THREATWATCH_LOG_FORMAT=json: one JSON object a line, secrets redacted as in text logs
    configure_logging(
        logging.DEBUG if verbose else logging.INFO, log_format_from_env(dict(os.environ))
    )
    for noisy in ("httpx", "httpcore", "apscheduler", "sentence_transformers", "trafilatura"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.WARNING)
    click_ctx.obj = Context(db, verbose)


cli.add_command(run.run)
cli.add_command(run.poll)
cli.add_command(feeds.feeds)
cli.add_command(topics.topics)
cli.add_command(topics.seeds)
learning.register(cli, topics.topics)
cli.add_command(queries.latest)
cli.add_command(queries.search)
cli.add_command(run.demo)
store.register(cli)
cli.add_command(models.models)
ops.register(cli, with_app)


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
    from bot.core.logsafe import redact_configured

    click.echo(redact_configured(text), err=True)
