"""`threatwatch run` as a real process with THREATWATCH_METRICS_PORT: /metrics moves with a poll
cycle and a delivery, /healthz answers, /readyz turns 503 (naming the database) while the
database file is unreadable (mode 000, or moved away when the tests run as root, who reads any
file) and 200 once it is back; `threatwatch health` says the same."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
from process_support import BotProcess
from telegram_support import write_watch_config

from testkit.env import local_env
from testkit.feedserver import FeedServer

PORT_LINE = re.compile(r"metrics and health on http://[^:]+:(\d+)/metrics")


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text format (0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        base, _, rest = key.partition("{")
        found = ",".join(sorted(rest.rstrip("}").split(","))) if rest else ""
        if base == name and found == wanted:
            return float(value)
    return 0.0


def wait_until(check, timeout: float = 60):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.3)


def health(env: dict[str, str], url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "health", "--url", url],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_metrics_and_readiness_of_a_running_bot(tmp_path: Path) -> None:
    _, _, www = write_watch_config(tmp_path)
    env = local_env(tmp_path, THREATWATCH_METRICS_PORT="0", THREATWATCH_METRICS_LISTEN="127.0.0.1")
    db = Path(env["THREATWATCH_DB"])
    full_env = {**os.environ, **env}
    with FeedServer(www) as feeds:
        added = subprocess.run(
            [sys.executable, "-m", "bot", "feeds", "add", feeds.url("wire.xml")],
            env=full_env,
            capture_output=True,
            text=True,
        )
        assert added.returncode == 0, added.stderr
        bot = BotProcess(env)
        try:
            port = bot.wait_for_output(PORT_LINE, 60).group(1)
            base = f"http://127.0.0.1:{port}"
            client = httpx.Client(timeout=10, trust_env=False)
            assert client.get(f"{base}/healthz").status_code == 200

            def scraped() -> str:
                return client.get(f"{base}/metrics").text

            text = wait_until(
                lambda: (
                    t
                    if sample(
                        t := scraped(),
                        "threatwatch_alerts_total",
                        platform="console",
                        status="sent",
                    )
                    >= 1
                    else None
                )
            )
            assert text, bot.output[-3000:]
            assert sample(text, "threatwatch_poll_cycles_total") >= 1
            queued = sample(text, "threatwatch_alerts_total", platform="console", status="queued")
            assert queued >= 1
            assert sample(text, "threatwatch_fetches_total", outcome="ok") >= 1
            assert sample(text, "threatwatch_articles_ingested_total") >= 1
            assert sample(text, "threatwatch_matches_total", topic="militia-attacks") >= 1
            assert sample(text, "threatwatch_model_loaded") == 1
            assert sample(text, "threatwatch_feeds", status="active") == 1
            assert sample(text, "threatwatch_vector_index_passages") >= 1
            assert sample(text, "threatwatch_process_resident_memory_bytes") > 1e6
            assert sample(text, "threatwatch_database_up") == 1
            cycles = sample(text, "threatwatch_poll_cycles_total")
            # the next cycle moves the counter again (the feed answers 304 now)
            assert wait_until(
                lambda: sample(scraped(), "threatwatch_poll_cycles_total") > cycles, 30
            )

            assert wait_until(lambda: client.get(f"{base}/readyz").status_code == 200, 30)
            assert health(full_env, f"{base}/readyz").returncode == 0

            # unreadable: permissions where they bind (root reads any file), else moved away;
            # either way the bot's own open connection does not notice, a fresh one does
            moved = db.with_name("elsewhere.db")
            if os.geteuid() != 0:
                db.chmod(0)
            else:
                db.rename(moved)
            try:
                answer = client.get(f"{base}/readyz")
                assert answer.status_code == 503
                assert "database" in answer.json()["failed"], answer.text
                assert client.get(f"{base}/healthz").status_code == 200
                assert sample(scraped(), "threatwatch_database_up") == 0
                refused = health(full_env, f"{base}/readyz")
                assert refused.returncode == 1
                assert "database" in refused.stderr and "\n" not in refused.stderr.strip()
            finally:
                if moved.exists():
                    moved.rename(db)
                db.chmod(0o644)
            assert wait_until(lambda: client.get(f"{base}/readyz").status_code == 200, 30)
            client.close()
        finally:
            assert bot.stop() == 0, bot.output[-3000:]
