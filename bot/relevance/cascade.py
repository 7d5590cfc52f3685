"""Embed the lead first; embed the rest of an article only if the lead might matter.

Embedding every passage of every article is the cost of ingest (the model's matrix multiplies:
docs/BENCHMARKS.md, "Ingest"), and most of what news feeds carry is about none of the topics.
So an article is judged first by its **lead**: the title and opening, its first ``LEAD_WORDS``
words (~128 word pieces), embedded as one passage and scored by each topic's trained scorer
with the facet features of the whole text (reading text is cheap; embedding it is not). Where
that lead probability is below the topic's **lead floor** on *every* topic, the article stops
there: it is stored with its lead as its only passage and matches nothing. Otherwise all its
passages are embedded and scored exactly as without the cascade.

The floor is learned with the topic's scorer (bot/relevance/train.py): the lowest lead
probability, in held-out folds, of any example that is related or that the cross-validated
scorer would alert on, lowered by ``FLOOR_MARGIN`` on the log-odds scale. It is stored with the
scorer in the topic's version, so a restart does not retrain. A topic with no floor (untrained,
too few examples held out, or a scorer stored before the cascade) keeps every article going.

``PassageCache`` keeps recent passage vectors by content hash, so a wire story that several
outlets carry word for word is embedded once (whole articles with a stored content hash are
already skipped before this stage; copies that differ in title or ending share their other
passages). It is a bounded LRU in memory, not a table: copies arrive within hours of each
other, a store-backed cache would cost a read per passage and grow without end, and a restart
losing it costs one embedding per passage. 4096 vectors of 384 float32 are ~6 MB.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bot.relevance.embed import Embedder, passages, vector_space
from bot.relevance.match import TopicIndex
from bot.relevance.scorer import TopicScorer, document_text
from bot.relevance.scoring import Embedded
from bot.relevance.vector_files import VectorFiles

# all-MiniLM-L6-v2 reads ~1.3 word pieces per English word: 96 words ≈ 128 pieces
LEAD_WORDS = 96
# the floor sits this far (log-odds) below the lowest held-out related lead: odds ÷ e² ≈ ÷ 7.4.
# Set before measuring, not tuned on the development corpus that evaluates it.
FLOOR_MARGIN = 2.0
MIN_FLOOR_EXAMPLES = 5  # fewer held-out related leads than this: no floor (its minimum is noise)
CACHE_PASSAGES = 4096


def lead_text(text: str) -> str:
    """The lead of a document read as scoring reads it (``document_text``: the title leads the
    first passage): its first ``LEAD_WORDS`` words. A document that short is its own lead."""
    return " ".join(text.split()[:LEAD_WORDS])


def learn_lead_floor(lead_probabilities: Sequence[float]) -> float | None:
    """The floor from the held-out lead probabilities of the examples that must not stop."""
    if len(lead_probabilities) < MIN_FLOOR_EXAMPLES:
        return None
    lowest = float(np.clip(min(lead_probabilities), 1e-9, 1 - 1e-9))
    log_odds = math.log(lowest / (1 - lowest)) - FLOOR_MARGIN
    return round(1.0 / (1.0 + math.exp(-log_odds)), 6)


def lead_probability(scorer: TopicScorer, lead_vector: np.ndarray, text: str) -> float:
    """The scorer's probability from the lead's vector alone, with the whole text's facets."""
    return scorer.judge(lead_vector[None, :], text).probability


def clearly_unrelated(lead_vector: np.ndarray, text: str, indexes: Sequence[TopicIndex]) -> bool:
    """Whether the lead is below the floor of every topic (and there is a topic)."""
    if not indexes:
        return False
    for index in indexes:
        scorer = index.scorer
        if scorer is None or scorer.lead_floor is None:
            return False
        # a floor above the topic's threshold (set by hand below what training chose) would
        # stop leads that alert by themselves: the threshold caps it
        floor = min(scorer.lead_floor, index.topic.threshold)
        if lead_probability(scorer, lead_vector, text) >= floor:
            return False
    return True


def lead_vectors(
    cache: PassageCache,
    embedder: Embedder,
    texts: Sequence[str],
    first_vectors: Sequence[np.ndarray],
    files: VectorFiles | None = None,
) -> list[np.ndarray]:
    """The lead vector of each document (``document_text`` of its passages, with the vector of
    its first passage), for learning the floor: a document whose lead is its first passage (a
    short one) reuses that vector; the others' leads come from ``files`` (the seed vectors on
    disk, shipped ones included, in the embedder's space), or are embedded (those not in
    ``cache``) and kept there."""
    space = vector_space(embedder)
    leads = [lead_text(t) for t in texts]
    missing = [i for i, t in enumerate(texts) if leads[i] != t.split("\n", 1)[0]]
    out = [np.asarray(vector, np.float32) for vector in first_vectors]
    on_disk = {i: got for i in missing if files and (got := files.get(space, lead_key(leads[i])))}
    for i, (_, vectors) in on_disk.items():
        out[i] = vectors[0]
    todo = [i for i in missing if i not in on_disk]
    encoded = cache.encode(embedder, [leads[i] for i in todo])
    for row, i in enumerate(todo):
        out[i] = encoded[row]
        if files is not None:
            files.put(space, lead_key(leads[i]), [leads[i]], encoded[row : row + 1])
    return out


