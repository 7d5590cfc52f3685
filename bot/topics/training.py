"""Keeps each topic's trained scorer in step with its examples, one version per change.

A topic's examples are its seeds (positive), its counter-examples, the feedback an admin applied,
and the shared background of unrelated news. Whenever they change — a seed added in chat, a
threshold set, feedback applied, a rollback — the next index build notices (the examples'
signature differs from the active version's), retrains if the examples changed, and records a
new version saying what changed. Nothing changes silently, and every version can be restored.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from bot.core.errors import BadArgument
from bot.core.facets import facets_to_json
from bot.core.models import Seed, Topic
from bot.relevance.cascade import PassageCache, lead_vectors
from bot.relevance.embed import Embedder
from bot.relevance.metrics import Figures
from bot.relevance.scorer import TopicScorer, document_text
from bot.relevance.train import MIN_NEGATIVES, MIN_POSITIVES, Example, Trained, train
from bot.store import Store
from bot.topics.changes import describe_change
from bot.topics.seeds import seed_from_text, seed_passages

log = logging.getLogger(__name__)

UNTRAINED_THRESHOLD = 0.58  # pure similarity (cosine) while a topic cannot be trained
_train_lock = threading.Lock()  # the cycle and a chat command may both ask; train once
# the examples' lead vectors (for the lead floor), kept while the process lives: retraining
# after one new seed embeds that seed's lead only. Seeds' passages are cached in the store.
_LEADS = PassageCache(8192)


@dataclass(frozen=True)
class TrainingSet:
    examples: list[Example]
    positives: list[str]  # content hashes of active seeds
    counters: list[str]  # content hashes of active counter-examples
    feedback: list[int]  # match ids of feedback included
    background: list[str]  # content hashes of background files

    def describe(self) -> str:
        return (
            f"{len(self.positives)} seeds, {len(self.counters)} counter-examples, "
            f"{len(self.feedback)} feedback, {len(self.background)} background"
        )


@dataclass(frozen=True)
class Outcome:
    topic: Topic
    scorer: TopicScorer | None


def gather(
    store: Store,
    embedder: Embedder,
    topic: Topic,
    background_dir: Path | None,
    *,
    feedback: str = "applied",  # "applied", "all" (applied + pending) or "none"
    with_vectors: bool = True,
    leads: bool = True,
) -> TrainingSet:
    """The topic's examples. ``with_vectors=False`` reads only what identifies them (content
    hashes, feedback ids) — enough for the signature, which is all most index builds need.
    ``leads=False`` leaves out their lead vectors (one more text embedded per long example),
    from which only a space with a cascade learns its lead floor."""

    positives = store.seeds(topic.name, kind="positive")
    counters = store.seeds(topic.name, kind="counter")
    background = list(_background_seeds(background_dir)) if background_dir else []
    votes = (
        []
        if feedback == "none"
        else store.feedback_votes(topic.name, applied_only=(feedback == "applied"))
    )
    keys = (
        sorted(s.content_hash for s in positives),
        sorted(s.content_hash for s in counters),
        [match_id for match_id, _, _ in votes],
        sorted(s.content_hash for s in background),
    )
    if not with_vectors:
        return TrainingSet([], *keys)
    cached = seed_passages(store, embedder, [*positives, *counters, *background])
    examples = [
        _example(
            seed,
            cached[seed.content_hash],
            label=(kind == "positive"),
            ref=f"{kind}:{seed.id or seed.origin}",
        )
        for kind, group in (
            ("positive", positives),
            ("counter", counters),
            ("background", background),
        )
        for seed in group
    ]
    for match_id, article_id, net in votes:
        parts, vectors = store.article_vectors(article_id, embedder.name)
        if not parts:  # stored under another model: counted in the signature, no example
            continue
        article = store.article(article_id)
        group = f"story:{article.story_id}" if article.story_id else f"article:{article_id}"
        examples.append(
            Example(net > 0, vectors, document_text(parts), group, f"feedback:{match_id}")
        )
    if leads:
        leads_of = lead_vectors(
            _LEADS,
            embedder,
            [e.text for e in examples],
            [e.passage_vectors[0] for e in examples],
            getattr(embedder, "vector_files", None),
        )
        examples = [replace(e, lead_vector=v) for e, v in zip(examples, leads_of, strict=True)]
    return TrainingSet(examples, *keys)


def _example(seed: Seed, cached: tuple[list[str], Any], *, label: bool, ref: str) -> Example:
    parts, vectors = cached
    return Example(label, vectors, document_text(parts), example_group(seed.origin, ref), ref)


def example_group(origin: str, ref: str) -> str:
    """The cross-validation group of an example: curated examples are named
    "<event>__<name>.txt", so reports of one event stay in one fold; any other is its own."""
    return origin.split("__", 1)[0] if "__" in origin else ref


def _background_seeds(folder: Path) -> tuple[Seed, ...]:
    if not folder.is_dir():
        return ()
    stamp = tuple((p.name, p.stat().st_mtime_ns) for p in sorted(folder.glob("*.txt")))
    return _read_background(str(folder), stamp)


@lru_cache(maxsize=8)
def _read_background(folder: str, stamp: tuple[tuple[str, int], ...]) -> tuple[Seed, ...]:

    out = []
    for name, _ in stamp:
        text = (Path(folder) / name).read_text(encoding="utf-8", errors="replace")
        out.append(seed_from_text("_background", text, origin=name, kind="background"))
    return tuple(out)


def signature(topic: Topic, training: TrainingSet, model: str) -> str:
    payload = {
        "model": model,
        "positives": training.positives,
        "counters": training.counters,
        "feedback": training.feedback,
        "background": training.background,
        "facets": facets_to_json(topic.facets),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:24]


def can_train(training: TrainingSet) -> bool:
    labels = [e.label for e in training.examples]
    return sum(labels) >= MIN_POSITIVES and len(labels) - sum(labels) >= MIN_NEGATIVES


def ensure_current(
    store: Store,
    embedder: Embedder,
    topic: Topic,
    background_dir: Path | None,
    now: datetime,
    *,
    why: str = "",
) -> Outcome:
    """The topic's scorer for its current examples and threshold, recording a new version when
    anything changed since the active one."""
    with _train_lock:
        topic = store.topic(topic.name)  # re-read under the lock: another thread may have trained
        # identify the examples first (cheap); vectors are read only if training is needed
        training = gather(store, embedder, topic, background_dir, with_vectors=False)
        sig = signature(topic, training, embedder.name)
        active = (
            store.topic_version(topic.name, topic.active_version).snapshot
            if topic.active_version
            else None
        )
        if active and active["signature"] == sig and _same_threshold(active, topic):
            return Outcome(topic, _scorer(active))
        earlier = _version_with(store, topic.name, sig)
        if earlier is not None:  # same examples as a version before (e.g. a rollback): reuse it
            trained_scorer, cv, picked = (
                _scorer(earlier),
                earlier.get("cv"),
                earlier.get("cv_threshold"),
            )
        elif can_train(training := gather(store, embedder, topic, background_dir)):
            trained = train(training.examples, topic.facets, model=embedder.name)
            trained_scorer, cv, picked = trained.scorer, _figures(trained), trained.threshold
        else:
            trained_scorer, cv, picked = None, None, None
        if topic.threshold_mode == "auto":
            threshold = picked if picked is not None else UNTRAINED_THRESHOLD
        else:
            threshold = topic.threshold
        snapshot = _snapshot(topic, training, sig, trained_scorer, cv, picked, threshold)
        change = describe_change(active, snapshot, threshold_in_use=topic.threshold)
        reason = ": ".join(p for p in (why, change) if p)
        version = store.save_topic_version(topic.name, reason, snapshot, now, threshold=threshold)
        log.info("topic %s: version %d (%s)", topic.name, version, reason)
        # score with the scorer as stored (weights rounded in its JSON), as every later load
        # does: the cycle that trained and `threatwatch score` must give the same scores
        return Outcome(store.topic(topic.name), _scorer(snapshot))


def _version_with(store: Store, topic: str, sig: str) -> dict[str, Any] | None:
    for version in store.topic_versions(topic):
        if version.snapshot.get("signature") == sig:
            return dict(version.snapshot)
    return None


def _same_threshold(snapshot: Mapping[str, Any], topic: Topic) -> bool:
    # in auto mode too: a topic whose threshold is not its active version's (left so by a
    # rollback before those were refused) records a version that sets it right
    return (
        snapshot["threshold_mode"] == topic.threshold_mode
        and abs(snapshot["threshold"] - topic.threshold) < 1e-9
    )


def _figures(trained: Trained) -> dict[str, Any]:
    return vars(trained.cv) | {"positives": trained.positives, "negatives": trained.negatives}


def _snapshot(
    topic: Topic,
    training: TrainingSet,
    sig: str,
    scorer: TopicScorer | None,
    cv: dict[str, Any] | None,
    picked: float | None,
    threshold: float,
) -> dict[str, Any]:
    return {
        "signature": sig,
        "threshold": threshold,
        "threshold_mode": topic.threshold_mode,
        "positives": training.positives,
        "counters": training.counters,
        "feedback": training.feedback,
        "background": len(training.background),
        "facets": facets_to_json(topic.facets),
        "scorer": scorer.to_json() if scorer else None,
        "cv": cv,
        "cv_threshold": picked,
    }


@lru_cache(maxsize=64)
def _scorer_from(text: str) -> TopicScorer:
    return TopicScorer.from_json(json.loads(text))


def _scorer(snapshot: Mapping[str, Any]) -> TopicScorer | None:
    data = snapshot.get("scorer")
    return _scorer_from(json.dumps(data, sort_keys=True)) if data else None


# --- what admins call ------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainReport:
    topic: str
    before: Figures | None  # cross-validated, with the examples in use
    after: Figures | None  # cross-validated, with pending feedback added
    pending_feedback: int
    training: str  # what the "after" set holds


def train_report(
    store: Store, embedder: Embedder, topic: Topic, background_dir: Path | None
) -> TrainReport:
    current = gather(store, embedder, topic, background_dir, feedback="applied")
    candidate = gather(store, embedder, topic, background_dir, feedback="all")
    before = (
        train(current.examples, topic.facets, model=embedder.name) if can_train(current) else None
    )
    after = (
        train(candidate.examples, topic.facets, model=embedder.name)
        if can_train(candidate)
        else None
    )
    return TrainReport(
        topic.name,
        before.cv if before else None,
        after.cv if after else None,
        len(set(candidate.feedback) - set(current.feedback)),
        candidate.describe(),
    )


def apply_feedback(
    store: Store, embedder: Embedder, topic: Topic, background_dir: Path | None, now: datetime
) -> Outcome:
    """Make pending feedback part of the topic's examples: retrain and record a version."""
    candidate = gather(store, embedder, topic, background_dir, feedback="all")
    applied = set(gather(store, embedder, topic, background_dir, feedback="applied").feedback)
    pending = [m for m in candidate.feedback if m not in applied]
    if not pending:
        raise BadArgument(f"topic {topic.name} has no pending feedback to apply")
    # mark it applied as of the version about to be recorded; ensure_current then sees the
    # changed examples, retrains and records that version
    store.mark_feedback_applied(pending, version=(topic.active_version or 0) + 1)
    return ensure_current(store, embedder, topic, background_dir, now, why="feedback applied")


