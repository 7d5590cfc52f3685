"""The ingest cascade: leads first, the lead floor learned in held-out folds, and the passage
cache. Real news texts from the development corpus, embedded with the hashing embedder."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from relevance_support import sample, shipped_facets

from bot.core.models import Topic
from bot.relevance.cascade import (
    FLOOR_MARGIN,
    LEAD_WORDS,
    MIN_FLOOR_EXAMPLES,
    PassageCache,
    clearly_unrelated,
    embed_with_cascade,
    lead_key,
    lead_probability,
    lead_text,
    lead_vectors,
    learn_lead_floor,
)
from bot.relevance.embed import HashingEmbedder, passages
from bot.relevance.match import TopicIndex
from bot.relevance.scorer import TopicScorer, document_text
from bot.relevance.scoring import embed_documents
from bot.relevance.train import Example, held_out, train
from bot.relevance.vector_files import VectorFiles

EMBEDDER = HashingEmbedder()


class CountingEmbedder:
    """The hashing embedder, counting the texts it is asked to embed."""

    def __init__(self) -> None:
        self.inner = HashingEmbedder()
        self.name = self.inner.name
        self.embedded: list[str] = []

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.embedded += list(texts)
        return self.inner.encode(texts)


@cache
def trained() -> tuple[TopicScorer, tuple[Example, ...]]:
    rows = sample()
    docs = embed_documents(EMBEDDER, [(r["title"] or "", r["text"]) for r in rows])
    texts = [document_text(d.passages) for d in docs]
    leads = lead_vectors(PassageCache(0), EMBEDDER, texts, [d.vectors[0] for d in docs])
    examples = tuple(
        Example(r["label"] == "related", d.vectors, t, r["event"] or r["id"], r["id"], lead)
        for r, d, t, lead in zip(rows, docs, texts, leads, strict=True)
    )
    return train(examples, shipped_facets(), model=EMBEDDER.name).scorer, examples


def index_with(scorer: TopicScorer | None, threshold: float = 0.5) -> TopicIndex:
    topic = Topic(name="t", description="", threshold=threshold, facets=shipped_facets())
    return TopicIndex(topic, EMBEDDER.name, np.zeros((0, 256), np.float32), (), (), scorer)


# --- the lead --------------------------------------------------------------------------------------


def test_the_lead_is_the_first_words_of_the_text_as_scoring_reads_it() -> None:
    row = next(r for r in sample() if len(r["text"].split()) > 2 * LEAD_WORDS)
    text = document_text(passages(row["title"], row["text"]))
    lead = lead_text(text)
    assert len(lead.split()) == LEAD_WORDS
    assert lead.startswith(" ".join(row["title"].split()))  # the title leads it
    short = "Drone strikes base\nThree soldiers were wounded."
    assert lead_text(short) == "Drone strikes base Three soldiers were wounded."


def test_a_short_documents_lead_vector_is_its_passage_vector_without_embedding_again() -> None:
    embedder = CountingEmbedder()
    short = passages("Drone strikes base", "Three soldiers were wounded.")
    row = next(r for r in sample() if len(r["text"].split()) > 2 * LEAD_WORDS)
    long = passages(row["title"], row["text"])
    first = EMBEDDER.encode([short[0], long[0]])
    got = lead_vectors(PassageCache(0), embedder, ["\n".join(short), "\n".join(long)], list(first))
    assert embedder.embedded == [lead_text("\n".join(long))]  # only the long one's lead
    np.testing.assert_array_equal(got[0], first[0])
    np.testing.assert_array_equal(got[1], EMBEDDER.encode([lead_text("\n".join(long))])[0])


def test_leads_embedded_once_are_kept_on_disk_and_read_by_the_next_process(
    tmp_path: Path,
) -> None:
    rows = [r for r in sample() if len(r["text"].split()) > 2 * LEAD_WORDS][:3]
    texts = ["\n".join(passages(r["title"], r["text"])) for r in rows]
    first = [EMBEDDER.encode([t.split("\n", 1)[0]])[0] for t in texts]
    files = VectorFiles(tmp_path / "seed-vectors", shipped=None)
    embedder = CountingEmbedder()
    got = lead_vectors(PassageCache(0), embedder, texts, first, files)
    assert len(embedder.embedded) == 3
    again = CountingEmbedder()  # a new process: its own empty cache, the same files
    kept = lead_vectors(PassageCache(0), again, texts, first, files)
    assert again.embedded == []
    for a, b in zip(got, kept, strict=True):
        np.testing.assert_array_equal(a, b)
    other = CountingEmbedder()  # another runtime of the model: its vectors are not these
    other.runtime = "onnxruntime int8"  # type: ignore[attr-defined]
    lead_vectors(PassageCache(0), other, texts, first, files)
    assert len(other.embedded) == 3
    # a lead's file is named apart from the seeds' (content hashes of a title and a text)
    assert lead_key(lead_text(texts[0])) != lead_key(lead_text(texts[1]))


# --- the floor --------------------------------------------------------------------------------------


def test_the_floor_is_the_lowest_lead_lowered_by_the_margin_in_log_odds() -> None:
    floor = learn_lead_floor([0.9, 0.4, 0.2, 0.7, 0.5])
    assert floor is not None and floor < 0.2

    def logit(p: float) -> float:
        return math.log(p / (1 - p))

    assert logit(0.2) - logit(floor) == pytest.approx(FLOOR_MARGIN, abs=1e-4)


def test_too_few_held_out_leads_learn_no_floor() -> None:
    assert learn_lead_floor([0.5] * (MIN_FLOOR_EXAMPLES - 1)) is None
    assert learn_lead_floor([]) is None
    assert learn_lead_floor([0.0] * MIN_FLOOR_EXAMPLES) is not None  # clipped, not an error


def test_training_learns_a_floor_below_every_held_out_related_lead() -> None:
    scorer, examples = trained()
    probabilities, leads = held_out(examples, shipped_facets(), model=EMBEDDER.name)
    labels = np.array([e.label for e in examples])
    assert scorer.lead_floor is not None
    assert not np.isnan(leads[labels]).all()
    assert scorer.lead_floor < np.nanmin(leads[labels])
    # nor does it stop an example the held-out scorer alerts on
    assert 0.0 < scorer.lead_floor <= np.nanmin(leads[probabilities >= 0.5], initial=1.0)


def test_examples_without_lead_vectors_learn_no_floor() -> None:
    _, examples = trained()
    bare = [dataclasses.replace(e, lead_vector=None) for e in examples]
    assert train(bare, shipped_facets(), model=EMBEDDER.name).scorer.lead_floor is None


def test_the_floor_survives_the_scorers_json_and_old_scorers_have_none() -> None:
    scorer, _ = trained()
    data = json.loads(json.dumps(scorer.to_json()))
    assert TopicScorer.from_json(data).lead_floor == scorer.lead_floor
    del data["lead_floor"]
    assert TopicScorer.from_json(data).lead_floor is None
    assert "lead_floor" not in dataclasses.replace(scorer, lead_floor=None).to_json()


# --- deciding ---------------------------------------------------------------------------------------


def test_a_lead_stops_only_below_the_floor_of_every_topic() -> None:
    scorer, examples = trained()
    negative = next(e for e in examples if not e.label and "neg" in e.ref)
    assert negative.lead_vector is not None
    p = lead_probability(scorer, negative.lead_vector, negative.text)
    above, below = (dataclasses.replace(scorer, lead_floor=f) for f in (p * 2, p / 2))
    lead = negative.lead_vector
    assert clearly_unrelated(lead, negative.text, [index_with(above)])
    assert not clearly_unrelated(lead, negative.text, [index_with(below)])
    assert not clearly_unrelated(lead, negative.text, [index_with(above), index_with(below)])
    # a topic without a trained scorer or without a floor keeps every article going
    assert not clearly_unrelated(lead, negative.text, [index_with(above), index_with(None)])
    no_floor = dataclasses.replace(scorer, lead_floor=None)
    assert not clearly_unrelated(lead, negative.text, [index_with(no_floor)])
    assert not clearly_unrelated(lead, negative.text, [])
    # a threshold set by hand below the floor caps it
    assert not clearly_unrelated(lead, negative.text, [index_with(above, threshold=p / 2)])


def test_stopped_articles_keep_only_their_lead_and_the_rest_match_as_without_the_cascade() -> None:
    scorer, _ = trained()
    rows = sample()
    docs = [(r["title"] or "", r["text"]) for r in rows]
    indexes = [index_with(scorer, threshold=0.5)]
    embedder = CountingEmbedder()
    outcome = embed_with_cascade(embedder, docs, indexes, PassageCache())
    plain = embed_documents(EMBEDDER, docs)
    assert 0 < sum(outcome.stopped) < len(docs)
    for row, stop, doc, full in zip(rows, outcome.stopped, outcome.docs, plain, strict=True):
        if stop:
            assert row["label"] != "related"
            assert doc.passages == [lead_text(document_text(full.passages))]
            assert doc.vectors.shape == (1, full.vectors.shape[1])
        else:
            assert doc.passages == full.passages
            np.testing.assert_allclose(doc.vectors, full.vectors, atol=1e-6)
    # a stopped article's passages beyond its lead were never embedded
    assert len(embedder.embedded) < len(docs) + sum(len(d.passages) for d in plain)


def test_without_the_cascade_every_passage_is_embedded_and_nothing_stops() -> None:
    scorer, _ = trained()
    docs = [(r["title"] or "", r["text"]) for r in sample()]
    outcome = embed_with_cascade(
        EMBEDDER, docs, [index_with(scorer)], PassageCache(), cascade=False
    )
    assert not any(outcome.stopped)
    for doc, full in zip(outcome.docs, embed_documents(EMBEDDER, docs), strict=True):
        assert doc.passages == full.passages


# --- the passage cache ------------------------------------------------------------------------------


def test_the_cache_embeds_each_text_once_and_returns_the_same_vectors() -> None:
    embedder, cache_ = CountingEmbedder(), PassageCache(8)
    texts = ["wire copy one", "wire copy two", "wire copy one"]
    first = cache_.encode(embedder, texts)
    np.testing.assert_array_equal(first, EMBEDDER.encode(texts))
    assert embedder.embedded == ["wire copy one", "wire copy two"]  # the copy in the call, once
    again = cache_.encode(embedder, ["wire copy two", "another outlet's own text"])
    assert embedder.embedded[2:] == ["another outlet's own text"]
    np.testing.assert_array_equal(again[0], first[1])
    assert (cache_.hits, cache_.misses) == (2, 3)


def test_the_cache_is_bounded_and_forgets_the_least_recently_used() -> None:
    embedder, cache_ = CountingEmbedder(), PassageCache(2)
    cache_.encode(embedder, ["a", "b"])
    cache_.encode(embedder, ["a"])  # a is now the most recent
    cache_.encode(embedder, ["c"])  # b goes
    assert len(cache_) == 2
    embedder.embedded.clear()
    cache_.encode(embedder, ["a", "c", "b"])
    assert embedder.embedded == ["b"]


def test_the_cache_keys_by_vector_space_so_spaces_never_mix() -> None:
    cache_ = PassageCache(8)
    small, large = HashingEmbedder(64), HashingEmbedder(128)
    assert cache_.encode(small, ["same text"]).shape == (1, 64)
    assert cache_.encode(large, ["same text"]).shape == (1, 128)
    # two runtimes of one model (fp32 and int8 keep the model's name): vectors close, not equal
    fp32, int8 = CountingEmbedder(), CountingEmbedder()
    fp32.runtime, int8.runtime = "torch fp32", "onnxruntime int8"  # type: ignore[attr-defined]
    cache_.encode(fp32, ["same text"])
    cache_.encode(int8, ["same text"])
    assert fp32.embedded == int8.embedded == ["same text"]


def test_a_cache_of_no_entries_still_embeds_correctly() -> None:
    embedder, cache_ = CountingEmbedder(), PassageCache(0)
    np.testing.assert_array_equal(cache_.encode(embedder, ["x", "y"]), EMBEDDER.encode(["x", "y"]))
    cache_.encode(embedder, ["x"])
    assert embedder.embedded == ["x", "y", "x"] and len(cache_) == 0
    assert cache_.encode(embedder, []).shape[0] == 0
