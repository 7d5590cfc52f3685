"""What reading roles costs at ingest: per article, embedding and scoring with the shipped topic's
scorer with and without role features (bot/relevance/roles.py), in the same run.

    python bench/relevance_roles.py [--rounds 5]

Articles: every item of both development corpora (313 real news texts, title + text), cut into
passages as ingest cuts them. The scorers are trained once on the shipped examples (vectors from
bench/.cache/, as bench/relevance_partitions.py uses), one with the topic's facets as shipped
(roles) and one without slots and role-only facets (today). Timed per round, in turn: embedding
every article's passages in one batched call (as a poll cycle does; what ingest spends most
of its time on), judging every article with each scorer,
and the alert's role line (only matches pay it; timed here for every article). Figures are
medians over the rounds. Memory: the peak of Python allocations (tracemalloc) while the role
features of every article are computed, and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
from relevance_partitions import MODEL, without_roles  # noqa: E402
from relevance_stages import corpus_and_topic, vectors  # noqa: E402

from bot.relevance.embed import SentenceTransformerEmbedder, passages  # noqa: E402
from bot.relevance.role_line import role_line  # noqa: E402
from bot.relevance.roles import role_features  # noqa: E402
from bot.relevance.scorer import document_text  # noqa: E402
from bot.relevance.train import Example, fit  # noqa: E402


def embed_batched(embedder: SentenceTransformerEmbedder, articles: list[list[str]]) -> list:
    """Every article's passage vectors from one batched call, as a poll cycle embeds its batch."""
    vectors = embedder.encode([p for parts in articles for p in parts])
    out, at = [], 0
    for parts in articles:
        out.append(vectors[at : at + len(parts)])
        at += len(parts)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rows, _, pool, facets, texts = corpus_and_topic()
    vecs = vectors(MODEL, texts)
    examples = [
        Example(label, vecs[h][1], document_text(vecs[h][0]), group, h)
        for h, label, group, _, _ in pool
    ]
    scorers = {
        "today": fit(examples, without_roles(facets), model=MODEL),
        "roles": fit(examples, facets, model=MODEL),
    }
    articles = [passages(r.get("title") or "", r["text"]) for r in rows]
    embedder = SentenceTransformerEmbedder(MODEL)
    for parts in articles[:8]:  # warm up
        embedder.encode(parts)
    rounds: dict[str, list[float]] = {"embed": [], "today": [], "roles": [], "role line": []}
    for _ in range(args.rounds):
        started = time.perf_counter()
        embedded = embed_batched(embedder, articles)
        rounds["embed"].append(time.perf_counter() - started)
        for name, scorer in scorers.items():
            started = time.perf_counter()
            for parts, v in zip(articles, embedded, strict=True):
                scorer.judge(v, document_text(parts))
            rounds[name].append(time.perf_counter() - started)
        started = time.perf_counter()
        for r in rows:
            role_line(r.get("title") or "", r["text"], facets)
        rounds["role line"].append(time.perf_counter() - started)
    per_article = {k: statistics.median(v) / len(rows) * 1000 for k, v in rounds.items()}
    today = per_article["embed"] + per_article["today"]
    roles = per_article["embed"] + per_article["roles"]
    tracemalloc.start()
    for parts in articles:
        role_features(document_text(parts), facets)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    report = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()} · {os.cpu_count()} cores · Python {platform.python_version()}",
        "load_average": [round(x, 1) for x in os.getloadavg()],
        "articles": len(rows),
        "rounds": args.rounds,
        "ms_per_article": {k: round(v, 2) for k, v in per_article.items()},
        "embed_and_score_ms": {"today": round(today, 2), "roles": round(roles, 2)},
        "slowdown": round(roles / today - 1, 4),
        "role_features_peak_alloc_kb": round(peak / 1024),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
