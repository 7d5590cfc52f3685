"""Arabic and Persian relevance: the shipped topic's English examples matched against non-English
reporting, in the multilingual space and, as the baseline, in the English-only MiniLM space.

    python bench/relevance_multilingual.py [--corpus PATH] [--json] [--query-prefix]
                                           [--beta B] [--no-center]

For each space the topic's examples (seeds/, counter/, _background/: all English) and the corpus
are embedded as the product embeds them (passages of 160 words; vectors cached by content hash in
bench/.cache), and the topic's scorer is trained as the product trains it (bot.relevance.train:
lead-passage model + facets, stacked and calibrated, threshold by grouped cross-validation of
the training examples). Two regimes:

- english-only: trained on the English examples alone; every corpus item is held out.
- with-dev: nested cross-validation by event over the corpus (5 folds; reports of one event in
  one fold): each fold's topic is trained on the English examples plus the other folds' Arabic
  and Persian items, and its threshold is picked inside that training set. This is what ships:
  the development set is the topic's multilingual example files (scripts/multilingual_examples.py).

As in the product (bot/topic_multilingual.py), the threshold is the best F1 (--beta) and each
language's e5 vectors are moved by English's mean minus the language's mean (means of the
training side's passages only, labels unused; --no-center turns it off).

Figures per language (ar, fa): AP, and precision/recall at the threshold each trained topic
chose ("shipped"). Spaces: MiniLM (baseline), e5 on full text, e5 on the lead only (title and the
first ~80 words, about 128 tokens), and with --query-prefix e5 with "query: " on both sides.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import platform
import resource
import sys
import time
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sklearn.model_selection import GroupKFold

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

from relevance_stages import training_pool  # noqa: E402

from bot.relevance.embed import SentenceTransformerEmbedder, passages  # noqa: E402
from bot.relevance.facets import parse_facets  # noqa: E402
from bot.relevance.language import normalise  # noqa: E402
from bot.relevance.language_shift import mean_vector, shift  # noqa: E402
from bot.relevance.metrics import average_precision  # noqa: E402
from bot.relevance.multilingual import LEAD_WORDS, MultilingualEmbedder  # noqa: E402
from bot.relevance.scorer import document_text  # noqa: E402
from bot.relevance.train import Example, train  # noqa: E402
from bot.topics.multilingual import THRESHOLD_BETA as COPY_BETA  # noqa: E402

CORPUS = Path("/work/shared/data/multilingual_dev.jsonl")
CACHE = REPO / "bench" / ".cache"
LANGUAGES = ("ar", "fa")


def load(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def embed_all(name: str, embedder, docs: dict[str, list[str]]) -> tuple[dict, float]:
    """key → vectors of that document's passages, cached per space; and texts/s of new work."""
    path = CACHE / f"multilingual-{hashlib.sha256(name.encode()).hexdigest()[:12]}.pkl"
    cached = pickle.loads(path.read_bytes()) if path.exists() else {}
    missing = [k for k in docs if k not in cached]
    rate = float("nan")
    if missing:
        flat = [p for k in missing for p in docs[k]]
        start = time.perf_counter()
        vectors = embedder.encode(flat)
        rate = len(flat) / (time.perf_counter() - start)
        offset = 0
        for k in missing:
            cached[k] = vectors[offset : offset + len(docs[k])]
            offset += len(docs[k])
        CACHE.mkdir(exist_ok=True)
        path.write_bytes(pickle.dumps(cached))
    return cached, rate


def split_doc(title: str, text: str, lead: bool) -> list[str]:
    return passages(title, text, LEAD_WORDS)[:1] if lead else passages(title, text)


def figures(labels: np.ndarray, scores: np.ndarray, thresholds: np.ndarray) -> dict:
    alerts = scores >= thresholds
    tp = int((alerts & labels).sum())
    return {
        "items": len(labels),
        "related": int(labels.sum()),
        "ap": round(average_precision(labels, scores), 3),
        "precision": round(tp / alerts.sum(), 3) if alerts.any() else 0.0,
        "recall": round(tp / labels.sum(), 3) if labels.any() else 0.0,
        "threshold": round(float(np.median(thresholds)), 3),
    }


