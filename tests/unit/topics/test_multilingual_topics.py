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

from bot.relevance.embed import HashingEmbedder
from bot.store import SqliteStore, Store
from bot.topics.config import sync_from_config
from bot.topics.multilingual import NO_ALERT, MultilingualTopics, meta_key
from bot.topics.multilingual_examples import example_seeds
from bot.topics.registry import build_indexes
from bot.topics.seeds import seed_from_text
from bot.topics.training import gather

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
    store = SqliteStore(tmp_path / "tw.db")
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
    topics = MultilingualTopics(store, first, seeds)
    [copy] = topics.indexes(english)
    assert copy.model == "multilingual-test-space" and copy.scorer is not None
    assert 0.0 < copy.topic.threshold < 1.0  # picked by cross-validation in this space
    assert copy.seed_count == 6
    key = meta_key(copy.topic.name, topics.built_signature(copy.topic.name))
    record = json.loads(store.meta(key) or "{}")
    assert record["threshold"] == copy.topic.threshold and record["cv"]

    # a new process: vectors come from the store's cache, the scorer from the stored record
    again = CountingEmbedder()
    [reused] = MultilingualTopics(store, again, seeds).indexes(english)
    assert again.texts == 0
    assert reused.topic.threshold == copy.topic.threshold
    assert reused.scorer is not None and copy.scorer is not None
    assert reused.scorer.to_json() == copy.scorer.to_json()


def test_the_copy_embeds_each_examples_passages_and_nothing_else(trained_store) -> None:  # type: ignore[no-untyped-def]
    # no lead texts: the cascade that learns from them is the English space's, and in this
    # space each one was another pass through the slowest engine
    store, seeds = trained_store
    english = build_indexes(store, HashingEmbedder(), background_dir=seeds / "_background", now=NOW)
    embedder = CountingEmbedder()
    topics = MultilingualTopics(store, embedder, seeds)
    [copy] = topics.indexes(english)
    ids = gather(store, embedder, copy.topic, seeds / "_background", with_vectors=False)
    hashes = [*ids.positives, *ids.counters, *ids.background]
    hashes += [e.seed.content_hash for e in example_seeds(seeds, copy.topic.name)]
    chunks = [store.cached_seed_chunks(h, embedder.name) for h in set(hashes)]
    assert all(c is not None for c in chunks)
    passages = sum(len(c[0]) for c in chunks if c is not None)
    # the examples are news articles, most longer than a lead: leads would add texts here
    assert embedder.texts == passages > len(set(hashes))


def test_new_seed_retrains_the_copy(trained_store) -> None:  # type: ignore[no-untyped-def]
    store, seeds = trained_store
    english = build_indexes(store, HashingEmbedder(), background_dir=seeds / "_background", now=NOW)
    topics = MultilingualTopics(store, CountingEmbedder(), seeds)
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
    topics = MultilingualTopics(store, CountingEmbedder(), seeds)
    [copy] = topics.indexes(english)
    key = meta_key(copy.topic.name, topics.built_signature(copy.topic.name))
    store.set_meta(key, "{not json")
    again_topics = MultilingualTopics(store, CountingEmbedder(), seeds)
    [again] = again_topics.indexes(english)
    assert again_topics.trainings == 1
    assert again.scorer is not None and copy.scorer is not None
    assert again.scorer.to_json() == copy.scorer.to_json()
    assert json.loads(store.meta(key) or "{}")["signature"]


def test_too_few_examples_never_alert(tmp_path: Path) -> None:
    store, seeds = make_store(tmp_path, positives=sample(label="related")[:1])
    english = build_indexes(store, HashingEmbedder(), background_dir=seeds / "_background", now=NOW)
    [copy] = MultilingualTopics(store, CountingEmbedder(), seeds).indexes(english)
    assert copy.scorer is None and copy.topic.threshold == NO_ALERT


def test_manual_threshold_applies_in_both_spaces(tmp_path: Path) -> None:
    store, seeds = make_store(
        tmp_path,
        positives=sample(label="related")[:4],
        counters=sample(label="hard_negative")[:3],
        threshold="0.62",
    )
    english = build_indexes(store, HashingEmbedder(), background_dir=seeds / "_background", now=NOW)
    [copy] = MultilingualTopics(store, CountingEmbedder(), seeds).indexes(english)
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
    topics = MultilingualTopics(SqliteStore(tmp_path / "x.db"), CountingEmbedder(), None, mode=mode)
    assert topics.handles(language) is handled


