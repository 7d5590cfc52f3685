"""Ingest throughput: articles/s through parse → embed → match on the project's real code path,
against a plain `SentenceTransformer.encode` baseline measured in the same run.

    python bench/ingest.py [--repeat N] [--quick] [--json] [--profile]
                           [--precisions auto,bf16,fp32] [--cases lead,window,full,feeds]

"feed mix" (bench/feed_mix.py) is every item of the recorded news feeds and the demo's feeds,
as parsed: the project runs the poll cycle's embedding stage (the cascade and passage cache,
emptied before each pass); the baseline encodes every passage of every item in plain fp32.

`--precisions` runs one project worker per THREATWATCH_EMBED_PRECISION value (default: the one
set, else auto), all taking turns with the same baseline; a value ending in "-nocascade" (e.g.
auto-nocascade) also sets THREATWATCH_EMBED_CASCADE=false; "int8" builds (once) or loads the int8
model from THREATWATCH_MODEL_CACHE_DIR (default bench/.cache/models).

Baseline and project each live in their own subprocess (`--worker KIND --case CASE`), so each
peak RSS (ru_maxrss) is its own. Both load the model, build the topic index and warm up before
any clock starts; then the parent asks them for timed passes over the whole feed in turn
(B P, P B, B P, ...), so a noisy neighbour hurts both alike. Figures are medians over N passes;
"vs baseline" is the median of the per-round ratios.

Each row also gives the model's work per pass (word pieces counted, padding not), and each int8
row its **ceiling** on this CPU: the int8 and fp32 peaks of ONNX Runtime's own kernels, measured
after the passes (bench/ceiling.py), give the least time its embed stage could take, and so the
best ratio to the baseline this CPU allows with the pass's other stages as measured.
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
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from ceiling import add_ceilings, measured_peaks, model_tokenizer, split_gflop

SELF = str(Path(__file__).resolve())
REPO = Path(SELF).parents[1]
CORPUS = REPO / "data" / "dev_corpus.jsonl"
CASES = {"lead": "title+lead", "window": "one window", "full": "full text", "feeds": "feed mix"}
KINDS = ("baseline", "project")
LEAD_WORDS = 60
QUICK_ARTICLES = 16
WARMUP_ARTICLES = 32
FEED_URL = "https://bench.example/feed.xml"
CASCADE_FIGURES = ("cascade", "stopped_at_lead", "cache_hits", "alerts", "alerts_without_cascade",
                   "passages")  # fmt: skip
NO_CASCADE = "-nocascade"
Pass = Callable[[], dict]  # one timed pass over the whole feed → {"seconds": s, "stages": {}}


def load_articles(case: str, quick: bool) -> list[tuple[str, str]]:
    if case == "feeds":
        from feed_mix import feed_items

        return feed_items(quick)
    rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line]
    rows = rows[:QUICK_ARTICLES] if quick else rows
    if case == "lead":
        return [(r["title"] or "", " ".join(r["text"].split()[:LEAD_WORDS])) for r in rows]
    if case == "window":  # the first passage: a text that fits the 256-token window
        from bot.relevance.embed import passages

        return [
            (r["title"] or "", _body(passages(r["title"] or "", r["text"])[0], r)) for r in rows
        ]
    return [(r["title"] or "", r["text"]) for r in rows]  # 8 articles have no title


def _body(first_passage: str, row: dict) -> str:
    """The first passage without the title that leads it."""
    title = " ".join((row["title"] or "").split())
    return first_passage[len(title) :].strip() if first_passage.startswith(title) else first_passage


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


def over_window(texts: list[str], window: int = 256) -> int:
    """How many texts the model would truncate (token count above its 256-token window)."""
    return sum(len(e.ids) > window for e in model_tokenizer().encode_batch(texts))


def setup_project(articles: list[tuple[str, str]]) -> tuple[Pass, dict]:
    from bot.core.settings import Settings
    from bot.ingest.parse import parse_feed
    from bot.relevance.embed import passages
    from bot.relevance.embed_choice import make_embedder
    from bot.relevance.language import detect_language
    from bot.relevance.scoring import embed_documents, score_document
    from bot.store import SqliteStore
    from bot.topics.config import sync_from_config
    from bot.topics.registry import build_indexes

    settings = Settings()  # THREATWATCH_EMBED_PRECISION, THREATWATCH_EMBED_COMPILE
    embedder = make_embedder(
        "sentence-transformers",
        "all-MiniLM-L6-v2",
        precision=settings.embed_precision,
        compile_model=settings.embed_compile,
        cache_dir=settings.model_cache_dir or REPO / "bench" / ".cache" / "models",
    )
    with tempfile.TemporaryDirectory() as tmp:  # the topic index exactly as the app builds it
        store = SqliteStore(Path(tmp) / "bench.db")
        sync_from_config(store, REPO / "config", REPO / "seeds", datetime.now(UTC))
        indexes = build_indexes(store, embedder)
        store.close()
    feed = rss_bytes(articles)

    def run(body: bytes = feed) -> dict:
        t0 = time.perf_counter()
        items = parse_feed(body, url=FEED_URL).items
        # the poll cycle detects each article's language first (English stays on this path)
        [detect_language(item.title, item.text) for item in items]
        t1 = time.perf_counter()
        docs = embed_documents(embedder, [(item.title, item.text) for item in items])
        t2 = time.perf_counter()
        scores = [score_document(doc, indexes) for doc in docs]
        t3 = time.perf_counter()
        assert len(scores) == len(items) == len(body.split(b"<item>")) - 1
        stages = {"parse+detect": t1 - t0, "embed": t2 - t1, "match": t3 - t2}
        return {"seconds": t3 - t0, "stages": stages}

    run(rss_bytes(articles[:WARMUP_ARTICLES]))
    texts = [p for it in parse_feed(feed, url=FEED_URL).items for p in passages(it.title, it.text)]
    runtime = getattr(embedder, "runtime", "")
    return run, {"texts": len(texts), "over_window": over_window(texts), "runtime": runtime,
                 "split_gflop": split_gflop(texts)}  # fmt: skip


def setup_baseline(articles: list[tuple[str, str]]) -> tuple[Pass, dict]:
    from sentence_transformers import SentenceTransformer

    from bot.relevance.embed import SentenceTransformerEmbedder

    model = SentenceTransformer(str(SentenceTransformerEmbedder("all-MiniLM-L6-v2").model_path()))
    texts = [f"{title}\n{text}".strip() for title, text in articles]

    def run() -> dict:
        t0 = time.perf_counter()
        model.encode(texts, batch_size=32)
        return {"seconds": time.perf_counter() - t0, "stages": {}}

    model.encode(texts[:WARMUP_ARTICLES], batch_size=32)
    return run, {
        "texts": len(texts),
        "over_window": over_window(texts),
        "runtime": "torch fp32",
        "split_gflop": split_gflop(texts),
    }  # the model reads the first 256 pieces


def serve(kind: str, case: str, quick: bool) -> None:
    """Worker: set up, say ready, time one pass per "run" line on stdin, summarise at EOF."""
    articles = load_articles(case, quick)
    if case == "feeds":
        import feed_mix

        setup = feed_mix.setup_project if kind == "project" else feed_mix.setup_baseline
        run, info = setup(quick, over_window)
    else:
        run, info = (setup_project if kind == "project" else setup_baseline)(articles)
    print(json.dumps({"ready": True}), flush=True)
    passes = []
    for line in sys.stdin:
        if line.strip() == "run":
            passes.append(run())
            print("ok", flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB → MiB
    print(json.dumps({**info, "articles": len(articles), "peak_rss_mib": peak, "passes": passes}))


def measure(case: str, repeat: int, quick: bool, precisions: list[str]) -> dict[str, dict]:
    """Set the workers up (one at a time), then alternate timed passes between them."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    procs, logs = {}, {}
    kinds = ["baseline", *(f"project:{p}" for p in precisions)]
    for kind in kinds:
        worker, _, precision = kind.partition(":")
        command = [sys.executable, SELF, "--worker", worker, "--case", case] + ["--quick"] * quick
        logs[kind] = tempfile.TemporaryFile("w+")  # noqa: SIM115 (closed with the process)
        own_env = env | ({"THREATWATCH_EMBED_PRECISION": precision} if precision else {})
        if precision.endswith(NO_CASCADE):  # e.g. auto-nocascade: every passage embedded
            own_env |= {"THREATWATCH_EMBED_PRECISION": precision.removesuffix(NO_CASCADE),
                        "THREATWATCH_EMBED_CASCADE": "false"}  # fmt: skip
        procs[kind] = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                       stderr=logs[kind], text=True, env=own_env, cwd=REPO)  # fmt: skip
        expect(procs[kind], logs[kind], "ready")
    for i in range(repeat):
        for kind in kinds if i % 2 == 0 else kinds[::-1]:
            procs[kind].stdin.write("run\n")  # type: ignore[union-attr]
            procs[kind].stdin.flush()  # type: ignore[union-attr]
            expect(procs[kind], logs[kind], "ok")  # the "ok" comes once the pass has finished
    results = {}
    for kind, proc in procs.items():
        results[kind] = json.loads(proc.communicate()[0].splitlines()[-1])
        logs[kind].close()
    return results


