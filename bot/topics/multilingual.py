"""Each topic's multilingual copy: its examples in the multilingual embedder's space, with its
own trained scorer and threshold, for articles the language detector says are not English.

The copy is trained from the same examples as the English scorer (seeds, counter-examples,
applied feedback whose article has vectors in this space, the shared background), embedded in
the multilingual space and cached by content hash like the English ones. Its threshold is the
one grouped cross-validation picks in this space when the topic's threshold is "auto" (cosines
and scores here sit in another band: an English threshold means nothing here), or the admin's
threshold when it is manual. The trained copy is kept in the store's meta table under the
examples' signature, so a restart does not retrain; any change of examples retrains it on the
next non-English article.

Nothing here runs, and the multilingual model is not loaded, until a non-English article
arrives (or ``THREATWATCH_MULTILINGUAL=eager`` asks at start-up).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bot.core.models import Topic, TopicScore
from bot.relevance.cascade import PassageCache, embed_with_cascade
from bot.relevance.embed import Embedder
from bot.relevance.language import detect_language, normalise
from bot.relevance.language_shift import language_shifts, move
from bot.relevance.match import TopicIndex, score_article
from bot.relevance.scorer import TopicScorer, document_text
from bot.relevance.scoring import Embedded, score_document
from bot.relevance.train import Example, train
from bot.store import Store
from bot.topics.multilingual_examples import LabeledSeed, example_seeds
from bot.topics.training import can_train, example_group, gather, signature

log = logging.getLogger(__name__)

# no trained copy (too few examples): non-English articles are stored and searchable, but a raw
# cosine in this space is no evidence of relevance, so nothing alerts
NO_ALERT = 1.01
# the copy's threshold: best F1 (the English scorer's was F0.5 when this was measured; it now
# keeps out-of-fold precision at 0.97, bot/relevance/metrics.py). Its precision on the Arabic and
# Persian development set stayed at 0.97-1.00 while F0.5 lost a third of the Arabic reports,
# which come hours before English ones (bench/relevance_multilingual.py, docs/BENCHMARKS.md)
THRESHOLD_BETA = 1.0
MODES = ("auto", "eager", "off")
ENGLISH = frozenset({"", "en", "und"})


def meta_key(topic: str, sig: str | None = None) -> str:
    """Where a topic's trained copy is kept: one record per signature (its examples, facets and
    model), so returning to earlier examples (a rollback) loads that copy instead of training."""
    return f"multilingual_scorer:{topic}" + (f":{sig}" if sig else "")


class MultilingualTopics:
    """Builds and caches every topic's multilingual copy."""

    def __init__(
        self, store: Store, embedder: Embedder, seeds_dir: Path | None, *, mode: str = "auto"
    ):
        self.store = store
        self.embedder = embedder
        self.seeds_dir = seeds_dir
        self.background_dir = seeds_dir / "_background" if seeds_dir else None
        self.mode = mode
        self._lock = threading.Lock()
        self._built: dict[str, tuple[str, TopicIndex]] = {}  # topic → (signature, index)
        self.trainings = 0  # copies trained (not loaded): what versioning saves
        # topic → language → the vector added to that language's passages before scoring
        self._shifts: dict[str, dict[str, np.ndarray]] = {}

    def built_signature(self, topic: str) -> str | None:
        """The signature of the copy built for ``topic`` (its stored record's key), if built."""
        built = self._built.get(topic)
        return built[0] if built else None

    def handles(self, language: str) -> bool:
        """Whether an article in this language goes to the multilingual space."""
        return self.mode != "off" and language not in ENGLISH

    def indexes(self, english: Sequence[TopicIndex]) -> list[TopicIndex]:
        """The multilingual copy of each topic the English indexes hold (same topics, same
        order). Blocking (may embed examples and train): run off the event loop."""
        with self._lock:
            return [self._index(i.topic) for i in english]

    def score(
        self, doc: Embedded, language: str, indexes: Sequence[TopicIndex]
    ) -> list[TopicScore]:
        """A non-English document against the copies (from ``indexes()``): its passages moved
        by the language's shift where the topic has one (bot/relevance/language_shift.py)."""
        out = []
        for index in indexes:
            delta = self._shifts.get(index.topic.name, {}).get(language)
            vectors = doc.vectors if delta is None else move(doc.vectors, delta)
            out.append(score_article(vectors, doc.passages, index))
        return out

    def _index(self, topic: Topic) -> TopicIndex:
        ids_only = gather(self.store, self.embedder, topic, self.background_dir, with_vectors=False)
        extra = example_seeds(self.seeds_dir, topic.name)
        sig = _with_examples(signature(topic, ids_only, self.embedder.name), extra)
        built = self._built.get(topic.name)
        # a new version with the same examples (a threshold set) loads the same scorer below,
        # now serving that version: the index names the version that scores
        same_version = built is not None and built[1].topic.active_version == topic.active_version
        if built and built[0] == sig and _same_setting(built[1].topic, topic) and same_version:
            return built[1]
        scorer, picked, self._shifts[topic.name] = self._scorer(topic, sig, extra)
        threshold = topic.threshold if topic.threshold_mode == "manual" else picked
        index = self._seed_index(dataclasses.replace(topic, threshold=threshold), scorer)
        self._built[topic.name] = (sig, index)
        return index

    def _scorer(
        self, topic: Topic, sig: str, extra: Sequence[LabeledSeed]
    ) -> tuple[TopicScorer | None, float, dict[str, np.ndarray]]:
        """The copy's scorer, the threshold cross-validation picked and the languages' shifts,
        from the store when its examples have not changed, else trained now and kept."""
        for key in (
            meta_key(topic.name, sig),
            meta_key(topic.name),
        ):  # the latter: the single record kept before
            stored = _load(self.store.meta(key))
            if stored and stored.get("signature") == sig:
                return _from_record(stored)
        self.trainings += 1
        # no lead vectors: articles in this space are embedded whole (the cascade is the English
        # space's), and each long example's lead was one more text through the slow engine
        training = gather(self.store, self.embedder, topic, self.background_dir, leads=False)
        language_of = self._feedback_languages(topic)
        shifts = language_shifts(
            [e.passage_vectors for e in training.examples if language_of(e) in ENGLISH],
            [(e.language, v) for e, v in zip(extra, self._vectors(extra), strict=True)],
        )
        # feedback on a non-English alert is an example in that language: moved like one
        training.examples[:] = [
            dataclasses.replace(e, passage_vectors=move(e.passage_vectors, shifts[lang]))
            if (lang := language_of(e)) in shifts
            else e
            for e in training.examples
        ]
        training.examples.extend(self._examples(extra, shifts))
        if not can_train(training):
            scorer, picked, cv = None, NO_ALERT, None
        else:
            trained = train(
                training.examples, topic.facets, model=self.embedder.name, beta=THRESHOLD_BETA
            )
            scorer, picked, cv = trained.scorer, trained.threshold, vars(trained.cv)
            log.info(
                "topic %s: multilingual copy trained (%s), threshold %.3f",
                topic.name,
                training.describe(),
                picked,
            )
        record = {
            "signature": sig,
            "version": topic.active_version,  # the topic version it was first trained for
            "scorer": scorer.to_json() if scorer else None,
            "threshold": picked,
            "cv": cv,
            "shifts": {lang: [round(float(x), 6) for x in d] for lang, d in shifts.items()},
        }
        self.store.set_meta(meta_key(topic.name, sig), json.dumps(record))
        # score with the scorer as stored (weights rounded in its JSON), as a restart would
        return _from_record(record)

    def _feedback_languages(self, topic: Topic) -> Callable[[Example], str]:
        """An example's language: English for curated ones, the article's for feedback."""
        votes = self.store.feedback_votes(topic.name, applied_only=True)
        by_match = {
            f"feedback:{match}": self.store.article(article).language for match, article, _ in votes
        }
        return lambda e: by_match.get(e.ref, "en")

    def _vectors(self, extra: Sequence[LabeledSeed]) -> list[np.ndarray]:
        from bot.topics.seeds import seed_passages  # topics imports topic_training, as this does

        cached = seed_passages(self.store, self.embedder, [e.seed for e in extra])
        return [cached[e.seed.content_hash][1] for e in extra]

    def _examples(
        self, extra: Sequence[LabeledSeed], shifts: dict[str, np.ndarray]
    ) -> list[Example]:
        from bot.topics.seeds import seed_passages

        cached = seed_passages(self.store, self.embedder, [e.seed for e in extra])
        out = []
        for e in extra:
            parts, vectors = cached[e.seed.content_hash]
            if e.language in shifts:
                vectors = move(vectors, shifts[e.language])
            group = example_group(e.seed.origin, e.ref)
            out.append(Example(e.label, vectors, document_text(parts), group, e.ref))
        return out

    def _seed_index(self, topic: Topic, scorer: TopicScorer | None) -> TopicIndex:
        from bot.topics.seeds import seed_passages  # topics imports topic_training, as this does

        seeds = self.store.seeds(topic.name, kind="positive")
        cached = seed_passages(self.store, self.embedder, seeds)
        rows, ids, titles = [], [], []
        for seed in seeds:
            vectors = cached[seed.content_hash][1]
            rows.append(vectors)
            ids += [seed.id] * len(vectors)
            titles += [seed.title] * len(vectors)
        return TopicIndex(
            topic=topic,
            model=self.embedder.name,
            vectors=np.vstack(rows) if rows else np.zeros((0, 1), np.float32),
            seed_ids=tuple(ids),
            seed_titles=tuple(titles),
            scorer=scorer,
        )


