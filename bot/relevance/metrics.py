"""Ranking and threshold figures, shared by training reports and bench/relevance.py."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Figures:
    ap: float  # average precision of the ranking
    precision: float
    recall: float
    f1: float
    threshold: float
    n: int

    def line(self) -> str:
        return (
            f"AP {self.ap:.3f} · at {self.threshold:.2f}: precision {self.precision:.3f} "
            f"recall {self.recall:.3f} F1 {self.f1:.3f} (n={self.n})"
        )


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    """Mean of precision at each positive's rank (ties broken against the positives)."""
    labels = np.asarray(labels, bool)
    if not labels.any():
        return 0.0
    order = np.lexsort(
        (labels, -np.asarray(scores, float))
    )  # by score desc, negatives first on ties
    hits = labels[order]
    precision_at = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float(precision_at[hits].mean())


def figures_at(labels: np.ndarray, scores: np.ndarray, threshold: float) -> Figures:
    labels = np.asarray(labels, bool)
    predicted = np.asarray(scores) >= threshold
    tp = int((predicted & labels).sum())
    precision = tp / predicted.sum() if predicted.any() else 0.0
    recall = tp / labels.sum() if labels.any() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Figures(
        round(average_precision(labels, scores), 4),
        round(float(precision), 4),
        round(float(recall), 4),
        round(float(f1), 4),
        round(float(threshold), 4),
        len(labels),
    )


THRESHOLD_BETA = 0.5  # F-beta with beta < 1 weighs precision higher: analysts want no noise
# the out-of-fold precision the auto threshold keeps: the lowest threshold at and above which
# precision stays at least this (bench/relevance_partitions.py, docs/BENCHMARKS.md)
THRESHOLD_PRECISION = 0.97
_GRID = np.round(np.arange(0.05, 0.951, 0.01), 2)


def f_beta(precision: float, recall: float, beta: float = THRESHOLD_BETA) -> float:
    if precision + recall == 0:
        return 0.0
    return (1 + beta**2) * precision * recall / (beta**2 * precision + recall)


def pick_threshold(labels: np.ndarray, scores: np.ndarray, *, beta: float | None = None) -> float:
    """The threshold (on a 0.01 grid) for these out-of-fold scores.

    By default, the lowest threshold at and above which precision stays at least
    THRESHOLD_PRECISION: as many reports as the topic can alert on without more noise than that.
    Where no threshold keeps it (a small or noisy topic), the best F0.5, as with ``beta``.

    Why not the best F0.5 (the rule before 2026-12-07): on the dev corpora its curve is flat
    near the top, so its pick sat ~0.1 too high and moved with small changes of the scores (an
    int8 embedding runtime moved it from 0.76 to 0.64). Nested cross-validation over 20 random
    partitions of the events (bench/relevance_partitions.py) gave precision 0.986 / recall
    0.911 with F0.5 and 0.973 / 0.932 with this rule; with every out-of-fold logit jittered by
    sd 0.1, the F0.5 pick moved by up to 0.14 and this rule's by up to 0.05, and int8 against
    fp32 vectors gave the shipped topic 0.71 against 0.74 (docs/BENCHMARKS.md, "Threshold by
    precision")."""
    labels = np.asarray(labels, bool)
    scores = np.asarray(scores, float)
    if not labels.any() or labels.all():
        return 0.5
    if beta is None:
        kept = _keeps_precision(labels, scores, THRESHOLD_PRECISION)
        if kept is not None:
            return kept
    return _best_f_beta(labels, scores, THRESHOLD_BETA if beta is None else beta)


def _keeps_precision(labels: np.ndarray, scores: np.ndarray, target: float) -> float | None:
    """The lowest grid threshold with at least one true alert at which precision, and precision
    at every higher threshold that alerts at all, is at least ``target``; None if there is none."""
    alerts = scores[None, :] >= _GRID[:, None]
    n = alerts.sum(axis=1)
    tp = (alerts & labels[None, :]).sum(axis=1)
    precision = np.where(n > 0, tp / np.maximum(n, 1), 1.0)
    holds_above = np.minimum.accumulate(precision[::-1])[::-1] >= target
    ok = holds_above & (tp > 0)
    return float(_GRID[np.argmax(ok)]) if ok.any() else None


def _best_f_beta(labels: np.ndarray, scores: np.ndarray, beta: float) -> float:
    """The threshold with the best F-beta; where several tie, the middle one, so the choice
    does not sit on one training item's score. On the dev corpus (2026-11-21) F0.5 gave
    precision 0.948 / recall 0.908, F0.75 0.933 / 0.930 and best-F1 0.918 / 0.945."""
    values = np.array(
        [f_beta((f := figures_at(labels, scores, t)).precision, f.recall, beta) for t in _GRID]
    )
    best = _GRID[values >= values.max() - 1e-9]
    return float(best[len(best) // 2])
