"""A topic's trained scorer: a linear model over passage vectors, stacked with facet features
and calibrated to a probability, so a threshold means the same on every topic.

score(article) = sigmoid(w_c · [max over passages of (w_e · passage + b_e), facet features] + b_c)

The passage with the highest embedding score is the one that explains the match, so a long
article is judged by its most relevant passage, not by its lead.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bot.core.facets import Facet, facets_from_json, facets_to_json
from bot.relevance.facets import facet_features
from bot.relevance.roles import role_features


@dataclass(frozen=True)
class Judgement:
    probability: float  # calibrated: the chance the article is about the topic
    passage_row: int  # the passage that scored best
    passage_score: float  # the embedding model's score of that passage (log-odds scale)


@dataclass(frozen=True)
class TopicScorer:
    model: str  # the embedding model the weights belong to
    embedding_weights: np.ndarray  # (dim,)
    embedding_bias: float
    combine_weights: np.ndarray  # (1 + n facet features,)
    combine_bias: float
    facets: tuple[Facet, ...]
    roles: bool = False  # role features (bot/relevance/roles.py) follow the facet features
    # the lowest lead-only probability a related article may have (bot/relevance/cascade.py):
    # below it on every topic, an article's other passages are not embedded. None: no floor
    # was learned (too few examples held out, or a scorer stored before the cascade)
    lead_floor: float | None = None

    def judge(self, passage_vectors: np.ndarray, text: str) -> Judgement:
        if passage_vectors.shape[0] == 0:
            return Judgement(0.0, 0, float("-inf"))
        passage_scores = passage_vectors @ self.embedding_weights + self.embedding_bias
        row = int(np.argmax(passage_scores))
        features = np.concatenate(
            [[passage_scores[row]], document_features(text, self.facets, roles=self.roles)]
        ).astype(np.float64)
        logit = float(features @ self.combine_weights + self.combine_bias)
        return Judgement(_sigmoid(logit), row, float(passage_scores[row]))

    def to_json(self) -> dict[str, Any]:
        return (
            {
                "model": self.model,
                "embedding_weights": [round(float(x), 6) for x in self.embedding_weights],
                "embedding_bias": self.embedding_bias,
                "combine_weights": [round(float(x), 6) for x in self.combine_weights],
                "combine_bias": self.combine_bias,
                "facets": facets_to_json(self.facets),
            }
            | ({"roles": True} if self.roles else {})
            | ({"lead_floor": self.lead_floor} if self.lead_floor is not None else {})
        )

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TopicScorer:
        return cls(
            model=str(data["model"]),
            embedding_weights=np.asarray(data["embedding_weights"], np.float32),
            embedding_bias=float(data["embedding_bias"]),
            combine_weights=np.asarray(data["combine_weights"], np.float64),
            combine_bias=float(data["combine_bias"]),
            facets=facets_from_json(data["facets"]),
            roles=bool(data.get("roles", False)),  # scorers stored before roles have none
            lead_floor=_optional_float(data.get("lead_floor")),  # none before the cascade
        )


def document_features(text: str, facets: Sequence[Facet], *, roles: bool) -> np.ndarray:
    """The features stacked beside the passage score: facet features, then role features.
    Read-only; the same text and facets give the same array without reading the text again."""
    return _FEATURES.get(text, tuple(facets), roles)


def _read_features(text: str, facets: Sequence[Facet], roles: bool) -> np.ndarray:
    parts = [facet_features(text, facets)]
    if roles:
        parts.append(role_features(text, facets))
    return np.concatenate(parts).astype(np.float32)


class _FeatureMemo:
    """The last few thousand texts' features. Reading facets and roles is most of the cost of
    training (a cross-validated training reads each example about ten times: once per outer
    fold it is trained or judged in) and of judging one article against several topics that
    share facets. Keyed by a digest, so long texts are not kept alive."""

    def __init__(self, size: int):
        self.size = size
        self._lock = threading.Lock()
        self._memo: OrderedDict[tuple[bytes, tuple[Facet, ...], bool], np.ndarray] = OrderedDict()

    def get(self, text: str, facets: tuple[Facet, ...], roles: bool) -> np.ndarray:
        key = (hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest(),
               facets, roles)  # fmt: skip
        with self._lock:
            found = self._memo.get(key)
            if found is not None:
                self._memo.move_to_end(key)
                return found
        features = _read_features(text, facets, roles)
        features.setflags(write=False)
        with self._lock:
            self._memo[key] = features
            while len(self._memo) > self.size:
                self._memo.popitem(last=False)
        return features


_FEATURES = _FeatureMemo(8192)


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _sigmoid(x: float) -> float:
    return float(1.0 / (1.0 + np.exp(-np.clip(x, -40.0, 40.0))))


def document_text(passages: Sequence[str]) -> str:
    """The text facets are read from: the passages joined (the title leads the first one)."""
    return "\n".join(passages)
