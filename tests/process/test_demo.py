"""`threatwatch demo`: it runs offline as the README promises, and its topic never trained on the
articles it serves as news (the shipped topic learns from all of the labeled corpus)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.demo.run import demo_item_ids, seeds_without_demo_items

REPO = Path(__file__).resolve().parents[2]
SEEDS = REPO / "seeds"


def example_files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*.txt")}


def test_demo_seeds_leave_out_exactly_the_articles_the_demo_serves(tmp_path: Path) -> None:
    ids = demo_item_ids()
    shipped = example_files(SEEDS)
    served = {f for f in shipped if Path(f).stem.split("__")[-1] in ids}
    # every demo article is among the shipped topic's examples, so leaving it out matters
    assert len(served) == len(ids)

    copy = seeds_without_demo_items(SEEDS, tmp_path / "seeds")

    assert example_files(copy) == shipped - served
    # the copy keeps every other example byte for byte
    for name in shipped - served:
        assert (copy / name).read_bytes() == (SEEDS / name).read_bytes()


@pytest.mark.model
def test_demo_runs_offline_with_alerts_an_update_and_conditional_requests(tmp_path: Path) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "THREATWATCH_DB": str(tmp_path / "unused.db")}
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "demo"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert "ALERT #1" in out and "best passage:" in out and "summary:" in out
    # the second outlet's report of an event the wire's feed alerted first, added after that
    # alert, threads under its story as an update: it states facts the wire's report did not
    follow_up = re.search(r"━━ UPDATE #\d+ · topic [^·]+ · story #(\d+) ━━", out)
    assert follow_up, out  # the whole walk-through, to see what came instead
    opened = re.search(rf"━━ ALERT #\d+ · topic [^·]+ · story #{follow_up[1]} ━━", out)
    assert opened and opened.start() < follow_up.start(), out
    assert "not_modified=2" in out
    # every alert is on an article the topic never trained on: a seed's own text would be
    # nearly identical to its nearest seed
    similarities = [float(x) for x in re.findall(r"similarity to nearest seed ([0-9.]+)", out)]
    assert similarities and max(similarities) < 0.99, similarities
    # the demo runs on its own temporary database, not the one in the environment
    assert not (tmp_path / "unused.db").exists()
