"""The command line answers at once because each command imports only what it uses: `--help`
loads no heavy library at all, a feed listing loads the store and settings but no model, no
HTTP stack and no chat client. (Wall times are measured by bench/cli_startup.py.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = [
    "torch",
    "sentence_transformers",
    "trafilatura",
    "sklearn",
    "httpx",
    "aiohttp",
    "telegram",
    "slack_sdk",
    "slack_bolt",
    "apscheduler",
    "feedparser",
]
PROBE = """
import json, sys
from bot.cli.main import main
sys.argv = ["threatwatch", *sys.argv[1:]]
try:
    main()
finally:
    print(json.dumps(sorted(m.split(".")[0] for m in sys.modules)), file=sys.stderr)
"""


def loaded_by(args: list[str], tmp_path: Path) -> set[str]:
    return modules_after(PROBE, args, tmp_path, {"THREATWATCH_DB": str(tmp_path / "cli.db")})


def modules_after(probe: str, args: list[str], tmp_path: Path, env: dict[str, str]) -> set[str]:
    """The top-level modules ``probe`` had loaded: the last line it printed on stderr."""
    done = subprocess.run(
        [sys.executable, "-c", probe, *args],
        env={**os.environ, **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stderr.strip().splitlines()[-1]))


def test_help_loads_no_library_beyond_click(tmp_path: Path) -> None:
    loaded = loaded_by(["--help"], tmp_path)
    assert "click" in loaded
    assert loaded & {*HEAVY, "numpy", "pydantic", "sqlite_utils"} == set()


@pytest.mark.parametrize("args", [["feeds", "list"], ["feeds", "list", "--json"]])
def test_a_feed_listing_loads_the_store_but_no_model_http_or_chat_client(
    tmp_path: Path, args: list[str]
) -> None:
    loaded = loaded_by(args, tmp_path)
    assert "sqlite_utils" in loaded  # it did read the database
    assert loaded & set(HEAVY) == set()


WIRED = """
import json, sys
from bot.app.compose import compose
from bot.app.runner import run
from bot.core.settings import Settings
settings = Settings(**json.loads(sys.argv[1]))
app = compose(settings)
app.store.close()
print(json.dumps(sorted(m.split(".")[0] for m in sys.modules)), file=sys.stderr)
"""


def wired_with(tmp_path: Path, **settings: object) -> set[str]:
    return modules_after(WIRED, [json.dumps({"db": str(tmp_path / "run.db"), **settings})],
                         tmp_path, {})  # fmt: skip


def test_run_on_the_defaults_wires_no_http_server(tmp_path: Path) -> None:
    # aiohttp is the metrics and WebSub servers' (~0.1 s of every start); the first command's
    # reply waits for those imports, so they come only with the servers
    loaded = wired_with(tmp_path)
    assert "feedparser" in loaded  # the poll pipeline was wired
    assert loaded & {"aiohttp", "torch", "trafilatura"} == set()
    assert "aiohttp" in wired_with(tmp_path, metrics_port=0)
