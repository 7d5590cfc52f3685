"""`threatwatch run` as a real process: first cycle right after start-up, console alerts, a feed
added at run time polled at once, clean stop on SIGTERM."""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from testkit.feedserver import FeedServer

REPO = Path(__file__).resolve().parents[2]


def reader(stream, lines: queue.Queue[str]) -> None:  # type: ignore[no-untyped-def]
    for line in stream:
        lines.put(line)


def wait_for(lines: queue.Queue[str], needle: str, seen: list[str], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            continue
        seen.append(line)
        if needle in line:
            return True
    return False


@pytest.mark.model
def test_run_polls_alerts_and_picks_up_new_feeds(tmp_path: Path) -> None:
    root = tmp_path / "www"
    shutil.copytree(REPO / "bot" / "demo" / "data", root)
    env = {
        **os.environ,
        "THREATWATCH_DB": str(tmp_path / "run.db"),
        "THREATWATCH_ALLOW_PRIVATE_NETWORKS": "true",
        "THREATWATCH_LOAD_DEFAULT_FEEDS": "false",
        "THREATWATCH_POLL_INTERVAL": "5",
        "HF_HUB_OFFLINE": "1",
        "PYTHONUNBUFFERED": "1",
    }
    with FeedServer(root) as server:
        subprocess.run(
            [sys.executable, "-m", "bot", "feeds", "add", server.url("defense-wire.xml")],
            env=env,
            check=True,
            capture_output=True,
        )
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        lines: queue.Queue[str] = queue.Queue()
        pump = threading.Thread(target=reader, args=(proc.stdout, lines), daemon=True)
        pump.start()
        seen: list[str] = []
        try:
            # a deadline, not a timing: the first cycle trains the topic with the real model,
            # which on two busy cores has taken more than two minutes
            assert wait_for(lines, "ALERT #", seen, 300), "".join(seen)
            assert any("cycle: feeds_due=1" in line for line in seen)
            # a feed added while the bot runs is polled at the next tick, not after poll_interval
            subprocess.run(
                [sys.executable, "-m", "bot", "feeds", "add", server.url("mideast-desk.atom")],
                env=env,
                check=True,
                capture_output=True,
            )
            assert wait_for(lines, "Middle East Desk (demo)", seen, 90), "".join(seen)
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=30)
            pump.join(timeout=10)  # EOF once the process has exited
            assert proc.stdout is not None
            proc.stdout.close()
        assert code == 0
        assert any("mideast-desk.atom" in path for _, path, _ in server.requests)
