"""The container image (built by `make image`): `threatwatch --help` runs in it, and
`threatwatch health` fails while no bot runs and passes once `threatwatch run` is ready, as the
image's HEALTHCHECK does. Needs buildah and the built image: select with `-m image`
(`make image-test`); skipped where either is missing."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator

import pytest

pytestmark = pytest.mark.image

IMAGE = os.environ.get("THREATWATCH_IMAGE", "localhost/threatwatch:latest")
ENV = {"STORAGE_DRIVER": os.environ.get("STORAGE_DRIVER", "vfs"), "BUILDAH_ISOLATION": "chroot"}


def buildah(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["buildah", *args],
        env={**os.environ, **ENV},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def container() -> Iterator[str]:
    if shutil.which("buildah") is None:
        pytest.skip("buildah is not installed")
    if buildah("inspect", "--type", "image", IMAGE).returncode != 0:
        pytest.skip(f"no image {IMAGE}: run `make image` first")
    name = f"threatwatch-test-{uuid.uuid4().hex[:8]}"
    made = buildah("from", "--name", name, IMAGE)
    assert made.returncode == 0, made.stderr
    try:
        yield name
    finally:
        buildah("rm", name)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_in(container: str, *command: str, env: dict[str, str] | None = None, timeout: float = 300):  # type: ignore[no-untyped-def]
    flags = [arg for k, v in (env or {}).items() for arg in ("--env", f"{k}={v}")]
    return buildah("run", *flags, container, "--", *command, timeout=timeout)


def test_image_config_runs_as_a_non_root_user_with_a_healthcheck(container: str) -> None:
    config = json.loads(buildah("inspect", "--type", "image", IMAGE).stdout)
    docker = config["Docker"]["config"]
    assert docker["User"] == "threatwatch"
    assert docker["Healthcheck"]["Test"] == ["CMD", "threatwatch", "health"]
    assert "/data" in docker["Volumes"]


def test_help_runs_in_the_image(container: str) -> None:
    done = run_in(container, "threatwatch", "--help")
    assert done.returncode == 0, done.stderr
    for command in ("run", "health", "trend", "poll"):
        assert f"  {command}" in done.stdout


def test_health_fails_without_a_bot_and_passes_once_it_runs(container: str) -> None:
    port = str(free_port())
    env = {
        "THREATWATCH_METRICS_PORT": port,
        "THREATWATCH_METRICS_LISTEN": "127.0.0.1",
        "THREATWATCH_LOAD_DEFAULT_FEEDS": "false",
        "THREATWATCH_POLL_INTERVAL": "5",
    }
    alone = run_in(container, "threatwatch", "health", env=env)
    assert alone.returncode == 1 and "no answer" in alone.stderr
    script = (
        "threatwatch run > /tmp/run.log 2>&1 & "
        "for i in $(seq 1 150); do threatwatch health && exit 0; sleep 2; done; "
        "cat /tmp/run.log; exit 1"
    )
    done = run_in(container, "sh", "-c", script, env=env, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"ok: http://127.0.0.1:{port}/readyz" in done.stdout


def test_the_image_carries_both_int8_models_intact(container: str) -> None:
    # built by the Dockerfile (`models build --weights all`), so that no container's first start
    # builds one: s8 for CPUs with int8 dot products, s8r for the others
    probe = (
        "from bot.core.settings import Settings\n"
        "from bot.relevance.embed import SentenceTransformerEmbedder\n"
        "from bot.relevance.embed_int8 import installed_models, intact, model_file_name\n"
        "model = SentenceTransformerEmbedder(Settings().model).model_path()\n"
        "print([intact(installed_models() / model_file_name(model, w)) for w in ('s8', 's8r')])"
    )
    done = run_in(container, "python", "-c", probe)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[True, True]"
