"""The ops parts of one process, built by ``compose`` when THREATWATCH_METRICS_PORT is set:
metrics, readiness and their HTTP server, and the wrappers that feed them."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.core.models import CycleReport
from bot.core.settings import Settings, parse_networks
from bot.deliver.sink import Sink
from bot.ops.health import STUCK_MIN_SECONDS, Readiness
from bot.ops.metered import MeteredEmbedder, MeteredSink
from bot.ops.metrics import Metrics
from bot.relevance.embed import Embedder

if TYPE_CHECKING:
    from bot.ops.server import OpsServer


@dataclass
class Ops:
    metrics: Metrics
    readiness: Readiness
    server: OpsServer

    @classmethod
    def from_settings(cls, settings: Settings) -> Ops:
        # the server brings aiohttp (~0.1 s of a start): imported only where metrics are served
        from bot.ops.server import OpsServer

        # the database probed afresh for each check: the SQLite file, or the PostgreSQL URL
        database = settings.database_url or settings.db
        metrics = Metrics(database)
        readiness = Readiness(
            database,
            poll_interval=float(settings.poll_interval),
            # a chat's rows wait behind its own row in retry for up to the longest retry delay
            stuck_after=max(STUCK_MIN_SECONDS, 2 * settings.delivery_max_retry_delay),
        )
        server = OpsServer(
            metrics,
            readiness,
            listen=settings.metrics_listen,
            port=settings.metrics_port or 0,
            networks=parse_networks(settings.metrics_allowed_networks),
        )
        return cls(metrics, readiness, server)

    def embedder(self, inner: Embedder) -> Embedder:
        return MeteredEmbedder(inner, self.metrics)

    def sinks(self, sinks: Mapping[str, Sink]) -> dict[str, Sink]:
        return {platform: MeteredSink(sink, self.metrics) for platform, sink in sinks.items()}

    def observe_cycle(self, report: CycleReport) -> None:
        self.metrics.observe_cycle(report, ended=time.time())
        self.readiness.cycle_ended(report)

    def model_loaded(self, seconds: float) -> None:
        self.metrics.observe_model_load(seconds)
        self.readiness.model_loaded()
