"""Match stage (pure): score an article's passage vectors against each topic's seed passages.

The score is the best cosine similarity between any article passage and any seed passage, so a
long article is judged by its most relevant passage rather than its lead. The explanation (the
nearest seed and the passage that matched best) is kept with the score.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bot.models import Topic, TopicScore


@dataclass(frozen=True)
class TopicIndex:
    """A topic's seed passages, embedded: one row per seed passage."""

    topic: Topic
    model: str
    vectors: np.ndarray  # (n_passages, dim) float32, L2-normalised
    seed_ids: tuple[int, ...]  # seed id of each row
    seed_titles: tuple[str, ...]  # seed title of each row

    @property
    def seed_count(self) -> int:
        return len(set(self.seed_ids))


def score_article(
    passage_vectors: np.ndarray, passages: Sequence[str], index: TopicIndex
) -> TopicScore:
    """Best passage-to-seed cosine similarity, with the seed and passage that produced it."""
    if index.vectors.shape[0] == 0 or passage_vectors.shape[0] == 0:
        return TopicScore(index.topic.name, 0.0, index.topic.threshold, None, None, "")
    similarity = passage_vectors @ index.vectors.T  # (article passages, seed passages)
    flat = int(np.argmax(similarity))
    passage_row, seed_row = divmod(flat, similarity.shape[1])
    return TopicScore(
        topic=index.topic.name,
        score=round(float(similarity[passage_row, seed_row]), 4),
        threshold=index.topic.threshold,
        seed_id=index.seed_ids[seed_row],
        seed_title=index.seed_titles[seed_row],
        passage=passages[passage_row],
    )


def score_all(
    passage_vectors: np.ndarray, passages: Sequence[str], indexes: Sequence[TopicIndex]
) -> list[TopicScore]:
    return [score_article(passage_vectors, passages, index) for index in indexes]
