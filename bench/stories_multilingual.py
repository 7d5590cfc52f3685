"""Stories across languages: does an Arabic or Persian report join the English story of the same
event, and stay out of other events' stories?

    python bench/stories_multilingual.py [--folds 5] [--seed 0]

Pairs: every Arabic/Persian report of multilingual_dev.jsonl labeled related or hard_negative
(what could alert) against every English report so labeled in dev_corpus.jsonl and
dev_corpus_2.jsonl; "same event" when both carry one event id (two incidents carry another id
in dev_corpus_2.jsonl than in the multilingual file: ``ALIASES``). Pairs of one "-series" event
(a story arc: many attacks over weeks) are left out, neither same nor different. Reports are
built as the poll cycle builds them (bot.relevance.stories_across): the foreign report's gist
of its first e5 passages, the English report's lead embedded in e5, names and counts read from
each headline and opening. Vectors are cached in bench/.cache.

Cross-validation by event (``--folds`` folds over the events; a report without an event is its
own): the weights and threshold are chosen on the pairs of the other folds' events (best F0.5:
a wrong join hides an alert under another story), then judged on the pairs of the fold's own.
Figures are pooled over folds: pair AP, precision and recall; and as the poll cycle joins
(each foreign report to its best English report at or above the threshold): joins, their
purity (the share joined to a report of their own event) and the share of foreign reports with
an English counterpart that joined one. Baselines in the same run: the cosine alone, and the
names alone. Two views: all pairs (undated pairs are compared without the window, as the
cycle never does: every article it sees has a date) and dated pairs only (the window applies).

A third view dates every report as a feed would (its own date, else its event id's date) and
chooses and judges there: that is how the poll cycle sees reports, and the weights chosen on
every pair of that view are what ships (stories_across.WEIGHTS), also scored here in-sample.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import pickle
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bot.relevance import stories_across as across  # noqa: E402
from bot.relevance.language import normalise  # noqa: E402
from bot.relevance.metrics import average_precision  # noqa: E402
from bot.relevance.multilingual import MultilingualEmbedder  # noqa: E402
from bot.relevance.scoring import embed_documents  # noqa: E402
from bot.relevance.stories import gist  # noqa: E402

DATA = Path("/work/shared/data")
FOREIGN = DATA / "multilingual_dev.jsonl"
ENGLISH = (DATA / "dev_corpus.jsonl", DATA / "dev_corpus_2.jsonl")
CACHE = REPO / "bench" / ".cache" / "stories-across.pkl"
LABELS = ("related", "hard_negative")
EVENT_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
GRID = [
    across.Weights(n, m, c, t, k)
    for n, m, c, k in itertools.product(
        (0.0, 0.2, 0.3, 0.5), (0.0, 0.05, 0.1), (0.0, 0.15, 0.3), (2, 3, 4)
    )
    for t in np.arange(0.80, 1.31, 0.01)
]


def load(path: Path) -> list[dict]:
    rows = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
    return [r for r in rows if r["label"] in LABELS]


def embedded(
    foreign: list[dict], english: list[dict], foreign_lead: bool = False
) -> dict[str, np.ndarray]:
    """id → e5 gist: the foreign report's opening passages (or its lead, as the English
    report's), the English report's lead."""
    cached = pickle.loads(CACHE.read_bytes()) if CACHE.exists() else {}

    def key(r: dict) -> str:
        lead = ":lead" if foreign_lead and "lang" in r else ""
        return f"{r['id']}{lead}:{hashlib.sha256(r['text'].encode()).hexdigest()[:12]}"

    todo_f = [r for r in foreign if key(r) not in cached]
    todo_e = [r for r in english if key(r) not in cached]
    if todo_f or todo_e:
        embedder = MultilingualEmbedder()
        t0 = time.perf_counter()
        texts = [
            (normalise(r["title"] or "", r["lang"]), normalise(r["text"], r["lang"]))
            for r in todo_f
        ]
        if foreign_lead:
            for r, v in zip(
                todo_f, embedder.encode([across.english_lead(*t) for t in texts]), strict=True
            ):
                cached[key(r)] = v
        else:
            for r, doc in zip(todo_f, embed_documents(embedder, texts), strict=True):
                cached[key(r)] = gist(doc.vectors)
        t1 = time.perf_counter()
        leads = embedder.encode([across.english_lead(r["title"] or "", r["text"]) for r in todo_e])
        for r, v in zip(todo_e, leads, strict=True):
            cached[key(r)] = v
        t2 = time.perf_counter()
        print(
            f"embedded {len(todo_f)} foreign reports in {t1 - t0:.0f} s, "
            f"{len(todo_e)} English leads in {t2 - t1:.0f} s ({len(todo_e) / max(t2 - t1, 1e-9):.1f} leads/s)"
        )
        CACHE.parent.mkdir(exist_ok=True)
        CACHE.write_bytes(pickle.dumps(cached))
    return {r["id"]: cached[key(r)] for r in [*foreign, *english]}


def evidence(
    rows: list[dict], gists: dict[str, np.ndarray], *, event_dates: bool = False
) -> list[across.Evidence]:
    """Each report as the linker sees it; with ``event_dates`` an undated report is dated by its
    event id's date (as a feed would date it: reports appear within a day or two)."""
    out = []
    for i, r in enumerate(rows):
        when = r.get("published")
        if when is None and event_dates and (found := EVENT_DATE.search(r.get("event") or "")):
            when = found.group(0)
        published = datetime.fromisoformat(when).replace(tzinfo=UTC) if when else None
        out.append(across.Evidence.of(i, r["title"] or "", r["text"], gists[r["id"]], published))
    return out


