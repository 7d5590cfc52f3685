"""Liveness and readiness. ``/healthz`` answers while the process does; ``/readyz`` is ready when
the database file can be opened afresh and read, the model has loaded, the last poll cycle ended
within three poll intervals, and no alert has waited too long past its due time."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bot.core.errors import StoreError
from bot.core.models import CycleReport
from bot.core.records import DatabaseProbe
from bot.store.probe import probe_database

CYCLES_LATE = 3  # the last cycle may be this many poll intervals old
STUCK_MIN_SECONDS = 600.0  # an alert due this long without a send attempt: the outbox is stuck


@dataclass
class Readiness:
    """What the running process knows about itself, plus a fresh look at the database."""

    db: Path | str  # a SQLite file or a postgresql:// URL
    poll_interval: float
    stuck_after: float = STUCK_MIN_SECONDS
    clock: Callable[[], float] = time.time
    probe: Callable[[Path | str], DatabaseProbe] = probe_database
    started_at: float = field(default=0.0)
    model_loaded_at: float | None = None
    last_cycle_at: float | None = None

    def __post_init__(self) -> None:
        self.started_at = self.started_at or self.clock()

    def model_loaded(self) -> None:
        self.model_loaded_at = self.clock()

    def cycle_ended(self, report: CycleReport | None = None) -> None:
        self.last_cycle_at = self.clock()

    def check(self) -> dict[str, str]:
        """Every failed check with why; empty when ready."""
        failed: dict[str, str] = {}
        now = self.clock()
        try:
            found = self.probe(self.db)
        except StoreError as exc:
            failed["database"] = str(exc)
            found = None
        if self.model_loaded_at is None:
            failed["model"] = "the embedding model has not loaded yet"
        # before the first cycle, count from start-up (the model loads first)
        since = self.last_cycle_at or self.model_loaded_at or self.started_at
        late = CYCLES_LATE * self.poll_interval
        if now - since > late:
            what = "the last poll cycle" if self.last_cycle_at else "no poll cycle yet, start-up"
            failed["poll"] = f"{what} was {now - since:.0f}s ago (limit {late:.0f}s)"
        if found is not None and found.overdue_seconds > self.stuck_after:
            failed["outbox"] = (
                f"{found.outbox_pending} alerts pending, one due for "
                f"{found.overdue_seconds:.0f}s (limit {self.stuck_after:.0f}s)"
            )
        return failed
