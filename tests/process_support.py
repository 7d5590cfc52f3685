"""`python -m bot run` as a child process for tests: output collected line by line, waited
on by pattern, stopped with SIGTERM (a clean stop) or SIGKILL (a crash)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time


class BotProcess:
    """`python -m bot run` with its output collected line by line."""

    def __init__(self, env: dict[str, str], args: tuple[str, ...] = ("run",)):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", *args],
            env={**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1", **env},
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.lines: list[str] = []
        self.pump = threading.Thread(target=self._read, daemon=True)
        self.pump.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for_output(self, pattern: re.Pattern[str] | str, timeout: float = 60) -> re.Match[str]:
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = regex.search(self.output)
            if found:
                return found
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"no {regex.pattern!r} in the bot's output:\n{self.output}")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=30)
        self.pump.join(timeout=10)
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        return code

    def kill9(self) -> None:
        self.proc.kill()  # SIGKILL: no clean-up, no final drain
        self.stop()
