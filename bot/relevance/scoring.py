"""The one scoring path: text → passages → vectors → per-topic scores.

Both the poll cycle (alerts) and `threatwatch score` (evaluation) call these two functions, so
an evaluated score is exactly the score an alert would carry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bot.core.models import TopicScore
from bot.relevance.embed import Embedder, passages
from bot.relevance.match import TopicIndex, score_all


@dataclass(frozen=True)
class Embedded:
    passages: list[str]
    vectors: np.ndarray  # (len(passages), dim)


def embed_documents(embedder: Embedder, docs: Sequence[tuple[str, str]]) -> list[Embedded]:
    """Embed (title, text) documents in one batched call. Blocking: run off the event loop."""
    parts = [passages(title, text) for title, text in docs]
    flat = [p for ps in parts for p in ps]
    vectors = embedder.encode(flat) if flat else np.zeros((0, 0), np.float32)
    out, offset = [], 0
    for ps in parts:
        out.append(Embedded(ps, vectors[offset : offset + len(ps)]))
        offset += len(ps)
    return out


def score_document(doc: Embedded, indexes: Sequence[TopicIndex]) -> list[TopicScore]:
    return score_all(doc.vectors, doc.passages, indexes)
