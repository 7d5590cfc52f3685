"""Start-up and memory of the real bot: `python -m bot run` as a child process with the real model,
against the local fake Telegram Bot API, over a store of N passage vectors.

    python bench/startup.py [--vectors 100000] [--repeat 5] [--baseline REV] [--json]

Each run copies the store (built once by bench/queries.py's builder, kept under bench/.cache/),
queues `/status` on the fake Bot API and starts the bot. It measures:

- **first reply**: seconds from starting the process to the `/status` answer;
- **first search**: seconds from then to the answer of a `/search` sent right after it (it needs
  the model and the vector index);
- **steady RSS**: the process's resident memory once the model and the index are loaded and a
  search has run (largest of 5 samples over a second), and its peak (VmHWM);
- **search**: a second `/search` with another text, answered through chat;
- with `--ingest`: **RSS after ingest**, the same samples once the first poll cycle has stored
  the 157 development-corpus articles from three local feeds (title + lead, one window, full
  text: texts of many lengths in batches of many sizes, which is what makes the model's memory
  grow), and the cycle's own seconds.

The baseline is git revision --baseline (its files from `git archive`, run with the same venv),
alternating with the project's runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CHAT = 777
USER = 4242
TIMEOUT = 300.0


def read_status(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM of a process, MiB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key = line.split(":")[0]
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(line.split()[1]) / 1024
    return out


def baseline_tree(rev: str, into: Path) -> Path:
    archive = subprocess.run(["git", "archive", rev], cwd=REPO, check=True, capture_output=True)
    with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    return into


def write_config(root: Path) -> None:
    """No topics and no feeds: the process serves chat (a topic's first training would import
    scikit-learn, which a bot whose topics are trained does not)."""
    (root / "config").mkdir()
    (root / "seeds").mkdir()
    (root / "config" / "topics.toml").write_text("")
    (root / "config" / "feeds.toml").write_text("")


CYCLE_LINE = re.compile(r"cycle: feeds_due=3 .*new=(\d+).* seconds=([\d.]+)")


def ingest_feeds(www: Path) -> list[str]:
    """Three RSS files of the development corpus (title + lead, one window, full text), each
    with its own guids and links; returns their file names."""
    from ingest import CASES, load_articles, rss_bytes

    www.mkdir(exist_ok=True)
    names = []
    for case in CASES:
        body = rss_bytes(load_articles(case, quick=False))
        body = body.replace(b"bench-", f"{case}-".encode()).replace(b"/a/", f"/{case}/".encode())
        (www / f"{case}.xml").write_bytes(body)
        names.append(f"{case}.xml")
    return names


def one_run(
    tree: Path, store: Path, search_texts: tuple[str, str], *, ingest: bool = False
) -> dict[str, float]:
    from testkit.env import local_env
    from testkit.feedserver import FeedServer
    from testkit.telegram_api import FakeBotAPI

    token = "123456:START-token"
    with (
        tempfile.TemporaryDirectory() as tmp,
        FakeBotAPI(token) as api,
        FeedServer(Path(tmp) / "www") as feeds,
    ):
        root = Path(tmp)
        write_config(root)
        shutil.copyfile(store, root / "bot.db")
        env = {
            **os.environ,
            "PYTHONPATH": str(tree),
            "PYTHONUNBUFFERED": "1",
            **local_env(
                root,
                embedder="sentence-transformers",
                poll_interval=3600,
                THREATWATCH_TELEGRAM_TOKEN=token,
                THREATWATCH_TELEGRAM_API_URL=api.api_url,
                THREATWATCH_TELEGRAM_POLL_TIMEOUT="1",
            ),
        }
        if ingest:
            for name in ingest_feeds(root / "www"):
                add = [sys.executable, "-m", "bot", "feeds", "add", feeds.url(name)]
                subprocess.run(add, cwd=tree, env=env, check=True, capture_output=True)
        api.send_command(CHAT, "/status", user_id=USER)
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            cwd=tree,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        lines: list[str] = []
        pump = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")))  # type: ignore[union-attr]
        pump.start()
        try:
            api.wait_for_reply(CHAT, 0, TIMEOUT)
            first_reply = time.perf_counter() - t0
            t1 = time.perf_counter()  # this search waits for the model and the index to load
            api.send_command(CHAT, f"/search {search_texts[0]}", user_id=USER)
            api.wait_for_reply(CHAT, 1, TIMEOUT)
            first_search = time.perf_counter() - t1
            t2 = time.perf_counter()
            api.send_command(CHAT, f"/search {search_texts[1]}", user_id=USER)
            api.wait_for_reply(CHAT, 2, TIMEOUT)
            search = time.perf_counter() - t2
            samples = []
            for _ in range(5):
                time.sleep(0.2)
                samples.append(read_status(proc.pid))
            after: dict[str, float] = {}
            if ingest:
                deadline = time.monotonic() + TIMEOUT
                while not (cycle := next(filter(None, map(CYCLE_LINE.search, lines)), None)):
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise RuntimeError("no poll cycle line:\n" + "".join(lines[-20:]))
                    time.sleep(0.2)
                ingested = []
                for _ in range(5):
                    time.sleep(0.2)
                    ingested.append(read_status(proc.pid))
                after = {
                    "ingested_articles": int(cycle.group(1)),
                    "cycle_s": float(cycle.group(2)),
                    "rss_after_ingest_mib": round(max(s["VmRSS"] for s in ingested)),
                    "peak_after_ingest_mib": round(max(s["VmHWM"] for s in ingested)),
                }
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            pump.join(timeout=10)
        return {
            "first_reply_s": round(first_reply, 2),
            "first_search_s": round(first_search, 2),
            "search_s": round(search, 3),
            "steady_rss_mib": round(max(s["VmRSS"] for s in samples)),
            "peak_rss_mib": round(max(s["VmHWM"] for s in samples)),
            **after,
        }


def summarize(runs: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    out = {}
    for key in runs[0]:
        values = sorted(r[key] for r in runs)
        p95 = values[min(len(values) - 1, int(0.95 * len(values) + 0.999) - 1)]
        out[key] = {"median": round(statistics.median(values), 3), "p95": p95, "max": values[-1]}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vectors", type=int, default=100_000, help="passage vectors stored")
    parser.add_argument("--repeat", type=int, default=5, help="runs per path")
    parser.add_argument("--baseline", default="", help="git revision to run as the baseline")
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--ingest", action="store_true", help="also measure RSS after a first cycle of 157 articles"
    )
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.path.insert(0, str(REPO))
    sys.path.insert(0, str(REPO / "bench"))
    from queries import QUERIES, store_path

    store = store_path(args.vectors)
    load = [os.getloadavg()[0]]
    runs: dict[str, list[dict[str, float]]] = {"project": []}
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"project": REPO}
        if args.baseline:
            trees["baseline"] = baseline_tree(args.baseline, Path(tmp))
            runs["baseline"] = []
        for i in range(args.repeat):
            for name, tree in trees.items():  # alternate
                texts = (f"{QUERIES[i % len(QUERIES)]} {i}", f"{QUERIES[(i + 1) % 8]} {i}")
                runs[name].append(one_run(tree, store, texts, ingest=args.ingest))
                load.append(os.getloadavg()[0])
                print(name, json.dumps(runs[name][-1]), file=sys.stderr, flush=True)
    meta = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join(["python", "bench/startup.py", *sys.argv[1:]]),
        "vectors": args.vectors,
        "load_average_1min": [round(min(load), 1), round(max(load), 1)],
    }
    result = {"meta": meta, "runs": runs, "summary": {k: summarize(v) for k, v in runs.items()}}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"date: {meta['date']}; command: {meta['command']}")
    print(f"store: {args.vectors:,} passage vectors; load average {meta['load_average_1min']}")
    print("| path | runs | first reply s (median / p95) | first search s | search s "
          "| steady RSS MiB | peak RSS MiB |")  # fmt: skip
    print("|---|--:|--:|--:|--:|--:|--:|")
    for name, s in result["summary"].items():
        print(f"| {name} | {len(runs[name])} "
              f"| {s['first_reply_s']['median']} / {s['first_reply_s']['p95']} "
              f"| {s['first_search_s']['median']} / {s['first_search_s']['p95']} "
              f"| {s['search_s']['median']} / {s['search_s']['p95']} "
              f"| {s['steady_rss_mib']['median']} / {s['steady_rss_mib']['max']} "
              f"| {s['peak_rss_mib']['median']} / {s['peak_rss_mib']['max']} |")  # fmt: skip
    if args.ingest:
        print("\n| path | articles ingested | cycle s | RSS after ingest MiB (median / max) "
              "| peak MiB |")  # fmt: skip
        print("|---|--:|--:|--:|--:|")
        for name, s in result["summary"].items():
            print(f"| {name} | {s['ingested_articles']['median']:.0f} | {s['cycle_s']['median']} "
                  f"| {s['rss_after_ingest_mib']['median']} / {s['rss_after_ingest_mib']['max']} "
                  f"| {s['peak_after_ingest_mib']['median']} |")  # fmt: skip


if __name__ == "__main__":
    main()
