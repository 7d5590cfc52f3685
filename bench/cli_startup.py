"""How long the command line takes to answer: `threatwatch --help` and `threatwatch feeds list`
on an existing database, against bare `python -c pass` in the same run (the floor no command can
go under). Runs alternate, so machine noise falls on all of them alike.

    python bench/cli_startup.py [--runs 15] [--baseline REV]

--baseline REV also times the same commands on another revision (a git worktree of REV in a
temporary folder, run with this interpreter), taking turns with the current tree.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COMMANDS = {"--help": ["--help"], "feeds list": ["feeds", "list"]}


def timed(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL, timeout=120)
    return time.perf_counter() - start


def trees(baseline: str | None, tmp: Path) -> dict[str, Path]:
    out = {"current": REPO}
    if baseline:
        where = tmp / "baseline"
        subprocess.run(
            ["git", "-C", str(REPO), "worktree", "add", "--detach", str(where), baseline],
            check=True,
            capture_output=True,
        )
        out[f"baseline {baseline}"] = where
    return out


def remove_trees(roots: dict[str, Path]) -> None:
    """Remove the worktrees ``trees`` added (every one but the current tree)."""
    for root in roots.values():
        if root != REPO:
            subprocess.run(
                ["git", "-C", str(REPO), "worktree", "remove", "--force", str(root)],
                capture_output=True,
                check=False,
            )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--baseline", default=None, help="a git revision to compare with")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        roots = trees(args.baseline, tmp)
        env = {**os.environ, "THREATWATCH_DB": str(tmp / "cli.db")}
        env.pop("PYTHONPATH", None)
        # the database exists first, with its default feeds: the listing reads it, as in use
        subprocess.run(
            [sys.executable, "-m", "bot", "feeds", "list"],
            env=env,
            cwd=tmp,
            check=True,
            stdout=subprocess.DEVNULL,
            timeout=600,
        )
        cases: dict[str, list[str]] = {"python -c pass": [sys.executable, "-c", "pass"]}
        case_env: dict[str, dict[str, str]] = {"python -c pass": env}
        for label, root in roots.items():
            for name, words in COMMANDS.items():
                key = f"{name} ({label})"
                cases[key] = [sys.executable, "-m", "bot", *words]
                case_env[key] = {**env, "PYTHONPATH": str(root)}
        times: dict[str, list[float]] = {key: [] for key in cases}
        for _ in range(args.runs):
            for key, argv in cases.items():
                times[key].append(timed(argv, case_env[key], tmp))
        remove_trees(roots)
    print(f"{args.runs} runs each, taking turns; wall seconds")
    print(f"{'command':<40} {'median':>8} {'min':>8} {'max':>8}")
    for key, values in times.items():
        print(f"{key:<40} {statistics.median(values):8.3f} {min(values):8.3f} {max(values):8.3f}")


if __name__ == "__main__":
    main()
