"""The multilingual copy follows its topic's versions: retrained when a version changes the
examples, loaded (not retrained) when it does not — a threshold set, a rollback to examples
already trained — and each copy names the version it serves; /why names the version that
scored an alert. Real SQLite store, hashing embedders."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from relevance_support import sample, write_topic
from test_multilingual_topics import CountingEmbedder

from bot.core.models import FeedItem
from bot.core.records import NewArticle, NewMatch
from bot.messages.alerts import why_reply
from bot.relevance.embed import HashingEmbedder
from bot.service.chats import ChatService
from bot.store import SqliteStore, Store
from bot.topics.config import sync_from_config
from bot.topics.multilingual import MultilingualTopics, meta_key
from bot.topics.registry import build_indexes
from bot.topics.seeds import seed_from_text
from bot.topics.training import rollback

NOW = datetime(2026, 1, 5, tzinfo=UTC)


def make_store(tmp_path: Path) -> tuple[Store, Path]:
    config, seeds = write_topic(
        tmp_path,
        positives=sample(label="related")[:6],
        counters=sample(label="hard_negative")[:4],
        background=sample(label="negative")[:4],
    )
    store = SqliteStore(tmp_path / "tw.db")
    sync_from_config(store, config, seeds, NOW)
    return store, seeds


def copies(store: Store, seeds: Path, topics: MultilingualTopics, at: datetime):  # type: ignore[no-untyped-def]
    english = build_indexes(store, HashingEmbedder(), background_dir=seeds / "_background", now=at)
    [copy] = topics.indexes(english)
    return english[0], copy


def test_the_copy_follows_each_version_and_retrains_only_for_new_examples(
    tmp_path: Path,
) -> None:
    store, seeds = make_store(tmp_path)
    topics = MultilingualTopics(store, CountingEmbedder(), seeds)
    english, v1 = copies(store, seeds, topics, NOW)
    name = english.topic.name
    assert english.topic.active_version == v1.topic.active_version == 1
    assert topics.trainings == 1
    first_signature = topics.built_signature(name)
    record = json.loads(store.meta(meta_key(name, first_signature)) or "{}")
    assert record["version"] == 1

    # v2: a new seed changes the examples: the copy is retrained for v2
    row = sample(label="related")[7]
    store.add_seed(
        seed_from_text(name, f"{row['title']}\n{row['text']}", origin="new"), NOW, revive=False
    )
    english, v2 = copies(store, seeds, topics, NOW + timedelta(hours=1))
    assert english.topic.active_version == v2.topic.active_version == 2
    assert topics.trainings == 2 and topics.built_signature(name) != first_signature

    # v3: back to v1's examples: v1's copy is loaded, not trained again, and serves v3
    rollback(store, HashingEmbedder(), store.topic(name), 1, seeds / "_background",
             NOW + timedelta(hours=2))  # fmt: skip
    english, v3 = copies(store, seeds, topics, NOW + timedelta(hours=2))
    assert english.topic.active_version == v3.topic.active_version == 3
    assert topics.trainings == 2 and topics.built_signature(name) == first_signature
    assert v3.scorer is not None and v1.scorer is not None
    assert v3.scorer.to_json() == v1.scorer.to_json()

    # a restart loads every copy it has: nothing is trained
    restarted = MultilingualTopics(store, CountingEmbedder(), seeds)
    assert copies(store, seeds, restarted, NOW + timedelta(hours=3))[1].topic.active_version == 3
    assert restarted.trainings == 0


def test_a_threshold_set_is_served_by_the_same_copy_and_why_names_the_version_that_scored(
    tmp_path: Path,
) -> None:
    store, seeds = make_store(tmp_path)
    topics = MultilingualTopics(store, CountingEmbedder(), seeds)
    english, copy = copies(store, seeds, topics, NOW)
    scored_at = NOW + timedelta(minutes=5)
    item = FeedItem(guid="ar1", title="هجوم على قاعدة عين الأسد", text="نص الخبر " * 20,
                    url="https://x.test/ar1", published=scored_at)  # fmt: skip
    new = NewArticle(
        item, None, "h-ar1", ["p"], HashingEmbedder(dim=8).encode(["p"]), language="ar"
    )
    _, [match] = store.save_articles(
        [new], [NewMatch(0, english.topic.name, 0.9, 0.5, None, None, "p")],
        model=copy.model, now=scored_at,
    )  # fmt: skip
    # a threshold set is a new version, served by the same copy (loaded, not retrained)...
    store.update_topic(english.topic.name, NOW + timedelta(hours=1), threshold=0.61)
    english, after = copies(store, seeds, topics, NOW + timedelta(hours=1))
    assert after.topic.active_version == english.topic.active_version == 2
    assert after.topic.threshold == 0.61 and topics.trainings == 1

    # ...and does not claim the alert scored before it
    why = ChatService(store, HashingEmbedder(), lambda: NOW).why(match.id)
    assert why.topic_version == 1
    shown = why_reply(why.match, 0, 0, version=why.topic_version).plain_text()
    assert "Scored by the multilingual copy of topic version v1" in shown


def test_a_copy_kept_under_the_single_key_of_before_is_loaded(tmp_path: Path) -> None:
    store, seeds = make_store(tmp_path)
    topics = MultilingualTopics(store, CountingEmbedder(), seeds)
    english, copy = copies(store, seeds, topics, NOW)
    name = english.topic.name
    current = meta_key(name, topics.built_signature(name))
    # as a store written before copies were kept per signature holds it
    store.set_meta(meta_key(name), store.meta(current) or "")
    store.set_meta(current, "")
    restarted = MultilingualTopics(store, CountingEmbedder(), seeds)
    [again] = restarted.indexes([english])
    assert restarted.trainings == 0
    assert again.scorer is not None and copy.scorer is not None
    assert again.scorer.to_json() == copy.scorer.to_json()
