"""Poll cycle wall time: one `Pipeline.poll_once` over many feeds on the local feed server, most of
them answering 304 Not Modified, against a sequential poller (concurrency 1) in the same run.

    python bench/poll.py [--feeds 2000] [--changed 0.1] [--hosts 1,16] [--repeat 3]
                         [--embedder model|hashing] [--profile FILE] [--json]

Set-up (untimed): every feed is an RSS document of OLD_ITEMS items (distinct texts of random
words); a first real cycle stores them and each feed's ETag. Then a share ``--changed`` of the
feeds gets one new item on top, a real teaser from data/dev_corpus.jsonl; the rest
are unchanged and answer 304. Each timed run starts from a copy of that primed database. The feed servers
(bot/feedserver.FeedServer) run in a child process, one per loopback address
127.0.0.1…127.0.0.K, so their work does not share our interpreter; with K hosts the feeds are
spread over them round-robin, since the fetcher limits concurrency per host (default 2).

The set-up cycle embeds with a bench-only hashing embedder of the model's width (its vectors are
only there to be compared against, not judged); the timed cycles use ``--embedder``. Full-text
fetching is off: items are teasers of LEAD_WORDS words, with no article page behind them.

Besides wall time each row gives the CPU time of our process during the cycle (all its threads;
the feed servers are not counted): on a machine shared with other work, wall time follows the
load, CPU time much less. The load average is printed with the table.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import json
import os
import platform
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "data" / "dev_corpus.jsonl"
MODEL = "all-MiniLM-L6-v2"
OLD_ITEMS = 3
LEAD_WORDS = 60


def teasers() -> list[tuple[str, str]]:
    rows = [json.loads(line) for line in CORPUS.read_text().splitlines()]
    return [(r["title"] or "Untitled", " ".join(r["text"].split()[:LEAD_WORDS])) for r in rows]


def rss(feed: int, items: list[tuple[int, str, str]]) -> bytes:
    body = "".join(
        f"<item><title>{html.escape(title)}</title><link>https://bench.example/{feed}/{n}</link>"
        f"<guid>bench-{feed}-{n}</guid><pubDate>Mon, 02 Mar 2026 {n % 24:02d}:00:00 GMT</pubDate>"
        f"<description>{html.escape(text)}</description></item>"
        for n, title, text in items
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Feed {feed}'
        f"</title><link>https://bench.example/{feed}</link>{body}</channel></rss>"
    ).encode()


def write_feeds(root: Path, n_feeds: int, changed: float, *, new: bool) -> int:
    """Write every feed document (with the new item in the changed ones when ``new``). Old
    items are distinct texts of random corpus words (so they are distinct stories, as most
    stored articles are); new items are the corpus's real teasers."""
    texts = teasers()
    vocabulary = sorted({w for title, text in texts for w in f"{title} {text}".split()})
    rng = random.Random(5)
    n_changed = round(n_feeds * changed)
    for f in range(n_feeds):
        items = []
        for n in range(OLD_ITEMS):
            words = rng.choices(vocabulary, k=LEAD_WORDS + 8)
            items.append((n, " ".join(words[:8]), " ".join(words[8:])))
        if new and f < n_changed:
            title, text = texts[f % len(texts)]
            items.append((OLD_ITEMS, f"{title} ({f})", f"{text} Feed {f}."))
        (root / f"f{f}.xml").write_bytes(rss(f, items[::-1]))
    return n_changed


# --- feed servers in a child process --------------------------------------------------------------
def serve(root: Path, hosts: int) -> None:
    from testkit.feedserver import FeedServer

    servers = [FeedServer(root, host=f"127.0.0.{k + 1}").start() for k in range(hosts)]
    print(json.dumps([s.base_url for s in servers]), flush=True)
    sys.stdin.read()  # until the parent closes our stdin
    for s in servers:
        s.stop()


def start_servers(root: Path, hosts: int) -> tuple[subprocess.Popen, list[str]]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(root), "--hosts", str(hosts)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO,
    )  # fmt: skip
    return proc, json.loads(proc.stdout.readline())  # type: ignore[union-attr]


# --- the cycle ----------------------------------------------------------------------------------
def settings_for(db: Path, concurrency: tuple[int, int] | None):  # type: ignore[no-untyped-def]
    from bot.core.settings import Settings

    extra = {}
    if concurrency is not None:
        extra = {"global_concurrency": concurrency[0], "per_host_concurrency": concurrency[1]}
    return Settings(db=db, load_default_feeds=False, allow_private_networks=True,
                    fetch_full_text=False, **extra)  # fmt: skip


async def cycle(db: Path, embedder, concurrency: tuple[int, int] | None) -> dict:  # type: ignore[no-untyped-def]
    from bot.app.compose import compose
    from bot.deliver.console import CONSOLE, ConsoleSink

    app = compose(settings_for(db, concurrency), sinks={CONSOLE: ConsoleSink()})
    app.embedder = app.pipeline.embedder = app.registry.embedder = embedder
    try:
        app.pipeline.indexes()  # topic index built before the clock starts (cached seeds)
        t0, cpu0 = time.perf_counter(), time.process_time()
        report = await app.pipeline.poll_once()
        seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - cpu0
    finally:
        await app.aclose()
    return {"seconds": seconds, "cpu_seconds": cpu_seconds,
            "report": {k: v for k, v in vars(report).items() if k != "errors"},
            "errors": report.errors[:3]}  # fmt: skip


