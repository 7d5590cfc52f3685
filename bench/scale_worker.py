"""One worker of bench/scale.py: `threatwatch run` (the CLI's own `run` command, in this
process) with two bench-only additions, neither of which changes the work measured:

- every call into the store is timed (wall time inside the call, and inside a transaction's
  entry and exit, where the commit happens), per store method;
- the poll loop wakes exactly when the next feed is due (``MIN_TICK_SECONDS``, normally 1 s,
  is 0.05 s here, and the idle tick is 2 s instead of 5): every worker then starts its cycle
  within a few milliseconds of the others instead of somewhere in the same second, so a run
  compares processes that really start together.

The parent asks for a snapshot by writing ``snap <path>`` on our stdin; we write there, as
JSON: this process's CPU seconds (all threads), its peak RSS (VmHWM) and the store totals.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TOTALS: dict[str, list[float]] = {}  # store method → [calls, seconds]
_LOCK = threading.Lock()


def _add(name: str, seconds: float) -> None:
    with _LOCK:
        entry = TOTALS.setdefault(name, [0, 0.0])
        entry[0] += 1
        entry[1] += seconds


class _TimedContext:
    """A context manager a store method returned (a transaction, a fence): its entry and exit
    are timed too, since that is where a transaction begins and commits."""

    def __init__(self, inner: Any, name: str) -> None:
        self._inner, self._name = inner, name

    def __enter__(self) -> Any:
        started = time.perf_counter()
        try:
            return self._inner.__enter__()
        finally:
            _add(self._name, time.perf_counter() - started)

    def __exit__(self, *exc: Any) -> Any:
        started = time.perf_counter()
        try:
            return self._inner.__exit__(*exc)
        finally:
            _add(self._name, time.perf_counter() - started)

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._inner, attribute)


class TimedStore:
    """The store, every public method call timed (calls the store makes on itself are not
    counted twice: they do not pass through here)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if not callable(attribute) or name.startswith("_"):
            return attribute

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                result = attribute(*args, **kwargs)
            finally:
                _add(name, time.perf_counter() - started)
            if hasattr(result, "__enter__") and hasattr(result, "__exit__"):
                return _TimedContext(result, name)
            return result

        return timed


def _peak_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _answer_snapshots() -> None:
    for line in sys.stdin:
        command, _, path = line.strip().partition(" ")
        if command != "snap":
            continue
        times = os.times()
        with _LOCK:
            store = {name: list(v) for name, v in TOTALS.items()}
        snapshot = {"cpu": times.user + times.system, "rss_mib": _peak_rss_mib(), "store": store}
        Path(path + ".tmp").write_text(json.dumps(snapshot))
        os.replace(path + ".tmp", path)


def main() -> None:
    import bot.app.compose as compose
    import bot.app.runner as runner
    from bot.cli.main import main as cli

    opened = compose.open_store
    compose.open_store = lambda settings: TimedStore(opened(settings))  # type: ignore[assignment]
    runner.MIN_TICK_SECONDS = 0.05
    runner.MAX_TICK_SECONDS = 2
    threading.Thread(target=_answer_snapshots, daemon=True).start()
    sys.argv = ["threatwatch", "run"]
    cli()


if __name__ == "__main__":
    main()
