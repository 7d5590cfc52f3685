"""Fit a topic's scorer from labeled examples and measure it by grouped cross-validation.

Positives: the topic's seeds and 👍 feedback. Negatives: counter-examples, 👎 feedback and a
shared background of unrelated news. Examples carry a group (the event they report) so that
cross-validation never scores an item against a model trained on another report of the same
event — the figures then say how the topic does on events it has not seen.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, ParamSpec, TypeVar

import numpy as np
from threadpoolctl import threadpool_limits

from bot.core.errors import BadArgument
from bot.core.facets import Facet
from bot.relevance.cascade import lead_probability, learn_lead_floor
from bot.relevance.metrics import Figures, figures_at, pick_threshold
from bot.relevance.roles import uses_roles
from bot.relevance.scorer import TopicScorer, document_features

if TYPE_CHECKING:
    from sklearn.linear_model import LogisticRegression

FOLDS = 5
INNER_FOLDS = 4
EMBEDDING_C = (
    3.0  # inverse regularisation of the passage model (chosen by grouped CV on the dev corpus)
)
COMBINE_C = 1.0
MIN_POSITIVES = 2
MIN_NEGATIVES = 2
MIN_EXAMPLES_FOR_ROLES = 40
# Training is hundreds of small logistic-regression fits, whose matrix products are too small to
# share across cores: OpenBLAS threads only wait on each other, and on a busy machine (a poll
# cycle or another process on the same cores) one training took 6.3 s with them against 0.44 s
# without, with identical results (docs/BENCHMARKS.md, "Training threads"). None: BLAS default.
TRAINING_BLAS_THREADS: int | None = 1

P = ParamSpec("P")
R = TypeVar("R")


def _blas_threads_for_training(function: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(function)
    def limited(*args: P.args, **kwargs: P.kwargs) -> R:
        with threadpool_limits(TRAINING_BLAS_THREADS, user_api="blas"):
            return function(*args, **kwargs)

    return limited


@dataclass(frozen=True)
class Example:
    label: bool
    passage_vectors: np.ndarray  # (n passages, dim)
    text: str  # passages joined, as scoring reads them
    group: str  # examples of one event share a group; CV keeps a group in one fold
    ref: str  # where it came from: "seed:12", "counter:40", "feedback:7", "background:x.txt"
    # the vector of its lead (bot/relevance/cascade.py), from which the topic's lead floor is
    # learned; None: no floor is learned from a set that lacks one
    lead_vector: np.ndarray | None = None


@dataclass(frozen=True)
class Trained:
    scorer: TopicScorer
    cv: Figures  # cross-validated figures at the chosen threshold
    threshold: float  # the threshold cross-validation picked
    positives: int
    negatives: int


@_blas_threads_for_training
def train(
    examples: Sequence[Example],
    facets: Sequence[Facet],
    *,
    model: str,
    beta: float | None = None,
) -> Trained:
    """Fit on everything; report figures from grouped cross-validation of the same procedure.
    The threshold is picked on the out-of-fold probabilities: the lowest that keeps their
    precision (bot/relevance/metrics.py), or with ``beta`` the one with the best F-``beta``."""
    labels = np.array([e.label for e in examples])
    positives, negatives = int(labels.sum()), int((~labels).sum())
    if positives < MIN_POSITIVES or negatives < MIN_NEGATIVES:
        raise BadArgument(
            f"training needs at least {MIN_POSITIVES} seeds and {MIN_NEGATIVES} negative examples "
            f"(has {positives} and {negatives})"
        )
    probabilities, lead_probabilities = held_out(examples, facets, model=model)
    threshold = pick_threshold(labels, probabilities, beta=beta)
    # the cascade must not stop a related example, nor one the scorer would alert on
    must_go_on = (labels | (probabilities >= threshold)) & ~np.isnan(lead_probabilities)
    floor = learn_lead_floor(lead_probabilities[must_go_on].tolist())
    scorer = replace(fit(examples, facets, model=model), lead_floor=floor)
    return Trained(
        scorer, figures_at(labels, probabilities, threshold), threshold, positives, negatives
    )


@_blas_threads_for_training
def out_of_fold(
    examples: Sequence[Example], facets: Sequence[Facet], *, model: str, folds: int = FOLDS
) -> np.ndarray:
    """Each example's probability from a scorer fitted without its group."""
    return held_out(examples, facets, model=model, folds=folds)[0]


