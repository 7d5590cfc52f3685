"""Ingest throughput: articles/s through parse → embed → match on the project's real code path,
against a plain `SentenceTransformer.encode` baseline measured in the same run.

    python bench/ingest.py [--repeat N] [--quick] [--json] [--profile]

Each (case, path) runs in its own subprocess (`--worker project|baseline --case ...`), so each
peak RSS (ru_maxrss) is its own. Model load, topic index build and a warm-up pass happen before
the clock starts; the figure is the median of N timed passes over the whole feed.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "data" / "dev_corpus.jsonl"
CASES = {"lead": "title+lead", "full": "full text"}
LEAD_WORDS = 60
QUICK_ARTICLES = 16
WARMUP_ARTICLES = 32
FEED_URL = "https://bench.example/feed.xml"


def load_articles(case: str, quick: bool) -> list[tuple[str, str]]:
    rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line]
    rows = rows[:QUICK_ARTICLES] if quick else rows
    if case == "lead":
        return [(r["title"] or "", " ".join(r["text"].split()[:LEAD_WORDS])) for r in rows]
    return [(r["title"] or "", r["text"]) for r in rows]  # 8 articles have no title


def rss_bytes(articles: list[tuple[str, str]]) -> bytes:
    """An RSS 2.0 document whose descriptions are escaped HTML, one <p> per source line."""
    items = []
    for i, (title, text) in enumerate(articles):
        body = "".join(f"<p>{html.escape(line)}</p>" for line in text.splitlines() if line.strip())
        items.append(
            f"<item><title>{html.escape(title)}</title>"
            f"<link>https://bench.example/a/{i}</link><guid>bench-{i}</guid>"
            "<pubDate>Mon, 02 Mar 2026 10:00:00 GMT</pubDate>"
            f"<description>{html.escape(body)}</description></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        "<title>bench</title><link>https://bench.example/</link>"
        f"{''.join(items)}</channel></rss>"
    ).encode()


def over_window(model: object, texts: list[str]) -> int:
    """How many texts the model would truncate (token count above max_seq_length)."""
    lengths = [len(ids) for ids in model.tokenizer(texts)["input_ids"]]  # type: ignore[attr-defined]
    return sum(n > model.max_seq_length for n in lengths)  # type: ignore[attr-defined]


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def worker_project(articles: list[tuple[str, str]], repeat: int, profile: bool) -> dict:
    from bot.pipeline.embed import SentenceTransformerEmbedder, passages
    from bot.pipeline.parse import parse_feed
    from bot.scoring import embed_documents, score_document
    from bot.store import Store
    from bot.topics import build_indexes, sync_from_config

    embedder = SentenceTransformerEmbedder("all-MiniLM-L6-v2")
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.db")
        sync_from_config(store, REPO / "config", REPO / "seeds", datetime.now(UTC))
        indexes = build_indexes(store, embedder)  # embeds the seeds: also warms the model up
        store.close()
    feed, warm = rss_bytes(articles), rss_bytes(articles[:WARMUP_ARTICLES])

    def run(body: bytes) -> tuple[list[float], int, int]:
        t0 = time.perf_counter()
        items = parse_feed(body, url=FEED_URL).items
        t1 = time.perf_counter()
        docs = embed_documents(embedder, [(item.title, item.text) for item in items])
        t2 = time.perf_counter()
        scores = [score_document(doc, indexes) for doc in docs]
        t3 = time.perf_counter()
        assert len(scores) == len(items)
        return [t1 - t0, t2 - t1, t3 - t2], len(items), sum(len(d.passages) for d in docs)

    run(warm)
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    stages = [run(feed) for _ in range(repeat)]
    if profiler is not None:
        import pstats

        profiler.disable()
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(15)
    _, n_items, n_passages = stages[0]
    items = parse_feed(feed, url=FEED_URL).items
    texts = [p for item in items for p in passages(item.title, item.text)]
    return {
        "articles": n_items,
        "texts": n_passages,
        "over_window": over_window(embedder.load(), texts),
        "seconds": [sum(s) for s, _, _ in stages],
        "stages": {
            name: statistics.median(s[i] for s, _, _ in stages)
            for i, name in enumerate(("parse", "embed", "match"))
        },
    }


def worker_baseline(articles: list[tuple[str, str]], repeat: int, profile: bool) -> dict:
    from sentence_transformers import SentenceTransformer

    from bot.pipeline.embed import SentenceTransformerEmbedder

    model = SentenceTransformer(str(SentenceTransformerEmbedder("all-MiniLM-L6-v2").model_path()))
    texts = [f"{title}\n{text}".strip() for title, text in articles]
    model.encode(texts[:WARMUP_ARTICLES], batch_size=32)
    seconds = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        model.encode(texts, batch_size=32)
        seconds.append(time.perf_counter() - t0)
    return {"articles": len(texts), "texts": len(texts), "over_window": over_window(model, texts),
            "seconds": seconds, "stages": {}}  # fmt: skip


def run_worker(kind: str, case: str, args: argparse.Namespace) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", kind, "--case", case,
               "--repeat", str(args.repeat)] + ["--quick"] * args.quick  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO, check=False)
    if done.returncode != 0:
        sys.exit(f"worker {kind}/{case} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def machine() -> dict:
    import sentence_transformers
    import torch

    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    names = [line.split(":", 1)[1].strip() for line in cpuinfo.splitlines()
             if line.startswith("model name")]  # fmt: skip
    return {
        "cpu": names[0] if names else platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "sentence_transformers": sentence_transformers.__version__,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join(["python", "bench/ingest.py", *sys.argv[1:]]),
    }


def summarise(case: str, kind: str, result: dict, baseline_rate: float | None) -> dict:
    rates = [result["articles"] / s for s in result["seconds"]]
    rate = statistics.median(rates)
    return {
        "case": CASES[case], "path": kind, "articles": result["articles"],
        "texts_per_article": round(result["texts"] / result["articles"], 2),
        "over_window": result["over_window"], "texts": result["texts"],
        "articles_per_s": round(rate, 1), "min": round(min(rates), 1), "max": round(max(rates), 1),
        "ratio": round(rate / baseline_rate, 2) if baseline_rate else 1.0,
        "peak_rss_mib": round(result["peak_rss_mib"]),
        "stages_ms": {k: round(v * 1000) for k, v in result["stages"].items()},
    }  # fmt: skip


def table(meta: dict, rows: list[dict]) -> str:
    lines = [
        f"machine: {meta['cpu']}, {meta['cores']} cores (torch threads {meta['torch_threads']})",
        f"date:    {meta['date']}",
        f"command: {meta['command']}",
        f"python {meta['python']}, torch {meta['torch']}, "
        f"sentence-transformers {meta['sentence_transformers']}",
        "",
        "| case | path | articles | texts/article | texts over 256 tokens | articles/s (median) "
        "| min–max | vs baseline | peak RSS MiB | project stages ms (parse/embed/match) |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|---|",
    ]
    for r in rows:
        stages = "/".join(str(v) for v in r["stages_ms"].values()) or "–"
        lines.append(
            f"| {r['case']} | {r['path']} | {r['articles']} | {r['texts_per_article']} "
            f"| {r['over_window']}/{r['texts']} | {r['articles_per_s']} "
            f"| {r['min']}–{r['max']} | {r['ratio']}× | {r['peak_rss_mib']} | {stages} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="timed passes per worker")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_ARTICLES} articles, 1 pass")
    parser.add_argument("--json", action="store_true", help="print machine-readable results")
    parser.add_argument(
        "--profile", action="store_true", help="cProfile the project path (full text) instead"
    )
    parser.add_argument("--worker", choices=("project", "baseline"), help=argparse.SUPPRESS)
    parser.add_argument("--case", choices=tuple(CASES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.path.insert(0, str(REPO))
    if args.quick:
        args.repeat = 1
    if args.worker:
        work = worker_project if args.worker == "project" else worker_baseline
        result = work(load_articles(args.case, args.quick), args.repeat, args.profile)
        result["peak_rss_mib"] = peak_rss_mib()
        print(json.dumps(result))
        return
    if args.profile:
        worker_project(load_articles("full", args.quick), args.repeat, profile=True)
        return
    rows = []
    for case in CASES:
        baseline = run_worker("baseline", case, args)
        project = run_worker("project", case, args)
        rows.append(summarise(case, "baseline", baseline, None))
        rows.append(summarise(case, "project", project, rows[-1]["articles_per_s"]))
    meta = machine()
    print(json.dumps({"machine": meta, "rows": rows}, indent=2) if args.json else table(meta, rows))


if __name__ == "__main__":
    main()
