"""A restart does not retrain: the trained scorer is stored with its topic version (and the model
and examples it was trained for), so a new process on an existing database loads it and scores
and alerts exactly as before; a change of seeds does retrain. Real SQLite files reopened as a new
process would, real news texts, the hashing embedder."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from relevance_support import TOPIC, item, sample, seed_file_text, write_topic

import bot.topics.training as topic_training
from bot.relevance.embed import HashingEmbedder
from bot.relevance.match import TopicIndex
from bot.relevance.scoring import embed_documents, score_document
from bot.store import SqliteStore, Store
from bot.topics.config import sync_from_config
from bot.topics.registry import build_indexes

NOW = datetime(2026, 12, 6, 6, tzinfo=UTC)
EMBEDDER = HashingEmbedder()
ATTACK = item("dev-rel-005")  # rockets hit Ain al-Asad, two wounded (not among the examples)


def start(tmp_path: Path, now: datetime) -> tuple[Store, list[TopicIndex]]:
    """What `threatwatch run` does at start-up: open the database, load config, build indexes."""
    store = SqliteStore(tmp_path / "tw.db")
    sync_from_config(store, tmp_path / "config", tmp_path / "seeds", now)
    background = tmp_path / "seeds" / "_background"
    return store, build_indexes(store, EMBEDDER, background_dir=background, now=now)


def score(indexes: list[TopicIndex]) -> float:
    (doc,) = embed_documents(EMBEDDER, [(ATTACK["title"], ATTACK["text"])])
    (result,) = score_document(doc, indexes)
    return result.score


@pytest.fixture
def trained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A database whose topic was trained once; returns the count of training calls since."""
    related = sample(label="related")
    write_topic(
        tmp_path,
        positives=[r for r in related if r["id"] != ATTACK["id"]][:-1],
        counters=sample(label="hard_negative"),
        background=sample(label="negative"),
    )
    store, _ = start(tmp_path, NOW)
    store.close()
    calls: list[int] = []
    real_train = topic_training.train

    def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        return real_train(*args, **kwargs)

    monkeypatch.setattr(topic_training, "train", counted)
    return calls


def test_a_restart_loads_the_trained_scorer_instead_of_training(
    tmp_path: Path, trained: list[int]
) -> None:
    store, before = start(tmp_path, NOW + timedelta(minutes=1))
    store.close()
    store, after = start(tmp_path, NOW + timedelta(hours=1))  # a second restart, later
    assert trained == []  # no training call in either process
    assert [v.version for v in store.topic_versions(TOPIC)] == [1]  # no new version
    (a,), (b,) = before, after
    assert a.topic.active_version == b.topic.active_version == 1
    assert a.topic.threshold == b.topic.threshold  # the same alert threshold
    assert score(before) == score(after)  # the same score for the same article
    assert (score(after) >= b.topic.threshold) == (score(before) >= a.topic.threshold)


def test_a_new_seed_file_retrains_at_the_next_start(tmp_path: Path, trained: list[int]) -> None:
    extra = sample(label="related")[-1]
    folder = tmp_path / "seeds" / TOPIC
    (folder / f"{extra['id']}.txt").write_text(seed_file_text(extra), encoding="utf-8")
    store, (index,) = start(tmp_path, NOW + timedelta(minutes=1))
    assert trained == [1]
    versions = store.topic_versions(TOPIC)
    assert sorted(v.version for v in versions) == [1, 2]
    assert "seed" in next(v.reason for v in versions if v.version == 2)
    assert index.topic.active_version == 2
    store.close()
    store, _ = start(tmp_path, NOW + timedelta(hours=1))  # and the restart after that does not
    assert trained == [1] and len(store.topic_versions(TOPIC)) == 2