# one incident under two ids, one in each corpus (the notes name the same strikes, same day)
ALIASES = {
    "irgc-erbil-strikes-2024-01-15": "erbil-irgc-missiles-2024-01-15",
    "us-strikes-abukamal-mayadin-2023-11-12": "us-strikes-2023-11-12",
}


def event_of(r: dict) -> str:
    event = r.get("event") or f"own:{r['id']}"
    return ALIASES.get(event, event)


class Pairs:
    """Every (foreign, English) pair that is judged, with its truth and features."""

    def __init__(self, foreign, english, f_ev, e_ev):
        self.foreign, self.english = foreign, english
        rows = []
        for i, a in enumerate(f_ev):
            for j, b in enumerate(e_ev):
                ea, eb = event_of(a_row := foreign[i]), event_of(english[j])
                if ea.endswith("-series") or eb.endswith("-series"):
                    continue  # an arc of many attacks: which one a report is of is not known
                dated = a.published is not None and b.published is not None
                apart = dated and abs(a.published - b.published) > across.WINDOW
                rows.append((i, j, ea == eb, dated, apart, ea, eb, a_row))
        self.i = np.array([r[0] for r in rows])
        self.j = np.array([r[1] for r in rows])
        self.same = np.array([r[2] for r in rows])
        self.dated = np.array([r[3] for r in rows])
        self.apart = np.array([r[4] for r in rows])
        self.ev_f = np.array([r[5] for r in rows])
        self.ev_e = np.array([r[6] for r in rows])
        self.features = {
            k: np.array([across.pair_features(f_ev[r[0]], e_ev[r[1]], k) for r in rows])
            for k in (2, 3, 4)
        }

    def scores(self, w: across.Weights) -> np.ndarray:
        f = self.features[w.min_names]
        s = (
            f[:, 0]
            + w.name_weight * f[:, 1]
            + w.number_weight * f[:, 2]
            - w.site_conflict * f[:, 3]
        )
        return np.where(self.apart, -np.inf, s)


def fbeta(p: float, r: float, beta: float = 0.5) -> float:
    return (1 + beta**2) * p * r / (beta**2 * p + r) if p + r else 0.0


def pr(same: np.ndarray, scores: np.ndarray, t: float) -> tuple[int, int, int]:
    hit = scores >= t
    return int((hit & same).sum()), int(hit.sum()), int(same.sum())