def test_multilingual_example_files_train_only_the_copy(trained_store) -> None:  # type: ignore[no-untyped-def]
    store, seeds = trained_store
    english = build_indexes(store, HashingEmbedder(), background_dir=seeds / "_background", now=NOW)
    topics = MultilingualTopics(store, CountingEmbedder(), seeds)
    [before] = topics.indexes(english)
    before_signature = topics.built_signature(before.topic.name)
    folder = seeds / english[0].topic.name / "multilingual"
    (folder / "counter").mkdir(parents=True)
    (seeds / "_background" / "multilingual").mkdir()
    (folder / "k1__ar-1.txt").write_text(
        "هجوم صاروخي على قاعدة كي وان\nقتل متعاقد أمريكي في هجوم صاروخي على قاعدة عسكرية في كركوك تستضيف قوات أمريكية.\n"
    )
    (folder / "k1__ar-2.txt").write_text(
        "\nأعلنت كتائب حزب الله مسؤوليتها عن استهداف القوات الأمريكية في العراق بطائرات مسيرة وصواريخ.\n"
    )
    (folder / "counter" / "ar-3.txt").write_text(
        "غارة إسرائيلية على دمشق\nدمرت غارة إسرائيلية مبنى القنصلية الإيرانية في دمشق وقتلت قادة في الحرس الثوري.\n"
    )
    (seeds / "_background" / "multilingual" / "ar-4.txt").write_text(
        "الأرجنتين بطلة العالم\nفاز المنتخب الأرجنتيني بكأس العالم بعد الفوز على فرنسا بركلات الترجيح في النهائي.\n"
    )
    [after] = topics.indexes(english)
    key = meta_key(after.topic.name, topics.built_signature(after.topic.name))
    record = json.loads(store.meta(key) or "{}")
    assert after.scorer is not None and before.scorer is not None
    assert after.scorer.to_json() != before.scorer.to_json()  # retrained with the new files
    assert record["signature"] != before_signature
    # the English topic does not see them: same English index, no new seeds in the store
    again = build_indexes(store, HashingEmbedder(), background_dir=seeds / "_background", now=NOW)
    assert again[0].seed_count == english[0].seed_count == after.seed_count
    assert again[0].scorer is not None and english[0].scorer is not None
    assert again[0].scorer.to_json() == english[0].scorer.to_json()


def test_unusable_example_file_is_skipped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "seeds" / "t" / "multilingual"
    folder.mkdir(parents=True)
    (folder / "short.txt").write_text("عنوان\nقصير\n")
    (folder / "ok.txt").write_text(
        "\nأعلنت كتائب حزب الله مسؤوليتها عن استهداف القوات الأمريكية.\n"
    )
    seeds = example_seeds(tmp_path / "seeds", "t")
    assert [s.ref for s in seeds] == ["ml-positive:ok.txt"]
    assert "short.txt skipped" in caplog.text
    assert example_seeds(None, "t") == ()


def test_feedback_on_a_non_english_alert_trains_the_copy(trained_store) -> None:  # type: ignore[no-untyped-def]
    from bot.core.models import FeedItem
    from bot.core.records import NewArticle, NewMatch

    store, seeds = trained_store
    english = build_indexes(store, HashingEmbedder(), background_dir=seeds / "_background", now=NOW)
    embedder = CountingEmbedder()
    topics = MultilingualTopics(store, embedder, seeds)
    [before] = topics.indexes(english)
    topic = before.topic.name
    text = "أعلنت كتائب حزب الله مسؤوليتها عن استهداف القوات الأمريكية في العراق بطائرات مسيرة."
    item = FeedItem(
        guid="ar-1", url="https://news.example/ar-1", title="هجوم", text=text, published=NOW
    )
    article = NewArticle(item, None, "h-ar-1", [text], embedder.encode([text]), language="ar")
    match = NewMatch(0, topic, 0.9, 0.5, None, None, text)
    _, [saved] = store.save_articles([article], [match], model=embedder.name, now=NOW)
    store.record_feedback(saved.id, "telegram", "42", 1, NOW)
    store.mark_feedback_applied([saved.id], version=1)
    [after] = topics.indexes(english)
    assert after.scorer is not None and before.scorer is not None
    assert after.scorer.to_json() != before.scorer.to_json()  # the 👍 is a new example
    assert store.article(saved.article.id).language == "ar"
