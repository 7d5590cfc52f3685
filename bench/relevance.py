"""Relevance figures: `threatwatch score` (the scoring path alerts use) on a labeled JSONL corpus,
beside a TF-IDF and a keyword baseline trained on the same examples in the same run.

    python bench/relevance.py [--corpus PATH [PATH ...]] [--folds 5] [--json]

By default both development corpora together (data/dev_corpus.jsonl, data/dev_corpus_2.jsonl).

Corpus lines: {"id", "label" (related | hard_negative | negative), "title", "text",
"published"?, "event"?}. "related" is the positive class.

Two modes, chosen by what the shipped topic was trained on:
- held-out: no corpus item is among the topic's examples (seeds/, counter/, _background/);
  one `threatwatch score` run with the topic as shipped.
- cross-validation: the corpus is (partly) the topic's training data — the development corpus is.
  Items are split into folds by event (reports of one event stay together); for each fold the
  topic is trained on a copy of seeds/ without that fold's items, and only that fold is scored.
  Every item is scored by a model that never saw it nor its event. The shipped threshold is
  "auto": each fold's threshold is picked by cross-validation inside its own training part.

Noise on real news: the shipped topic scores every item of the recorded English news feeds
(tests/data/feeds/news-*.xml: world, business, politics and defence news, none of it about the
topic) and the bench counts how many would alert — what an analyst subscribed to those feeds
would have received.

The ingest cascade, in the same run: `threatwatch score` also says of each item whether the
poll cycle would stop it at its lead (embed nothing more, match nothing), by each fold's own
topic and lead floor; "threatwatch, cascade" is the figures with those items matching nothing.

Story grouping: `threatwatch score --stories` over the items that carry an event id; pairwise
precision and recall of "same story" against "same event".
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bot.ingest.parse import parse_feed  # noqa: E402
from bot.relevance.facets import facet_hits, parse_facets, split_sentences  # noqa: E402
from bot.relevance.metrics import average_precision, figures_at, pick_threshold  # noqa: E402
from bot.topics.seeds import seed_from_text  # noqa: E402

CORPORA = (REPO / "data" / "dev_corpus.jsonl", REPO / "data" / "dev_corpus_2.jsonl")
TOPIC = "militia-attacks-us-forces"
NEWS_FEEDS = REPO / "tests" / "data" / "feeds"
NOT_ENGLISH = ("news-bbc-urdu", "news-heise")
# this tree's CLI (`python -m bot`), not whichever `threatwatch` script the venv has installed
EXE = [sys.executable, "-m", "bot"]


def load(*paths: Path) -> list[dict]:
    return [
        json.loads(line)
        for path in paths
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


def example_files(seeds: Path) -> dict[str, Path]:
    """content hash → file, for every example file the topic trains on."""
    out = {}
    for path in [
        *seeds.glob(f"{TOPIC}/*.txt"),
        *seeds.glob(f"{TOPIC}/counter/*.txt"),
        *seeds.glob("_background/*.txt"),
        # Arabic and Persian examples only the topic's multilingual copy trains on
        *seeds.glob(f"{TOPIC}/multilingual/*.txt"),
        *seeds.glob(f"{TOPIC}/multilingual/counter/*.txt"),
        *seeds.glob("_background/multilingual/*.txt"),
    ]:
        seed = seed_from_text(TOPIC, path.read_text(encoding="utf-8"), origin=path.name)
        out[seed.content_hash] = path
    return out


def item_hash(row: dict) -> str:
    text = (
        f"{row['title'].strip()}\n{row['text'].strip()}\n"
        if row.get("title")
        else row["text"].strip() + "\n"
    )
    return seed_from_text(TOPIC, text, origin=row["id"]).content_hash


def news_items() -> list[tuple[str, str]]:
    """(title, text) of every item of the recorded English news feeds."""
    out = []
    for path in sorted(NEWS_FEEDS.glob("news-*.xml")):
        if path.name.startswith(NOT_ENGLISH):
            continue
        feed = parse_feed(path.read_bytes(), url=f"https://example.org/{path.name}", max_items=1000)
        out += [(item.title, item.text) for item in feed.items if (item.title + item.text).strip()]
    return out


def news_noise(seeds: Path) -> dict:
    """How many items of the recorded news feeds the shipped topic would alert on."""
    docs = [
        {"id": f"news-{i}", "title": title, "text": text}
        for i, (title, text) in enumerate(news_items())
    ]
    scored = run_score(docs, seeds)
    alerts = sorted((s for s in scored if s["score"] >= s["threshold"]), key=lambda s: -s["score"])
    titles = {d["id"]: d["title"] for d in docs}
    return {
        "items": len(docs),
        "alerts": len(alerts),
        # with the cascade, an item stopped at its lead matches nothing
        "stopped_at_lead": sum(s["stops_at_lead"] for s in scored),
        "alerts_with_cascade": sum(not s["stops_at_lead"] for s in alerts),
        "threshold": scored[0]["threshold"] if scored else None,
        "highest": sorted((round(s["score"], 3) for s in scored), reverse=True)[:3],
        "alerted": [titles[s["id"]] for s in alerts[:10]],
    }


def run_score(rows: list[dict], seeds: Path, *, stories: bool = False) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "in.jsonl"
        corpus.write_text(
            "\n".join(
                json.dumps({k: r.get(k) for k in ("id", "title", "text", "published")})
                for r in rows
            )
        )
        env = os.environ | {
            "PYTHONPATH": str(REPO),
            "THREATWATCH_SEEDS_DIR": str(seeds),
            "THREATWATCH_LOAD_DEFAULT_FEEDS": "false",
            "HF_HUB_OFFLINE": "1",
            # the int8 model is built once, not in every fold's temporary directory
            "THREATWATCH_MODEL_CACHE_DIR": os.environ.get(
                "THREATWATCH_MODEL_CACHE_DIR", str(REPO / "bench" / ".cache" / "models")
            ),
        }
        cmd = [*EXE, "--db", str(Path(tmp) / "bench.db"), "score", "--input", str(corpus)]
        if stories:
            cmd.append("--stories")
        else:
            cmd += ["--topic", TOPIC]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if out.returncode != 0:
            sys.exit(f"threatwatch score failed:\n{out.stderr[-3000:]}")
        return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


def training_texts(seeds: Path) -> tuple[list[str], np.ndarray]:
    texts, labels = [], []
    for pattern, label in (
        (f"{TOPIC}/*.txt", True),
        (f"{TOPIC}/counter/*.txt", False),
        ("_background/*.txt", False),
    ):
        for path in sorted(seeds.glob(pattern)):
            texts.append(path.read_text(encoding="utf-8"))
            labels.append(label)
    return texts, np.array(labels)


def tfidf_scores(train: tuple[list[str], np.ndarray], test: list[str]) -> np.ndarray:
    vectorizer = TfidfVectorizer(
        ngram_range=(1, 2), min_df=2, sublinear_tf=True, stop_words="english"
    )
    clf = LogisticRegression(C=10, max_iter=5000, class_weight="balanced")
    clf.fit(vectorizer.fit_transform(train[0]), train[1])
    return clf.predict_proba(vectorizer.transform(test))[:, 1]


def keyword_scores(texts: list[str], facets) -> np.ndarray:
    """The hand-written keyword count: sentences that mention the topic's core and support
    phrases (contrast phrases ignored), as a keyword alert would count them."""
    usable = [f for f in facets if f.role != "contrast"]
    return np.array([facet_hits(split_sentences(t) or [t], usable).sum() for t in texts], float)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, nargs="+", default=list(CORPORA))
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--model",
        default=None,
        help="THREATWATCH_MODEL for the threatwatch side (a model name or a directory), e.g. "
        "the all-mpnet-base-v2 directory that scripts/install_mpnet.sh unpacks",
    )
    args = parser.parse_args()
    if args.model:
        os.environ["THREATWATCH_MODEL"] = args.model
    rows = load(*args.corpus)
    labels = np.array([r["label"] == "related" for r in rows])
    texts = [f"{r.get('title') or ''}\n{r['text']}" for r in rows]
    facets = parse_facets(
        tomllib.loads((REPO / "config" / "topics.toml").read_text())["topic"][0]["facets"],
        where="topics.toml",
    )
    seeds = REPO / "seeds"
    files = example_files(seeds)
    in_training = [item_hash(r) in files for r in rows]
    project, tfidf, keyword = np.zeros(len(rows)), np.zeros(len(rows)), np.zeros(len(rows))
    thresholds = np.zeros(len(rows))
    stops = np.zeros(len(rows), bool)  # the cascade would stop the item at its lead
    if any(in_training):
        mode = f"cross-validation ({args.folds} folds by event; {sum(in_training)} of {len(rows)} items are training examples)"
        groups = [r.get("event") or r["id"] for r in rows]
        for fold, (_, test) in enumerate(
            GroupKFold(n_splits=args.folds).split(rows, labels, groups)
        ):
            with tempfile.TemporaryDirectory() as tmp:
                fold_seeds = Path(tmp) / "seeds"
                shutil.copytree(seeds, fold_seeds)
                for i in test:
                    held = files.get(item_hash(rows[i]))
                    if held is not None:
                        (fold_seeds / held.relative_to(seeds)).unlink()
                scored = {s["id"]: s for s in run_score([rows[i] for i in test], fold_seeds)}
                train_set = training_texts(fold_seeds)
                tfidf[test] = tfidf_scores(train_set, [texts[i] for i in test])
                kw_train = keyword_scores(train_set[0], facets)
                kw_cut = pick_threshold(train_set[1], kw_train)
                keyword[test] = keyword_scores([texts[i] for i in test], facets) - kw_cut
            for i in test:
                project[i], thresholds[i], stops[i] = (
                    scored[rows[i]["id"]]["score"],
                    scored[rows[i]["id"]]["threshold"],
                    scored[rows[i]["id"]]["stops_at_lead"],
                )
            fold_figures = figures_at(labels[test], project[test], thresholds[test][0])
            print(f"fold {fold + 1}/{args.folds}: {fold_figures.line()}", file=sys.stderr)
    else:
        mode = "held-out (the corpus is not among the topic's examples)"
        scored = {s["id"]: s for s in run_score(rows, seeds)}
        project = np.array([scored[r["id"]]["score"] for r in rows])
        thresholds = np.array([scored[r["id"]]["threshold"] for r in rows])
        stops = np.array([scored[r["id"]]["stops_at_lead"] for r in rows])
        train_set = training_texts(seeds)
        tfidf = tfidf_scores(train_set, texts)
        kw_train = keyword_scores(train_set[0], facets)
        keyword = keyword_scores(texts, facets) - pick_threshold(train_set[1], kw_train)
    hard = np.array([r["label"] != "negative" for r in rows])
    results = {}
    # threatwatch scores are calibrated probabilities, pooled across folds for AP; an item
    # "alerts" when its score reaches the threshold its own (fold's) topic chose
    for name, scores, alerts in (
        ("threatwatch", project, project >= thresholds),
        # the same run with the ingest cascade: a stopped item matches nothing
        ("threatwatch, cascade", np.where(stops, 0.0, project), (project >= thresholds) & ~stops),
        ("tf-idf + logistic regression", tfidf, tfidf >= 0.5),
        ("keyword count", keyword, keyword >= 0),
    ):
        results[name] = {
            "all": figures(labels, scores, alerts),
            "related_vs_hard_negative": figures(labels[hard], scores[hard], alerts[hard]),
        }
    for lang in sorted({r["lang"] for r in rows if r.get("lang")}):  # multilingual corpora
        mine = np.array([r.get("lang") == lang for r in rows])
        results[f"threatwatch · {lang}"] = {
            "all": figures(labels[mine], project[mine], (project >= thresholds)[mine]),
            "related_vs_hard_negative": figures(
                labels[mine & hard], project[mine & hard], (project >= thresholds)[mine & hard]
            ),
        }
    errors = errors_by_confidence(rows, labels, project >= thresholds)
    story = story_figures(rows, seeds)
    noise = news_noise(seeds)
    report = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()} · {os.cpu_count()} cores · Python {platform.python_version()}",
        "corpus": " + ".join(map(str, args.corpus)),
        "mode": mode,
        "model": os.environ.get("THREATWATCH_MODEL", "all-MiniLM-L6-v2 (default)"),
        "precision": embed_precision(),
        "results": results,
        "errors_by_confidence": errors,
        "stories": story,
        "news_feeds": noise,
        "cascade": {
            "stopped_at_lead": int(stops.sum()),
            "items": len(rows),
            "related_stopped": int((stops & labels).sum()),
            "alerts_lost": int((stops & (project >= thresholds)).sum()),
            "related_stopped_titles": [
                r.get("title") for r, s in zip(rows, stops & labels, strict=True) if s
            ],
        },
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(
        f"corpus: {report['corpus']} ({len(rows)} items, {int(labels.sum())} related)\nmode: {mode}"
    )
    print(f"model: {report['model']}, embedding precision {report['precision']}\n")
    print(f"{'':32} {'AP':>6} {'P':>6} {'R':>6} {'F1':>6}   (related vs hard negatives: AP P R)")
    for name, r in results.items():
        a, h = r["all"], r["related_vs_hard_negative"]
        print(
            f"{name:32} {a['ap']:6.3f} {a['precision']:6.3f} {a['recall']:6.3f} {a['f1']:6.3f}   ({h['ap']:.3f} {h['precision']:.3f} {h['recall']:.3f})"
        )
    print(
        f"\nstories over {story['items']} items with an event id ({story['events']} events): "
        f"pairwise precision {story['precision']:.3f} recall {story['recall']:.3f}; "
        f"pairs of dated reports ({story['dated_pairs']} of {story['pairs']} same-event pairs): "
        f"precision {story['dated_precision']:.3f} recall {story['dated_recall']:.3f}"
    )
    print(
        f"recorded news feeds: {noise['alerts']} alerts among {noise['items']} items at the "
        f"shipped threshold {noise['threshold']} (highest scores {noise['highest']})"
    )
    c = report["cascade"]
    print(
        f"cascade: {c['stopped_at_lead']} of {c['items']} corpus items stop at the lead "
        f"({c['related_stopped']} related, {c['alerts_lost']} alerts lost); news feeds: "
        f"{noise['stopped_at_lead']} of {noise['items']} stop, "
        f"{noise['alerts_with_cascade']} alerts with the cascade"
    )
    for title in noise["alerted"]:
        print(f"  alerted: {title}")
    print("\nthreatwatch's errors by the corpus's label_confidence (medium = borderline):")
    for key, e in errors.items():
        print(f"  {key:22} {e['wrong']:3} of {e['items']:3} {e['kind']}")
        for title in e["titles"]:
            print(f"      {title}")


def errors_by_confidence(rows: list[dict], labels: np.ndarray, alerts: np.ndarray) -> dict:
    """Misses (related) and false alerts (the rest), split by the corpus's label_confidence:
    whether the errors are on items the labeling rule itself calls borderline."""
    out: dict = {}
    for row, label, alert in zip(rows, labels, alerts, strict=True):
        key = f"{row['label']} {row.get('label_confidence') or '-'}"
        entry = out.setdefault(
            key, {"items": 0, "wrong": 0, "kind": "missed" if label else "alerted", "titles": []}
        )
        entry["items"] += 1
        if alert != label:
            entry["wrong"] += 1
            entry["titles"].append(row.get("title") or row["text"][:80])
    return {k: out[k] for k in sorted(out)}


def figures(labels: np.ndarray, scores: np.ndarray, alerts: np.ndarray) -> dict:
    tp = int((alerts & labels).sum())
    precision = tp / alerts.sum() if alerts.any() else 0.0
    recall = tp / labels.sum() if labels.any() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "ap": round(average_precision(labels, scores), 4),
        "precision": round(float(precision), 4),
        "recall": round(float(recall), 4),
        "f1": round(float(f1), 4),
        "alerts": int(alerts.sum()),
    }


def embed_precision() -> str:
    """The precision `threatwatch score` embeds in: THREATWATCH_EMBED_PRECISION, "auto"
    resolved for this CPU."""
    from bot.core.settings import Settings
    from bot.relevance.embed import _cpu_flags
    from bot.relevance.embed_choice import choose, int8_runtime_installed

    setting = Settings().embed_precision
    choice = choose(setting, _cpu_flags(), int8_installed=int8_runtime_installed())
    return f"{choice.precision} ({setting}: {choice.reason})"


def story_figures(rows: list[dict], seeds: Path) -> dict:
    """Pairwise precision and recall of "same story" against "same event": over all pairs, and
    over the pairs where both reports carry a date (in the poll cycle every article has one)."""
    with_event = [r for r in rows if r.get("event")]
    labels = {s["id"]: s["story"] for s in run_score(with_event, seeds, stories=True)}
    counts = {"all": [0, 0, 0], "dated": [0, 0, 0]}  # same event, same story, both
    for a, b in itertools.combinations(with_event, 2):
        event = a["event"] == b["event"]
        story = labels[a["id"]] == labels[b["id"]]
        kinds = ["all", "dated"] if a.get("published") and b.get("published") else ["all"]
        for kind in kinds:
            counts[kind][0] += event
            counts[kind][1] += story
            counts[kind][2] += event and story
    out: dict = {"items": len(with_event), "events": len({r["event"] for r in with_event})}
    for kind, (same_event, same_story, both) in counts.items():
        prefix = "" if kind == "all" else "dated_"
        out[prefix + "precision"] = round(both / same_story, 4) if same_story else 0.0
        out[prefix + "recall"] = round(both / same_event, 4) if same_event else 0.0
        out[prefix + "pairs"] = same_event
    return out


if __name__ == "__main__":
    main()
