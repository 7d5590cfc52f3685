"""Load bench: the real bot process against 2,000 local feeds with 20,000 new items and 200 chats
across the fake Telegram and Slack servers, which enforce the platforms' rate limits (loopback
only, bounded by --timeout). Prints cycle time, peak memory, delivery time and lag, and checks
exactly-once delivery.

The embedder is THREATWATCH_EMBEDDER=hashing (a deterministic offline stand-in), so the figures
measure fetching, parsing, dedupe, storage, matching and delivery, not the model.

    .venv/bin/python bench/load.py [--feeds 2000 --items 20000 --relevant 20 --chats 200]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

from testkit.load import LoadSpec, run_load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=2000)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--relevant", type=int, default=20, help="matched items (alerts)")
    parser.add_argument("--chats", type=int, default=200, help="half Telegram, half Slack")
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--log", type=Path, help="write the bot process's output here")
    args = parser.parse_args()
    telegram = args.chats // 2
    spec = LoadSpec(
        feeds=args.feeds,
        items=args.items,
        relevant=args.relevant,
        telegram_private=telegram - telegram // 5,
        telegram_groups=telegram // 5,
        slack_channels=args.chats - telegram,
    )
    started, load_before = time.monotonic(), os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        r = run_load(Path(tmp), spec, timeout=args.timeout)
    if args.log:
        args.log.write_text(r.output)
    lost = sum(len(r.match_ids - set(c)) for c in r.received.values())
    twice = sum(n - 1 for c in r.received.values() for n in c.values())
    messages = sum(sum(c.values()) for c in r.received.values())
    print(
        f"machine: {platform.machine()} {platform.processor() or ''} python {platform.python_version()}"
    )
    print(f"spec: {spec}")
    print(
        f"cycle: {r.cycle_seconds:.1f} s for {r.new} new items ({r.new / r.cycle_seconds:.0f}/s), "
        f"{r.matched} matched, {r.queued} outbox rows"
    )
    print(f"peak RSS of the bot process: {r.peak_rss_mb:.0f} MB")
    print(
        f"delivery: {messages} messages in {r.delivery_seconds:.1f} s after the cycle; "
        f"lag p50 {r.lag(0.5):.1f} s, p95 {r.lag(0.95):.1f} s, max {r.lag(1.0):.1f} s"
    )
    print(f"lost {lost}, sent twice {twice}, refused by platform limits {r.refused_by_limits}")
    print(f"total wall time {time.monotonic() - started:.0f} s")
    print(
        "load average (1/5/15 min) before "
        + " ".join(f"{x:.1f}" for x in load_before)
        + ", after "
        + " ".join(f"{x:.1f}" for x in os.getloadavg())
    )
    if lost or twice or r.refused_by_limits:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