def prime(db: Path, urls: list[str]) -> None:
    from bot.app.compose import compose
    from bot.relevance.embed import HashingEmbedder

    app = compose(settings_for(db, None))
    for url in urls:
        app.store.add_feed(url, None, app.clock())
    asyncio.run(app.aclose())
    embedder = HashingEmbedder(384)
    embedder.name = MODEL  # set-up only: vectors of the model's width, nothing judged on them
    result = asyncio.run(cycle(db, embedder, None))
    assert result["report"]["failed"] == 0, result["errors"]


def point_feeds_at(db: Path, bases: list[str], n_feeds: int) -> None:
    """Spread the feeds over the given servers, round-robin (and make every feed due)."""
    conn = sqlite3.connect(db)
    with conn:
        for f in range(n_feeds):
            conn.execute("UPDATE feeds SET url = ?, next_check_at = ? WHERE id = ?",
                         [f"{bases[f % len(bases)]}/f{f}.xml", "2000-01-01T00:00:00+00:00", f + 1])  # fmt: skip
    conn.close()


def run_once(primed: Path, work: Path, bases: list[str], args, embedder, conc) -> dict:  # type: ignore[no-untyped-def]
    db = work / "run.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    shutil.copy(primed, db)
    point_feeds_at(db, bases, args.feeds)
    return asyncio.run(cycle(db, embedder, conc))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=2000)
    parser.add_argument("--changed", type=float, default=0.1, help="share of feeds with a new item")
    parser.add_argument("--hosts", default="1,16", help="loopback hosts to spread feeds over")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--embedder", choices=("model", "hashing"), default="model")
    parser.add_argument("--profile", help="write a pyinstrument HTML profile of one project cycle")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    if args.serve:
        return serve(Path(args.serve), int(args.hosts))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    load_before = os.getloadavg()
    from bot.relevance.embed import HashingEmbedder, SentenceTransformerEmbedder

    embedder = (
        SentenceTransformerEmbedder(MODEL) if args.embedder == "model" else HashingEmbedder(384)
    )
    if args.embedder == "model":
        embedder.load()
    else:
        embedder.name = MODEL
    host_counts = [int(h) for h in args.hosts.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        work, root = Path(tmp), Path(tmp) / "feeds"
        root.mkdir()
        write_feeds(root, args.feeds, args.changed, new=False)
        proc, bases = start_servers(root, max(host_counts))
        try:
            t0 = time.perf_counter()
            prime(work / "primed.db", [f"{bases[0]}/f{f}.xml" for f in range(args.feeds)])
            print(f"set-up cycle: {time.perf_counter() - t0:.1f} s", file=sys.stderr)
            n_changed = write_feeds(root, args.feeds, args.changed, new=True)
            paths = {"baseline (sequential: concurrency 1)": (1, 1), "project": None}
            rows = []
            for hosts in host_counts:
                runs: dict[str, list[dict]] = {name: [] for name in paths}
                for i in range(args.repeat):
                    for name in list(paths)[:: 1 if i % 2 == 0 else -1]:  # alternate the order
                        r = run_once(
                            work / "primed.db", work, bases[:hosts], args, embedder, paths[name]
                        )
                        runs[name].append(r)
                        print(
                            f"hosts={hosts} {name}: {r['seconds']:.2f} s "
                            f"(CPU {r['cpu_seconds']:.2f} s) {r['report']}",
                            file=sys.stderr,
                        )
                base = [r["seconds"] for r in runs[list(paths)[0]]]
                for name, rs in runs.items():
                    secs = [r["seconds"] for r in rs]
                    cpu = statistics.median(r["cpu_seconds"] for r in rs)
                    rows.append({"hosts": hosts, "path": name, "median_s": round(statistics.median(secs), 2),
                                 "cpu_median_s": round(cpu, 2),
                                 "min_s": round(min(secs), 2), "max_s": round(max(secs), 2),
                                 "vs_baseline": round(statistics.median(b / s for b, s in zip(base, secs, strict=True)), 2),
                                 "report": rs[-1]["report"]})  # fmt: skip
            if args.profile:
                from pyinstrument import Profiler

                profiler = Profiler(interval=0.001, async_mode="enabled")
                with profiler:
                    run_once(work / "primed.db", work, bases[:1], args, embedder, None)
                Path(args.profile).write_text(profiler.output_html())
                print(
                    profiler.output_text(unicode=False, color=False, show_all=False),
                    file=sys.stderr,
                )
        finally:
            proc.stdin.close()  # type: ignore[union-attr]
            proc.wait()
    meta = {"machine": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "command": " ".join(["python", "bench/poll.py", *sys.argv[1:]]),
            "feeds": args.feeds, "changed_feeds": n_changed, "embedder": args.embedder,
            "load_average": {"start": [round(x, 2) for x in load_before],
                             "end": [round(x, 2) for x in os.getloadavg()]}}  # fmt: skip
    if args.json:
        return print(json.dumps({"meta": meta, "rows": rows}, indent=2))
    print(f"{meta['date']} · {meta['command']} · {meta['cores']} cores · {args.feeds} feeds, "
          f"{n_changed} with one new item, the rest 304 · embedder {args.embedder} · load average "
          f"(1, 5, 15 min) {meta['load_average']['start']} at the start, "
          f"{meta['load_average']['end']} at the end\n")  # fmt: skip
    print("| hosts | path | cycle s (median) | min–max | vs baseline | cycle CPU s (median) "
          "| new | not modified | failed |")  # fmt: skip
    print("|--:|---|--:|--:|--:|--:|--:|--:|--:|")
    for r in rows:
        rep = r["report"]
        print(f"| {r['hosts']} | {r['path']} | {r['median_s']} | {r['min_s']}–{r['max_s']} "
              f"| {r['vs_baseline']}× | {r['cpu_median_s']} | {rep['new']} | {rep['not_modified']} "
              f"| {rep['failed']} |")  # fmt: skip


if __name__ == "__main__":
    main()
