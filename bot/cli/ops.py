"""Operations commands: `threatwatch health` (exit 0 when the running bot's /readyz says ready,
1 otherwise: for container HEALTHCHECKs, where the slim image has no curl) and `threatwatch
trend` (a topic's trend chart as a PNG file). Registered on the CLI in bot/cli/main.py."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import click

from bot.core.errors import ThreatwatchError

HEALTH_TIMEOUT = 5.0


def register(cli: click.Group, with_app: Any) -> None:
    @cli.command("trend")
    @click.argument("topic")
    @click.option("--days", default=30, show_default=True, type=int, help="Days to show (2-365).")
    @click.option(
        "--out",
        required=True,
        type=click.Path(dir_okay=False, path_type=Path),
        help="PNG file to write.",
    )
    @click.pass_obj
    def trend(ctx: Any, topic: str, days: int, out: Path) -> None:
        """Write a topic's trend chart (matches and stories per day, 7-day average, top sources)."""
        chart = with_app(ctx, lambda app: app.service.trends.trend_chart(topic, days))
        write_atomically(out, chart.png)
        t = chart.trend
        click.echo(
            f"{out}: {t.topic}, last {len(t.days)} days, {t.total_matches} matches, "
            f"{t.total_stories} stories"
        )

    @cli.command("health")
    @click.option("--url", default=None, help="Readiness URL (default: from the metrics settings).")
    @click.option("--live", is_flag=True, help="Check liveness (/healthz) instead of readiness.")
    @click.pass_obj
    def health(ctx: Any, url: str | None, live: bool) -> None:
        """Ask the running bot whether it is ready (exit 0) or not (exit 1, with why)."""
        settings = ctx.settings()
        if url is None:
            if settings.metrics_port is None or settings.metrics_port == 0:
                raise ThreatwatchError(
                    "THREATWATCH_METRICS_PORT is not set: the bot serves no health endpoint"
                )
            host = settings.metrics_listen
            host = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
            host = f"[{host}]" if ":" in host else host
            url = f"http://{host}:{settings.metrics_port}/{'healthz' if live else 'readyz'}"
        import httpx  # the HTTP stack only for this command

        try:
            with httpx.Client(timeout=HEALTH_TIMEOUT, trust_env=False) as client:
                response = client.get(url)
        except httpx.HTTPError as exc:
            raise ThreatwatchError(f"health: no answer from {url}: {exc}") from exc
        if response.status_code == 200:
            click.echo(f"ok: {url}")
            return
        raise ThreatwatchError(f"not ready ({response.status_code}): {_why(response.text)}")


def _why(body: str) -> str:
    try:
        failed = json.loads(body).get("failed", {})
    except (ValueError, AttributeError):
        return body.strip()[:300]
    return "; ".join(f"{k}: {v}" for k, v in failed.items()) or body.strip()[:300]


def write_atomically(path: Path, content: bytes) -> None:
    """The whole file or none of it: written beside the target, then renamed over it."""
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ThreatwatchError(f"cannot write {path}: no folder {folder}")
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