def lead_key(lead: str) -> str:
    """A lead's name among the seed vectors on disk (hex, like the seeds' content hashes, and
    apart from them: those hash a title and a text)."""
    return hashlib.sha256(f"lead\0{lead}".encode()).hexdigest()


class PassageCache:
    """Recent passage vectors by content hash (vector space and text); bounded LRU, thread-safe."""

    def __init__(self, entries: int = CACHE_PASSAGES):
        self.entries = max(entries, 0)
        self._vectors: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def encode(self, embedder: Embedder, texts: Sequence[str]) -> np.ndarray:
        """``embedder.encode(texts)``, embedding only the texts not cached (each once)."""
        if not texts:
            return np.zeros((0, 0), np.float32)
        space = vector_space(embedder)  # fp32 and int8 builds of one model share its name
        keys = [_key(space, t) for t in texts]
        with self._lock:
            found = {k: self._vectors[k] for k in keys if k in self._vectors}
            for k in found:
                self._vectors.move_to_end(k)
        todo = list(dict.fromkeys(k for k in keys if k not in found))
        if todo:
            text_of = dict(zip(keys, texts, strict=True))
            fresh = embedder.encode([text_of[k] for k in todo])
            found.update((k, fresh[row].copy()) for row, k in enumerate(todo))
            self._remember(todo, found)
        self.hits += len(keys) - len(todo)
        self.misses += len(todo)
        return np.vstack([found[k] for k in keys])

    def _remember(self, keys: Sequence[bytes], found: dict[bytes, np.ndarray]) -> None:
        if not self.entries:
            return
        with self._lock:
            for k in keys[-self.entries :]:
                self._vectors[k] = found[k]
            while len(self._vectors) > self.entries:
                self._vectors.popitem(last=False)

    def __len__(self) -> int:
        return len(self._vectors)


def _key(space: str, text: str) -> bytes:
    return hashlib.blake2b(f"{space}\0{text}".encode(), digest_size=16).digest()


@dataclass(frozen=True)
class CascadeOutcome:
    docs: list[Embedded]
    stopped: list[bool]  # stopped at the lead: embedded as its lead only, matches nothing


def embed_with_cascade(
    embedder: Embedder,
    docs: Sequence[tuple[str, str]],
    indexes: Sequence[TopicIndex],
    cache: PassageCache,
    *,
    cascade: bool = True,
) -> CascadeOutcome:
    """Embed (title, text) documents: leads first, then every passage of the documents whose
    lead is not clearly unrelated to every topic. Blocking: run off the event loop."""
    parts = [passages(title, text) for title, text in docs]
    leads, lead_rows, stopped = _judge_leads(embedder, parts, indexes, cache, cascade=cascade)
    rest = [p for ps, stop in zip(parts, stopped, strict=True) if not stop for p in ps]
    vectors = cache.encode(embedder, rest)
    out, offset = [], 0
    for i, ps in enumerate(parts):
        if stopped[i]:
            out.append(Embedded([leads[i]], lead_rows[i : i + 1]))
            continue
        out.append(Embedded(ps, vectors[offset : offset + len(ps)]))
        offset += len(ps)
    return CascadeOutcome(out, stopped)


def _judge_leads(
    embedder: Embedder,
    parts: Sequence[list[str]],
    indexes: Sequence[TopicIndex],
    cache: PassageCache,
    *,
    cascade: bool,
) -> tuple[list[str], np.ndarray, list[bool]]:
    """Each document's lead, the leads' vectors and whether each stops there. Leads are
    embedded only when every topic has a floor: otherwise none could stop."""
    floors = bool(indexes) and all(i.scorer and i.scorer.lead_floor is not None for i in indexes)
    if not (cascade and floors):
        return [], np.zeros((0, 0), np.float32), [False] * len(parts)
    texts = [document_text(p) for p in parts]
    leads = [lead_text(t) for t in texts]
    rows = cache.encode(embedder, leads)
    return leads, rows, [clearly_unrelated(rows[i], texts[i], indexes) for i in range(len(parts))]
