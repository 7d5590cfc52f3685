"""Activity spikes: the last 24 hours of a topic against its own previous 30 days.

The rule: with ``x`` the matches (or distinct stories) of the last 24 hours and ``b`` the counts
of the 30 days before, in 24-hour windows, the robust z-score is
``(x - median(b)) / max(1.4826 * MAD(b), sqrt(max(median(b), 1)))`` — the MAD is the spread for a
busy topic, and the Poisson-like floor keeps a topic that is usually silent (MAD 0) from calling
two reports a storm. A spike needs ``z >= Z_MIN``, ``x >= MIN_COUNT`` (a quiet topic with one
report never spikes) and ``x`` above every day of the baseline (a new 30-day high: news comes in
clusters, and a busy day like one already seen this month is not news). Either measure (matches
or stories) may trigger it. False-spike rates on generated quiet histories: docs/BENCHMARKS.md.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

BASELINE_DAYS = 30
Z_MIN = 4.0
MIN_COUNT = 5
MAD_TO_SIGMA = 1.4826  # MAD of a normal distribution times this is its standard deviation


@dataclass(frozen=True)
class SpikeScore:
    measure: str  # "matches" or "stories"
    count: int  # in the last 24 hours
    median: float  # of the baseline days
    z: float
    spike: bool


def robust_z(count: int, baseline: Sequence[int]) -> tuple[float, float]:
    """(z, median of the baseline)."""
    if not baseline:
        return 0.0, 0.0
    median = float(statistics.median(baseline))
    mad = float(statistics.median(abs(b - median) for b in baseline))
    scale = max(MAD_TO_SIGMA * mad, math.sqrt(max(median, 1.0)))
    return (count - median) / scale, median


def score(
    measure: str,
    count: int,
    baseline: Sequence[int],
    *,
    z_min: float = Z_MIN,
    min_count: int = MIN_COUNT,
) -> SpikeScore:
    z, median = robust_z(count, baseline)
    new_high = count > max(baseline, default=0)
    return SpikeScore(measure, count, median, z, count >= min_count and z >= z_min and new_high)


def detect(
    windows: Sequence[tuple[int, int]],
    *,
    z_min: float = Z_MIN,
    min_count: int = MIN_COUNT,
) -> SpikeScore | None:
    """``windows``: (matches, stories) per 24-hour window, oldest first, the last one being the
    last 24 hours. Returns the triggering score (the stronger measure), or None."""
    if len(windows) < 2:
        return None
    *history, (matches, stories) = windows
    scores = [
        score("matches", matches, [m for m, _ in history], z_min=z_min, min_count=min_count),
        score("stories", stories, [s for _, s in history], z_min=z_min, min_count=min_count),
    ]
    spiking = [s for s in scores if s.spike]
    return max(spiking, key=lambda s: s.z) if spiking else None
