"""A cheap first stage and an expensive second stage: what all-mpnet-base-v2 would add on top of
the default all-MiniLM-L6-v2 if it re-scored only the first stage's candidates.

    python bench/relevance_stages.py [--second .models/all-mpnet-base-v2] [--cuts 0.02,0.05,0.1]

The same cross-validation as bench/relevance.py (5 folds by event over data/dev_corpus.jsonl;
for each fold the topic is trained on the shipped examples minus that fold's items, its
threshold chosen by the topic's own inner cross-validation) but in one process, on vectors
embedded once per model and kept under bench/.cache/. With the default model it gives
bench/relevance.py's AP, precision and recall (same folds, same training code:
bot.relevance.train; fold thresholds agree within 0.01).

Two-stage: an item is a candidate when the first stage's probability reaches the cut; a
candidate takes the second stage's probability, any other item keeps a score below every
candidate's. Reported: AP of each model alone and of the two stages, the share of items sent
to the second stage and the related items the first stage let through. The corpus is rich in
topical news, so the share sent on is also measured on ordinary news: the English items of the
recorded news feeds in tests/data/feeds/, scored by the first stage trained on every example.
The second model is unpacked by scripts/install_mpnet.sh.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import pickle
import sys
import tomllib
from pathlib import Path

import numpy as np
from sklearn.model_selection import GroupKFold

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

sys.path.insert(0, str(REPO / "bench"))
from relevance import CORPORA, TOPIC, item_hash, load, news_items  # noqa: E402

from bot.relevance.embed import SentenceTransformerEmbedder, passages  # noqa: E402
from bot.relevance.facets import parse_facets  # noqa: E402
from bot.relevance.metrics import average_precision  # noqa: E402
from bot.relevance.scorer import document_text  # noqa: E402
from bot.relevance.train import Example, train  # noqa: E402
from bot.topics.seeds import seed_from_text  # noqa: E402
from bot.topics.training import example_group  # noqa: E402

CACHE = REPO / "bench" / ".cache"


def _memoised_features() -> None:
    """Facet and role features are a pure function of (text, facets): computed once per text in
    a bench run instead of once per fit (a nested cross-validation fits each example ~30 times)."""
    import bot.relevance.scorer as scorer
    import bot.relevance.train as training

    compute = scorer.document_features

    @functools.cache
    def cached(text: str, facets: tuple, roles: bool) -> np.ndarray:
        return compute(text, facets, roles=roles)

    def document_features(text: str, facets, *, roles: bool) -> np.ndarray:
        return cached(text, tuple(facets), roles)

    training.document_features = document_features


_memoised_features()


def training_pool(seeds: Path) -> list[tuple[str, bool, str, str, str]]:
    """(content hash, label, group, title, text) of every example the shipped topic trains on,
    grouped as the topic's own training groups them."""
    pool = []
    for pattern, label, kind in (
        (f"{TOPIC}/*.txt", True, "positive"),
        (f"{TOPIC}/counter/*.txt", False, "counter"),
        ("_background/*.txt", False, "background"),
    ):
        for path in sorted(seeds.glob(pattern)):
            seed = seed_from_text(TOPIC, path.read_text(encoding="utf-8"), origin=path.name)
            group = example_group(path.name, f"{kind}:{path.name}")
            pool.append((seed.content_hash, label, group, seed.title, seed.text))
    return pool


def corpus_and_topic(seeds: Path = REPO / "seeds"):
    """The development corpus's rows and their content hashes; the shipped topic's training
    pool and facets; and every text to embed (pool and corpus), by content hash."""
    rows = load(*CORPORA)
    hashes = [item_hash(r) for r in rows]
    pool = training_pool(seeds)
    facets = parse_facets(
        tomllib.loads((REPO / "config" / "topics.toml").read_text())["topic"][0]["facets"],
        where="topics.toml",
    )
    texts = {h: (title, text) for h, _, _, title, text in pool}
    texts |= {h: (r.get("title") or "", r["text"]) for h, r in zip(hashes, rows, strict=True)}
    return rows, hashes, pool, facets, texts


