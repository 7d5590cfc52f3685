"""Moving a language's vectors next to English ones in the multilingual space.

multilingual-e5 places a report and its translation close together (cosine ~0.83-0.85), but
every language also carries a component of its own: Arabic news as a whole sits off to one side
of English news. A scorer trained on English examples then reads every Arabic article a little
lower, and its English-picked threshold misses them all. Subtracting the language's mean vector
and adding English's removes that common offset and keeps what the article is about.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def mean_vector(matrices: Sequence[np.ndarray]) -> np.ndarray:
    """The mean of every row (passage vector) of the given matrices."""
    rows = [m for m in matrices if m.size]
    if not rows:
        raise ValueError("no vectors to average")
    return np.vstack(rows).mean(axis=0).astype(np.float32)


def shift(vectors: np.ndarray, source_mean: np.ndarray, target_mean: np.ndarray) -> np.ndarray:
    """Rows moved by (target_mean - source_mean), L2-normalised again."""
    moved = vectors - source_mean + target_mean
    norms = np.linalg.norm(moved, axis=1, keepdims=True)
    return (moved / np.where(norms > 0, norms, 1.0)).astype(np.float32)


# a language's mean is taken only from this many example documents or more
MIN_EXAMPLES = 5


def move(vectors: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """Rows moved by ``delta`` (English mean minus the language's), L2-normalised again."""
    moved = vectors + delta
    norms = np.linalg.norm(moved, axis=1, keepdims=True)
    return (moved / np.where(norms > 0, norms, 1.0)).astype(np.float32)


def language_shifts(
    english: Sequence[np.ndarray], others: Sequence[tuple[str, np.ndarray]]
) -> dict[str, np.ndarray]:
    """language → English mean minus that language's mean, for every language with at least
    MIN_EXAMPLES example documents (``others``: (language, passage vectors) each). Labels play
    no part: the means are of all the examples' passages, related or not."""
    if not english or not any(m.size for m in english):
        return {}
    target = mean_vector(english)
    by_language: dict[str, list[np.ndarray]] = {}
    for language, vectors in others:
        by_language.setdefault(language, []).append(vectors)
    return {
        language: (target - mean_vector(rows)).astype(np.float32)
        for language, rows in by_language.items()
        if len(rows) >= MIN_EXAMPLES and language not in ("en", "und", "")
    }
