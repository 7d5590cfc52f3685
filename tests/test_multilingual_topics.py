"""Each topic's multilingual copy (bot/topic_multilingual.py) on a real SQLite store: trained
once and kept under its examples' signature (a restart reuses it), retrained when the examples
change, no alerts without enough examples, a damaged stored record retrained rather than
trusted; and which languages take the multilingual path."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from relevance_support import sample, write_topic

from bot.pipeline.embed import HashingEmbedder
from bot.store import Store
from bot.topic_multilingual import NO_ALERT, MultilingualTopics, meta_key
from bot.topics import build_indexes, seed_from_text, sync_from_config

NOW = datetime(2026, 1, 5, tzinfo=UTC)


class CountingEmbedder(HashingEmbedder):
    """The hashing embedder under another space's name, counting what it embeds."""

    def __init__(self) -> None:
        super().__init__()
        self.name = "multilingual-test-space"
        self.texts = 0

    def encode(self, texts):  # type: ignore[no-untyped-def]
        self.texts += len(texts)
        return super().encode(texts)


def make_store(tmp_path: Path, **topic) -> tuple[Store, Path]:  # type: ignore[no-untyped-def]
    config, seeds = write_topic(tmp_path, **topic)
    store = Store(tmp_path / "tw.db")
    sync_from_config(store, config, seeds, NOW)
    return store, seeds


@pytest.fixture
def trained_store(tmp_path: Path) -> tuple[Store, Path]:
    return make_store(
        tmp_path,
        positives=sample(label="related")[:6],
        counters=sample(label="hard_negative")[:4],
        background=sample(label="negative")[:4],
    )


def test_copy_is_trained_once_and_reused_after_a_restart(trained_store) -> None:  # type: ignore[no-untyped-def]
    store, seeds = trained_store
    english = build_indexes(store, HashingEmbedder(), background_dir=seeds / "_background", now=NOW)
    first = CountingEmbedder()
    [copy] = MultilingualTopics(store, first, seeds / "_background").indexes(english)
    assert copy.model == "multilingual-test-space" and copy.scorer is not None
    assert 0.0 < copy.topic.threshold < 1.0  # picked by cross-validation in this space
    assert copy.seed_count == 6
    record = json.loads(store.meta(meta_key(copy.topic.name)) or "{}")
    assert record["threshold"] == copy.topic.threshold and record["cv"]

    # a new process: vectors come from the store's cache, the scorer from the stored record
    again = CountingEmbedder()
    [reused] = MultilingualTopics(store, again, seeds / "_background").indexes(english)
    assert again.texts == 0
    assert reused.topic.threshold == copy.topic.threshold
    assert reused.scorer is not None and copy.scorer is not None
    assert reused.scorer.to_json() == copy.scorer.to_json()


def test_new_seed_retrains_the_copy(trained_store) -> None:  # type: ignore[no-untyped-def]
    store, seeds = trained_store
    english = build_indexes(store, HashingEmbedder(), background_dir=seeds / "_background", now=NOW)
    topics = MultilingualTopics(store, CountingEmbedder(), seeds / "_background")
    [before] = topics.indexes(english)
    row = sample(label="related")[7]
    seed = seed_from_text(before.topic.name, f"{row['title']}\n{row['text']}", origin="new")
    store.add_seed(seed, NOW, revive=False)
    [after] = topics.indexes(english)
    assert after.seed_count == before.seed_count + 1
    assert after.scorer is not None and before.scorer is not None
    assert after.scorer.to_json() != before.scorer.to_json()


def test_damaged_record_is_retrained(trained_store) -> None:  # type: ignore[no-untyped-def]
    store, seeds = trained_store
    english = build_indexes(store, HashingEmbedder(), background_dir=seeds / "_background", now=NOW)
    [copy] = MultilingualTopics(store, CountingEmbedder(), seeds / "_background").indexes(english)
    store.set_meta(meta_key(copy.topic.name), "{not json")
    [again] = MultilingualTopics(store, CountingEmbedder(), seeds / "_background").indexes(english)
    assert again.scorer is not None and copy.scorer is not None
    assert again.scorer.to_json() == copy.scorer.to_json()
    assert json.loads(store.meta(meta_key(copy.topic.name)) or "{}")["signature"]


def test_too_few_examples_never_alert(tmp_path: Path) -> None:
    store, seeds = make_store(tmp_path, positives=sample(label="related")[:1])
    english = build_indexes(store, HashingEmbedder(), background_dir=seeds / "_background", now=NOW)
    [copy] = MultilingualTopics(store, CountingEmbedder(), seeds / "_background").indexes(english)
    assert copy.scorer is None and copy.topic.threshold == NO_ALERT


def test_manual_threshold_applies_in_both_spaces(tmp_path: Path) -> None:
    store, seeds = make_store(
        tmp_path,
        positives=sample(label="related")[:4],
        counters=sample(label="hard_negative")[:3],
        threshold="0.62",
    )
    english = build_indexes(store, HashingEmbedder(), background_dir=seeds / "_background", now=NOW)
    [copy] = MultilingualTopics(store, CountingEmbedder(), seeds / "_background").indexes(english)
    assert copy.topic.threshold == 0.62 and copy.scorer is not None


@pytest.mark.parametrize(
    ("mode", "language", "handled"),
    [
        ("auto", "ar", True),
        ("auto", "fa", True),
        ("auto", "en", False),
        ("auto", "und", False),
        ("auto", "", False),
        ("off", "ar", False),
        ("eager", "fa", True),
    ],
)
def test_which_languages_take_the_multilingual_path(
    tmp_path: Path, mode: str, language: str, handled: bool
) -> None:
    topics = MultilingualTopics(Store(tmp_path / "x.db"), CountingEmbedder(), None, mode=mode)
    assert topics.handles(language) is handled
