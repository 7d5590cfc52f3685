"""The shipped examples' vectors (bot/relevance/data/seed-vectors/,
made by scripts/ship_seed_vectors.py): the bundle covers every example the shipped topic's copy
trains on, its vectors are the engine's own, a first database reads them instead of embedding,
and a damaged bundle or a text it lacks is embedded as before. One bundle per space: the
multilingual engine's, and the English model's under torch fp32 and under int8 (s8r build)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from bot.core.settings import REPO_ROOT
from bot.relevance.cascade import lead_key, lead_text
from bot.relevance.embed import Embedder, HashingEmbedder, passages, vector_space
from bot.relevance.embed_choice import runtime_embedder
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
SPACES = ("multilingual", "fp32", "int8")


def embedder_for(space: str, cache: Path) -> Embedder:
    if space == "multilingual":
        return MultilingualEmbedder()
    return runtime_embedder("all-MiniLM-L6-v2", precision=space, cache_dir=cache)


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    store = SqliteStore(tmp_path / "tw.db")
    sync_from_config(store, REPO_ROOT / "config", SEEDS, datetime.now(UTC))
    return store


@pytest.mark.parametrize("space", ["multilingual", "fp32"])
def test_every_example_of_the_shipped_topic_is_in_the_bundle(
    store: SqliteStore, space: str, tmp_path: Path
) -> None:
    wanted: set[str] = set()
    for topic in store.topics():
        ids = gather(store, HashingEmbedder(), topic, SEEDS / "_background", with_vectors=False)
        wanted |= {*ids.positives, *ids.counters, *ids.background}
        if space == "multilingual":
            wanted |= {e.seed.content_hash for e in example_seeds(SEEDS, topic.name)}
    assert len(wanted) > 300
    bundle = SHIPPED / f"{space_folder(vector_space(embedder_for(space, tmp_path)))}.npz"
    missing = wanted - set(read_bundle(bundle))
    assert not missing, f"{len(missing)} missing: run scripts/ship_seed_vectors.py"


@pytest.mark.parametrize("space", ["fp32", "int8"])
def test_the_english_bundles_hold_the_leads_the_lead_floor_is_learned_from(
    store: SqliteStore, space: str, tmp_path: Path
) -> None:
    # a first training embeds no lead of a shipped example (bot/relevance/cascade.py)
    engine = embedder_for(space, Path(os.environ["THREATWATCH_MODEL_CACHE_DIR"]))
    if space == "int8" and getattr(engine, "recipe", "").endswith("-s8"):
        return  # this CPU builds s8 weights: it embeds its own (see above)
    bundle = read_bundle(SHIPPED / f"{space_folder(vector_space(engine))}.npz")
    leads: set[str] = set()
    for topic in store.topics():
        examples = gather(store, HashingEmbedder(), topic, SEEDS / "_background", leads=False)
        texts = [e.text for e in examples.examples]
        leads |= {lead_text(t) for t in texts if lead_text(t) != t.split("\n", 1)[0]}
    assert len(leads) > 100
    missing = [lead for lead in leads if lead_key(lead) not in bundle]
    assert not missing, f"{len(missing)} leads missing: run scripts/ship_seed_vectors.py"
    lead = sorted(leads, key=len)[0]
    [part], vector = bundle[lead_key(lead)]
    assert part == lead and float(vector[0] @ engine.encode([lead])[0]) > 0.9999


def test_the_int8_bundle_is_the_s8r_build_and_covers_what_the_fp32_one_does(tmp_path: Path) -> None:
    # int8 vectors depend on the build: 7-bit s8r weights where the CPU has no int8 dot products, s8
    # where it has. The one shipped is s8r's; a machine that builds s8 embeds its own
    fp32 = read_bundle(
        SHIPPED / f"{space_folder(vector_space(embedder_for('fp32', tmp_path)))}.npz"
    )
    [int8] = [p for p in SHIPPED.glob("*onnxruntime-int8*.npz")]
    assert int8.name.split("-")[-2] == "s8r"
    assert set(read_bundle(int8)) == set(fp32)


@pytest.mark.parametrize("space", SPACES)
def test_its_vectors_are_the_engines_own(store: SqliteStore, space: str, tmp_path: Path) -> None:
    # the run's shared model cache (tests/conftest.py): the int8 model is built once per run
    engine = embedder_for(space, Path(os.environ["THREATWATCH_MODEL_CACHE_DIR"]))
    bundle = SHIPPED / f"{space_folder(vector_space(engine))}.npz"
    if space == "int8" and getattr(engine, "recipe", "").endswith("-s8"):
        # this CPU builds s8 weights: no bundle is read for its space, it embeds its own
        assert not bundle.exists()
        return
    shipped = read_bundle(bundle)
    topic = store.topics()[0]
    # the two shortest seeds: the multilingual engine runs about three passages a second
    seeds = sorted(store.seeds(topic.name, kind="positive"), key=lambda s: len(s.text))[:2]
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
