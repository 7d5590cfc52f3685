"""The model-FLOP count the ingest bench reports (bench/feed_mix.py: gflop) counts a text's own
word pieces: the model's tokenizer.json pads every text to 128, which once doubled the count."""

from __future__ import annotations

import sys

import pytest

from bot.core.settings import REPO_ROOT


@pytest.fixture
def gflop():  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(REPO_ROOT / "bench"))
    try:
        from feed_mix import gflop

        yield gflop
    finally:
        sys.path.remove(str(REPO_ROOT / "bench"))


def test_a_short_text_is_counted_by_its_own_pieces(gflop) -> None:  # type: ignore[no-untyped-def]
    n = 7  # [CLS] rockets hit the base . [SEP]
    per_token = 4 * 384 * 384 + 2 * 384 * 1536 + 2 * n * 384
    assert gflop(["Rockets hit the base."]) == pytest.approx(2 * 6 * n * per_token / 1e9)
    long = " ".join(["word"] * 400)  # past the window: counted as the 256 pieces the model reads
    per_window_token = 4 * 384 * 384 + 2 * 384 * 1536 + 2 * 256 * 384
    assert gflop([long]) == pytest.approx(2 * 6 * 256 * per_window_token / 1e9)


def test_the_ceiling_puts_each_part_of_the_work_at_its_own_peak() -> None:
    sys.path.insert(0, str(REPO_ROOT / "bench"))
    try:
        from ceiling import embed_floor_seconds, split_gflop
    finally:
        sys.path.remove(str(REPO_ROOT / "bench"))
    n = 7
    linear, attention = split_gflop(["Rockets hit the base."])
    assert linear == pytest.approx(2 * 6 * n * (4 * 384 * 384 + 2 * 384 * 1536) / 1e9)
    assert attention == pytest.approx(2 * 6 * n * 2 * n * 384 / 1e9)
    peaks = {"int8": 300.0, "fp32": 150.0}
    assert embed_floor_seconds(30.0, 3.0, peaks) == pytest.approx(30 / 300 + 3 / 150)
