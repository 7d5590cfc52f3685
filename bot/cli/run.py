"""`threatwatch run`, `poll --once` and `demo`: the bot itself, one cycle, the offline demo."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from bot.cli.context import Context, with_app

if TYPE_CHECKING:
    from bot.app.compose import App


@click.command()
@click.pass_obj
def run(ctx: Context) -> None:
    """Run the scheduler and delivery until interrupted."""
    from bot.app.runner import run as run_forever

    with_app(ctx, run_forever)


@click.command()
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


@click.command()
@click.pass_obj
def demo(ctx: Context) -> None:
    """Serve bundled recorded feeds locally and run the real pipeline on them (no network needed)."""
    from bot.demo.run import run_demo

    run_demo(ctx.settings(), keep_db=ctx.db is not None)
