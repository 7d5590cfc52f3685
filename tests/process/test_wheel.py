"""The built wheel ships the bot and the demo's recorded feeds, and none of the test kit."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# what only the test kit has: fake chat servers, the WebSub hub, the feed server's fault routes
TEST_KIT_MARKS = (b"class FakeBotAPI", b"class FakeSlackAPI", b"class LocalHub", b"_gzipbomb")


def test_the_wheel_carries_the_bot_and_not_the_test_kit(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
        + ["-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("threatwatch-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        bodies = {name: archive.read(name) for name in names if name.endswith(".py")}
    assert "bot/cli/main.py" in names
    assert "bot/demo/data/LABELS.json" in names  # `threatwatch demo` works from the wheel
    assert not [n for n in names if n.startswith(("testkit/", "tests/", "bot/testing/"))]
    carrying = sorted(n for n, body in bodies.items() if any(m in body for m in TEST_KIT_MARKS))
    assert carrying == []
