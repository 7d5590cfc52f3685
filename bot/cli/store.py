"""`threatwatch migrate`: create or update the database's tables and stop (the one-shot step
before several `run` processes start); `threatwatch migrate-store`: move a deployment's SQLite
database into PostgreSQL. Registered on the CLI in bot/cli/main.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from bot.core.errors import BadArgument


def register(cli: click.Group) -> None:
    @cli.command("migrate")
    @click.pass_obj
    def migrate(ctx: Any) -> None:
        """Create or update the database's tables, then exit (run processes do it too)."""
        from bot.store.open import open_store

        settings = ctx.settings()
        store = open_store(settings)  # runs the pending migrations (PostgreSQL: under a lock)
        try:
            version = store.schema_version()
        finally:
            store.close()
        where = "PostgreSQL" if settings.database_url else str(settings.db)
        click.echo(f"database ready: {where}, schema version {version}")

    @cli.command("migrate-store")
    @click.option(
        "--to", "target", required=True, metavar="URL", help="postgresql://user:pw@host/db"
    )
    @click.option(
        "--from",
        "source",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="SQLite file to copy (default: --db / THREATWATCH_DB).",
    )
    @click.pass_obj
    def migrate_store(ctx: Any, target: str, source: Path | None) -> None:
        """Copy the SQLite database into an empty PostgreSQL database and check the counts."""
        from bot.store.postgres import PostgresStore
        from bot.store.postgres.copy import copy_sqlite_to_postgres

        if not target.startswith(("postgresql://", "postgres://")):
            raise BadArgument("--to must be a postgresql:// URL")
        source = source or ctx.settings().db
        store = PostgresStore(target)
        try:
            report = copy_sqlite_to_postgres(source, store)
        finally:
            store.close()
        filled = ", ".join(f"{t} {n}" for t, n in report.counts.items() if n)
        click.echo(f"copied {report.total} rows from {source}: {filled or 'nothing'}")
        click.echo("counts verified: every table holds the same number of rows on both sides")
