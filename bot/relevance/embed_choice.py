"""Which runtime embeds: THREATWATCH_EMBED_PRECISION = fp32, bf16, int8 or auto.

``auto`` takes the fastest precision this CPU runs in hardware, in the order measured on a CPU
that has all three (docs/BENCHMARKS.md, "Ingest int8"): int8 where the CPU has int8 dot-product
instructions (AVX-512 VNNI, AVX-VNNI or AMX) and ONNX Runtime is installed, else bf16 where it
computes bfloat16 natively, else fp32. The choice and its reason are logged once the model
has loaded (bot/app/runner.py) and shown in /status.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from bot.core.errors import ConfigError
from bot.relevance.embed import (
    Embedder,
    HashingEmbedder,
    SentenceTransformerEmbedder,
    _cpu_flags,
    native_bf16,
)

PRECISIONS = ("auto", "fp32", "bf16", "int8")
INT8_FLAGS = frozenset({"avx512_vnni", "avx_vnni", "amx_int8"})


@dataclass(frozen=True)
class Choice:
    precision: str  # fp32, bf16 or int8
    reason: str  # why, in words for the log and /status


def int8_runtime_installed() -> bool:
    return importlib.util.find_spec("onnxruntime") is not None


def choose(requested: str, cpu_flags: str, *, int8_installed: bool) -> Choice:
    if requested not in PRECISIONS:
        raise ConfigError(f"unknown embedding precision {requested!r}: use {', '.join(PRECISIONS)}")
    if requested == "int8" and not int8_installed:
        raise ConfigError(
            "THREATWATCH_EMBED_PRECISION=int8 needs onnxruntime: run `make install` "
            "(or `pip install onnxruntime onnx`)"
        )
    if requested != "auto":
        return Choice(requested, "set by THREATWATCH_EMBED_PRECISION")
    flags = set(cpu_flags.split())
    vnni = sorted(INT8_FLAGS & flags)
    if vnni and int8_installed:
        return Choice("int8", f"auto: the CPU has {vnni[0]}")
    if native_bf16(cpu_flags):
        why = "no int8 runtime installed" if vnni else "no int8 dot-product instructions"
        return Choice("bf16", f"auto: native bfloat16, {why}")
    return Choice("fp32", "auto: neither int8 dot products nor native bfloat16")


def runtime_embedder(
    model: str,
    *,
    precision: str,
    cache_dir: Path,
    batch_size: int = 32,
    compile_model: bool = False,
) -> Embedder:
    """The real model in the chosen precision (see the module's docstring)."""
    choice = choose(precision, _cpu_flags(), int8_installed=int8_runtime_installed())

    def torch_embedder(torch_precision: str) -> SentenceTransformerEmbedder:
        return SentenceTransformerEmbedder(
            model, batch_size=batch_size, precision=torch_precision, compile_model=compile_model
        )

    if choice.precision != "int8":
        embedder: Embedder = torch_embedder(choice.precision)
        runtime = f"torch {choice.precision}"
    else:
        from bot.relevance.embed_int8 import Int8Embedder

        base = torch_embedder("bf16" if native_bf16(_cpu_flags()) else "fp32")
        base.runtime = f"torch {base.precision}"  # type: ignore[attr-defined]
        embedder = Int8Embedder(
            base.model_path(),
            cache_dir,
            name=base.name,
            batch_size=batch_size,
            # only auto falls back: an explicit int8 that cannot be built is an error
            fallback=base if precision == "auto" else None,
        )
        runtime = "onnxruntime int8"
    embedder.runtime = runtime  # type: ignore[attr-defined]
    embedder.choice = choice  # type: ignore[attr-defined]
    return embedder


def describe(embedder: Embedder) -> str:
    """One line for /status: the model, the runtime and why it was chosen."""
    runtime = getattr(embedder, "runtime", "")
    choice = getattr(embedder, "choice", None)
    reason = f" ({choice.reason})" if choice else ""
    return f"{embedder.name} {runtime}{reason}".strip()


def make_embedder(
    kind: str,
    model: str,
    *,
    batch_size: int = 32,
    precision: str = "fp32",
    compile_model: bool = False,
    cache_dir: Path | None = None,
) -> Embedder:
    if kind == "hashing":
        return HashingEmbedder()
    if kind == "sentence-transformers":
        return runtime_embedder(
            model,
            precision=precision,
            cache_dir=cache_dir or Path("model-cache"),
            batch_size=batch_size,
            compile_model=compile_model,
        )
    raise ConfigError(
        f"unknown THREATWATCH_EMBEDDER {kind!r}: use 'sentence-transformers' or 'hashing'"
    )
