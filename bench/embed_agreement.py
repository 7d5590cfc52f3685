"""How close each embedding precision's vectors are to fp32's: every passage of the development
corpora, encoded by the fp32 model, by bf16 and by int8 (THREATWATCH_EMBED_PRECISION values),
and the cosine of each vector to its fp32 vector: mean, 1st percentile and worst. "alone vs
batch" embeds every passage again on its own (one call each) and compares it with the same
passage's vector from the one call over the whole corpus: the worst cosine and how many are
identical to the bit (a runtime whose vectors depend on their batch companions shows it here).

    python bench/embed_agreement.py [--corpus data/dev_corpus.jsonl ...] [--precisions bf16,int8]
                                    [--json]

The int8 model is built once (or loaded) from THREATWATCH_MODEL_CACHE_DIR, default
bench/.cache/models.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bot.relevance.embed import passages  # noqa: E402
from bot.relevance.embed_choice import runtime_embedder  # noqa: E402

CORPORA = [REPO / "data" / "dev_corpus.jsonl", REPO / "data" / "dev_corpus_2.jsonl"]


def corpus_passages(paths: list[Path]) -> list[str]:
    out = []
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            out.extend(passages(row.get("title") or "", row.get("text") or ""))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--corpus", type=Path, nargs="*", default=[p for p in CORPORA if p.exists()]
    )
    parser.add_argument("--precisions", default="bf16,int8", help="compared with fp32")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    compared = [p for p in args.precisions.split(",") if p and p != "fp32"]
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    cache = Path(
        os.environ.get("THREATWATCH_MODEL_CACHE_DIR", REPO / "bench" / ".cache" / "models")
    )
    texts = corpus_passages(args.corpus)
    embedders = {
        precision: runtime_embedder("all-MiniLM-L6-v2", precision=precision, cache_dir=cache)
        for precision in ("fp32", *compared)
    }
    vectors = {precision: embedder.encode(texts) for precision, embedder in embedders.items()}
    rows = {}
    for precision in compared:
        cosine = (vectors[precision] * vectors["fp32"]).sum(axis=1)
        alone = np.vstack([embedders[precision].encode([text]) for text in texts])
        self_cosine = (alone * vectors[precision]).sum(axis=1)
        rows[precision] = {
            "passages": len(texts),
            "mean": round(float(cosine.mean()), 5),
            "p1": round(float(np.percentile(cosine, 1)), 4),
            "worst": round(float(cosine.min()), 4),
            "alone_worst": round(float(self_cosine.min()), 6),
            "alone_identical": int((alone == vectors[precision]).all(axis=1).sum()),
        }
    if args.json:
        print(json.dumps({"corpora": [str(p) for p in args.corpus], "rows": rows}, indent=2))
        return
    print(f"corpora: {', '.join(p.name for p in args.corpus)}; {len(texts)} passages\n")
    print(
        "| precision | cosine to fp32: mean | 1st percentile | worst "
        "| alone vs batch: worst cosine | identical |"
    )
    print("|---|--:|--:|--:|--:|--:|")
    for precision, r in rows.items():
        print(
            f"| {precision} | {r['mean']} | {r['p1']} | {r['worst']} "
            f"| {r['alone_worst']} | {r['alone_identical']} of {r['passages']} |"
        )


if __name__ == "__main__":
    main()
