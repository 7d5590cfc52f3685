"""The language shift: English mean minus a language's mean, only where enough examples give
that mean, and vectors moved by it stay unit length."""

from __future__ import annotations

import numpy as np
import pytest

from bot.relevance.language_shift import MIN_EXAMPLES, language_shifts, mean_vector, move


def unit_rows(rng: np.random.Generator, n: int, offset: np.ndarray) -> np.ndarray:
    rows = rng.normal(size=(n, 8)).astype(np.float32) * 0.1 + offset
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_shift_moves_a_language_onto_english() -> None:
    rng = np.random.default_rng(7)
    en_offset, ar_offset = np.eye(8)[0], np.eye(8)[1]
    english = [unit_rows(rng, 3, en_offset) for _ in range(10)]
    arabic = [("ar", unit_rows(rng, 2, ar_offset)) for _ in range(MIN_EXAMPLES)]
    shifts = language_shifts(english, arabic)
    assert set(shifts) == {"ar"}
    moved = move(np.vstack([v for _, v in arabic]), shifts["ar"])
    assert np.allclose(np.linalg.norm(moved, axis=1), 1.0, atol=1e-5)
    # after the shift Arabic rows sit where English ones do
    assert float(moved.mean(axis=0) @ mean_vector(english)) > 0.9
    assert float(np.vstack([v for _, v in arabic]).mean(axis=0) @ mean_vector(english)) < 0.3


def test_too_few_examples_or_no_english_give_no_shift() -> None:
    rng = np.random.default_rng(1)
    few = [("fa", unit_rows(rng, 2, np.eye(8)[2])) for _ in range(MIN_EXAMPLES - 1)]
    assert language_shifts([unit_rows(rng, 2, np.eye(8)[0])], few) == {}
    assert language_shifts([], [("ar", unit_rows(rng, 2, np.eye(8)[1]))] * MIN_EXAMPLES) == {}


def test_mean_of_nothing_is_refused() -> None:
    with pytest.raises(ValueError, match="no vectors"):
        mean_vector([np.zeros((0, 8), np.float32)])
