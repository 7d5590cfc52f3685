"""Training a topic with one BLAS thread against the BLAS default, in one run.

The shipped topic's examples (its seeds, counter-examples and background news, from this tree's
config/ and seeds/) are gathered once, then `bot.relevance.train.train` (grouped cross-validation,
threshold, lead floor, final fit) runs in alternating rounds with TRAINING_BLAS_THREADS = None
(OpenBLAS's default: one thread per core) and = 1 (what the bot uses). Both must give the same
threshold and figures. Optional background load (--busy N: N processes spinning at nice 0) shows
what a poll cycle or a second process on the same cores does to each.

    HF_HUB_OFFLINE=1 python bench/training_threads.py [--rounds 5] [--embedder hashing] [--busy 0]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import bot.relevance.train as training  # noqa: E402
from bot.relevance.embed_choice import make_embedder  # noqa: E402
from bot.store import SqliteStore  # noqa: E402
from bot.topics.config import sync_from_config  # noqa: E402
from bot.topics.training import gather  # noqa: E402


def spin() -> None:
    while True:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--embedder", default="hashing", choices=["hashing", "sentence-transformers"]
    )
    parser.add_argument("--busy", type=int, default=0, help="spinning processes beside the bench")
    args = parser.parse_args()

    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp) / "bench.db")
        sync_from_config(store, REPO / "config", REPO / "seeds", now)
        embedder = make_embedder(
            args.embedder, "all-MiniLM-L6-v2", precision="fp32", cache_dir=Path(tmp) / "mc"
        )
        (topic,) = store.topics()[:1]
        examples = gather(store, embedder, topic, REPO / "seeds" / "_background").examples
        training.train(examples, topic.facets, model=embedder.name)  # warm the feature memo

        spinners = [multiprocessing.Process(target=spin, daemon=True) for _ in range(args.busy)]
        for process in spinners:
            process.start()
        times: dict[str, list[float]] = {"BLAS default": [], "1 BLAS thread": []}
        results: dict[str, set[tuple[float, float, float, float]]] = {k: set() for k in times}
        try:
            for _ in range(args.rounds):
                for label, threads in (("BLAS default", None), ("1 BLAS thread", 1)):
                    training.TRAINING_BLAS_THREADS = threads
                    start = time.perf_counter()
                    trained = training.train(examples, topic.facets, model=embedder.name)
                    times[label].append(time.perf_counter() - start)
                    cv = trained.cv
                    results[label].add((trained.threshold, cv.ap, cv.precision, cv.recall))
        finally:
            for process in spinners:
                process.terminate()
        store.close()

    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {platform.processor() or platform.machine()} · "
        f"{os.cpu_count()} cores · embedder {embedder.name} · {len(examples)} examples · "
        f"busy={args.busy} · rounds={args.rounds} · load average at the end "
        f"{os.getloadavg()[0]:.1f}"
    )
    print("| BLAS threads | median s | min–max s | threshold, AP, P, R |")
    print("|---|--:|--:|---|")
    for label, values in times.items():
        (figures,) = results[label]  # each setting gave one result in every round
        shown = ", ".join(f"{x:.4f}" for x in figures)
        print(
            f"| {label} | {statistics.median(values):.2f} | {min(values):.2f}–{max(values):.2f} "
            f"| {shown} |"
        )
    same = results["BLAS default"] == results["1 BLAS thread"]
    print("same figures with both:", same)


if __name__ == "__main__":
    main()
