"""Could the multilingual space join an Arabic or Persian report to the English story of the same
event? Gist cosines (bot.relevance.stories.gist) of every cross-language pair: each Arabic or
Persian report with an event id against each of the topic's English examples named
"<event>__…" — same event or not — in e5 space, the English-only MiniLM space beside it.

    python bench/stories_multilingual.py      (after bench/relevance_multilingual.py has
                                               embedded everything into bench/.cache)

Prints AP of "same event" over the pairs and precision/recall at the best-F1 cosine cut-off.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from relevance_stages import training_pool  # noqa: E402

from bot.relevance.metrics import average_precision  # noqa: E402
from bot.relevance.stories import gist  # noqa: E402

CORPUS = Path("/work/shared/data/multilingual_dev.jsonl")
SPACES = {
    "all-MiniLM-L6-v2": "all-MiniLM-L6-v2",
    "multilingual-e5-small q4": "multilingual-e5-small-q4",
}


def main() -> None:
    rows = [json.loads(x) for x in CORPUS.read_text(encoding="utf-8").splitlines() if x.strip()]
    rows = [r for r in rows if r.get("event")]
    # curated examples are "<event>__<name>.txt": their group is the event; others are their own
    english = [
        (h, group)
        for h, _, group, _, _ in training_pool(REPO / "seeds")
        if not group.startswith(("positive:", "counter:", "background:"))
    ]
    events = {r["event"] for r in rows}
    print(
        f"{len(rows)} Arabic/Persian reports with an event; {len(english)} English examples "
        f"with an event; {len({g for _, g in english} & events)} events shared"
    )
    for label, name in SPACES.items():
        path = (
            REPO
            / "bench"
            / ".cache"
            / f"multilingual-{hashlib.sha256(name.encode()).hexdigest()[:12]}.pkl"
        )
        vecs = pickle.loads(path.read_bytes())
        same, cos = [], []
        for r in rows:
            a = gist(vecs[f"{r['id']}:full"])
            for h, group in english:
                same.append(group == r["event"])
                cos.append(float(a @ gist(vecs[h])))
        labels, scores = np.array(same), np.array(cos)
        best = max(
            (
                (
                    t,
                    (tp := (labels & (scores >= t)).sum()) / max((scores >= t).sum(), 1),
                    tp / labels.sum(),
                )
                for t in np.unique(scores)
            ),
            key=lambda x: 2 * x[1] * x[2] / (x[1] + x[2]) if x[1] + x[2] else 0,
        )
        print(
            f"{label:26} pairs {len(labels)} (same event {int(labels.sum())}): AP "
            f"{average_precision(labels, scores):.3f}; best F1 at cosine {best[0]:.3f}: "
            f"precision {best[1]:.3f} recall {best[2]:.3f}; same-event median "
            f"{np.median(scores[labels]):.3f}, other pairs median {np.median(scores[~labels]):.3f}"
        )


if __name__ == "__main__":
    main()
