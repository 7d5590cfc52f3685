"""Write the default topic's curated examples from a labeled corpus (JSONL, the development
corpus format: id, label, title, text, event); several corpora are written together.

    related        → seeds/<topic>/<event>__<id>.txt          (positives, beside the five originals)
    hard_negative  → seeds/<topic>/counter/<event>__<id>.txt  (counter-examples)
    negative       → seeds/_background/<id>.txt               (unrelated news every topic learns from)

The "<event>__" prefix keeps reports of one event in one cross-validation fold. Every item is
written, the ones the offline demo serves as news too: the topic learns from all the labeled
data, and `threatwatch demo` trains its topic on a copy without them (bot/demo/run.py). Run once
when a corpus changes:
    python scripts/curate_default_topic.py data/dev_corpus.jsonl data/dev_corpus_2.jsonl
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

# id prefixes of the labeled corpora's items: files named after them are rewritten on every run
CORPUS_IDS = ("dev-", "rel2-", "hn2-", "neg2-")

ROOT = Path(__file__).resolve().parent.parent
TOPIC = "militia-attacks-us-forces"


def file_name(row: dict) -> str:
    group = re.sub(r"[^a-z0-9-]+", "-", (row.get("event") or row["id"]).lower())
    return f"{group}__{row['id']}.txt" if row.get("event") else f"{row['id']}.txt"


def main(corpora: list[Path]) -> None:
    targets = {
        "related": ROOT / "seeds" / TOPIC,
        "hard_negative": ROOT / "seeds" / TOPIC / "counter",
        "negative": ROOT / "seeds" / "_background",
    }
    for folder in targets.values():
        folder.mkdir(parents=True, exist_ok=True)
        for prefix in CORPUS_IDS:
            for old in [*folder.glob(f"*__{prefix}*.txt"), *folder.glob(f"{prefix}*.txt")]:
                old.unlink()
    counts = dict.fromkeys(targets, 0)
    lines = [line for corpus in corpora for line in corpus.read_text(encoding="utf-8").splitlines()]
    for line in filter(str.strip, lines):
        row = json.loads(line)
        body = row["text"].strip()
        text = f"{row['title'].strip()}\n{body}\n" if row.get("title") else f"{body}\n"
        (targets[row["label"]] / file_name(row)).write_text(text, encoding="utf-8")
        counts[row["label"]] += 1
    print(", ".join(f"{label}: {n}" for label, n in counts.items()))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: curate_default_topic.py CORPUS.jsonl [CORPUS.jsonl ...]")
    main([Path(a) for a in sys.argv[1:]])
