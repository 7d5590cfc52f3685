"""The first cycle over every recorded capture: time and peak memory of `threatwatch poll --once
--all` on a fresh database with the 39 captures of ../shared/feeds (about 2,200 items, hostile and
malformed files included) added as feeds, served from a local HTTP server.

Each run is a new process on a new database with an empty model cache, so it pays for what a
first start after `make install` pays for (the int8 model is the one the install built in the
environment): loading the model, reading or embedding the shipped topic's seeds, training it,
then fetching, parsing, embedding and matching every item. Full-text fetching is off (the
captures' article links point at the real outlets). Peak RSS: the poll process's own (VmHWM),
and with its children (`/usr/bin/time`; an int8 model not built at install time is built in
child processes at the first start).

    HF_HUB_OFFLINE=1 python bench/first_cycle.py [--runs 1] [--baseline REV] [--env K=V ...]
                                                 [--also K=V[,K=V] ...]

--baseline REV runs the same cycle from another revision (a git worktree of REV in a temporary
folder, run with this interpreter), taking turns with the current tree; the same machine load
then falls on both. --also runs the current tree once more per value with those settings added
(e.g. --also THREATWATCH_EMBED_PRECISION=int8), in the same turns.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cli_startup import remove_trees, trees  # noqa: E402  (bench/ is first on the path when run)

from testkit.feedserver import FeedServer  # noqa: E402

CAPTURES = REPO.parent / "shared" / "feeds"


def one_cycle(tree: Path, urls: list[str], work: Path, extra: dict[str, str]) -> dict[str, float]:
    work.mkdir(parents=True)
    env = {
        **os.environ,
        "PYTHONPATH": str(tree),  # this tree's bot package, not the installed one
        "THREATWATCH_DB": str(work / "bench.db"),
        "THREATWATCH_MODEL_CACHE_DIR": str(work / "model-cache"),  # empty: a first start
        "THREATWATCH_ALLOW_PRIVATE_NETWORKS": "true",
        "THREATWATCH_LOAD_DEFAULT_FEEDS": "false",
        "THREATWATCH_FETCH_FULL_TEXT": "false",
        "HF_HUB_OFFLINE": "1",
        **extra,
    }
    python = [sys.executable, "-m", "bot"]
    for url in urls:  # hostile captures are refused at add time or fail in the cycle: both count
        subprocess.run([*python, "feeds", "add", url], env=env, cwd=tree, capture_output=True)
    start = time.perf_counter()
    with (work / "out.txt").open("w+") as out, (work / "err.txt").open("w+") as err:
        timed = ["/usr/bin/time", "-f", "maxrss_kb=%M", *python, "poll", "--once", "--all"]
        proc = subprocess.Popen(timed, env=env, cwd=tree, stdout=out, stderr=err, text=True)
        own = _own_peak_kb(proc)
        wall = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        raise SystemExit(f"poll failed in {tree}:\n{stderr[-3000:]}")
    rss = re.search(r"maxrss_kb=(\d+)", stderr)
    cycle = re.search(r"cycle: .*", stdout + stderr)
    new = re.search(r"\bnew=(\d+)", cycle.group(0) if cycle else "")
    alerts = len(re.findall(r"^(?:ALERT|UPDATE|ALSO REPORTED) #", stdout, re.M))
    return {
        "wall": wall,
        "rss_mib": int(rss.group(1)) / 1024 if rss else float("nan"),
        "own_mib": own / 1024,
        "new": float(new.group(1)) if new else float("nan"),
        "alerts": float(alerts),
    }


def _own_peak_kb(timer: subprocess.Popen[str]) -> int:
    """The poll process's own peak RSS (VmHWM), read until it ends. /usr/bin/time's figure is
    the largest of it and its children: a first int8 start builds the model in a child process
    (~1 GB while exporting), which the cycle itself never holds."""
    peak = 0
    while timer.poll() is None:
        for child in Path(f"/proc/{timer.pid}/task/{timer.pid}/children").read_text().split():
            try:
                status = Path(f"/proc/{child}/status").read_text()
            except OSError:
                continue
            hwm = re.search(r"VmHWM:\s+(\d+)", status)
            peak = max(peak, int(hwm.group(1)) if hwm else 0)
        time.sleep(0.2)
    return peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--baseline", help="also run this git revision, taking turns")
    parser.add_argument("--env", action="append", default=[], help="K=V for every run")
    parser.add_argument(
        "--also",
        action="append",
        default=[],
        help="K=V[,K=V]: the current tree once more with these settings, in the same turns",
    )
    args = parser.parse_args()
    extra = dict(item.split("=", 1) for item in args.env)
    variants = {
        f"current, {also}": dict(kv.split("=", 1) for kv in also.split(",")) for also in args.also
    }

    files = sorted(p.name for p in CAPTURES.iterdir() if p.name not in {"README.md", "SHA256SUMS"})
    results: dict[str, list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as name, FeedServer(CAPTURES) as server:
        tmp = Path(name)
        urls = [server.url(f) for f in files]
        paths = trees(args.baseline, tmp)
        runs = [(label, tree, extra) for label, tree in paths.items()]
        runs += [(label, REPO, extra | env) for label, env in variants.items()]
        try:
            for run in range(args.runs):
                for label, tree, env in runs:
                    work = tmp / f"{re.sub(r'[^A-Za-z0-9]+', '-', label)}-{run}"
                    results.setdefault(label, []).append(one_cycle(tree, urls, work, env))
        finally:
            remove_trees(paths)

    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {platform.machine()} · {os.cpu_count()} cores · "
        f"{len(files)} captures · runs={args.runs} · env {extra or '-'} · load average at the end "
        f"{os.getloadavg()[0]:.1f}"
    )
    print(
        "| tree | wall s (median) | min–max | peak RSS MiB, poll process (max) "
        "| with its children (max) | new items | alerts |"
    )
    print("|---|--:|--:|--:|--:|--:|--:|")
    for label, runs in results.items():
        walls = [r["wall"] for r in runs]
        print(
            f"| {label} | {statistics.median(walls):.1f} | {min(walls):.1f}–{max(walls):.1f} "
            f"| {max(r['own_mib'] for r in runs):.0f} | {max(r['rss_mib'] for r in runs):.0f} "
            f"| {runs[0]['new']:.0f} "
            f"| {runs[0]['alerts']:.0f} |"
        )


if __name__ == "__main__":
    main()
