"""How much the development corpus's cross-validated figures depend on which events share a fold.

    python bench/relevance_partitions.py [--partitions 20] [--seed 0] [--scorers today,roles]

Both development corpora together (data/dev_corpus.jsonl and data/dev_corpus_2.jsonl). Each
scorer is run on the same partitions in the same run: "today" is the scorer without role
features (the facets without their slots and without the role-only facets), "roles" the
shipped one (bot/relevance/roles.py).

bench/relevance.py splits the corpus into 5 folds by event in one fixed way (GroupKFold) and
reports one AP, precision and recall. With 57 related items and 40 events, one look-alike event
landing in a fold whose training part has no other like it moves the fold's threshold, and with
it precision by several points. This bench repeats the same nested cross-validation (the topic
trained on the shipped examples minus the fold's items, its threshold chosen by its own inner
cross-validation) over random partitions of the events into 5 folds, and prints the spread: the
figures of the fixed partition are one draw from it.

Same training code as the topic (bot.relevance.train), in one process on vectors embedded once
and cached under bench/.cache/ (bench/relevance_stages.py). On the fixed partition it gives
bench/relevance.py's figures to within an item: bf16 vectors embedded in other batches differ in
their last digits, and an item on a fold's threshold can land on either side.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
from relevance import CORPORA, TOPIC, example_files  # noqa: E402
from relevance_stages import at_threshold, corpus_and_topic, cross_validated, vectors  # noqa: E402

FOLDS = 5
MODEL = "all-MiniLM-L6-v2"


def random_folds(groups: list[str], rng: np.random.Generator) -> np.ndarray:
    """Each item's fold: the events shuffled and dealt into FOLDS folds in turn."""
    events = sorted(set(groups))
    order = rng.permutation(len(events))
    fold_of = {events[j]: i % FOLDS for i, j in enumerate(order)}
    return np.array([fold_of[g] for g in groups])


def without_roles(facets):
    """The scorer as it was before roles: no slots, no role-only facets."""
    return tuple(dataclasses.replace(f, slot=None) for f in facets if f.role != "roles")


SCORERS = {"today": without_roles, "roles": lambda facets: tuple(facets)}
TARGETS = (("ap", 0.985), ("precision", 0.97), ("recall", 0.93))


def spread_of(draws: list[dict]) -> dict:
    return {
        metric: {
            "mean": round(float(np.mean([d[metric] for d in draws])), 3),
            "sd": round(float(np.std([d[metric] for d in draws])), 3),
            "min": round(float(np.min([d[metric] for d in draws])), 3),
            "max": round(float(np.max([d[metric] for d in draws])), 3),
            "at_target": int(sum(d[metric] >= target for d in draws)),
        }
        for metric, target in TARGETS
    }


def nested(folds, rows, hashes, pool, facets, vecs) -> dict:
    """Every item scored by a topic trained without its fold's items, at that topic's threshold."""
    labels = np.array([r["label"] == "related" for r in rows])
    return at_threshold(labels, *cross_validated(rows, hashes, pool, facets, vecs, folds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--partitions", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--model",
        default=MODEL,
        help="the embedding model (a name or a directory, e.g. the all-mpnet-base-v2 directory "
        "that scripts/install_mpnet.sh unpacks)",
    )
    parser.add_argument("--scorers", default="today,roles")
    args = parser.parse_args()
    rows, hashes, pool, facets, texts = corpus_and_topic()
    groups = [r.get("event") or r["id"] for r in rows]
    files = example_files(REPO / "seeds")
    vecs = vectors(args.model, texts)
    rng = np.random.default_rng(args.seed)
    partitions = [random_folds(groups, rng) for _ in range(args.partitions)]
    report: dict = {
        "corpus": " + ".join(map(str, CORPORA)),
        "items": len(rows),
        "related": sum(r["label"] == "related" for r in rows),
        "events_or_items": len(set(groups)),
        "topic": TOPIC,
        "model": args.model,
        "training_examples": len(pool),
        "corpus_items_among_them": sum(h in files for h in hashes),
        "random_partitions": args.partitions,
        "seed": args.seed,
        "targets": dict(TARGETS),
    }
    for name in args.scorers.split(","):
        chosen = SCORERS[name](facets)
        started = time.monotonic()
        fixed = nested(None, rows, hashes, pool, chosen, vecs)  # bench/relevance.py's folds
        draws = [nested(folds, rows, hashes, pool, chosen, vecs) for folds in partitions]
        report[name] = {
            "fixed_partition": {k: round(float(v), 3) for k, v in fixed.items()},
            "spread": spread_of(draws),
            "seconds": round(time.monotonic() - started),
        }
        print(f"{name}: {json.dumps(report[name]['spread'])}", file=sys.stderr)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
