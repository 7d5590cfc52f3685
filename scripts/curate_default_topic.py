"""Write the default topic's curated examples from a labeled corpus (JSONL, the development
corpus format: id, label, title, text, event).

    related        → seeds/<topic>/<event>__<id>.txt          (positives, beside the five originals)
    hard_negative  → seeds/<topic>/counter/<event>__<id>.txt  (counter-examples)
    negative       → seeds/_background/<id>.txt               (unrelated news every topic learns from)

The "<event>__" prefix keeps reports of one event in one cross-validation fold. Every item is
written, the ones the offline demo serves as news too: the topic learns from all the labeled
data, and `threatwatch demo` trains its topic on a copy without them (bot/demo/run.py). Run once
when the corpus changes:  python scripts/curate_default_topic.py data/dev_corpus.jsonl
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOPIC = "militia-attacks-us-forces"


def file_name(row: dict) -> str:
    group = re.sub(r"[^a-z0-9-]+", "-", (row.get("event") or row["id"]).lower())
    return f"{group}__{row['id']}.txt" if row.get("event") else f"{row['id']}.txt"


def main(corpus: Path) -> None:
    targets = {
        "related": ROOT / "seeds" / TOPIC,
        "hard_negative": ROOT / "seeds" / TOPIC / "counter",
        "negative": ROOT / "seeds" / "_background",
    }
    for folder in targets.values():
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*__dev-*.txt"):
            old.unlink()
        for old in folder.glob("dev-*.txt"):
            old.unlink()
    counts = dict.fromkeys(targets, 0)
    for line in corpus.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        body = row["text"].strip()
        text = f"{row['title'].strip()}\n{body}\n" if row.get("title") else f"{body}\n"
        (targets[row["label"]] / file_name(row)).write_text(text, encoding="utf-8")
        counts[row["label"]] += 1
    print(", ".join(f"{label}: {n}" for label, n in counts.items()))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
