"""Match stage (pure): judge an article's passages against each topic.

A topic with a trained scorer (see bot/relevance/) gives a calibrated probability from its
passage model and facets; a topic that cannot be trained yet (too few examples) falls back to
the best cosine similarity between any article passage and any seed passage. Either way the
explanation travels with the score: the passage that decided it, the nearest seed to that
passage, and their cosine similarity.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bot.core.models import Topic, TopicScore
from bot.relevance.scorer import TopicScorer, document_text


@dataclass(frozen=True)
class TopicIndex:
    """A topic's seed passages, embedded (one row per seed passage), and its trained scorer."""

    topic: Topic
    model: str
    vectors: np.ndarray  # (n_passages, dim) float32, L2-normalised
    seed_ids: tuple[int, ...]  # seed id of each row
    seed_titles: tuple[str, ...]  # seed title of each row
    scorer: TopicScorer | None = None

    @property
    def seed_count(self) -> int:
        return len(set(self.seed_ids))


def score_article(
    passage_vectors: np.ndarray, passages: Sequence[str], index: TopicIndex
) -> TopicScore:
    topic = index.topic
    if passage_vectors.shape[0] == 0 or (index.vectors.shape[0] == 0 and index.scorer is None):
        return TopicScore(topic.name, 0.0, topic.threshold, None, None, "")
    similarity = (
        passage_vectors @ index.vectors.T
        if index.vectors.shape[0]
        else np.zeros((passage_vectors.shape[0], 1), np.float32)
    )
    if index.scorer is not None:
        judgement = index.scorer.judge(passage_vectors, document_text(passages))
        passage_row, score = judgement.passage_row, judgement.probability
        seed_row = int(np.argmax(similarity[passage_row]))
    else:
        flat = int(np.argmax(similarity))
        passage_row, seed_row = divmod(flat, similarity.shape[1])
        score = float(similarity[passage_row, seed_row])
    has_seed = index.vectors.shape[0] > 0
    return TopicScore(
        topic=topic.name,
        score=round(score, 4),
        threshold=topic.threshold,
        seed_id=index.seed_ids[seed_row] if has_seed else None,
        seed_title=index.seed_titles[seed_row] if has_seed else None,
        passage=passages[passage_row],
        similarity=round(float(similarity[passage_row, seed_row]), 4) if has_seed else None,
    )


def score_all(
    passage_vectors: np.ndarray, passages: Sequence[str], indexes: Sequence[TopicIndex]
) -> list[TopicScore]:
    return [score_article(passage_vectors, passages, index) for index in indexes]
