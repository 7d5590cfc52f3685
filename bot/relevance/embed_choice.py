"""Which runtime embeds: THREATWATCH_EMBED_PRECISION = fp32, bf16, int8 or auto.

``auto`` takes bf16 where the CPU computes bfloat16 natively, else fp32. int8 (ONNX Runtime)
is chosen by name: it runs each text alone, so a text's vector is the same whatever it is
embedded with, at cosine ~0.995 to fp32, and it ran at 2.1-3.2x torch fp32 on a 2-core AVX2
CPU (docs/BENCHMARKS.md, "Ingest int8"). ``auto`` does not take it yet: the decisions tuned on
fp32 vectors move under it (the shipped topic's cross-validated threshold 0.76 -> 0.64, recall
+0.019, beyond the 0.005 the topic's figures may move; the demo's follow-up report of its first
story read as a repeat instead of an update), and they are to be tuned for int8 first. The
choice and its reason are logged once the model has loaded (bot/app/runner.py) and shown in
/status.
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
from bot.relevance.vector_files import VectorFiles

PRECISIONS = ("auto", "fp32", "bf16", "int8")


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
    if native_bf16(cpu_flags):
        return Choice("bf16", "auto: native bfloat16")
    return Choice("fp32", "auto: no native bfloat16")


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
            fallback=None,  # int8 is asked for by name: one that cannot be built is an error
        )
        runtime = "onnxruntime int8"
    embedder.runtime = runtime  # type: ignore[attr-defined]
    # seeds' vectors shared by every database on this machine (bot/relevance/vector_files.py)
    embedder.vector_files = VectorFiles(cache_dir / "seed-vectors")  # type: ignore[attr-defined]
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
