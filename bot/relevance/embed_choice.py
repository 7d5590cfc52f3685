"""Which runtime embeds: THREATWATCH_EMBED_PRECISION = fp32, bf16, int8 or auto.

``auto`` takes int8 (ONNX Runtime) where onnxruntime is installed and the CPU has AVX2, else
bf16 where the CPU computes bfloat16 natively, else fp32; an int8 model that cannot be built
falls back to that torch runtime, and says so. int8 runs each text alone, so a text's vector is
the same whatever it is embedded with, at cosine ~0.994 to fp32 (docs/BENCHMARKS.md, "The first
cycle at 2x, and int8 v3"). It was the fastest measured: 2.2-2.7x plain torch fp32 on a 2-core
AVX2 CPU without int8 dot products or bf16, and 2.6-3.2x bf16 (an earlier build) on one with
AVX-512 VNNI and BF16; a first cycle over the 39 recorded captures ran 2.35-2.44x faster than
the tree before int8 (quiet, same run), its process under 500 MB against ~1 GB. The shipped
topic's decisions hold under it: bench/relevance.py gives AP 0.9929 against fp32's 0.9928, the same
recall, precision one development item apart (int8 makes one false alert fewer), and the
recorded news feeds give no alert under either. Without AVX2, int8 is not measured, so
``auto`` stays on torch there. The choice and its reason are logged once the model has loaded
(bot/app/runner.py) and shown in /status.
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
    int8_dot_products,
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
    dot = int8_dot_products(cpu_flags)
    if int8_installed and (dot or "avx2" in cpu_flags.split()):
        return Choice("int8", f"auto: int8 per text, the CPU has {dot or 'avx2'}")
    why = "no avx2" if int8_installed else "onnxruntime not installed"
    if native_bf16(cpu_flags):
        return Choice("bf16", f"auto: native bfloat16 ({why})")
    return Choice("fp32", f"auto: no native bfloat16 ({why})")


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
            # only auto falls back: an int8 asked for by name that cannot be built is an error
            fallback=base if precision == "auto" else None,
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