def expect(proc: subprocess.Popen, log: IO[str], word: str) -> None:
    if word not in proc.stdout.readline():  # type: ignore[union-attr]
        log.seek(0)
        sys.exit(f"worker {proc.args} failed (exit {proc.wait()}):\n{log.read()[-3000:]}")


def profile(quick: bool, repeat: int) -> None:
    import cProfile
    import pstats

    run, _ = setup_project(load_articles("full", quick))
    profiler = cProfile.Profile()
    profiler.runcall(lambda: [run() for _ in range(repeat)])
    pstats.Stats(profiler).sort_stats("tottime").print_stats(15)


def machine(precisions: list[str]) -> dict:
    import sentence_transformers
    import torch

    from bot.core.settings import Settings

    settings = Settings()

    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    names = [ln.split(":", 1)[1].strip() for ln in cpuinfo.splitlines() if ln.startswith("model n")]
    return {
        "cpu": names[0] if names else platform.processor() or platform.machine(),
        "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(), "torch": torch.__version__,
        "sentence_transformers": sentence_transformers.__version__,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join(["python", "bench/ingest.py", *sys.argv[1:]]),
        # what the project path runs with: the settings it reads, "auto" resolved for this CPU
        "precisions": ",".join(precisions),
        "compile": int(settings.embed_compile),
    }  # fmt: skip


