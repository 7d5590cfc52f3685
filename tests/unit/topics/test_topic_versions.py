"""Topics that learn and never change silently: every change to a topic's examples or threshold
is a recorded version (trained when the examples changed), feedback is applied on request, and
any version can be restored. Real SQLite files and PostgreSQL databases, real news texts, the hashing embedder."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from relevance_support import TOPIC, item, sample, seed_file_text, write_topic
from store_support import query

from bot.core.errors import BadArgument, NotFound
from bot.core.facets import facets_to_json
from bot.core.models import FeedItem
from bot.core.records import NewArticle, NewMatch
from bot.relevance.embed import HashingEmbedder
from bot.relevance.scoring import embed_documents
from bot.store import Store
from bot.topics.config import sync_from_config
from bot.topics.registry import build_indexes
from bot.topics.seeds import seed_from_text
from bot.topics.training import (
    UNTRAINED_THRESHOLD,
    apply_feedback,
    ensure_current,
    rollback,
    train_report,
)

NOW = datetime(2026, 11, 21, 12, tzinfo=UTC)
EMBEDDER = HashingEmbedder()
# articles that arrive later (real reports, not among the topic's examples)
NEW_ATTACK = item("dev-rel-005")  # rockets hit Ain al-Asad, two wounded
NEW_LOOKALIKE = item("dev-hn-025")  # Iraqi militia drone at Israel


class Topic:
    """A store with the sample topic loaded: related items as seeds, hard negatives as
    counter-examples, unrelated news as background."""

    def __init__(
        self,
        tmp_path: Path,
        open_store: Callable[[str], Store],
        *,
        counters: bool = True,
        threshold: str = '"auto"',
    ):
        config, self.seeds_dir = write_topic(
            tmp_path,
            positives=sample(label="related"),
            counters=sample(label="hard_negative") if counters else [],
            background=sample(label="negative"),
            threshold=threshold,
        )
        self.store = open_store("tw")
        sync_from_config(self.store, config, self.seeds_dir, NOW)
        self.background = self.seeds_dir / "_background"

    @property
    def topic(self):  # type: ignore[no-untyped-def]
        return self.store.topic(TOPIC)

    def current(self, now: datetime = NOW):  # type: ignore[no-untyped-def]
        return ensure_current(self.store, EMBEDDER, self.topic, self.background, now)

    def versions(self) -> list:  # type: ignore[type-arg]
        return self.store.topic_versions(TOPIC)

    def add_seed(self, row: dict, *, kind: str = "positive") -> int:
        seed = seed_from_text(TOPIC, seed_file_text(row), origin=f"{row['id']}.txt", kind=kind)
        seed, created = self.store.add_seed(seed, NOW, revive=True)
        assert created
        return seed.id

    def alert(self, row: dict) -> int:
        """Store a real report as an article with a match of the topic; returns the match id."""
        title, body, key = row["title"], row["text"], row["id"]
        (doc,) = embed_documents(EMBEDDER, [(title, body)])
        article = NewArticle(
            FeedItem(f"urn:{key}", f"https://example.org/{key}", title, body, NOW),
            None,
            key,
            doc.passages,
            doc.vectors,
        )
        match = NewMatch(0, TOPIC, 0.6, 0.5, None, None, doc.passages[0])
        _, (saved,) = self.store.save_articles([article], [match], model=EMBEDDER.name, now=NOW)
        return saved.id


def weights(scorer) -> np.ndarray:  # type: ignore[no-untyped-def]
    return np.concatenate([scorer.embedding_weights, scorer.combine_weights])


# --- versions as examples and thresholds change ---------------------------------------------------


def test_first_version_is_trained_with_the_cross_validated_threshold(
    tmp_path: Path, open_test_store: Callable[[str], Store]
) -> None:
    t = Topic(tmp_path, open_test_store)
    outcome = t.current()
    (version,) = t.versions()
    snap = version.snapshot
    assert version.version == 1 and version.reason == "first version"
    assert outcome.topic.active_version == 1 and outcome.scorer is not None
    assert snap["threshold_mode"] == "auto"
    assert outcome.topic.threshold == snap["threshold"] == snap["cv_threshold"]
    assert snap["cv"]["positives"] == len(sample(label="related"))
    assert snap["cv"]["negatives"] == len(sample(label="hard_negative")) + len(
        sample(label="negative")
    )
    assert 0 <= snap["cv"]["ap"] <= 1 and snap["cv"]["n"] == len(sample())
    assert snap["scorer"]["facets"] == facets_to_json(t.topic.facets)


def test_unchanged_examples_record_no_new_version(
    tmp_path: Path, open_test_store: Callable[[str], Store]
) -> None:
    t = Topic(tmp_path, open_test_store)
    first = t.current()
    again = t.current(NOW + timedelta(hours=1))
    build_indexes(t.store, EMBEDDER, background_dir=t.background, now=NOW + timedelta(hours=2))
    assert len(t.versions()) == 1
    assert np.array_equal(weights(first.scorer), weights(again.scorer))


def test_scorer_used_right_after_training_is_the_one_later_loaded(
    tmp_path: Path, open_test_store: Callable[[str], Store]
) -> None:
    """The cycle that trains a topic and every later process (the CLI, a restart) must score
    with the same weights, or `threatwatch score` and alerts could disagree."""
    t = Topic(tmp_path, open_test_store)
    trained = t.current().scorer
    loaded = t.current(NOW + timedelta(hours=1)).scorer
    assert np.array_equal(trained.embedding_weights, loaded.embedding_weights)
    assert np.array_equal(trained.combine_weights, loaded.combine_weights)
    assert (trained.embedding_bias, trained.combine_bias) == (
        loaded.embedding_bias,
        loaded.combine_bias,
    )


def test_a_change_of_background_news_retrains_and_the_version_says_so(
    tmp_path: Path, open_test_store: Callable[[str], Store]
) -> None:
    # an upgrade that ships more or less background news (as it can ship more seeds) is a
    # change of what the topic matches too
    t = Topic(tmp_path, open_test_store)
    t.current()
    one = sorted(t.background.glob("*.txt"))[0]
    text = one.read_text(encoding="utf-8")
    one.unlink()
    t.current(NOW + timedelta(minutes=5))
    assert t.versions()[0].reason.startswith("-1 background")  # the threshold may move too
    assert t.versions()[0].snapshot["background"] == len(sample(label="negative")) - 1
    one.write_text(text, encoding="utf-8")
    t.current(NOW + timedelta(minutes=10))
    assert t.versions()[0].reason.startswith("+1 background")


def test_a_facet_edit_in_config_reaches_an_existing_database_as_a_new_version(
    tmp_path: Path,
    open_test_store: Callable[[str], Store],
) -> None:
    # facets are edited in config only: an upgrade that ships better ones must reach databases
    # made before it, and say what moved
    t = Topic(tmp_path, open_test_store)
    t.current()
    config = tmp_path / "config" / "topics.toml"
    shipped = config.read_text(encoding="utf-8")
    edited = shipped.replace('"embassy", ', "", 1).replace('"raqqa",', '"raqqa", "embassy",', 1)
    edited = edited.replace('"hezbollah", ', '"hezbollah", "brigades", ', 1)
    assert edited.count('"embassy"') == shipped.count('"embassy"') and edited != shipped
    config.write_text(edited, encoding="utf-8")
    sync_from_config(t.store, config.parent, t.seeds_dir, NOW + timedelta(minutes=5))
    facets = {f.name: f for f in t.topic.facets}
    assert "embassy" in facets["place"].terms and "embassy" not in facets["target"].terms
    assert "brigades" in facets["actor"].terms
    t.current(NOW + timedelta(minutes=10))
    latest = t.versions()[0]
    assert latest.version == 2
    assert latest.reason.startswith(
        "facet actor +1 terms, facet place +1 terms, facet target -1 terms"
    )
    assert latest.snapshot["scorer"]["facets"] == facets_to_json(t.topic.facets)
    # syncing the same config again changes nothing
    sync_from_config(t.store, config.parent, t.seeds_dir, NOW + timedelta(minutes=15))
    t.current(NOW + timedelta(minutes=20))
    assert len(t.versions()) == 2
    # v1 differs only in facets, which config owns: a rollback would restore nothing of it but
    # its old threshold, beside a scorer that threshold was not chosen for; it is refused
    with pytest.raises(BadArgument, match="differs only in facets or background"):
        rollback(t.store, EMBEDDER, t.topic, 1, t.background, NOW + timedelta(minutes=25))
    assert len(t.versions()) == 2 and t.topic.active_version == 2
    assert t.topic.threshold == latest.snapshot["threshold"]


def test_an_auto_threshold_that_left_its_version_is_set_right_as_a_version(
    tmp_path: Path,
    open_test_store: Callable[[str], Store],
) -> None:
    # databases where a rollback once restored an old auto threshold beside a newer scorer
    t = Topic(tmp_path, open_test_store)
    first = t.current().topic
    t.store.set_threshold_mode(TOPIC, "auto", 0.123, NOW)
    repaired = t.current(NOW + timedelta(minutes=5)).topic
    latest = t.versions()[0]
    assert repaired.threshold == first.threshold == latest.snapshot["threshold"]
    assert latest.version == 2
    assert latest.reason == f"threshold 0.12 → {first.threshold:.2f}, the version's own"
    t.current(NOW + timedelta(minutes=10))
    assert len(t.versions()) == 2


def test_a_new_seed_retrains_and_the_version_says_so(
    tmp_path: Path, open_test_store: Callable[[str], Store]
) -> None:
    t = Topic(tmp_path, open_test_store)
    before = t.current().scorer
    t.add_seed(NEW_ATTACK)
    after = t.current(NOW + timedelta(minutes=5))
    latest = t.versions()[0]
    assert latest.version == 2 and latest.reason.startswith("+1 seed")
    assert after.topic.active_version == 2
    assert not np.array_equal(weights(before), weights(after.scorer))
    assert latest.snapshot["cv"]["positives"] == len(sample(label="related")) + 1
    moved = latest.snapshot["threshold"] != t.versions()[1].snapshot["threshold"]
    assert ("threshold" in latest.reason) == moved


def test_removing_a_counter_example_is_recorded(
    tmp_path: Path, open_test_store: Callable[[str], Store]
) -> None:
    t = Topic(tmp_path, open_test_store)
    t.current()
    counter = t.store.seeds(TOPIC, kind="counter")[0]
    t.store.remove_seed(counter.id, NOW)
    t.current()
    assert t.versions()[0].reason.startswith("-1 counter-example")
    assert counter.content_hash not in t.versions()[0].snapshot["counters"]


def test_manual_threshold_keeps_the_scorer_and_records_the_change(
    tmp_path: Path, open_test_store: Callable[[str], Store]
) -> None:
    t = Topic(tmp_path, open_test_store)
    first = t.current()
    auto = first.topic.threshold
    t.store.set_threshold_mode(TOPIC, "manual", 0.8, NOW)
    second = t.current()
    latest = t.versions()[0]
    assert second.topic.threshold == 0.8 and second.topic.threshold_mode == "manual"
    assert latest.reason == f"threshold {auto:.2f} (auto) → 0.80 (manual)"
    assert latest.snapshot["signature"] == t.versions()[1].snapshot["signature"]
    assert np.array_equal(weights(first.scorer), weights(second.scorer))
    # and back to auto: the cross-validated threshold again
    t.store.set_threshold_mode(TOPIC, "auto", UNTRAINED_THRESHOLD, NOW)
    third = t.current()
    assert third.topic.threshold == auto and len(t.versions()) == 3
    assert "(manual) →" in t.versions()[0].reason


def test_numeric_threshold_in_config_is_manual(
    tmp_path: Path, open_test_store: Callable[[str], Store]
) -> None:
    t = Topic(tmp_path, open_test_store, threshold="0.7")
    outcome = t.current()
    assert outcome.topic.threshold_mode == "manual" and outcome.topic.threshold == 0.7
    assert outcome.scorer is not None  # still trained; only the threshold is fixed


def test_a_topic_too_small_to_train_falls_back_to_similarity(
    tmp_path: Path, open_test_store: Callable[[str], Store]
) -> None:
    config, seeds = write_topic(tmp_path, positives=[item("dev-rel-001"), item("dev-rel-008")])
    store = open_test_store("tw")
    sync_from_config(store, config, seeds, NOW)
    outcome = ensure_current(store, EMBEDDER, store.topic(TOPIC), seeds / "_background", NOW)
    (version,) = store.topic_versions(TOPIC)
    assert outcome.scorer is None and version.snapshot["scorer"] is None
    assert outcome.topic.threshold == UNTRAINED_THRESHOLD
    assert "similarity only" in version.reason
    (index,) = build_indexes(store, EMBEDDER, background_dir=seeds / "_background", now=NOW)
    assert index.scorer is None and index.seed_count == 2


def test_topic_version_that_does_not_exist_is_not_found(
    tmp_path: Path, open_test_store: Callable[[str], Store]
) -> None:
    t = Topic(tmp_path, open_test_store)
    t.current()
    with pytest.raises(NotFound, match="no version 9"):
        t.store.topic_version(TOPIC, 9)


# --- feedback ---------------------------------------------------------------------------------------


def test_feedback_votes_are_net_per_alert_and_zero_is_left_out(
    tmp_path: Path, open_test_store: Callable[[str], Store]
) -> None:
    t = Topic(tmp_path, open_test_store)
    up, tied = t.alert(NEW_ATTACK), t.alert(NEW_LOOKALIKE)
    for user, vote in (("a", 1), ("b", 1), ("c", -1)):
        t.store.record_feedback(up, "telegram", user, vote, NOW)
    for user, vote in (("a", 1), ("b", -1)):
        t.store.record_feedback(tied, "telegram", user, vote, NOW)
    votes = t.store.feedback_votes(TOPIC, applied_only=False)
    assert [(m, net) for m, _, net in votes] == [(up, 1)]
    assert t.store.feedback_votes(TOPIC, applied_only=True) == []


def test_mark_feedback_applied_keeps_earlier_versions(
    tmp_path: Path, open_test_store: Callable[[str], Store]
) -> None:
    t = Topic(tmp_path, open_test_store)
    first, second = t.alert(NEW_ATTACK), t.alert(NEW_LOOKALIKE)
    t.store.record_feedback(first, "slack", "u", 1, NOW)
    t.store.mark_feedback_applied([first], version=2)
    t.store.record_feedback(second, "slack", "u", -1, NOW)
    t.store.mark_feedback_applied([first, second], version=3)
    rows = dict(query(t.store, "SELECT match_id, applied_version FROM feedback"))
    assert rows == {first: 2, second: 3}


def test_apply_feedback_without_pending_votes_is_refused(
    tmp_path: Path, open_test_store: Callable[[str], Store]
) -> None:
    t = Topic(tmp_path, open_test_store)
    t.current()
    with pytest.raises(BadArgument, match="no pending feedback"):
        apply_feedback(t.store, EMBEDDER, t.topic, t.background, NOW)
    assert len(t.versions()) == 1


def test_applied_feedback_becomes_training_examples_in_a_new_version(
    tmp_path: Path, open_test_store: Callable[[str], Store]
) -> None:
    t = Topic(tmp_path, open_test_store)
    t.current()
    up, down = t.alert(NEW_ATTACK), t.alert(NEW_LOOKALIKE)
    t.store.record_feedback(up, "telegram", "1", 1, NOW)
    t.store.record_feedback(down, "telegram", "1", -1, NOW)
    t.current()  # votes alone change nothing until an admin applies them
    assert len(t.versions()) == 1
    outcome = apply_feedback(t.store, EMBEDDER, t.topic, t.background, NOW)
    latest = t.versions()[0]
    assert latest.version == 2
    assert latest.reason.startswith("feedback applied: +2 feedback")
    assert sorted(latest.snapshot["feedback"]) == sorted([up, down])
    assert latest.snapshot["cv"]["positives"] == len(sample(label="related")) + 1
    assert outcome.topic.active_version == 2
    applied = t.store.feedback_votes(TOPIC, applied_only=True)
    assert sorted((m, net) for m, _, net in applied) == sorted([(up, 1), (down, -1)])


def test_train_report_compares_figures_before_and_after_pending_feedback(
    tmp_path: Path, open_test_store: Callable[[str], Store]
) -> None:
    t = Topic(tmp_path, open_test_store)
    t.current()
    up = t.alert(NEW_ATTACK)
    t.store.record_feedback(up, "telegram", "1", 1, NOW)
    report = train_report(t.store, EMBEDDER, t.topic, t.background)
    assert report.pending_feedback == 1
    assert report.before is not None and report.after is not None
    assert report.before.n == len(sample()) and report.after.n == len(sample()) + 1
    assert "1 feedback" in report.training
    assert len(t.versions()) == 1  # a report changes nothing


# --- rollback ---------------------------------------------------------------------------------------


def test_rollback_restores_seeds_and_scorer_and_records_a_version(
    tmp_path: Path, open_test_store: Callable[[str], Store]
) -> None:
    t = Topic(tmp_path, open_test_store)
    v1 = t.current()
    seed_id = t.add_seed(NEW_ATTACK)
    t.current()
    outcome = rollback(t.store, EMBEDDER, t.topic, 1, t.background, NOW + timedelta(hours=1))
    latest = t.versions()[0]
    assert latest.version == 3
    assert latest.reason.startswith("rolled back to v1: -1 seed")
    assert seed_id not in {s.id for s in t.store.seeds(TOPIC, kind="positive")}
    assert latest.snapshot["signature"] == t.store.topic_version(TOPIC, 1).snapshot["signature"]
    assert np.array_equal(weights(v1.scorer), weights(outcome.scorer))
    assert outcome.topic.active_version == 3


def test_rollback_restores_the_threshold_and_its_mode(
    tmp_path: Path, open_test_store: Callable[[str], Store]
) -> None:
    t = Topic(tmp_path, open_test_store)
    auto = t.current().topic.threshold
    t.store.set_threshold_mode(TOPIC, "manual", 0.9, NOW)
    t.current()
    outcome = rollback(t.store, EMBEDDER, t.topic, 1, t.background, NOW)
    assert outcome.topic.threshold_mode == "auto" and outcome.topic.threshold == auto
    assert t.versions()[0].reason == "rolled back to v1: threshold 0.90 (manual) → " + (
        f"{auto:.2f} (auto)"
    )


def test_rollback_brings_back_a_removed_seed_and_unapplies_later_feedback(
    tmp_path: Path, open_test_store: Callable[[str], Store]
) -> None:
    t = Topic(tmp_path, open_test_store)
    t.current()
    removed = t.store.seeds(TOPIC, kind="positive")[0]
    t.store.remove_seed(removed.id, NOW)
    up = t.alert(NEW_ATTACK)
    t.store.record_feedback(up, "telegram", "1", 1, NOW)
    apply_feedback(t.store, EMBEDDER, t.topic, t.background, NOW)
    assert t.store.feedback_votes(TOPIC, applied_only=True)
    rollback(t.store, EMBEDDER, t.topic, 1, t.background, NOW)
    assert removed.id in {s.id for s in t.store.seeds(TOPIC, kind="positive")}
    assert t.store.feedback_votes(TOPIC, applied_only=True) == []
    assert [m for m, _, _ in t.store.feedback_votes(TOPIC, applied_only=False)] == [up]
    assert t.versions()[0].reason.startswith("rolled back to v1: +1 seed, -1 feedback")


def test_rollback_to_a_missing_version_changes_nothing(
    tmp_path: Path, open_test_store: Callable[[str], Store]
) -> None:
    t = Topic(tmp_path, open_test_store)
    t.current()
    with pytest.raises(NotFound):
        rollback(t.store, EMBEDDER, t.topic, 5, t.background, NOW)
    assert len(t.versions()) == 1 and t.topic.active_version == 1
