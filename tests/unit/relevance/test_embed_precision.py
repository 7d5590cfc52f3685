"""bf16 embedding (THREATWATCH_EMBED_PRECISION=bf16) and the compiled model
(THREATWATCH_EMBED_COMPILE): the real model in bfloat16, compiled or not, gives float32 unit
vectors that agree with full precision, and the settings reach the embedder."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from bot.core.errors import ConfigError
from bot.core.settings import Settings
from bot.relevance.embed import (
    SentenceTransformerEmbedder,
    _cpu_flags,
    native_bf16,
    passages,
)
from bot.relevance.embed_choice import make_embedder

DEV_CORPUS = Path(__file__).parents[3] / "data" / "dev_corpus.jsonl"

TEXTS = [
    "Three U.S. service members were wounded when a drone struck a base in eastern Syria.",
    "Kataib Hezbollah warned it would resume attacks on U.S. forces in Iraq.",
    "The city council approved a new budget for road repairs on Tuesday.",
    "",
]


@pytest.mark.model
def test_bf16_vectors_agree_with_fp32() -> None:
    fp32 = SentenceTransformerEmbedder("all-MiniLM-L6-v2")
    bf16 = SentenceTransformerEmbedder("all-MiniLM-L6-v2", precision="bf16")
    a, b = fp32.encode(TEXTS), bf16.encode(TEXTS)
    assert b.dtype == np.float32 and b.shape == a.shape == (len(TEXTS), 384)
    assert np.allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-5)
    assert (a * b).sum(axis=1).min() > 0.995
    assert np.array_equal(np.argsort(-(b[:3] @ b[0])), np.argsort(-(a[:3] @ a[0])))
    assert bf16.name == fp32.name  # the same vector space: stored vectors stay comparable


def dev_passages(per_label: int = 4) -> list[str]:
    """Passages of related items, look-alikes and plain negatives from the development corpus."""
    rows = [json.loads(line) for line in DEV_CORPUS.read_text(encoding="utf-8").splitlines()]
    out: list[str] = []
    for label in ("related", "hard_negative", "negative"):
        for row in [r for r in rows if r["label"] == label][:per_label]:
            out.extend(passages(row["title"] or "", row["text"])[:2])
    return out


@pytest.mark.model
def test_compiled_bf16_vectors_agree_with_fp32_and_keep_the_ranking() -> None:
    texts = dev_passages()
    fp32 = SentenceTransformerEmbedder("all-MiniLM-L6-v2")
    fast = SentenceTransformerEmbedder("all-MiniLM-L6-v2", precision="bf16", compile_model=True)
    a, b = fp32.encode(texts), fast.encode(texts)
    assert b.dtype == np.float32 and b.shape == a.shape
    assert np.allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-5)
    assert (a * b).sum(axis=1).min() > 0.995
    for query in (0, len(texts) // 2):  # a related passage and a look-alike as the query
        ranks_a, ranks_b = np.argsort(-(a @ a[query])), np.argsort(-(b @ b[query]))
        assert np.array_equal(ranks_a[:5], ranks_b[:5])
    # batches of other sizes and lengths reuse the compiled model and give the same vectors
    alone = fast.encode(texts[:3])
    assert (alone * b[:3]).sum(axis=1).min() > 0.999
    assert fast.name == fp32.name  # the same vector space: stored vectors stay comparable


@pytest.mark.model
def test_a_model_that_cannot_be_compiled_runs_eagerly(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import torch

    def broken(module: object, **_: object) -> object:
        def fail(*args: object, **kwargs: object) -> object:
            raise RuntimeError("no C++ compiler")

        return fail

    monkeypatch.setattr(torch, "compile", broken)
    embedder = SentenceTransformerEmbedder("all-MiniLM-L6-v2", compile_model=True)
    with caplog.at_level(logging.WARNING, logger="bot.relevance.embed"):
        vectors = embedder.encode(TEXTS[:2])
    assert vectors.shape == (2, 384) and "not compiled" in caplog.text
    eager = SentenceTransformerEmbedder("all-MiniLM-L6-v2").encode(TEXTS[:2])
    assert (vectors * eager).sum(axis=1).min() > 0.9999


def test_the_defaults_are_bf16_where_the_cpu_has_it_and_not_compiled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("THREATWATCH_EMBED_PRECISION", raising=False)
    monkeypatch.delenv("THREATWATCH_EMBED_COMPILE", raising=False)
    settings = Settings(db=tmp_path / "t.db", _env_file=None)  # type: ignore[call-arg]
    assert settings.embed_precision == "auto" and not settings.embed_compile
    embedder = SentenceTransformerEmbedder("all-MiniLM-L6-v2", precision="auto")
    assert embedder.precision == ("bf16" if native_bf16(_cpu_flags()) else "fp32")


def test_bf16_only_where_the_cpu_computes_it_natively() -> None:
    assert native_bf16("fpu sse2 avx2 avx512f avx512_bf16 avx512_vnni")
    assert native_bf16("fpu avx2 amx_bf16 amx_tile")
    assert not native_bf16("fpu sse2 avx2 avx512f avx512_vnni")  # emulated: slower than fp32
    assert not native_bf16("")


def test_the_setting_reaches_the_embedder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THREATWATCH_EMBED_PRECISION", "fp32")
    monkeypatch.setenv("THREATWATCH_EMBED_COMPILE", "0")
    settings = Settings(db=tmp_path / "t.db")
    embedder = make_embedder(
        settings.embedder,
        settings.model,
        precision=settings.embed_precision,
        compile_model=settings.embed_compile,
    )
    assert isinstance(embedder, SentenceTransformerEmbedder) and embedder.precision == "fp32"
    assert not embedder.compile_model
    with pytest.raises(ConfigError):
        SentenceTransformerEmbedder("all-MiniLM-L6-v2", precision="int4")
