"""bf16 embedding (THREATWATCH_EMBED_PRECISION=bf16): the real model under bfloat16 autocast gives
float32 unit vectors that agree with full precision, and the setting reaches the embedder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.errors import ConfigError
from bot.pipeline.embed import SentenceTransformerEmbedder, make_embedder
from bot.settings import Settings

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


def test_the_setting_reaches_the_embedder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THREATWATCH_EMBED_PRECISION", "bf16")
    settings = Settings(db=tmp_path / "t.db")
    embedder = make_embedder(settings.embedder, settings.model, precision=settings.embed_precision)
    assert isinstance(embedder, SentenceTransformerEmbedder) and embedder.precision == "bf16"
    with pytest.raises(ConfigError):
        SentenceTransformerEmbedder("all-MiniLM-L6-v2", precision="int4")