def vectors(
    model: str, texts: dict[str, tuple[str, str]]
) -> dict[str, tuple[list[str], np.ndarray]]:
    """content hash → (passages, vectors), embedded once per model and cached."""
    key = hashlib.sha256(model.encode()).hexdigest()[:12]
    path = CACHE / f"stages-{key}.pkl"
    cached = pickle.loads(path.read_bytes()) if path.exists() else {}
    missing = [h for h in texts if h not in cached]
    if missing:
        embedder = SentenceTransformerEmbedder(model)
        for h in missing:
            parts = passages(*texts[h])
            cached[h] = (parts, embedder.encode(parts))
        CACHE.mkdir(exist_ok=True)
        path.write_bytes(pickle.dumps(cached))
    return cached


def cross_validated(
    rows, hashes, pool, facets, vecs, folds: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Each item's probability and the threshold its fold's topic chose. ``folds``: each item's
    fold (reports of one event in one fold); by default bench/relevance.py's 5 folds by event."""
    labels = np.array([r["label"] == "related" for r in rows])
    if folds is None:
        groups = [r.get("event") or r["id"] for r in rows]
        tests = [test for _, test in GroupKFold(n_splits=5).split(rows, labels, groups)]
    else:
        tests = [np.flatnonzero(folds == fold) for fold in np.unique(folds)]
    scores, thresholds = np.zeros(len(rows)), np.zeros(len(rows))
    for test in tests:
        held = {hashes[i] for i in test}
        examples = [
            Example(label, vecs[h][1], document_text(vecs[h][0]), group, h)
            for h, label, group, _, _ in pool
            if h not in held
        ]
        trained = train(examples, facets, model="bench")
        for i in test:
            parts, v = vecs[hashes[i]]
            scores[i] = trained.scorer.judge(v, document_text(parts)).probability
            thresholds[i] = trained.threshold
    return scores, thresholds


def at_threshold(labels: np.ndarray, scores: np.ndarray, thresholds: np.ndarray) -> dict:
    alerts = scores >= thresholds
    tp = int((alerts & labels).sum())
    return {
        "ap": round(average_precision(labels, scores), 4),
        "precision": round(tp / alerts.sum(), 4) if alerts.any() else 0.0,
        "recall": round(tp / labels.sum(), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--first", default="all-MiniLM-L6-v2")
    parser.add_argument("--second", default=str(REPO / ".models" / "all-mpnet-base-v2"))
    parser.add_argument("--cuts", default="0.02,0.05,0.1")
    args = parser.parse_args()
    rows, hashes, pool, facets, texts = corpus_and_topic()
    labels = np.array([r["label"] == "related" for r in rows])
    assert pool, "the shipped topic has no examples"
    news = {hashlib.sha256(repr(doc).encode()).hexdigest(): doc for doc in news_items()}
    report: dict = {
        "corpus": " + ".join(map(str, CORPORA)),
        "items": len(rows),
        "related": int(labels.sum()),
    }
    results = {}
    for name in (args.first, args.second):
        scores, thresholds = cross_validated(rows, hashes, pool, facets, vectors(name, texts))
        results[name] = scores
        report[name] = at_threshold(labels, scores, thresholds)
    first, second = results[args.first], results[args.second]
    first_vecs = vectors(args.first, texts | news)
    everything = [
        Example(label, first_vecs[h][1], document_text(first_vecs[h][0]), group, h)
        for h, label, group, _, _ in pool
    ]
    scorer = train(everything, facets, model="bench").scorer
    news_scores = np.array(
        [scorer.judge(first_vecs[h][1], document_text(first_vecs[h][0])).probability for h in news]
    )
    report["two_stage"] = []
    for cut in (float(c) for c in args.cuts.split(",")):
        candidate = first >= cut
        combined = np.where(candidate, second, first * 1e-3)  # non-candidates rank below
        report["two_stage"].append(
            {
                "cut": cut,
                "ap": round(average_precision(labels, combined), 4),
                "candidates": round(float(candidate.mean()), 4),
                "related_kept": f"{int((candidate & labels).sum())}/{int(labels.sum())}",
                "candidates_in_news_feeds": f"{int((news_scores >= cut).sum())}/{len(news)}",
            }
        )
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
