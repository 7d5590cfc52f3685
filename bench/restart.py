"""Restart to first alert: from starting `python -m bot run` on an existing database to the outbox
row of a relevant item that is already waiting in a feed, with the real model and the shipped
topic (config/, seeds/), on loopback; against another revision in the same run.

    python bench/restart.py [--runs 3] [--baseline REV] [--json]

For each tree (this one, and REV's files from `git archive`), a first start on an empty database
loads the topic, trains it and polls the feed once; its database is kept. Each timed run copies
that database, makes the feed due, puts a new relevant report (a development-corpus item with a
fresh guid) at the top of the feed, starts the bot and times until the item's outbox row is
visible (polled every 20 ms). The trees take turns (A B, B A, ...). Each run also counts the
topic versions the process recorded (a restart that retrains records none if the examples did
not change, but pays for gathering them) and reads the embedding runtime from its log.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from testkit.env import local_env  # noqa: E402
from testkit.feedserver import FeedServer  # noqa: E402
from testkit.latency import _Bot, article_page, wire_feed  # noqa: E402
from testkit.load import other_item  # noqa: E402

FEED = "wire.xml"
CORPUS = REPO / "data" / "dev_corpus.jsonl"
TIMEOUT = 600.0


def waiting_items(count: int) -> list[tuple[str, str, str]]:
    """Related development-corpus reports, as (guid, title, text) teasers of ~80 words."""
    rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]
    related = [r for r in rows if r["label"] == "related" and r["title"]]
    return [
        (f"wait-{n}", related[n % len(related)]["title"], " ".join(related[n % len(related)]["text"].split()[:80]))
        for n in range(count)
    ]  # fmt: skip


class Tree:
    def __init__(self, label: str, path: Path, root: Path, feeds: FeedServer):
        self.label, self.path, self.root, self.feeds = label, path, root, feeds
        self.env = local_env(
            root,
            embedder="sentence-transformers",
            poll_interval=300,
            THREATWATCH_CONFIG_DIR=str(path / "config"),
            THREATWATCH_SEEDS_DIR=str(path / "seeds"),
            THREATWATCH_FETCH_FULL_TEXT="true",
            PYTHONPATH=str(path),
        )

    def start(self) -> _Bot:
        cwd = os.getcwd()
        os.chdir(self.path)  # `python -m bot` imports this tree's package
        try:
            return _Bot(self.env)
        finally:
            os.chdir(cwd)

    def prepare(self) -> None:
        """First start on an empty database: load and train the topic, poll the feed once."""
        command = [sys.executable, "-m", "bot", "feeds", "add", self.feeds.url(FEED)]
        subprocess.run(command, env=os.environ | self.env, cwd=self.path, check=True, capture_output=True)  # fmt: skip
        bot = self.start()
        try:
            bot.wait_for(r"cycle: feeds_due=1 ", TIMEOUT)
        finally:
            bot.stop()
        shutil.copy(self.root / "bot.db", self.root / "prepared.db")

    def timed_run(self, item: tuple[str, str, str], background: list[tuple[str, str, str]]) -> dict:
        db = self.root / "bot.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        shutil.copy(self.root / "prepared.db", db)
        with sqlite3.connect(db) as conn:  # the feed is due and answers in full (no 304)
            conn.execute("UPDATE feeds SET next_check_at = '2000-01-01T00:00:00+00:00', etag = NULL, last_modified = NULL")  # fmt: skip
            versions = conn.execute("SELECT count(*) FROM topic_versions").fetchone()[0]
        self.feeds.set_file(f"a/{item[0]}.html", article_page(item))
        self.feeds.set_file(FEED, wire_feed([*background, item], link=self.feeds.url("a/")))
        started = time.monotonic()
        bot = self.start()
        try:
            seconds = wait_for_outbox(db, started, bot)
        finally:
            bot.stop()
        with sqlite3.connect(db) as conn:
            new_versions = conn.execute("SELECT count(*) FROM topic_versions").fetchone()[0] - versions  # fmt: skip
        runtime = re.search(r"embedding: (.*)", bot.output)
        return {"seconds": round(seconds, 2), "new_versions": new_versions,
                "runtime": runtime.group(1).strip() if runtime else "torch (not logged)"}  # fmt: skip


def wait_for_outbox(db: Path, started: float, bot: _Bot) -> float:
    while True:
        try:
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
                if conn.execute("SELECT count(*) FROM outbox").fetchone()[0]:
                    return time.monotonic() - started
        except sqlite3.Error:
            pass  # not created or mid-migration
        if time.monotonic() - started > TIMEOUT or bot.proc.poll() is not None:
            raise SystemExit(f"no alert from {db}:\n{bot.output[-3000:]}")
        time.sleep(0.02)


def baseline_tree(rev: str, into: Path) -> Path:
    archive = subprocess.run(["git", "archive", rev], cwd=REPO, check=True, capture_output=True)
    with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    return into


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--baseline", help="git revision to run beside this tree")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory() as tmp, FeedServer(Path(tmp)) as feeds:
        background = [other_item(n) for n in range(3)]
        feeds.set_file(FEED, wire_feed(background, link=feeds.url("a/")))
        trees = [("project", REPO)]
        if args.baseline:
            trees.append(
                (f"baseline {args.baseline}", baseline_tree(args.baseline, Path(tmp) / "base"))
            )
        runners = []
        for n, (label, path) in enumerate(trees):
            (Path(tmp) / f"run{n}").mkdir()
            runners.append(Tree(label, path, Path(tmp) / f"run{n}", feeds))
            runners[-1].prepare()
        items = iter(waiting_items(args.runs * len(runners)))
        results: dict[str, list[dict]] = {r.label: [] for r in runners}
        for i in range(args.runs):
            for runner in runners if i % 2 == 0 else runners[::-1]:
                results[runner.label].append(runner.timed_run(next(items), background))
                print(runner.label, results[runner.label][-1], file=sys.stderr, flush=True)
    report(results, args)


def report(results: dict[str, list[dict]], args: argparse.Namespace) -> None:
    load = os.getloadavg()
    meta = {"machine": f"{platform.machine()}, {os.cpu_count()} cores", "load_at_end": [round(x, 1) for x in load],
            "command": " ".join(["python", "bench/restart.py", *sys.argv[1:]])}  # fmt: skip
    rows = {
        label: {
            "median_s": statistics.median(r["seconds"] for r in runs),
            "min_s": min(r["seconds"] for r in runs),
            "max_s": max(r["seconds"] for r in runs),
            "new_versions": sum(r["new_versions"] for r in runs),
            "runtime": runs[0]["runtime"],
            "runs": [r["seconds"] for r in runs],
        }
        for label, runs in results.items()
    }
    if args.json:
        print(json.dumps({"meta": meta, "rows": rows}, indent=2))
        return
    print(f"{meta['machine']}; load average at end {meta['load_at_end']}; {meta['command']}\n")
    print("| tree | embedding | runs | median s | min–max s | topic versions recorded |")
    print("|---|---|--:|--:|--:|--:|")
    for label, r in rows.items():
        print(f"| {label} | {r['runtime']} | {len(r['runs'])} | {r['median_s']} "
              f"| {r['min_s']}–{r['max_s']} | {r['new_versions']} |")  # fmt: skip


if __name__ == "__main__":
    main()
