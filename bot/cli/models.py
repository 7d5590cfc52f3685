"""`threatwatch models build`: build the int8 model at install time (``make install`` runs it),
into the Python environment every data directory on the machine shares, so that no first start
spends ~20 s building it (bot/relevance/embed_int8.py). Registered on the CLI in
bot/cli/main.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from bot.core.errors import ConfigError


@click.group("models")
def models() -> None:
    """The model files built from the installed weights."""


@models.command("build")
@click.option(
    "--weights",
    type=click.Choice(["auto", "s8", "s8r", "u8", "all"]),
    default="auto",
    show_default=True,
    help="int8 weight type: auto = what this CPU runs (s8 with int8 dot products, else 7-bit "
    "s8r); all = s8 and s8r, for an image that runs on other CPUs.",
)
@click.option(
    "--into",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder to build into (default: the environment's share/threatwatch/models).",
)
@click.option(
    "--if-used",
    is_flag=True,
    help="Build only where THREATWATCH_EMBED_PRECISION (auto by default) takes int8 on this CPU.",
)
@click.pass_obj
def build(ctx: Any, weights: str, into: Path | None, if_used: bool) -> None:
    """Build the int8 model of THREATWATCH_MODEL, or check the one already built."""
    from bot.relevance.embed import SentenceTransformerEmbedder, _cpu_flags
    from bot.relevance.embed_choice import choose, int8_runtime_installed
    from bot.relevance.embed_int8 import (
        cached_int8_model,
        installed_models,
        recorded_sha256,
        weight_type,
    )

    settings = ctx.settings()
    if if_used:
        choice = choose(
            settings.embed_precision, _cpu_flags(), int8_installed=int8_runtime_installed()
        )
        if choice.precision != "int8":
            click.echo(f"int8 model not needed here: {choice.precision} ({choice.reason})")
            return
    elif not int8_runtime_installed():
        raise ConfigError("the int8 model needs onnxruntime: run `make install`")
    folder = into or installed_models()
    model_dir = SentenceTransformerEmbedder(settings.model).model_path()
    kinds = {"auto": [weight_type(_cpu_flags())], "all": ["s8", "s8r"]}.get(weights, [weights])
    for kind in kinds:
        try:
            path = cached_int8_model(model_dir, folder, kind, installed=())
        except (RuntimeError, OSError) as exc:
            raise ConfigError(f"cannot build the int8 model ({kind}): {exc}") from exc
        # cached_int8_model has just checked the file against it
        click.echo(f"{path} ({kind} weights, sha256 {recorded_sha256(path)[:16]})")
