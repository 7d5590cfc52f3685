"""`threatwatch trend TOPIC --days N --out FILE.png`: a PNG of the topic's history; an unknown
topic or bad days is a one-line error, a non-zero exit and no file."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from PIL import Image
from telegram_support import TOPIC, write_watch_config
from trend_support import add_history

from bot.store import SqliteStore
from testkit.env import local_env


def threatwatch(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_trend_writes_a_png_and_refuses_bad_input(tmp_path: Path) -> None:
    write_watch_config(tmp_path)
    env = local_env(tmp_path)
    assert threatwatch(env, "topics", "list").returncode == 0  # creates the db, syncs topics
    store = SqliteStore(env["THREATWATCH_DB"])
    add_history(store, TOPIC, [1, 0, 2, 5, 3], end=datetime.now(UTC))
    store.close()

    out = tmp_path / "chart.png"
    done = threatwatch(env, "trend", TOPIC, "--days", "14", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "11 matches" in done.stdout
    image = Image.open(io.BytesIO(out.read_bytes()))
    image.load()
    assert image.size == (1080, 1440)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]

    for args, message in (
        (["no-such-topic"], "no topic 'no-such-topic'"),
        ([TOPIC, "--days", "0"], "days must be a whole number from 2 to 365"),
    ):
        target = tmp_path / "never.png"
        refused = threatwatch(env, "trend", *args, "--out", str(target))
        assert refused.returncode != 0
        assert message in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
        assert not target.exists()
