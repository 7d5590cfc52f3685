"""Which embedding model: quality and speed of candidate models on the same corpus, same run.

    python bench/relevance_models.py [--corpus PATH] [--model NAME_OR_DIR ...]

For each model: embed the corpus and the topic's five original seeds as passages (timed: texts/s),
then grouped cross-validation by event (reports of one event in one fold) of three scorers on
those vectors — best passage-to-seed cosine (the naive design), a linear model on the lead
passage, and what ships (lead-passage model + the topic's facets, stacked and calibrated, via
bot.relevance.train.out_of_fold). The five seeds are in every training fold.

This isolates the model: the full product path (`threatwatch score`, curated examples,
background) is measured by bench/relevance.py, whose `--model` option runs it on another model.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import tomllib
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

from bot.relevance.embed import SentenceTransformerEmbedder, passages  # noqa: E402
from bot.relevance.facets import parse_facets  # noqa: E402
from bot.relevance.metrics import average_precision  # noqa: E402
from bot.relevance.scorer import document_text  # noqa: E402
from bot.relevance.train import Example, out_of_fold  # noqa: E402
from bot.topics.seeds import seed_from_text  # noqa: E402

CORPUS = REPO / "data" / "dev_corpus.jsonl"
TOPIC = "militia-attacks-us-forces"
ORIGINAL_SEEDS = sorted((REPO / "seeds" / TOPIC).glob("0*.txt"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument(
        "--model",
        action="append",
        help="a model name or directory (repeatable); default: all-MiniLM-L6-v2 and, if "
        "unpacked by scripts/install_mpnet.sh, .models/all-mpnet-base-v2",
    )
    args = parser.parse_args()
    models = args.model or ["all-MiniLM-L6-v2"] + (
        [str(REPO / ".models" / "all-mpnet-base-v2")]
        if (REPO / ".models" / "all-mpnet-base-v2" / "config.json").is_file()
        else []
    )
    rows = [
        json.loads(x) for x in args.corpus.read_text(encoding="utf-8").splitlines() if x.strip()
    ]
    seeds = [
        seed_from_text(TOPIC, p.read_text(encoding="utf-8"), origin=p.name) for p in ORIGINAL_SEEDS
    ]
    docs = [(r.get("title") or "", r["text"]) for r in rows] + [(s.title, s.text) for s in seeds]
    parts = [passages(t, x) for t, x in docs]
    flat = [p for ps in parts for p in ps]
    labels = np.array([r["label"] == "related" for r in rows])
    groups = [r.get("event") or r["id"] for r in rows]
    facets = parse_facets(
        tomllib.loads((REPO / "config" / "topics.toml").read_text())["topic"][0]["facets"],
        where="topics.toml",
    )
    print(
        f"corpus {args.corpus} ({len(rows)} items, {int(labels.sum())} related), {len(flat)} passages"
    )
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}\n"
    )
    print(
        f"{'model':28} {'passages/s':>10} {'cosine AP':>10} {'lead LR AP':>10} {'shipped AP':>10}"
    )
    for model in models:
        embedder = SentenceTransformerEmbedder(model)
        embedder.encode(flat[:8])  # load and warm up outside the clock
        t0 = time.perf_counter()
        vectors = embedder.encode(flat)
        rate = len(flat) / (time.perf_counter() - t0)
        offsets = np.cumsum([0] + [len(p) for p in parts])
        per_doc = [vectors[offsets[i] : offsets[i + 1]] for i in range(len(parts))]
        n = len(rows)
        seed_rows = np.vstack(per_doc[n:])
        cosine = np.array([(per_doc[i] @ seed_rows.T).max() for i in range(n)])
        lead = np.vstack([d[0] for d in per_doc])
        lead_lr = np.zeros(n)
        for train, test in GroupKFold(n_splits=5).split(lead[:n], labels, groups):
            x = np.vstack([lead[train], lead[n:]])
            y = np.concatenate([labels[train], np.ones(len(seeds), bool)])
            clf = LogisticRegression(C=3, max_iter=5000, class_weight="balanced").fit(x, y)
            lead_lr[test] = clf.decision_function(lead[test])
        examples = [
            Example(
                bool(labels[i]) if i < n else True,
                per_doc[i],
                document_text(parts[i]),
                groups[i] if i < n else f"seed-{i}",
                str(i),
            )
            for i in range(len(parts))
        ]
        shipped = out_of_fold(examples, facets, model=model)[:n]
        name = Path(model).name
        print(
            f"{name:28} {rate:10.1f} {average_precision(labels, cosine):10.3f} "
            f"{average_precision(labels, lead_lr):10.3f} {average_precision(labels, shipped):10.3f}"
        )


if __name__ == "__main__":
    main()
