"""THREATWATCH_LOG_FORMAT=json: one JSON object per line with time, level, logger, message and
the call's fields (feed id, alert id, article id), secrets still redacted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from telegram_support import write_watch_config

from testkit.env import local_env
from testkit.feedserver import FeedServer

SECRET = "SECRETwebhookValue0042"


def threatwatch(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_json_logs_carry_fields_and_no_secret(tmp_path: Path) -> None:
    _, _, www = write_watch_config(tmp_path)
    env = local_env(
        tmp_path,
        THREATWATCH_LOG_FORMAT="json",
        THREATWATCH_TELEGRAM_WEBHOOK_SECRET=SECRET,  # a secret that no client is built with
    )
    with FeedServer(www) as feeds:
        for url in (feeds.url("wire.xml"), feeds.url(f"gone.xml?key={SECRET}")):
            assert threatwatch(env, "feeds", "add", url).returncode == 0
        done = threatwatch(env, "-v", "poll", "--once")
    assert done.returncode == 0, done.stderr
    assert SECRET not in done.stderr and SECRET not in done.stdout
    records = [json.loads(line) for line in done.stderr.splitlines() if line.strip()]
    assert records, "no log lines"
    for record in records:
        assert {"time", "level", "logger", "message"} <= set(record)
    failed = [r for r in records if r["message"].startswith("feed ") and "failed" in r["message"]]
    assert failed and failed[0]["feed_id"] == 2 and "[redacted]" in failed[0]["feed_url"]
    alerts = [r for r in records if "alert_id" in r]
    assert alerts and all(isinstance(r["article_id"], int) for r in alerts)
    assert any(
        r["logger"] == "bot.pipeline.cycle" and r["message"].startswith("cycle:") for r in records
    )


def test_text_logs_stay_the_default(tmp_path: Path) -> None:
    write_watch_config(tmp_path)
    done = threatwatch(local_env(tmp_path), "-v", "poll", "--once")
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert any(" bot.pipeline.cycle: cycle:" in line for line in lines), done.stderr
    assert not any(line.startswith("{") for line in lines)
