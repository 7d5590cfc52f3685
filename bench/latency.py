"""Latency bench: from an item appearing in a feed to its alert's row in the outbox, with the real
bot process (`python -m bot run`) and the real model, on loopback.

    .venv/bin/python bench/latency.py [--interval 30] [--runs 10] [--websub-runs 20]
                                      [--embedder sentence-transformers|hashing] [--json]

Two modes, each a fresh bot and database (testkit/latency.py):

* poll: the feed (local feed server) is polled every --interval seconds. Each run waits a random
  0..interval seconds, then adds a relevant item to the feed (a teaser; its article page is on the
  same server, so the full-text stage runs) and times until the outbox row is in the database.
  Target: at most the interval + 5 s.
* websub: the feed advertises the local hub (testkit/websub_hub.py); the bot subscribes with
  a callback on 127.0.0.1 and is verified. Each run adds an item and pings the hub as a publisher
  does; the hub fetches the feed and pushes it, signed, to the bot. The poll interval stays 300 s,
  so only a push can be this fast.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from testkit.latency import LatencyResult, run_latency


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def summary(r: LatencyResult) -> dict[str, object]:
    return {
        "mode": r.mode,
        "poll_interval_s": r.poll_interval,
        "runs": len(r.latencies),
        "median_s": round(r.quantile(0.5), 3),
        "p95_s": round(r.quantile(0.95), 3),
        "min_s": round(min(r.latencies), 3),
        "max_s": round(max(r.latencies), 3),
        "pushes_ingested": r.pushes,
        "latencies_s": [round(x, 3) for x in r.latencies],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interval", type=int, default=30, help="poll interval, seconds")
    parser.add_argument("--runs", type=int, default=10, help="items in poll mode")
    parser.add_argument("--websub-runs", type=int, default=20, help="items in websub mode")
    parser.add_argument("--embedder", default="sentence-transformers")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    started, load_before = time.monotonic(), os.getloadavg()
    results = []
    for mode, runs, interval in (
        ("poll", args.runs, args.interval),
        ("websub", args.websub_runs, 300),
    ):
        if runs <= 0:
            continue
        with tempfile.TemporaryDirectory(prefix=f"latency-{mode}-") as tmp:
            results.append(
                run_latency(
                    Path(tmp), mode=mode, poll_interval=interval, runs=runs, embedder=args.embedder
                )
            )
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{cpu_name()}, {os.cpu_count()} cores, python {platform.python_version()}",
        "embedder": args.embedder,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "wall_s": round(time.monotonic() - started),
        "results": [summary(r) for r in results],
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{report['date']}  {report['machine']}  embedder {args.embedder}")
    print(
        f"load average before {report['load_average_before']} after {report['load_average_after']}"
    )
    for r in results:
        target = f" (target ≤ {r.poll_interval + 5} s)" if r.mode == "poll" else ""
        print(
            f"{r.mode:7} interval {r.poll_interval:4d} s  n={len(r.latencies):3d}  "
            f"median {r.quantile(0.5):6.2f} s  p95 {r.quantile(0.95):6.2f} s  "
            f"max {max(r.latencies):6.2f} s{target}"
            + (f"  pushes ingested {r.pushes}" if r.mode == "websub" else "")
        )
    print(f"wall time {report['wall_s']} s")


if __name__ == "__main__":
    main()