def summarise(case: str, kind: str, result: dict, baseline: dict) -> dict:
    def rates(r: dict) -> list[float]:
        return [r["articles"] / p["seconds"] for p in r["passes"]]

    mine, base = rates(result), rates(baseline)  # paired: pass i of each ran next to each other
    stages = [p["stages"] for p in result["passes"] if p["stages"]]
    linear, attention = result["split_gflop"]
    return {
        "case": CASES[case], "path": kind, "runtime": result.get("runtime", ""),
        "articles": result["articles"],
        "texts_per_article": round(result["texts"] / result["articles"], 2),
        "over_window": result["over_window"], "texts": result["texts"],
        "articles_per_s": round(statistics.median(mine), 1),
        "min": round(min(mine), 1), "max": round(max(mine), 1),
        "ratio": round(statistics.median(a / b for a, b in zip(mine, base, strict=True)), 2),
        "peak_rss_mib": round(result["peak_rss_mib"]),
        "stages_ms": {k: round(statistics.median(s[k] for s in stages) * 1000)
                      for k in (stages[0] if stages else {})},
        # the model's work in a pass, padding not counted (bench/ceiling.py)
        "gflop": round(linear + attention, 1), "linear_gflop": round(linear, 1),
        "attention_gflop": round(attention, 1),
        "baseline_gflop": round(sum(baseline["split_gflop"]), 1),
        "baseline_seconds": statistics.median(p["seconds"] for p in baseline["passes"]),
    } | {k: result[k] for k in CASCADE_FIGURES if k in result}  # fmt: skip


