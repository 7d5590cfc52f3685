"""The embedder meets only a bounded set of batch shapes (power-of-two batch sizes, token counts
padded to a multiple of SEQUENCE_STEP), because torch's CPU back ends keep memory for every shape
they have seen; the padding changes no vector."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.relevance.embed import (
    SEQUENCE_STEP,
    SentenceTransformerEmbedder,
    _pad_tokens,
    batch_sizes,
    passages,
)

DEV_CORPUS = Path(__file__).parents[3] / "data" / "dev_corpus.jsonl"


def test_batches_are_whole_powers_of_two() -> None:
    assert batch_sizes(45, 32) == [32, 8, 4, 1]
    assert batch_sizes(64, 32) == [32, 32]
    assert batch_sizes(0, 32) == []
    assert batch_sizes(7, 48) == [4, 2, 1]  # a batch size that is no power of two rounds down


@given(st.integers(0, 5000), st.integers(1, 256))
def test_batch_sizes_cover_every_text_in_few_sizes(count: int, largest: int) -> None:
    sizes = batch_sizes(count, largest)
    assert sum(sizes) == count
    assert all(s & (s - 1) == 0 and s <= largest for s in sizes)  # powers of two, none too big
    assert len(set(sizes)) <= largest.bit_length()


def test_padding_reaches_the_next_step_and_is_masked() -> None:
    torch = pytest.importorskip("torch")
    features: dict[str, Any] = {
        "input_ids": torch.tensor([[101, 7, 102], [101, 102, 0]]),
        "attention_mask": torch.tensor([[1, 1, 1], [1, 1, 0]]),
        "token_type_ids": torch.zeros((2, 3), dtype=torch.long),
        "modality": "text",
    }
    _pad_tokens(features, SEQUENCE_STEP, 256, pad_id=1)
    assert features["input_ids"].shape == (2, SEQUENCE_STEP)
    assert features["input_ids"][0, 3:].tolist() == [1] * (SEQUENCE_STEP - 3)
    assert features["attention_mask"][:, 3:].sum() == 0
    assert features["attention_mask"][:, :3].tolist() == [[1, 1, 1], [1, 1, 0]]
    _pad_tokens(features, SEQUENCE_STEP, 256, pad_id=1)  # already on a step: unchanged
    assert features["input_ids"].shape == (2, SEQUENCE_STEP)
    long = {"input_ids": torch.ones((1, 250), dtype=torch.long)}
    _pad_tokens(long, SEQUENCE_STEP, 256, pad_id=0)
    assert long["input_ids"].shape == (1, 256)  # never past the model's window


@pytest.mark.model
# bf16 reads fewer articles: the shapes come from the same code at either precision (fp32
# covers the spread of lengths), and on a CPU without native bfloat16 each one costs ~3x fp32
@pytest.mark.parametrize(("precision", "articles"), [("fp32", 40), ("bf16", 16)])
def test_shapes_are_bounded_and_vectors_match_one_by_one(precision: str, articles: int) -> None:
    rows = [json.loads(line) for line in DEV_CORPUS.read_text(encoding="utf-8").splitlines()]
    texts = [p for r in rows[:articles] for p in passages(r["title"] or "", r["text"])]
    embedder = SentenceTransformerEmbedder("all-MiniLM-L6-v2", precision=precision)
    model = embedder.load()
    shapes: set[tuple[int, ...]] = set()
    forward = type(model).forward

    def observed(self: Any, features: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        shapes.add(tuple(features["input_ids"].shape))
        return forward(self, features, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(type(model), "forward", observed)
        together = embedder.encode(texts)
        one_by_one = np.vstack([embedder.encode([t]) for t in texts[:12]])
    assert together.shape == (len(texts), 384)
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    assert shapes and all(n & (n - 1) == 0 and length % SEQUENCE_STEP == 0 for n, length in shapes)
    # a text's vector does not depend on the batch it was in, nor on the padding
    assert (together[:12] * one_by_one).sum(axis=1).min() > 0.9999
    plain = model.encode(texts[:12], convert_to_numpy=True, batch_size=32)
    plain = plain.astype(np.float32) / np.linalg.norm(
        plain.astype(np.float32), axis=1, keepdims=True
    )
    assert (together[:12] * plain).sum(axis=1).min() > 0.999
