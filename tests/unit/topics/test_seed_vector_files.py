"""Seed vectors shared by every database on a machine (bot/relevance/vector_files.py): a second
database gets the shipped seeds' vectors from disk instead of embedding them again; another
runtime, a damaged file or an unwritable folder means embedding again, never a wrong vector or
an error. Real SQLite files, the hashing embedder counting what it is asked to embed."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from bot.relevance.embed import HashingEmbedder
from bot.relevance.vector_files import VectorFiles
from bot.store import SqliteStore
from bot.topics.seeds import seed_from_text, seed_passages

SEEDS = [
    seed_from_text(
        "t",
        f"Drone attack number {n} on a base\n\nMilitants launched a drone at the base in "
        f"eastern Syria on day {n}, officials said. No injuries were reported.",
        f"event{n}__report.txt",
    )
    for n in range(3)
]


class CountingEmbedder(HashingEmbedder):
    def __init__(self, files: VectorFiles | None, runtime: str = "torch fp32") -> None:
        super().__init__()
        self.vector_files = files
        self.runtime = runtime
        self.texts = 0

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.texts += len(texts)
        return super().encode(texts)


def test_a_second_database_reads_the_seeds_vectors_from_disk(tmp_path: Path) -> None:
    files = VectorFiles(tmp_path / "cache")
    first, second = CountingEmbedder(files), CountingEmbedder(files)
    a = seed_passages(SqliteStore(tmp_path / "a.db"), first, SEEDS)
    assert first.texts == sum(len(parts) for parts, _ in a.values()) > 0

    store_b = SqliteStore(tmp_path / "b.db")
    b = seed_passages(store_b, second, SEEDS)
    assert second.texts == 0
    for seed in SEEDS:
        assert b[seed.content_hash][0] == a[seed.content_hash][0]
        assert np.array_equal(b[seed.content_hash][1], a[seed.content_hash][1])
        assert b[seed.content_hash][1].dtype == np.float32
    # and the new database keeps them in its own cache, as if it had embedded them
    assert store_b.cached_seed_chunks(SEEDS[0].content_hash, second.name) is not None


def test_vectors_of_another_runtime_are_not_taken(tmp_path: Path) -> None:
    files = VectorFiles(tmp_path / "cache")
    seed_passages(SqliteStore(tmp_path / "a.db"), CountingEmbedder(files, "torch bf16"), SEEDS)
    fp32 = CountingEmbedder(files, "torch fp32")
    seed_passages(SqliteStore(tmp_path / "b.db"), fp32, SEEDS)
    assert fp32.texts > 0


def test_vectors_of_another_int8_build_are_not_taken(tmp_path: Path) -> None:
    files = VectorFiles(tmp_path / "cache")
    old = CountingEmbedder(files, "onnxruntime int8")
    old.recipe = "int8-v1-s8"  # type: ignore[attr-defined]
    seed_passages(SqliteStore(tmp_path / "a.db"), old, SEEDS)
    new = CountingEmbedder(files, "onnxruntime int8")
    new.recipe = "int8-v2-u8"  # type: ignore[attr-defined]
    seed_passages(SqliteStore(tmp_path / "b.db"), new, SEEDS)
    assert new.texts > 0


def test_a_damaged_file_is_embedded_again_and_rewritten(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    files = VectorFiles(tmp_path / "cache")
    seed_passages(SqliteStore(tmp_path / "a.db"), CountingEmbedder(files), SEEDS)
    (damaged,) = [p for p in (tmp_path / "cache").rglob("*.npz") if SEEDS[1].content_hash in p.name]
    damaged.write_bytes(damaged.read_bytes()[:40])

    again = CountingEmbedder(files)
    out = seed_passages(SqliteStore(tmp_path / "b.db"), again, SEEDS)
    assert again.texts == len(out[SEEDS[1].content_hash][0])  # only the damaged one
    assert "unreadable" in caplog.text
    assert files.get(f"{again.name}|torch fp32|", SEEDS[1].content_hash) is not None


def test_an_unwritable_cache_folder_is_a_warning_not_an_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    embedder = CountingEmbedder(VectorFiles(blocker / "cache"))
    out = seed_passages(SqliteStore(tmp_path / "a.db"), embedder, SEEDS)
    assert len(out) == len(SEEDS) and embedder.texts > 0
    assert "cannot keep seed vectors" in caplog.text


def test_the_real_embedder_keeps_seed_vectors_in_the_model_cache(tmp_path: Path) -> None:
    from bot.relevance.embed_choice import runtime_embedder

    # no model is loaded until the first encode: building the embedder is cheap
    embedder = runtime_embedder("all-MiniLM-L6-v2", precision="fp32", cache_dir=tmp_path / "mc")
    files = embedder.vector_files  # type: ignore[attr-defined]
    assert isinstance(files, VectorFiles) and files.directory == tmp_path / "mc" / "seed-vectors"


def test_the_first_vectors_kept_stay(tmp_path: Path) -> None:
    files = VectorFiles(tmp_path / "cache")
    first, second = np.ones((1, 4), np.float32), np.full((1, 4), 2.0, np.float32)
    files.put("m|fp32", "ab12", ["a passage"], first)
    files.put("m|fp32", "ab12", ["a passage"], second)  # another database, at the same time
    kept = files.get("m|fp32", "ab12")
    assert kept is not None and np.array_equal(kept[1], first)
    assert [p.name for p in (tmp_path / "cache").rglob("*") if p.is_file()] == ["ab12.npz"]


def test_the_multilingual_embedder_keeps_them_in_the_same_model_cache(tmp_path: Path) -> None:
    from bot.app.compose import multilingual_topics
    from bot.core.settings import Settings

    settings = Settings(db=tmp_path / "tw.db", model_cache_dir=tmp_path / "mc")
    topics = multilingual_topics(settings, SqliteStore(tmp_path / "tw.db"))
    assert topics is not None and not topics.embedder.loaded  # nothing loaded to build it
    files = topics.embedder.vector_files  # type: ignore[attr-defined]
    assert isinstance(files, VectorFiles) and files.directory == tmp_path / "mc" / "seed-vectors"