def evaluate(
    rows, pool, facets, pool_vecs, row_vecs, row_texts, *, center: bool, beta: float
) -> dict:
    """Both regimes over the same 5 folds by event. With ``center``, each language's vectors
    are moved by the difference of means (bot.relevance.language_shift): the language's mean
    from the other folds' items (their text only, never their labels), English's from the
    topic's examples."""
    labels = np.array([r["label"] == "related" for r in rows])
    base = [
        Example(label, pool_vecs[h], text, group, h)
        for (h, label, group, _, _), text in zip(pool, pool_texts(pool), strict=True)
    ]
    english_mean = mean_vector([pool_vecs[h] for h, *_ in pool])
    groups = [r.get("event") or r["id"] for r in rows]
    folds = [t for _, t in GroupKFold(n_splits=5).split(rows, labels, groups)]
    english_only = train(base, facets, model="bench", beta=beta)
    out = {}
    for regime in ("english-only", "with-dev"):
        scores, thresholds = np.zeros(len(rows)), np.zeros(len(rows))
        for test in folds:
            held = set(test.tolist())
            vecs = list(row_vecs)
            if center:
                for lang in LANGUAGES:
                    mine = [i for i, r in enumerate(rows) if r["lang"] == lang]
                    mean = mean_vector([row_vecs[i] for i in mine if i not in held])
                    for i in mine:
                        vecs[i] = shift(row_vecs[i], mean, english_mean)
            if regime == "english-only":
                trained = english_only
            else:
                extra = [
                    Example(bool(labels[i]), vecs[i], row_texts[i], groups[i], rows[i]["id"])
                    for i in range(len(rows))
                    if i not in held
                ]
                trained = train(base + extra, facets, model="bench", beta=beta)
            for i in test:
                scores[i] = trained.scorer.judge(vecs[i], row_texts[i]).probability
                thresholds[i] = trained.threshold
        out[regime] = {
            lang: figures(labels[m], scores[m], thresholds[m])
            for lang in LANGUAGES
            if (m := np.array([r["lang"] == lang for r in rows])).any()
        }
        out[regime]["wrong"] = [
            f"{r['id']}{' (medium)' if r.get('label_confidence') == 'medium' else ''} "
            f"{scores[i]:.2f}/{thresholds[i]:.2f}"
            for i, r in enumerate(rows)
            if (scores[i] >= thresholds[i]) != labels[i]
        ]
    return out


def pool_texts(pool) -> list[str]:
    return [document_text(passages(title, text)) for _, _, _, title, text in pool]


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--query-prefix", action="store_true", help="also e5 with 'query: '")
    parser.add_argument(
        "--beta",
        type=float,
        default=COPY_BETA,
        help=f"F-beta the threshold is picked with (the multilingual copy ships {COPY_BETA}; "
        "the English scorer 0.5)",
    )
    parser.add_argument(
        "--no-center",
        dest="center",
        action="store_false",
        help="do not move each language's e5 vectors by the difference of language means "
        "(the product does)",
    )
    args = parser.parse_args()
    rows = load(args.corpus)
    pool = training_pool(REPO / "seeds")
    facets = parse_facets(
        tomllib.loads((REPO / "config" / "topics.toml").read_text())["topic"][0]["facets"],
        where="topics.toml",
    )
    row_texts = [
        normalise(document_text(passages(r.get("title") or "", r["text"])), r["lang"]) for r in rows
    ]
    spaces = [
        ("all-MiniLM-L6-v2 (English-only baseline)", "minilm", False),
        ("multilingual-e5-small q4, full text", "e5", False),
        ("multilingual-e5-small q4, lead only", "e5", True),
    ]
    if args.query_prefix:
        spaces.append(("multilingual-e5-small q4 'query:', full text", "e5q", False))
    embedders = {
        "minilm": SentenceTransformerEmbedder("all-MiniLM-L6-v2"),
        "e5": MultilingualEmbedder(),
        "e5q": MultilingualEmbedder(prefix="query"),
    }
    results = {}
    for label, kind, lead in spaces:
        embedder = embedders[kind]
        docs = {h: passages(title, text) for h, _, _, title, text in pool}
        docs |= {
            f"{r['id']}:{'lead' if lead else 'full'}": split_doc(
                r.get("title") or "", normalise(r["text"], r["lang"]), lead
            )
            for r in rows
        }
        vecs, rate = embed_all(embedder.name, embedder, docs)
        row_vecs = [vecs[f"{r['id']}:{'lead' if lead else 'full'}"] for r in rows]
        results[label] = evaluate(
            rows,
            pool,
            facets,
            vecs,
            row_vecs,
            row_texts,
            center=args.center and kind != "minilm",
            beta=args.beta,
        )
        results[label]["passages_per_s_new"] = None if np.isnan(rate) else round(rate, 2)
        print(f"done: {label}", file=sys.stderr)
    report = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()} · {os.cpu_count()} cores · Python {platform.python_version()}",
        "corpus": str(args.corpus),
        "results": results,
        "max_rss_mb": round(rss_mb()),
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{report['date']} · {report['machine']} · {args.corpus} ({len(rows)} items)")
    print(f"{'space':48} {'regime':13} {'lang':4} {'AP':>6} {'P':>6} {'R':>6} {'thr':>6}")
    for label, res in results.items():
        for regime in ("english-only", "with-dev"):
            for lang, f in res[regime].items():
                if lang == "wrong":
                    continue
                print(
                    f"{label:48} {regime:13} {lang:4} {f['ap']:6.3f} {f['precision']:6.3f} "
                    f"{f['recall']:6.3f} {f['threshold']:6.3f}"
                )
            print(f"{'':48} {regime:13} wrong: {', '.join(res[regime]['wrong'])}")


if __name__ == "__main__":
    main()
