"""The shipped examples' vectors in the multilingual space (bot/relevance/data/seed-vectors/,
made by scripts/ship_seed_vectors.py): the bundle covers every example the shipped topic's copy
trains on, its vectors are the engine's own, a first database reads them instead of embedding,
and a damaged bundle or a text it lacks is embedded as before."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from bot.core.settings import REPO_ROOT
from bot.relevance.embed import HashingEmbedder, passages
from bot.relevance.multilingual import MultilingualEmbedder
from bot.relevance.vector_files import (
    SHIPPED,
    VectorFiles,
    read_bundle,
    space_folder,
    write_bundle,
)
from bot.store import SqliteStore
from bot.topics.config import sync_from_config
from bot.topics.multilingual_examples import example_seeds
from bot.topics.seeds import seed_from_text, seed_passages
from bot.topics.training import gather

SEEDS = REPO_ROOT / "seeds"
SPACE = "multilingual-e5-small-q4||"  # as bot/topics/seeds.py names the engine's space
BUNDLE = SHIPPED / f"{space_folder(SPACE)}.npz"


@pytest.fixture(scope="module")
def shipped() -> dict[str, tuple[list[str], np.ndarray]]:
    return read_bundle(BUNDLE)


def test_every_example_of_the_shipped_topic_is_in_the_bundle(
    tmp_path: Path, shipped: dict[str, tuple[list[str], np.ndarray]]
) -> None:
    store = SqliteStore(tmp_path / "tw.db")
    sync_from_config(store, REPO_ROOT / "config", SEEDS, datetime.now(UTC))
    wanted: set[str] = set()
    for topic in store.topics():
        ids = gather(store, HashingEmbedder(), topic, SEEDS / "_background", with_vectors=False)
        wanted |= {*ids.positives, *ids.counters, *ids.background}
        wanted |= {e.seed.content_hash for e in example_seeds(SEEDS, topic.name)}
    assert len(wanted) > 300
    missing = wanted - set(shipped)
    assert not missing, f"{len(missing)} missing: run scripts/ship_seed_vectors.py"


def test_its_vectors_are_the_engines_own(
    tmp_path: Path, shipped: dict[str, tuple[list[str], np.ndarray]]
) -> None:
    store = SqliteStore(tmp_path / "tw.db")
    sync_from_config(store, REPO_ROOT / "config", SEEDS, datetime.now(UTC))
    topic = store.topics()[0]
    # the two shortest seeds: the engine runs about three passages a second
    seeds = sorted(store.seeds(topic.name, kind="positive"), key=lambda s: len(s.text))[:2]
    engine = MultilingualEmbedder()
    for seed in seeds:
        parts, vectors = shipped[seed.content_hash]
        assert parts == passages(seed.title, seed.text)
        now = engine.encode(parts)
        assert vectors.shape == now.shape and vectors.dtype == np.float32
        assert float((vectors * now).sum(axis=1).min()) > 0.9999


class CountingEmbedder(HashingEmbedder):
    def __init__(self, files: VectorFiles) -> None:
        super().__init__()
        self.name = "multilingual-e5-small-q4"
        self.vector_files = files
        self.texts = 0

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.texts += len(texts)
        return super().encode(texts)


SEED = seed_from_text(
    "t", "Drone attack on a base\n\nA drone hit the base, officials said.", "a.txt"
)
OWN = seed_from_text("t", "An admin's own seed\n\nRockets landed near the embassy.", "b.txt")


def test_a_first_database_takes_shipped_vectors_and_embeds_only_the_rest(tmp_path: Path) -> None:
    vectors = np.eye(2, 384, dtype=np.float32)[:1]
    write_bundle(
        tmp_path / "shipped" / f"{space_folder(SPACE)}.npz", {SEED.content_hash: (["p"], vectors)}
    )
    embedder = CountingEmbedder(VectorFiles(tmp_path / "cache", shipped=tmp_path / "shipped"))
    got = seed_passages(SqliteStore(tmp_path / "tw.db"), embedder, [SEED, OWN])
    assert got[SEED.content_hash][0] == ["p"]
    assert np.array_equal(got[SEED.content_hash][1], vectors)
    assert embedder.texts == len(got[OWN.content_hash][0]) > 0  # only the admin's own seed


def test_a_damaged_bundle_is_a_warning_and_every_seed_is_embedded(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bundle = tmp_path / "shipped" / f"{space_folder(SPACE)}.npz"
    bundle.parent.mkdir()
    bundle.write_bytes(b"PK\x03\x04 not a whole zip file")
    embedder = CountingEmbedder(VectorFiles(tmp_path / "cache", shipped=tmp_path / "shipped"))
    got = seed_passages(SqliteStore(tmp_path / "tw.db"), embedder, [SEED, OWN])
    assert embedder.texts == sum(len(parts) for parts, _ in got.values())
    assert "shipped seed vectors" in caplog.text and "unreadable" in caplog.text
