"""Prometheus metrics, in their own registry (nothing global; ``compose`` builds one ``Metrics``
and passes it down). Names follow Prometheus conventions: the ``threatwatch_`` prefix, counters
end in ``_total``, durations are ``_seconds`` in base units.

Counters move in this process (fetches, cycles, alerts, API errors…); what the database knows
(feeds by status, the outbox, the vector index) is read at scrape time from a fresh read-only
connection (``bot.store.probe``), so the figures are right whichever process did the work.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from bot.core.errors import RateLimited, StoreError
from bot.core.models import CycleReport
from bot.core.records import DatabaseProbe
from bot.store.probe import probe_database

PREFIX = "threatwatch"
CYCLE_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
EMBED_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)


class Metrics:
    """Every metric of one process, registered in ``self.registry``."""

    def __init__(self, db: Path | str | None = None, *, process: bool = True) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.fetches = Counter(
            f"{PREFIX}_fetches", "Feed fetches by outcome.", ["outcome"], registry=r
        )
        self.cycles = Counter(f"{PREFIX}_poll_cycles", "Poll cycles run.", registry=r)
        self.cycle_seconds = Histogram(
            f"{PREFIX}_poll_cycle_duration_seconds",
            "Duration of a poll cycle.",
            buckets=CYCLE_BUCKETS,
            registry=r,
        )
        self.last_cycle = Gauge(
            f"{PREFIX}_last_poll_cycle_timestamp_seconds",
            "Unix time the last poll cycle ended.",
            registry=r,
        )
        self.pushes = Counter(
            f"{PREFIX}_websub_pushes", "Feed documents pushed by WebSub hubs.", registry=r
        )
        self.articles = Counter(f"{PREFIX}_articles_ingested", "New articles stored.", registry=r)
        self.matches = Counter(
            f"{PREFIX}_matches", "Articles matched, by topic.", ["topic"], registry=r
        )
        self.alerts = Counter(
            f"{PREFIX}_alerts",
            "Alerts by platform and status (queued: outbox rows written; sent, failed: sends).",
            ["platform", "status"],
            registry=r,
        )
        self.api_errors = Counter(
            f"{PREFIX}_api_errors",
            "Failed chat platform API calls by method and code (the HTTP status, Slack's error "
            "name when it answered 200, or timeout/network).",
            ["platform", "method", "code"],
            registry=r,
        )
        self.rate_limit_waits = Counter(
            f"{PREFIX}_rate_limit_waits",
            "Times a platform told us to wait (429 / retry_after).",
            ["platform"],
            registry=r,
        )
        self.rate_limit_wait_seconds = Counter(
            f"{PREFIX}_rate_limit_wait_seconds",
            "Seconds platforms told us to wait.",
            ["platform"],
            registry=r,
        )
        self.embed_seconds = Histogram(
            f"{PREFIX}_embedding_seconds",
            "Embedding time per text (a passage of an article, or a query).",
            buckets=EMBED_BUCKETS,
            registry=r,
        )
        self.embedded = Counter(f"{PREFIX}_embedded_texts", "Texts embedded.", registry=r)
        self.model_load_seconds = Gauge(
            f"{PREFIX}_model_load_seconds", "Time taken to load the embedding model.", registry=r
        )
        self.model_loaded = Gauge(
            f"{PREFIX}_model_loaded", "1 once the embedding model has loaded.", registry=r
        )
        if process:  # resident memory, CPU seconds, open files… (Linux /proc)
            ProcessCollector(namespace=PREFIX, registry=r)
        if db is not None:
            r.register(DatabaseCollector(db))

    def render(self) -> bytes:
        return generate_latest(self.registry)

    # --- hooks ----------------------------------------------------------------------------------
    def observe_cycle(self, report: CycleReport, *, ended: float | None = None) -> None:
        self.cycles.inc()
        self.cycle_seconds.observe(report.seconds)
        self.last_cycle.set(ended if ended is not None else time.time())
        ok = max(0, report.fetched)
        self.fetches.labels("ok").inc(ok)
        self.fetches.labels("not_modified").inc(report.not_modified)
        for error_class, count in report.failed_by.items():
            self.fetches.labels(f"failed_{error_class}").inc(count)
        self.articles.inc(report.new)
        for topic, count in report.matched_by_topic.items():
            self.matches.labels(topic).inc(count)
        self._observe_queued(report)

    def observe_push(self, report: CycleReport) -> None:
        """Feed documents a WebSub hub pushed: not a poll cycle, not a fetch."""
        self.pushes.inc(report.fetched)
        self.articles.inc(report.new)
        for topic, count in report.matched_by_topic.items():
            self.matches.labels(topic).inc(count)
        self._observe_queued(report)

    def _observe_queued(self, report: CycleReport) -> None:
        for platform, count in report.queued_by_platform.items():
            self.alerts.labels(platform, "queued").inc(count)

    def observe_send(self, platform: str, error: BaseException | None) -> None:
        if error is None:
            self.alerts.labels(platform, "sent").inc()
            return
        self.alerts.labels(platform, "failed").inc()
        if isinstance(error, RateLimited):
            self.rate_limit_waits.labels(platform).inc()
            self.rate_limit_wait_seconds.labels(platform).inc(max(0.0, error.retry_after))

    def observe_api_error(self, platform: str, method: str, code: str) -> None:
        """A chat platform API call that failed, whatever made it (the adapters' clients)."""
        self.api_errors.labels(platform, method, code).inc()

    def observe_embedding(self, texts: int, seconds: float) -> None:
        if texts <= 0:
            return
        self.embedded.inc(texts)
        per_text = seconds / texts
        for _ in range(texts):
            self.embed_seconds.observe(per_text)

    def observe_model_load(self, seconds: float) -> None:
        self.model_load_seconds.set(seconds)
        self.model_loaded.set(1)


@dataclass(eq=False)  # registries key collectors by identity
class DatabaseCollector(Collector):
    """Gauges read from the database file at each scrape."""

    db: Path | str  # a SQLite file or a postgresql:// URL
    probe: Callable[[Path | str], DatabaseProbe] = probe_database

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(())  # figures depend on the data: nothing to check at registration

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily(f"{PREFIX}_database_up", "1 if the database could be read.")
        try:
            found = self.probe(self.db)
        except StoreError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        feeds = GaugeMetricFamily(f"{PREFIX}_feeds", "Feeds by status.", labels=["status"])
        for status, count in sorted(found.feeds_by_status.items()):
            feeds.add_metric([status], count)
        yield feeds
        outbox = GaugeMetricFamily(
            f"{PREFIX}_outbox_alerts",
            "Outbox rows by platform and status.",
            labels=["platform", "status"],
        )
        for (platform, status), count in sorted(found.outbox_by_status.items()):
            outbox.add_metric([platform, status], count)
        yield outbox
        yield GaugeMetricFamily(
            f"{PREFIX}_outbox_depth",
            "Alerts waiting for delivery to instant-mode chats.",
            value=found.outbox_pending,
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_outbox_oldest_pending_age_seconds",
            "Age of the oldest alert waiting for delivery.",
            value=found.oldest_pending_seconds,
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_vector_index_passages",
            "Article passages in the vector index.",
            value=found.vectors,
        )


class Timer:
    """``with Timer() as t: …`` then ``t.seconds``."""

    def __enter__(self) -> Timer:
        self.started = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.started
