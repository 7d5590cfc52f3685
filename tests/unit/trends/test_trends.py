"""Trend data, chart and spikes on a real SQLite store with generated histories; the chart is
looked at as an image (decodes, size, changes with data, matches a stored reference)."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from trend_support import SOURCES, add_history, add_topic

from bot.core.errors import BadArgument
from bot.store import SqliteStore, Store
from bot.trends.chart import render_trend
from bot.trends.series import Trend, load_trend, parse_days, trailing_mean
from bot.trends.spikes import detect, robust_z

NOW = datetime(2026, 11, 30, 18, 0, tzinfo=UTC)
REFERENCE = Path(__file__).parents[2] / "data" / "trend_reference.png"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = SqliteStore(tmp_path / "trend.db")
    add_topic(s, "quiet", NOW - timedelta(days=60))
    add_topic(s, "busy", NOW - timedelta(days=60))
    return s


def known_trend() -> Trend:
    matches = [0, 1, 0, 2, 3, 1, 0, 0, 4, 6, 2, 1, 0, 0, 1, 3, 2, 2, 0, 1, 5, 9, 12, 4]
    stories = [min(m, (m + 1) // 2) for m in matches]
    return Trend(
        "militia-attacks",
        tuple(date(2026, 11, 1) + timedelta(days=i) for i in range(len(matches))),
        tuple(matches),
        tuple(stories),
        tuple(trailing_mean(matches)),
        (("Defense Wire", 20), ("A very long outlet name that will not fit on one line", 12)),
    )


def pixels(png: bytes) -> np.ndarray:
    image = Image.open(io.BytesIO(png))
    image.load()  # decodes the whole image: a truncated PNG raises here
    return np.asarray(image.convert("RGB"), dtype=np.int16)


def test_activity_counts_days_stories_and_sources(store: Store) -> None:
    add_history(store, "busy", [2, 0, 3, 4], end=NOW, per_story=2)
    trend = load_trend(store, "busy", 4, NOW)
    assert trend.days[-1] == NOW.date() and len(trend.days) == 4
    assert trend.matches == (2, 0, 3, 4)
    assert trend.stories == (1, 0, 2, 2)  # two reports per story
    assert sum(n for _, n in trend.sources) == 9
    assert {name for name, _ in trend.sources} <= set(SOURCES)
    # the average looks back past the first shown day: 0 before it
    assert trend.average[0] == pytest.approx(2 / 7)
    assert load_trend(store, "quiet", 4, NOW).matches == (0, 0, 0, 0)


def test_trailing_mean_and_days_argument() -> None:
    assert trailing_mean([7, 0, 0, 0, 0, 0, 0, 7], 7) == pytest.approx(
        [7, 3.5, 7 / 3, 1.75, 1.4, 7 / 6, 1, 1]
    )
    assert parse_days("14") == 14
    for bad in ("0", "1", "366", "two", "1.5", "-3"):
        with pytest.raises(BadArgument, match="whole number from 2 to 365"):
            parse_days(bad)


def test_chart_decodes_is_phone_sized_and_changes_with_data() -> None:
    trend = known_trend()
    png = render_trend(trend)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    image = pixels(png)
    assert image.shape == (1440, 1080, 3)
    assert png == render_trend(trend)  # repeatable
    busier = Trend(**{**vars(trend), "matches": (*trend.matches[:-1], 30)})
    other = pixels(render_trend(busier))
    assert np.abs(other - image).mean() > 0.5  # a visibly different chart
    empty = Trend(**{**vars(trend), "matches": (0,) * 24, "stories": (0,) * 24, "sources": ()})
    assert pixels(render_trend(empty)).shape == (1440, 1080, 3)


def test_chart_matches_the_stored_reference() -> None:
    """Rendered fresh and compared with tests/data/trend_reference.png (regenerate it with
    `python tests/test_trends.py` with the repository and tests/ on PYTHONPATH, after a deliberate
    change to the chart)."""
    got, want = pixels(render_trend(known_trend())), pixels(REFERENCE.read_bytes())
    assert got.shape == want.shape
    diff = np.abs(got - want)
    # font hinting may move a few pixels between platforms; the picture must not change
    assert diff.mean() < 1.0, diff.mean()
    assert (diff.max(axis=2) > 64).mean() < 0.01


def test_a_quiet_topic_with_one_report_never_spikes(store: Store) -> None:
    add_history(store, "quiet", [0] * 30 + [1], end=NOW)
    windows = store.window_counts("quiet", until=NOW, windows=31)
    assert windows[-1] == (1, 1) and sum(m for m, _ in windows) == 1
    assert detect(windows) is None


def test_a_burst_over_a_steady_baseline_spikes(store: Store) -> None:
    rng = np.random.default_rng(7)
    history = [int(x) for x in rng.poisson(2, 30)]
    add_history(store, "busy", [*history, 14], end=NOW)
    spike = detect(store.window_counts("busy", until=NOW, windows=31))
    assert spike is not None and spike.count == 14 and spike.z >= 4
    # the same day in a topic that is always that busy is no spike
    assert detect([(14, 14)] * 30 + [(14, 14)]) is None


def test_stories_can_spike_when_matches_are_steady() -> None:
    # 12 reports a day, usually of 2 stories; today 12 reports of 12 different stories
    spike = detect([(12, 2)] * 30 + [(12, 12)])
    assert spike is not None and spike.measure == "stories"


def test_robust_z_is_not_fooled_by_one_old_outlier() -> None:
    z, median = robust_z(6, [1] * 29 + [40])
    assert median == 1 and z == pytest.approx(5.0)


if __name__ == "__main__":  # regenerate the reference image
    REFERENCE.write_bytes(render_trend(known_trend()))
    print(f"wrote {REFERENCE}")
