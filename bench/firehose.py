"""Firehose: does WebSub push ingestion keep up with 300,000 new articles a day (3.5/s on
average, bursts of 35/s for a minute), with bounded memory, applying back-pressure instead of
dropping?

    python bench/firehose.py [--rate 3.5] [--burst-rate 35] [--before 60] [--burst 60]
                             [--after 120] [--feeds 50] [--retry 1.0]
                             [--embedder model|hashing] [--json]

The real receiver (`bot.websub.receiver.WebSubReceiver`, built by `compose` with
THREATWATCH_WEBSUB_CALLBACK_URL set, listening on 127.0.0.1, port 0) and the real ingest path
(`Pipeline.ingest_pushed`: parse → dedupe → embed → match → store) with the real model by
default. Each of --feeds feeds has a verified subscription (written into the store as the
subscriber writes it after a hub's verification). A hub in this process POSTs one signed RSS
document per new article (a real teaser from data/dev_corpus.jsonl, made unique) on a schedule:
--rate per second for --before seconds, --burst-rate for --burst seconds, --rate again for
--after seconds. A 503 (the receiver's queue is full) is retried after --retry seconds, as a hub
retries (the receiver asks for Retry-After: 30; the bench retries sooner so it measures the
pipeline, not the wait). Any other answer than 202 counts as refused.

Every second the bench samples the receiver's queue depth, the process's RSS, articles stored,
deliveries accepted and answered 503. At the end it waits for the queue to drain and counts the
stored articles against the articles sent: the difference is what was dropped. The hub shares
the bot's process and event loop (its own cost is small beside the model's, and counted in RSS).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "bench")]

import poll  # noqa: E402  (bench/poll.py: the corpus's teasers, RSS documents)
from queries import rss_mib  # noqa: E402

SECRET = "firehose-secret"
DRAIN_TIMEOUT = 600.0


def schedule(args: argparse.Namespace) -> list[float]:
    """Send times (seconds from the start) of every article, phase by phase."""
    times, t = [], 0.0
    for rate, length in ((args.rate, args.before), (args.burst_rate, args.burst),
                         (args.rate, args.after)):  # fmt: skip
        end, step = t + length, 1.0 / rate
        while t < end - 1e-9:
            times.append(t)
            t += step
        t = end
    return times


def subscribe(store, n_feeds: int, now: datetime) -> list[tuple[int, str]]:  # type: ignore[no-untyped-def]
    """Feeds with an active subscription, as the subscriber leaves them after verification."""
    feeds = []
    for f in range(n_feeds):
        url = f"https://firehose.example/{f}.xml"
        feed, _ = store.add_feed(url, None, now)
        token = f"firehose{f}"
        store.websub_requesting(feed.id, hub_url="https://hub.example/", topic_url=url,
                                callback_token=token, secret=SECRET, now=now,
                                next_attempt_at=now + timedelta(days=9))  # fmt: skip
        store.websub_verified(feed.id, lease_seconds=864_000, now=now,
                              expires_at=now + timedelta(days=10),
                              renew_at=now + timedelta(days=9))  # fmt: skip
        feeds.append((feed.id, token))
    return feeds


async def firehose(args: argparse.Namespace, db: Path) -> dict:
    import httpx

    from bot.app.compose import compose
    from bot.core.settings import Settings
    from bot.deliver.console import CONSOLE, ConsoleSink
    from bot.websub.protocol import sign

    settings = Settings(
        db=db, load_default_feeds=False, allow_private_networks=True, fetch_full_text=False,
        websub_callback_url="http://127.0.0.1:0/websub", websub_listen="127.0.0.1", websub_port=0,
        embedder="hashing" if args.embedder == "hashing" else "sentence-transformers",
    )  # fmt: skip
    app = compose(settings, sinks={CONSOLE: ConsoleSink()})
    assert app.websub is not None
    feeds = subscribe(app.store, args.feeds, app.clock())
    app.pipeline.indexes()  # the topic index (and the model) loaded before the clock starts
    texts = poll.teasers()
    rss0 = rss_mib()
    base = await app.websub.start()
    times = schedule(args)
    counts = {"sent": 0, "accepted": 0, "busy_503": 0, "refused": 0}
    samples: list[dict] = []
    reader = sqlite3.connect(f"file:{db}?mode=ro", uri=True)

    def stored() -> int:
        return int(reader.execute("SELECT COUNT(*) FROM articles").fetchone()[0])

    stored0 = stored()

    async def deliver(client: httpx.AsyncClient, n: int) -> None:
        feed_id, token = feeds[n % len(feeds)]
        title, text = texts[n % len(texts)]
        body = poll.rss(feed_id, [(n, f"{title} ({n})", f"{text} Firehose item {n}.")])
        headers = {"content-type": "application/rss+xml", "x-hub-signature": sign(body, SECRET)}
        counts["sent"] += 1
        while True:
            reply = await client.post(f"{base}/{token}", content=body, headers=headers)
            if reply.status_code == 202:
                counts["accepted"] += 1
                return
            if reply.status_code != 503:
                counts["refused"] += 1
                return
            counts["busy_503"] += 1
            await asyncio.sleep(args.retry)

    async def sample(t0: float) -> None:
        while True:
            samples.append({"t": round(time.perf_counter() - t0, 1),
                            "queue": app.websub._queue.qsize(),  # type: ignore[union-attr]
                            "rss_mib": round(rss_mib()), "stored": stored() - stored0, **counts})  # fmt: skip
            await asyncio.sleep(1.0)

    # the warm-up: one push through the whole path (first-call costs out of the figures)
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=200)) as client:
        await deliver(client, len(times))
        while stored() == stored0:
            await asyncio.sleep(0.05)
        stored0, counts["sent"], counts["accepted"] = stored(), 0, 0
        t0 = time.perf_counter()
        sampler = asyncio.create_task(sample(t0))
        pending = []
        for n, at in enumerate(times):
            delay = t0 + at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            pending.append(asyncio.create_task(deliver(client, n)))
        sent_s = time.perf_counter() - t0
        await asyncio.gather(*pending)
        accepted_s = time.perf_counter() - t0
        while stored() - stored0 < counts["accepted"] and time.perf_counter() - t0 < DRAIN_TIMEOUT:
            await asyncio.sleep(0.1)
        done_s = time.perf_counter() - t0
        await asyncio.sleep(1.1)  # one last sample
        sampler.cancel()
    total = stored() - stored0
    await app.websub.stop()
    await app.aclose()
    reader.close()
    return {"articles": len(times), "counts": counts, "stored": total,
            "dropped": len(times) - total, "schedule_s": round(sent_s, 1),
            "all_accepted_s": round(accepted_s, 1), "all_stored_s": round(done_s, 1),
            "rss_before_start_mib": round(rss0), "samples": samples}  # fmt: skip


def phases(args: argparse.Namespace, result: dict) -> list[dict]:
    """Per phase: articles offered, stored, stored per second, deepest queue, highest RSS."""
    bounds = [("before", 0.0, args.before, args.rate),
              ("burst", args.before, args.before + args.burst, args.burst_rate),
              ("after", args.before + args.burst, args.before + args.burst + args.after, args.rate),
              ("drain", args.before + args.burst + args.after, float("inf"), 0.0)]  # fmt: skip
    rows, samples = [], result["samples"]
    for name, start, end, rate in bounds:
        inside = [s for s in samples if start <= s["t"] < end]
        if len(inside) < 2:
            continue
        first, last = inside[0], inside[-1]
        rows.append({"phase": name, "seconds": round(last["t"] - first["t"], 1), "offered_per_s": rate,
                     "stored_per_s": round((last["stored"] - first["stored"]) / max(last["t"] - first["t"], 1e-9), 2),
                     "max_queue": max(s["queue"] for s in inside),
                     "busy_503": last["busy_503"] - first["busy_503"],
                     "max_rss_mib": max(s["rss_mib"] for s in inside)})  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=300_000 / 86_400, help="articles/s")
    parser.add_argument("--burst-rate", type=float, default=35.0)
    parser.add_argument("--before", type=float, default=60.0, help="seconds at --rate")
    parser.add_argument("--burst", type=float, default=60.0, help="seconds at --burst-rate")
    parser.add_argument("--after", type=float, default=120.0, help="seconds at --rate again")
    parser.add_argument("--feeds", type=int, default=50)
    parser.add_argument("--retry", type=float, default=1.0, help="seconds before a 503 is retried")
    parser.add_argument("--embedder", choices=("model", "hashing"), default="model")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        result = asyncio.run(firehose(args, Path(tmp) / "firehose.db"))
    meta = {"machine": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "command": " ".join(["python", "bench/firehose.py", *sys.argv[1:]]),
            "embedder": args.embedder,
            "precision": os.environ.get("THREATWATCH_EMBED_PRECISION", "auto"),
            "load_average": {"start": [round(x, 2) for x in load_before],
                             "end": [round(x, 2) for x in os.getloadavg()]}}  # fmt: skip
    rows = phases(args, result)
    if args.json:
        return print(json.dumps({"meta": meta, "phases": rows, **result}, indent=2))
    c = result["counts"]
    print(f"{meta['date']} · {meta['command']} · {meta['cores']} cores · embedder {args.embedder} "
          f"· load average (1, 5, 15 min) {meta['load_average']['start']} at the start, "
          f"{meta['load_average']['end']} at the end\n")  # fmt: skip
    print(f"articles sent {result['articles']}, stored {result['stored']}, dropped "
          f"{result['dropped']}; deliveries accepted {c['accepted']}, answered 503 (retried) "
          f"{c['busy_503']}, refused {c['refused']}")  # fmt: skip
    print(
        f"schedule over at {result['schedule_s']} s; last delivery accepted at "
        f"{result['all_accepted_s']} s; last article stored at {result['all_stored_s']} s"
    )
    print(f"RSS before the receiver started {result['rss_before_start_mib']} MiB\n")
    print("| phase | seconds | offered/s | stored/s | max queue (of 64) | 503s | max RSS MiB |")
    print("|---|--:|--:|--:|--:|--:|--:|")
    for r in rows:
        print(f"| {r['phase']} | {r['seconds']} | {r['offered_per_s']:.1f} | {r['stored_per_s']} "
              f"| {r['max_queue']} | {r['busy_503']} | {r['max_rss_mib']} |")  # fmt: skip
    every = max(1, len(result["samples"]) // 30)
    print("\nsamples (t s: queue, RSS MiB, stored, 503s):")
    print("; ".join(f"{s['t']:.0f}: {s['queue']}, {s['rss_mib']}, {s['stored']}, {s['busy_503']}"
                    for s in result["samples"][::every]))  # fmt: skip


if __name__ == "__main__":
    main()
