"""Query latency: `search`, `similar` and `latest` through the real BotService over a synthetic
store of N passage vectors, against the brute-force path they replaced, in the same run.

    python bench/queries.py [--sizes 10000,100000,1000000] [--baseline-size 100000]
                            [--repeat 40] [--baseline-repeat 5] [--previous REV] [--json]

Each store holds N/2 articles of two passages each (random unit vectors of the model's 384
dimensions: fine for timing, not for relevance), a match for one article in 50 (bench-topic) and
one in 5,000 (bench-rare). Stores are built once and kept under bench/.cache/ (1M vectors: ~1.7 GB,
a few minutes to build).
Queries are embedded by the real model, as in chat: `search` gets a text it has not seen
(the model runs), `search (cached)` one asked before. Two baselines, their calls alternating with
the project's: `previous`, the vector index of git revision --previous (int8 codes in memory,
query encoded on the calling thread; `latest` as its SQL was before matches carried their
article's date: a join over articles, sorted), at every size; and `brute force`,
the code BotService ran before any index: every passage vector read from SQLite per query
(`Store.chunk_matrix`), then a numpy scan, only at --baseline-size. Timings are per call, after
one untimed warm-up call.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import sqlite3
import statistics
import subprocess
import sys
import time
import types
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / "bench" / ".cache"
MODEL = "all-MiniLM-L6-v2"
DIM = 384
TOPIC = "bench-topic"
RARE_TOPIC = "bench-rare"  # a match for one article in 5,000
START = datetime(2026, 1, 1, tzinfo=UTC)
QUERIES = [
    "rocket attack on a base housing US troops in Iraq",
    "drone strike on American forces in eastern Syria",
    "Iran-backed militia threatens to resume attacks on US forces",
    "Kataib Hezbollah claims responsibility",
    "airstrikes on militia positions near the Syrian border",
    "election results and the new parliament",
    "oil prices rise after OPEC meeting",
    "explosion at a weapons depot",
]


def build_store(path: Path, n_vectors: int) -> None:
    """A store with n_vectors passage vectors (two per article) and a match every 50 articles."""
    from bot.store import SqliteStore

    tmp = path.with_suffix(".building")
    tmp.unlink(missing_ok=True)
    SqliteStore(tmp).close()  # the real schema, every migration applied
    conn = sqlite3.connect(tmp, isolation_level=None)
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    iso = START.isoformat(timespec="seconds")
    conn.execute(
        "INSERT INTO topics (name, threshold, created_at, updated_at) VALUES (?, 0.5, ?, ?)",
        [TOPIC, iso, iso],
    )
    rng = np.random.default_rng(7)
    n_articles, step = n_vectors // 2, 50_000
    for first in range(0, n_articles, step):
        ids = range(first + 1, min(first + step, n_articles) + 1)
        vectors = rng.standard_normal((2 * len(ids), DIM), dtype=np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        conn.execute("BEGIN")
        conn.executemany(
            """INSERT INTO articles (id, guid, url, title, text, published, first_seen,
               content_hash) VALUES (?,?,?,?,?,?,?,?)""",
            [
                (
                    i,
                    f"g{i}",
                    f"https://bench.example/{i}",
                    f"Article {i}",
                    f"Text of article {i}.",
                    (START + timedelta(seconds=30 * i)).isoformat(timespec="seconds"),
                    iso,
                    f"h{i}",
                )
                for i in ids
            ],  # fmt: skip
        )
        conn.executemany(
            "INSERT INTO article_chunks (article_id, chunk, model, passage, vector) VALUES (?,?,?,?,?)",
            [
                (i, c, MODEL, f"Passage {c} of article {i}.", vectors[2 * k + c].tobytes())
                for k, i in enumerate(ids)
                for c in (0, 1)
            ],
        )
        conn.execute(
            """INSERT INTO matches (article_id, topic, score, threshold, passage, created_at,
               published) SELECT id, ?, 0.9, 0.5, 'Passage 0 of article ' || id || '.', ?,
               published FROM articles WHERE id BETWEEN ? AND ? AND id % 50 = 0""",
            [TOPIC, iso, ids[0], ids[-1]],
        )
        conn.execute("COMMIT")
    conn.close()
    tmp.rename(path)


def add_rare_topic(path: Path) -> None:
    """A topic with a match for one article in 5,000 (also in stores built before it)."""
    from bot.store import SqliteStore

    SqliteStore(path).close()  # the current schema
    conn = sqlite3.connect(path, isolation_level=None)
    iso = START.isoformat(timespec="seconds")
    if not conn.execute("SELECT 1 FROM topics WHERE name = ?", [RARE_TOPIC]).fetchone():
        conn.execute("BEGIN")
        conn.execute(
            "INSERT INTO topics (name, threshold, created_at, updated_at) VALUES (?, 0.5, ?, ?)",
            [RARE_TOPIC, iso, iso],
        )
        conn.execute(
            """INSERT INTO matches (article_id, topic, score, threshold, passage, created_at,
               published) SELECT id, ?, 0.9, 0.5, 'Passage 0 of article ' || id || '.', ?,
               published FROM articles WHERE id % 5000 = 7""",
            [RARE_TOPIC, iso],
        )
        conn.execute("COMMIT")
    conn.close()


def store_path(n_vectors: int) -> Path:
    path = CACHE / f"queries-{n_vectors}.db"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        print(f"building {path.name} ({n_vectors:,} vectors)…", file=sys.stderr, flush=True)
        build_store(path, n_vectors)
        print(f"  built in {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    add_rare_topic(path)
    return path


# --- the brute-force path BotService ran before the vector index (baseline) ----------------------
def baseline_search(store, embedder, query: str, limit: int = 10) -> list[tuple[int, float]]:  # type: ignore[no-untyped-def]
    vectors, article_ids, _ = store.chunk_matrix(embedder.name)
    sims = vectors @ embedder.encode([query])[0]
    best: dict[int, float] = {}
    for row in np.argsort(-sims):
        if int(article_ids[row]) not in best:
            best[int(article_ids[row])] = float(sims[row])
            if len(best) == limit:
                break
    store.articles_by_ids(list(best))
    return list(best.items())


def baseline_similar(store, model: str, match_id: int, limit: int = 5) -> list[tuple[int, float]]:  # type: ignore[no-untyped-def]
    article = store.match(match_id).article
    _, query = store.article_vectors(article.id, model)
    matrix, article_ids, _ = store.chunk_matrix(model)
    best_per_row = (matrix @ query.T).max(axis=1)
    best: dict[int, float] = {}
    for row in np.argsort(-best_per_row):
        aid = int(article_ids[row])
        if aid != article.id and aid not in best:
            best[aid] = float(best_per_row[row])
            if len(best) == limit:
                break
    store.articles_by_ids(list(best))
    return list(best.items())


# --- the previous vector index (git revision --previous) and its callers (baseline) --------------
PREVIOUS_LATEST = """SELECT m.*, m.id AS match_id FROM matches m JOIN articles a ON a.id = m.article_id
    {where} ORDER BY a.published DESC, m.id DESC LIMIT ?"""


def previous_index_class(rev: str) -> type:
    source = subprocess.run(
        ["git", "show", f"{rev}:bot/search/index.py"], cwd=REPO, check=True, capture_output=True,
        text=True,
    ).stdout  # fmt: skip
    module = types.ModuleType("previous_vectorindex")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(source, f"{rev}:bot/search/index.py", "exec"), module.__dict__)
    return module.VectorIndex  # type: ignore[no-any-return]


def previous_search(store, index, embedder, query: str, limit: int = 10) -> list:  # type: ignore[no-untyped-def]
    hits = index.search(embedder.encode([query])[0], limit=limit)
    store.articles_by_ids([h.article_id for h in hits])
    return hits


def previous_similar(store, index, model: str, match_id: int, limit: int = 5) -> list:  # type: ignore[no-untyped-def]
    article = store.match(match_id).article
    _, vectors = store.article_vectors(article.id, model)
    hits = index.search(vectors, limit=limit, exclude=article.id)
    store.articles_by_ids([h.article_id for h in hits])
    return hits


def previous_latest(store, topic: str | None, limit: int = 10) -> list:  # type: ignore[no-untyped-def]
    if topic:  # BotService.latest checks the topic exists, as it did then
        store.topic(topic)
    where, params = ("WHERE m.topic = ?", [topic]) if topic else ("", [])
    return store._matches(store._rows(PREVIOUS_LATEST.format(where=where), [*params, limit]))


# --- timing -----------------------------------------------------------------------------------------
def timed(call: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    call()
    return (time.perf_counter() - t0) * 1000


def summary(samples: list[float]) -> dict:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(np.ceil(0.95 * len(ordered))) - 1)]
    return {"n": len(samples), "p50_ms": ms(statistics.median(samples)),
            "p95_ms": ms(p95), "max_ms": ms(ordered[-1])}  # fmt: skip


def ms(value: float) -> float:
    """Milliseconds to one decimal, or to three under 1 ms (an index read takes ~0.1 ms)."""
    return round(value, 1 if value >= 1 else 3)


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(
    n_vectors: int, embedder, repeat: int, baseline_repeat: int, previous: type | None
) -> dict:  # type: ignore[no-untyped-def]
    from bot.core.settings import Settings
    from bot.ingest.fetch import Fetcher, FetchLimits
    from bot.service.bot_service import build_service
    from bot.store import SqliteStore
    from bot.topics.registry import TopicRegistry

    path = store_path(n_vectors)
    settings = Settings(db=path, load_default_feeds=False)
    store = SqliteStore(path)
    loop = asyncio.new_event_loop()
    fetcher = Fetcher(FetchLimits())
    service = build_service(
        settings,
        store,
        embedder,
        fetcher,
        TopicRegistry(store, embedder, background_dir=None, clock=lambda: START),
        lambda: START,
    )
    rss0, t0 = rss_mib(), time.perf_counter()
    service.queries.vector_index.warm()  # what start-up runs in the background
    load = {"seconds": round(time.perf_counter() - t0, 2), "rss_added_mib": round(rss_mib() - rss0)}
    old = None
    if previous is not None:
        rss0, t0 = rss_mib(), time.perf_counter()
        old = previous(store, embedder.name)
        old.sync()
        load["previous_seconds"] = round(time.perf_counter() - t0, 2)
        load["previous_rss_added_mib"] = round(rss_mib() - rss0)
    match_ids = [m.id for m in service.queries.latest(limit=100)]
    rng = np.random.default_rng(1)
    run = loop.run_until_complete
    kinds = ["search", "search (cached)", "similar", "latest", "latest (rare topic)"]
    project: dict[str, list[float]] = {k: [] for k in kinds}
    baselines: dict[str, dict[str, list[float]]] = {"previous": {}, "brute force": {}}
    calls = {
        # a text not asked before: the model runs
        "search": lambda i: run(
            service.queries.search(f"{QUERIES[i % len(QUERIES)]} {i}", limit=10)
        ),
        "search (cached)": lambda i: run(
            service.queries.search(QUERIES[i % len(QUERIES)], limit=10)
        ),
        "similar": lambda i: run(
            service.queries.similar(str(match_ids[rng.integers(len(match_ids))]), limit=5)
        ),
        "latest": lambda i: service.queries.latest(topic=TOPIC if i % 2 else None, limit=10),
        "latest (rare topic)": lambda i: service.queries.latest(topic=RARE_TOPIC, limit=10),
    }
    base_calls: dict[str, dict[str, Callable[[int], object]]] = {"previous": {}, "brute force": {}}
    if old is not None:
        base_calls["previous"] = {
            "search": lambda i: previous_search(store, old, embedder, f"{QUERIES[i % 8]} {i}"),
            "similar": lambda i: previous_similar(
                store, old, embedder.name, match_ids[rng.integers(len(match_ids))]
            ),
            "latest": lambda i: previous_latest(store, TOPIC if i % 2 else None),
            "latest (rare topic)": lambda i: previous_latest(store, RARE_TOPIC),
        }
    if baseline_repeat:
        base_calls["brute force"] = {
            "search": lambda i: baseline_search(store, embedder, QUERIES[i % len(QUERIES)]),
            "similar": lambda i: baseline_similar(
                store, embedder.name, match_ids[rng.integers(len(match_ids))]
            ),
        }
    for kind, call in calls.items():  # warm-up: the model, SQLite's page cache
        call(-1)
        for name in base_calls:
            if kind in base_calls[name]:
                base_calls[name][kind](-1)
    for i in range(repeat):
        for kind, call in calls.items():
            project[kind].append(timed(lambda c=call, i=i: c(i)))  # type: ignore[misc]
            for name, limit in (("previous", repeat), ("brute force", baseline_repeat)):
                if i < limit and kind in base_calls[name]:  # alternate with the project
                    sample = timed(lambda c=base_calls[name][kind], i=i: c(i))  # type: ignore[misc]
                    baselines[name].setdefault(kind, []).append(sample)
    loop.run_until_complete(fetcher.aclose())
    loop.close()
    store.close()
    return {
        "vectors": n_vectors, "index_load": load,
        "project": {k: summary(v) for k, v in project.items()},
        "baselines": {n: {k: summary(v) for k, v in b.items()} for n, b in baselines.items()},
    }  # fmt: skip


def table(meta: dict, results: list[dict]) -> str:
    lines = [
        f"machine: {meta['cpu']}, {meta['cores']} cores; python {meta['python']}, numpy "
        f"{meta['numpy']}, torch {meta['torch']}",
        f"date:    {meta['date']}",
        f"command: {meta['command']}",
        "",
        "| vectors | query | path | calls | p50 ms | p95 ms | max ms | baseline p95 / project p95 |",
        "|--:|---|---|--:|--:|--:|--:|--:|",
    ]
    for r in results:
        for kind, proj in r["project"].items():
            ratios = []
            for name, base in ((n, b.get(kind)) for n, b in r["baselines"].items()):
                if base:
                    lines.append(f"| {r['vectors']:,} | {kind} | baseline ({name}) | {base['n']} "
                                 f"| {base['p50_ms']} | {base['p95_ms']} | {base['max_ms']} | |")  # fmt: skip
                    ratios.append(f"{base['p95_ms'] / max(proj['p95_ms'], 0.001):.1f}× ({name})")
            lines.append(f"| {r['vectors']:,} | {kind} | project | {proj['n']} | {proj['p50_ms']} "
                         f"| {proj['p95_ms']} | {proj['max_ms']} | {', '.join(ratios)} |")  # fmt: skip
    lines.append("")
    for r in results:
        load = r["index_load"]
        line = (f"index load at {r['vectors']:,} vectors: project {load['seconds']} s, "
                f"+{load['rss_added_mib']} MiB RSS")  # fmt: skip
        if "previous_seconds" in load:
            line += (f"; previous {load['previous_seconds']} s, "
                     f"+{load['previous_rss_added_mib']} MiB RSS")  # fmt: skip
        lines.append(line)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="passage vectors per store")
    parser.add_argument("--baseline-size", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=40, help="timed calls per query kind")
    parser.add_argument("--baseline-repeat", type=int, default=5)
    parser.add_argument("--previous", default="", help="git revision whose vector index to time")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.path.insert(0, str(REPO))
    import torch

    from bot.relevance.embed import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder(MODEL)
    embedder.load()
    sizes = sorted({int(s) for s in args.sizes.split(",")} | {args.baseline_size})
    results = []
    for n in sizes:
        base_repeat = args.baseline_repeat if n == args.baseline_size else 0
        previous = previous_index_class(args.previous) if args.previous else None
        results.append(measure(n, embedder, args.repeat, base_repeat, previous))
        print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    names = [ln.split(":", 1)[1].strip() for ln in cpuinfo.splitlines() if ln.startswith("model n")]
    meta = {
        "cpu": names[0] if names else platform.machine(), "cores": os.cpu_count(),
        "python": platform.python_version(), "numpy": np.__version__, "torch": torch.__version__,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join(["python", "bench/queries.py", *sys.argv[1:]]),
    }  # fmt: skip
    print(json.dumps({"machine": meta, "results": results}, indent=2) if args.json
          else table(meta, results))  # fmt: skip


if __name__ == "__main__":
    main()
