"""Commands after the Telegram listener dies: seconds from its kill -9 to the bot's answer to a
command sent right after it, with a standby process on the same database taking over (several
processes), against restarting the one process at once (one process, as a supervisor would).

    python bench/takeover.py [--runs 3] [--db sqlite|postgres]

Both on the local fake Bot API (``testkit/telegram_api.py``), the hashing embedder and a
database without topics, so that what is timed is the election and the start, not the model.
``--db postgres`` uses the embedded PostgreSQL of ``testkit/postgres.py``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from testkit.env import local_env  # noqa: E402
from testkit.latency import _Bot  # noqa: E402
from testkit.telegram_api import FakeBotAPI  # noqa: E402

TOKEN = "123456:TEST-token"
USER = 5151
LISTENING = "this process is the listener"


def answered(api: FakeBotAPI, started: float, timeout: float = 120) -> float:
    """Send /help and return the seconds from ``started`` to its answer."""
    before = len(api.sent_to(USER))
    api.send_command(USER, "/help", user_id=USER)
    api.wait_for_reply(USER, before, timeout)
    return time.monotonic() - started


def one_run(root: Path, mode: str, database_url: str | None) -> float:
    (root / "config").mkdir(parents=True)
    (root / "config" / "topics.toml").write_text("")
    (root / "config" / "feeds.toml").write_text("")
    extra = {"THREATWATCH_DATABASE_URL": database_url} if database_url else {}
    with FakeBotAPI(TOKEN) as api:
        env = local_env(root, THREATWATCH_TELEGRAM_TOKEN=TOKEN, THREATWATCH_TELEGRAM_POLL_TIMEOUT="1",
                        THREATWATCH_TELEGRAM_REQUEST_TIMEOUT="5", **extra)  # fmt: skip
        names = ("a", "b") if mode == "standby" else ("a",)
        bots = [_Bot(env | {"THREATWATCH_TELEGRAM_API_URL": api.api_url_for(n)}) for n in names]
        try:
            deadline = time.monotonic() + 120
            while not any(LISTENING in b.output for b in bots):
                assert time.monotonic() < deadline, bots[0].output
                time.sleep(0.05)
            answered(api, time.monotonic())  # warm: the listener answers
            leader = next(b for b in bots if LISTENING in b.output)
            leader.proc.kill()
            killed = time.monotonic()
            leader.proc.wait()
            if mode == "restart":  # the supervisor starts it again at once
                bots.append(_Bot(env | {"THREATWATCH_TELEGRAM_API_URL": api.api_url_for("a")}))
            return answered(api, killed)
        finally:
            for bot in bots:
                bot.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    args = parser.parse_args()
    server = None
    if args.db == "postgres":
        from testkit.postgres import start_postgres

        server = start_postgres()
    load = [round(x, 2) for x in os.getloadavg()]
    times: dict[str, list[float]] = {"restart": [], "standby": []}
    try:
        for run in range(args.runs):
            for mode in ("restart", "standby"):  # taking turns
                url = None
                if server is not None:
                    url = server.url(server.create_database())
                with tempfile.TemporaryDirectory(prefix="tw-takeover-") as tmp:
                    times[mode].append(one_run(Path(tmp), mode, url))
                print(f"run {run + 1} {mode}: {times[mode][-1]:.2f} s", flush=True)
    finally:
        if server is not None:
            server.stop()
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"\n{stamp} · python bench/takeover.py --runs {args.runs} --db {args.db} · "
          f"{os.cpu_count()} cores · {platform.python_version()} · load average {load} at the "
          f"start, {[round(x, 2) for x in os.getloadavg()]} at the end\n")  # fmt: skip
    print("| after kill -9 of the listener | answer s (median) | min–max |")
    print("|---|--:|--:|")
    labels = {"restart": "one process, restarted at once (baseline)",
              "standby": "a standby process takes over"}  # fmt: skip
    for mode, values in times.items():
        print(f"| {labels[mode]} | {statistics.median(values):.2f} | "
              f"{min(values):.2f}–{max(values):.2f} |")  # fmt: skip


if __name__ == "__main__":
    main()
