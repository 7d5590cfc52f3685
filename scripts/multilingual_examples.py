"""Write the Arabic and Persian development set as the shipped topic's multilingual examples.

    python scripts/multilingual_examples.py [--corpus /work/shared/data/multilingual_dev.jsonl]

related → seeds/<topic>/multilingual/, hard_negative → seeds/<topic>/multilingual/counter/,
negative → seeds/_background/multilingual/; one file per item, "<event>__<id>.txt" where the item
has an event, else "<id>.txt"; first line the title (empty when the page had none), then the
text as found. Only the multilingual copy of the topic trains on them (bot/topic_multilingual.py).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TOPIC = "militia-attacks-us-forces"
FOLDERS = {
    "related": REPO / "seeds" / TOPIC / "multilingual",
    "hard_negative": REPO / "seeds" / TOPIC / "multilingual" / "counter",
    "negative": REPO / "seeds" / "_background" / "multilingual",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--corpus", type=Path, default=Path("/work/shared/data/multilingual_dev.jsonl")
    )
    args = parser.parse_args()
    for folder in FOLDERS.values():
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.txt"):
            old.unlink()
    count = 0
    for line in args.corpus.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        name = f"{row['event']}__{row['id']}.txt" if row.get("event") else f"{row['id']}.txt"
        body = f"{row.get('title') or ''}\n{row['text'].strip()}\n"
        (FOLDERS[row["label"]] / name).write_text(body, encoding="utf-8")
        count += 1
    print(f"wrote {count} examples")


if __name__ == "__main__":
    main()