def choose(pairs: Pairs, mask: np.ndarray, grid: list[across.Weights]) -> across.Weights:
    best, best_f = grid[0], -1.0
    cache: dict[tuple, np.ndarray] = {}
    for w in grid:
        k = (w.name_weight, w.number_weight, w.site_conflict, w.min_names)
        if k not in cache:
            cache[k] = pairs.scores(w)[mask]
        tp, hits, pos = pr(pairs.same[mask], cache[k], w.same_story)
        f = fbeta(tp / hits if hits else 0.0, tp / pos if pos else 0.0)
        if f > best_f:
            best, best_f = w, f
    return best


def joins(
    pairs: Pairs, mask: np.ndarray, scores: np.ndarray, t: float
) -> tuple[int, int, int, int]:
    """As the cycle joins: each foreign report to its best English report ≥ t. (joined, joined
    to its own event, foreign reports with a counterpart among the judged, of those joined right)."""
    joined = right = having = found = 0
    for i in np.unique(pairs.i[mask]):
        rows = np.where(mask & (pairs.i == i))[0]
        has = bool(pairs.same[rows].any())
        having += has
        best = rows[np.argmax(scores[rows])]
        if scores[best] >= t:
            joined += 1
            right += bool(pairs.same[best])
            found += has and bool(pairs.same[best])
    return joined, right, having, found


def cross_validate(pairs: Pairs, folds: int, seed: int, grid, views: dict) -> dict:
    events = sorted(set(pairs.ev_f) | set(pairs.ev_e))
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(events))
    fold_of = {events[k]: n % folds for n, k in enumerate(order)}
    f_fold = np.array([fold_of[e] for e in pairs.ev_f])
    e_fold = np.array([fold_of[e] for e in pairs.ev_e])
    scores = np.full(len(pairs.same), -np.inf)
    thresholds = np.zeros(len(pairs.same))
    chosen = []
    for k in range(folds):
        train = (f_fold != k) & (e_fold != k)
        test = f_fold == k
        w = choose(pairs, train, grid)
        chosen.append(w)
        scores[test] = pairs.scores(w)[test]
        thresholds[test] = w.same_story
    out = {}
    for name, view in views.items():
        tp = int((view & pairs.same & (scores >= thresholds)).sum())
        hits = int((view & (scores >= thresholds)).sum())
        pos = int((view & pairs.same).sum())
        # AP over the pooled held-out scores (each fold's own scale: threshold subtracted)
        ap = average_precision(pairs.same[view], (scores - thresholds)[view])
        j = joins(pairs, view, scores - thresholds, 0.0)
        out[name] = {"ap": ap, "tp": tp, "hits": hits, "pos": pos, "joins": j}
    return {"views": out, "chosen": chosen}