def table(meta: dict, rows: list[dict]) -> str:
    lines = [
        f"machine: {meta['cpu']}, {meta['cores']} cores (torch threads {meta['torch_threads']})",
        f"date:    {meta['date']}",
        f"command: {meta['command']}",
        f"project embed precisions: {meta['precisions']} (THREATWATCH_EMBED_PRECISION), "
        f"compile: {meta['compile']} (THREATWATCH_EMBED_COMPILE)",
        f"python {meta['python']}, torch {meta['torch']}, "
        f"sentence-transformers {meta['sentence_transformers']}",
        "",
        "| case | path | articles | texts/article | texts over 256 tokens | articles/s (median) "
        "| min–max | vs baseline | peak RSS MiB | stages ms parse+detect/embed/match |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|---|",
    ]
    for r in rows:
        stages = "/".join(str(v) for v in r["stages_ms"].values()) or "–"
        lines.append(
            f"| {r['case']} | {r['path']} ({r['runtime']}) | {r['articles']} | {r['texts_per_article']} "
            f"| {r['over_window']}/{r['texts']} | {r['articles_per_s']} "
            f"| {r['min']}–{r['max']} | {r['ratio']}× | {r['peak_rss_mib']} | {stages} |"
        )
    peaks = meta.get("peaks")
    if peaks:
        lines.append(
            f"this CPU's peaks (bench/ceiling.py, ONNX Runtime, {peaks['shape']} per core, all "
            f"cores): int8 ({peaks['weights']} weights) {peaks['int8']} GOP/s, "
            f"fp32 {peaks['fp32']} GFLOP/s"
        )
    for r in rows:
        embed_s = r["stages_ms"].get("embed", 0) / 1000 or r["articles"] / r["articles_per_s"]
        lines.append(
            f"{r['case']}, {r['path']}: {r['gflop']} GFLOP per pass ({r['linear_gflop']} in the "
            f"projections and feed-forward, {r['attention_gflop']} in attention; "
            f"{r['gflop'] / r['articles'] * 1000:.0f} MFLOP per article), "
            f"{r['gflop'] / embed_s:.1f} GFLOP/s in the embed stage (median pass)"
        )
        if "ceiling" in r:
            c = r["ceiling"]
            lines.append(
                f"  ceiling: the embed stage takes at least {c['embed_floor_s']} s at those peaks "
                f"(measured {c['embed_s']:.2f} s, {c['embed_floor_s'] / c['embed_s']:.0%} of the "
                f"ceiling's speed); with the other stages as measured, at most "
                f"{c['best_ratio']}× the baseline (measured {r['ratio']}×; "
                f"{c['best_ratio_embed_only']}× were parsing, detection and matching free)"
            )
        if "stopped_at_lead" in r:
            lines.append(
                f"{r['case']}, {r['path']}: cascade {'on' if r['cascade'] else 'off'}; "
                f"{r['stopped_at_lead']} of {r['articles']} articles stopped at the lead; "
                f"{r['texts']} texts embedded per pass for {r['passages']} passages "
                f"({r['cache_hits']} cache hits); alerts {r['alerts']} with the cascade, "
                f"{r['alerts_without_cascade']} with every passage embedded"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, help="timed passes per path and case (default 3)")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_ARTICLES} articles, 1 pass")
    parser.add_argument("--json", action="store_true", help="print machine-readable results")
    parser.add_argument("--profile", action="store_true", help="cProfile the project path instead")
    parser.add_argument(
        "--precisions",
        help="project workers, e.g. auto,bf16,fp32 (default: "
        "THREATWATCH_EMBED_PRECISION, else auto)",
    )
    parser.add_argument("--cases", default=",".join(CASES), help="e.g. lead,full")
    parser.add_argument("--worker", choices=KINDS, help=argparse.SUPPRESS)
    parser.add_argument("--case", choices=tuple(CASES), default="full", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.path.insert(0, str(REPO))
    args.repeat = max(args.repeat or (1 if args.quick else 3), 1)
    if args.worker:
        return serve(args.worker, args.case, args.quick)
    if args.profile:
        return profile(args.quick, args.repeat)
    precisions = (args.precisions or os.environ.get("THREATWATCH_EMBED_PRECISION", "auto")).split(
        ","
    )
    rows = []
    for case in args.cases.split(","):
        results = measure(case, args.repeat, args.quick, precisions)
        rows += [
            summarise(case, kind, result, results["baseline"]) for kind, result in results.items()
        ]
    meta = machine(precisions)
    if any("int8" in r["runtime"] for r in rows):  # measured after the workers, on a quiet CPU
        meta["peaks"] = measured_peaks()
        add_ceilings(rows, meta["peaks"])
    print(json.dumps({"machine": meta, "rows": rows}, indent=2) if args.json else table(meta, rows))


if __name__ == "__main__":
    main()