def held_out(
    examples: Sequence[Example], facets: Sequence[Facet], *, model: str, folds: int = FOLDS
) -> tuple[np.ndarray, np.ndarray]:
    """Each example's probability from a scorer fitted without its group, and the probability
    that scorer gives its lead alone (NaN where not held out or the example has no lead)."""
    splits = _splits(examples, folds)
    out = np.zeros(len(examples))
    leads = np.full(len(examples), np.nan)
    for train_rows, test_rows in splits:
        scorer = fit([examples[i] for i in train_rows], facets, model=model)
        for i in test_rows:
            example = examples[i]
            out[i] = scorer.judge(example.passage_vectors, example.text).probability
            if example.lead_vector is not None:
                leads[i] = lead_probability(scorer, example.lead_vector, example.text)
    if not splits:  # too few groups to hold any out: in-sample, and said so by the caller's counts
        scorer = fit(examples, facets, model=model)
        out = np.array([scorer.judge(e.passage_vectors, e.text).probability for e in examples])
    return out, leads


def fit(examples: Sequence[Example], facets: Sequence[Facet], *, model: str) -> TopicScorer:
    labels = np.array([e.label for e in examples])
    embedding = _fit_embedding(examples, labels)
    # The combiner learns from embedding scores the passage model gave without seeing the
    # example (inner CV); in-sample scores would be overconfident and drown the facets.
    passage_scores = np.zeros(len(examples))
    inner = _splits(examples, INNER_FOLDS)
    for train_rows, test_rows in inner:
        inner_model = _fit_embedding([examples[i] for i in train_rows], labels[train_rows])
        for i in test_rows:
            passage_scores[i] = _best_passage_score(inner_model, examples[i].passage_vectors)
    if not inner:
        passage_scores = np.array(
            [_best_passage_score(embedding, e.passage_vectors) for e in examples]
        )
    # role features when the topic's facets name the slots of its relation, and there are
    # examples enough to weigh them: a dozen more weights overfit a topic of ten examples
    roles = uses_roles(facets) and len(examples) >= MIN_EXAMPLES_FOR_ROLES
    features = np.column_stack(
        [
            passage_scores,
            np.array([document_features(e.text, facets, roles=roles) for e in examples]).reshape(
                len(examples), -1
            ),
        ]
    )
    combine = _logistic(COMBINE_C).fit(features, labels)
    return TopicScorer(
        model=model,
        embedding_weights=embedding[0],
        embedding_bias=embedding[1],
        combine_weights=combine.coef_[0].astype(np.float64),
        combine_bias=float(combine.intercept_[0]),
        facets=tuple(facets),
        roles=roles,
    )


def _fit_embedding(examples: Sequence[Example], labels: np.ndarray) -> tuple[np.ndarray, float]:
    # Trained on each example's lead passage (title + opening: where news states what happened);
    # applied to every passage at scoring time, taking the best.
    leads = np.vstack([e.passage_vectors[:1] for e in examples])
    clf = _logistic(EMBEDDING_C).fit(leads, labels)
    return clf.coef_[0].astype(np.float32), float(clf.intercept_[0])


def _best_passage_score(weights: tuple[np.ndarray, float], vectors: np.ndarray) -> float:
    return float((vectors @ weights[0] + weights[1]).max())


def _logistic(c: float) -> LogisticRegression:
    # imported when a topic is trained, not at start-up: scikit-learn and SciPy take ~100 MB of
    # memory and seconds to import, and a bot whose topics are trained never needs them
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, max_iter=5000, class_weight="balanced")


def _splits(examples: Sequence[Example], folds: int) -> list[tuple[np.ndarray, np.ndarray]]:
    labels = np.array([e.label for e in examples])
    groups = [e.group for e in examples]
    n_groups = len(set(groups))
    k = min(folds, n_groups)
    if k < 2:
        return []
    from sklearn.model_selection import GroupKFold

    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for train_rows, test_rows in GroupKFold(n_splits=k).split(labels, labels, groups):
            # a fold whose training part lacks a class cannot fit: it is skipped, not faked
            if labels[train_rows].all() or not labels[train_rows].any():
                continue
            out.append((train_rows, test_rows))
    return out