def rollback(
    store: Store,
    embedder: Embedder,
    topic: Topic,
    version: int,
    background_dir: Path | None,
    now: datetime,
) -> Outcome:
    target = store.topic_version(topic.name, version)
    if topic.active_version and _same_topic_setting(
        target.snapshot, store.topic_version(topic.name, topic.active_version).snapshot
    ):
        # restoring would change nothing the topic's admins own; "rolled back" would be untrue,
        # and v{version}'s old auto threshold would sit beside a scorer it was not chosen for
        raise BadArgument(
            f"v{version} has the examples and threshold in use now: it differs only in facets or "
            "background news, which follow config/topics.toml and seeds/_background/"
        )
    store.restore_topic(topic.name, target.snapshot, version, now)
    return ensure_current(
        store,
        embedder,
        store.topic(topic.name),
        background_dir,
        now,
        why=f"rolled back to v{version}",
    )


def _same_topic_setting(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """The same examples, feedback and threshold setting (what a rollback restores)."""
    same_examples = all(set(a[k]) == set(b[k]) for k in ("positives", "counters", "feedback"))
    same_threshold = a["threshold_mode"] == b["threshold_mode"] and (
        a["threshold_mode"] == "auto" or abs(a["threshold"] - b["threshold"]) < 1e-9
    )
    return same_examples and same_threshold