def line(name: str, r: dict) -> str:
    p = r["tp"] / r["hits"] if r["hits"] else 0.0
    rec = r["tp"] / r["pos"] if r["pos"] else 0.0
    joined, right, having, found = r["joins"]
    return (
        f"{name:52} AP {r['ap']:.3f}  P {p:.3f} ({r['tp']}/{r['hits']})  R {rec:.3f} "
        f"({r['tp']}/{r['pos']})  joins {joined}: purity {right / joined if joined else 0:.3f}, "
        f"found {found}/{having}"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--foreign-lead",
        action="store_true",
        help="compare the foreign report's lead (embedded again) instead of its opening passages",
    )
    args = ap.parse_args()
    foreign = load(FOREIGN)
    english = [r for path in ENGLISH for r in load(path)]
    gists = embedded(foreign, english, args.foreign_lead)
    pairs = Pairs(foreign, english, evidence(foreign, gists), evidence(english, gists))
    print(
        f"{len(foreign)} Arabic/Persian and {len(english)} English reports (related, hard "
        f"negative); {len(pairs.same)} pairs judged, {int(pairs.same.sum())} of one event; "
        f"dated pairs {int(pairs.dated.sum())} ({int((pairs.same & pairs.dated).sum())} of one event)"
    )
    cosine_only = [w for w in GRID if w.name_weight == w.number_weight == w.site_conflict == 0]
    cosine_only = [w for w in cosine_only if w.min_names == 3] + [
        across.Weights(0, 0, 0, float(t)) for t in np.arange(0.70, 0.95, 0.005)
    ]
    names_only = [
        across.Weights(n, m, c, float(t), k)
        for n, m, c, k in itertools.product((1.0,), (0.0, 0.2), (0.0, 0.5), (2, 3, 4))
        for t in np.arange(0.05, 1.5, 0.05)
    ]
    views = {"all pairs": np.ones_like(pairs.same), "dated pairs": pairs.dated}
    no_cos = Pairs.__new__(Pairs)
    no_cos.__dict__ = dict(pairs.__dict__)
    no_cos.features = {k: f * np.array([0, 1, 1, 1]) for k, f in pairs.features.items()}
    results = {
        "cosine alone (baseline)": cross_validate(pairs, args.folds, args.seed, cosine_only, views),
        "names and counts alone (baseline)": cross_validate(
            no_cos, args.folds, args.seed, names_only, views
        ),
        "cosine + names + counts": cross_validate(pairs, args.folds, args.seed, GRID, views),
    }
    print(f"cross-validated by event ({args.folds} folds, seed {args.seed}); chosen on all pairs")
    for view_name in views:
        print(f"--- judged on {view_name}")
        for name, result in results.items():
            print(line(name, result["views"][view_name]))
    for k, w in enumerate(results["cosine + names + counts"]["chosen"]):
        print(f"    fold {k}: {w}")
    # as the poll cycle sees reports: every one dated (its own date, else its event's)
    cycle = Pairs(
        foreign,
        english,
        evidence(foreign, gists, event_dates=True),
        evidence(english, gists, event_dates=True),
    )
    undated = int((~cycle.dated).sum())
    print(
        f"--- every report dated (its own date, else its event id's; {undated} pairs still "
        "undated: no date in the event id, or no event), chosen and judged so"
    )
    all_cycle = {"every pair": np.ones_like(cycle.same), "pairs both dated": cycle.dated}
    no_cos_cycle = Pairs.__new__(Pairs)
    no_cos_cycle.__dict__ = dict(cycle.__dict__)
    no_cos_cycle.features = {k: f * np.array([0, 1, 1, 1]) for k, f in cycle.features.items()}
    for name, grid, on in (
        ("cosine alone (baseline)", cosine_only, cycle),
        ("names and counts alone (baseline)", names_only, no_cos_cycle),
        ("cosine + names + counts", GRID, cycle),
    ):
        result = cross_validate(on, args.folds, args.seed, grid, all_cycle)
        for view_name, figures in result["views"].items():
            print(line(f"{name}, {view_name}", figures))
    for k, w in enumerate(result["chosen"]):
        print(f"    fold {k}: {w}")
    shipped = choose(cycle, np.ones_like(cycle.same), GRID)
    print(f"chosen on every pair so dated (what ships as stories_across.WEIGHTS): {shipped}")
    w = across.WEIGHTS
    s = cycle.scores(w)
    tp, hits, pos = pr(cycle.same, s, w.same_story)
    joined, right, having, found = joins(cycle, np.ones_like(cycle.same), s, w.same_story)
    print(
        f"shipped weights, every report dated (in-sample): P {tp / max(hits, 1):.3f} "
        f"({tp}/{hits}) R {tp / pos:.3f} ({tp}/{pos}); joins {joined}: purity "
        f"{right / max(joined, 1):.3f}, found {found}/{having}"
    )
    everything = choose(pairs, np.ones_like(pairs.same), GRID)
    print(f"chosen on every pair, undated ones compared without the window: {everything}")
    w = across.WEIGHTS
    s = pairs.scores(w)
    tp, hits, pos = pr(pairs.same, s, w.same_story)
    joined, right, having, found = joins(pairs, np.ones_like(pairs.same), s, w.same_story)
    print(
        f"shipped {w} on all pairs (in-sample): AP {average_precision(pairs.same, s):.3f} "
        f"P {tp / max(hits, 1):.3f} ({tp}/{hits}) R {tp / pos:.3f}; joins {joined}: purity "
        f"{right / max(joined, 1):.3f}, found {found}/{having}"
    )


if __name__ == "__main__":
    main()
