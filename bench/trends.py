"""Trend chart render time and the spike rule's false-spike rate.

    python bench/trends.py [--repeat 20] [--histories 10000] [--seed 1] [--json]

- **render**: median (and min/max) of ``--repeat`` renders of the trend chart, 30 and 365 days,
  each against a baseline in the same run: an empty 1080x1440 matplotlib figure saved as PNG
  (what any chart of that size costs before drawing anything).
- **false spikes**: ``--histories`` generated quiet histories per rate, 31 days each (30 of
  baseline, then a last day drawn from the same distribution, so every alarm is false):
  Poisson at several daily rates, and overdispersed (negative binomial, variance 3x the mean) to
  stand in for news days that cluster. Beside the rule (robust z >= 4, >= 5 reports, a new 30-day high), the
  same histories under a plain mean/standard-deviation z-score >= 3 (the baseline).
- **detection**: the share of histories where a real burst, the last day at the baseline's
  mean + 8 standard deviations (at least 5 reports), is flagged.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from bot.trends.chart import DPI, HEIGHT_IN, WIDTH_IN, render_trend  # noqa: E402
from bot.trends.series import Trend, trailing_mean  # noqa: E402
from bot.trends.spikes import MIN_COUNT, detect  # noqa: E402

RATES = (0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
BASELINE_DAYS = 30


def timed(fn, repeat: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return {
        "median_ms": statistics.median(times) * 1e3,
        "min_ms": min(times) * 1e3,
        "max_ms": max(times) * 1e3,
    }


def empty_png() -> bytes:
    figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
    FigureCanvasAgg(figure)
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=DPI)
    return out.getvalue()


def sample_trend(days: int, rng: np.random.Generator) -> Trend:
    matches = [int(x) for x in rng.poisson(3, days)]
    return Trend(
        "militia-attacks-us-forces",
        tuple(date(2026, 1, 1) + timedelta(days=i) for i in range(days)),
        tuple(matches),
        tuple(min(m, int(x)) for m, x in zip(matches, rng.poisson(2, days), strict=True)),
        tuple(trailing_mean(matches)),
        (
            ("Defense Wire", 40),
            ("Mideast Desk", 31),
            ("World Briefing", 12),
            ("Al-Monitor", 9),
            ("Reuters World News Service International", 4),
        ),
    )


def draw(rng: np.random.Generator, rate: float, overdispersed: bool, n: int) -> np.ndarray:
    if not overdispersed:
        return rng.poisson(rate, n)
    # negative binomial with mean `rate` and variance 3 * rate
    p = 1 / 3
    return rng.negative_binomial(rate * p / (1 - p), p, n)


def plain_z(history: list[int], last: int) -> bool:
    mean = statistics.fmean(history)
    sd = statistics.pstdev(history)
    return last >= MIN_COUNT and sd > 0 and (last - mean) / sd >= 3


def false_spikes(histories: int, seed: int) -> list[dict[str, float]]:
    rng = np.random.default_rng(seed)
    rows = []
    for overdispersed in (False, True):
        for rate in RATES:
            rule = baseline = caught = 0
            for _ in range(histories):
                days = [int(x) for x in draw(rng, rate, overdispersed, BASELINE_DAYS + 1)]
                history, last = days[:-1], days[-1]
                rule += detect([(d, d) for d in days]) is not None
                baseline += plain_z(history, last)
                burst = max(MIN_COUNT, round(rate + 8 * max(statistics.pstdev(history), 1.0)))
                caught += detect([(d, d) for d in history] + [(burst, burst)]) is not None
            rows.append(
                {
                    "distribution": "neg. binomial (var 3x)" if overdispersed else "Poisson",
                    "rate_per_day": rate,
                    "false_spike_rate": rule / histories,
                    "plain_z_false_rate": baseline / histories,
                    "burst_detected": caught / histories,
                }
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--histories", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    month, year = sample_trend(30, rng), sample_trend(365, rng)
    render_trend(month)  # warm-up: font cache, imports
    result = {
        "machine": f"{platform.node()} {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}",
        "when": datetime.now(UTC).isoformat(timespec="minutes"),
        "render": {
            "empty figure (baseline)": timed(empty_png, args.repeat),
            "trend, 30 days": timed(lambda: render_trend(month), args.repeat),
            "trend, 365 days": timed(lambda: render_trend(year), args.repeat),
        },
        "png_bytes_30_days": len(render_trend(month)),
        "spikes": false_spikes(args.histories, args.seed),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{result['machine']} · {result['when']}")
    for name, t in result["render"].items():
        print(
            f"render {name:26} median {t['median_ms']:7.1f} ms  "
            f"(min {t['min_ms']:.1f}, max {t['max_ms']:.1f})"
        )
    print(f"PNG size, 30 days: {result['png_bytes_30_days']} bytes")
    print("distribution            rate/day  false spikes  plain z>=3  burst caught")
    for r in result["spikes"]:
        print(
            f"{r['distribution']:24}{r['rate_per_day']:8.1f}  {r['false_spike_rate']:12.4%}"
            f"  {r['plain_z_false_rate']:10.4%}  {r['burst_detected']:12.2%}"
        )


if __name__ == "__main__":
    main()