def _with_examples(sig: str, extra: Sequence[LabeledSeed]) -> str:
    """The copy's signature: the English examples' and the multilingual example files'."""
    if not extra:
        return sig
    hashes = ",".join(sorted(f"{e.ref.split(':')[0]}:{e.seed.content_hash}" for e in extra))
    return hashlib.sha256(f"{sig}|{hashes}".encode()).hexdigest()[:24]


def _from_record(record: dict[str, Any]) -> tuple[TopicScorer | None, float, dict[str, np.ndarray]]:
    data = record.get("scorer")
    shifts = {
        str(lang): np.asarray(d, np.float32) for lang, d in (record.get("shifts") or {}).items()
    }
    return (TopicScorer.from_json(data) if data else None), float(record["threshold"]), shifts


def _same_setting(built: Topic, current: Topic) -> bool:
    same_mode = built.threshold_mode == current.threshold_mode
    return same_mode and (current.threshold_mode == "auto" or built.threshold == current.threshold)


def _load(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        data = json.loads(text)
    except ValueError:  # a damaged record is retrained, not trusted
        return None
    return data if isinstance(data, dict) else None


def score_in_spaces(
    docs: Sequence[tuple[str, str]],
    embedder: Embedder,
    indexes: Sequence[TopicIndex],
    multilingual: MultilingualTopics | None,
) -> list[list[TopicScore]]:
    """Score (title, text) documents as the poll cycle does (see ``score_with_stops``)."""
    return score_with_stops(docs, embedder, indexes, multilingual, cascade=False)[0]


def score_with_stops(
    docs: Sequence[tuple[str, str]],
    embedder: Embedder,
    indexes: Sequence[TopicIndex],
    multilingual: MultilingualTopics | None,
    *,
    cascade: bool,
) -> tuple[list[list[TopicScore]], list[bool]]:
    """Score (title, text) documents as the poll cycle does: English (and undetermined) ones
    with the English model against ``indexes``, the others with the multilingual model against
    the topics' multilingual copies. With ``cascade``, English ones are embedded as the cycle
    embeds them (bot/relevance/cascade.py), so a score is exactly the one an alert carries;
    each is also said to stop at its lead or not, and one that stops is then embedded whole,
    so its score is still its whole text's. Blocking; results in the order of ``docs``."""
    languages = [detect_language(title, text) for title, text in docs]
    out: list[list[TopicScore]] = [[] for _ in docs]
    stops = [False] * len(docs)
    for foreign in (False, True):
        rows = [
            i
            for i, lang in enumerate(languages)
            if (multilingual is not None and multilingual.handles(lang)) == foreign
        ]
        if not rows:
            continue
        space = multilingual.embedder if foreign and multilingual else embedder
        space_indexes = multilingual.indexes(indexes) if foreign and multilingual else indexes
        texts = [
            (normalise(docs[i][0], languages[i]), normalise(docs[i][1], languages[i])) for i in rows
        ]
        cache = PassageCache()  # as the cycle's batch would meet it: empty
        outcome = embed_with_cascade(
            space, texts, space_indexes, cache, cascade=cascade and not foreign
        )
        stopped = [n for n, stop in enumerate(outcome.stopped) if stop]
        whole = embed_with_cascade(space, [texts[n] for n in stopped], [], cache).docs
        embedded = list(outcome.docs)
        for n, doc in zip(stopped, whole, strict=True):
            embedded[n], stops[rows[n]] = doc, True
        for i, doc in zip(rows, embedded, strict=True):
            if foreign and multilingual:
                out[i] = multilingual.score(doc, languages[i], space_indexes)
            else:
                out[i] = score_document(doc, space_indexes)
    return out, stops
