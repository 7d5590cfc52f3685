"""`threatwatch run`: the scheduler (poll cycles) and the delivery loop in one asyncio process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.app.compose import App, ChatAdapter
from bot.app.spikes import SpikeWatcher
from bot.core.errors import ThreatwatchError
from bot.relevance.embed_choice import describe as describe_embedder

log = logging.getLogger(__name__)

# Each feed is checked every THREATWATCH_POLL_INTERVAL seconds (or as its TTL/backoff says): the
# poll loop wakes when the next feed is due, and at least every MAX_TICK_SECONDS so that a feed
# added at run time (by another process) is polled at once.
MAX_TICK_SECONDS = 15
MIN_TICK_SECONDS = 1.0  # between two cycles, even when a feed is due again at once
DUE_SLACK_SECONDS = 0.05  # wake just after the due time, never just before it
DELIVERY_TICK_SECONDS = 1
ADAPTER_HEAD_START_SECONDS = 5  # chat adapters connect before the model starts loading


async def run(app: App, *, stop: asyncio.Event | None = None) -> None:
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread
            loop.add_signal_handler(sig, stop.set)
    if app.ops is not None:  # health and metrics answer from the start, before the model loads
        await app.ops.server.start()
    # chat adapters answer commands from the start (connecting may take retries, so it runs
    # beside everything else); the model and the vector index load in the background meanwhile,
    # and commands that need them wait for them
    starts = [asyncio.create_task(_start(adapter, stop)) for adapter in app.adapters]
    if starts:  # a head start: loading the model keeps the cores (and the GIL) busy for seconds
        await asyncio.wait(starts, timeout=ADAPTER_HEAD_START_SECONDS)
    index = app.service.queries.vector_index
    warming = asyncio.create_task(asyncio.to_thread(_timed, index.warm))
    try:
        # a missing or broken model package stops start-up with its fix, before any poll cycle,
        # instead of failing every cycle later (raises ConfigError)
        loading = time.monotonic()
        await asyncio.to_thread(app.embedder.encode, ["threatwatch start-up check"])
    except BaseException:
        index.stop_loading()
        warming.cancel()
        await _stop_adapters(app, starts)
        if app.ops is not None:
            await app.ops.server.stop()
        raise
    if app.ops is not None:
        app.ops.model_loaded(time.monotonic() - loading)
    warming.add_done_callback(_report_warm)
    log.info("embedding: %s", describe_embedder(app.embedder))

    scheduler = _scheduler(app, loop)
    log.info(
        "threatwatch running: db=%s feeds=%d topics=%d poll_interval=%ss",
        app.settings.db,
        len(app.store.feeds()),
        len(app.store.topics()),
        app.settings.poll_interval,
    )
    scheduler.start()
    polling = asyncio.create_task(_poll_forever(app, stop))
    if app.websub is not None:
        try:
            await app.websub.start()
        except OSError:  # e.g. the port is taken: say so, keep polling every feed
            log.exception("websub callbacks could not start; polling only")
    try:
        await stop.wait()
    finally:
        scheduler.shutdown(wait=False)
        polling.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await polling
        if app.websub is not None:
            await app.websub.stop()
        index.stop_loading()
        await _stop_adapters(app, starts)
        await app.deliverer.drain()
        if app.ops is not None:
            await app.ops.server.stop()
        log.info("threatwatch stopped")


def _scheduler(app: App, loop: asyncio.AbstractEventLoop) -> AsyncIOScheduler:
    """Delivery every tick and spike checks; the poll loop runs beside it (_poll_forever)."""
    scheduler = AsyncIOScheduler(event_loop=loop, timezone="UTC")
    scheduler.add_job(
        app.deliverer.drain,
        "interval",
        seconds=DELIVERY_TICK_SECONDS,
        id="deliver",
        coalesce=True,
        max_instances=1,
        misfire_grace_time=None,
    )
    if app.settings.spike_check_interval:
        spikes = SpikeWatcher(app.service.trends, app.deliverer)
        scheduler.add_job(
            spikes.check,
            "interval",
            seconds=app.settings.spike_check_interval,
            id="spikes",
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
        )
    return scheduler


async def _stop_adapters(app: App, starts: list[asyncio.Task[None]]) -> None:
    for adapter, started in zip(app.adapters, starts, strict=True):
        started.cancel()
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await started
        try:
            await adapter.stop()
        except Exception:  # stopping must not keep the process alive
            log.exception("stopping a chat adapter failed")


def _timed(load: Callable[[], int]) -> tuple[int, float]:
    started = time.monotonic()
    return load(), time.monotonic() - started


def _report_warm(task: asyncio.Task[tuple[int, float]]) -> None:
    if task.cancelled():
        return
    if task.exception() is not None:  # queries load the index themselves then
        log.error("loading the vector index failed: %r", task.exception())
        return
    rows, seconds = task.result()
    log.info("vector index loaded: %d passages in %.1f s", rows, seconds)


async def _start(adapter: ChatAdapter, stop: asyncio.Event) -> None:
    try:
        await adapter.start(stop)
    except Exception:  # e.g. a webhook setting is wrong: say so, keep polling feeds
        log.exception("a chat adapter could not start")


async def _poll_forever(app: App, stop: asyncio.Event) -> None:
    while not stop.is_set():
        ok = await _poll(app)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_until_next_due(app) if ok else _tick(app)):
                await stop.wait()


def _tick(app: App) -> float:
    return float(min(MAX_TICK_SECONDS, app.settings.poll_interval))


def _until_next_due(app: App) -> float:
    """Seconds until the next feed is due (at least MIN_TICK_SECONDS, at most a tick)."""
    try:
        due = app.store.next_feed_due_at()
    except ThreatwatchError:
        return _tick(app)
    if due is None:
        return _tick(app)
    wait = (due - app.clock()).total_seconds() + DUE_SLACK_SECONDS
    return min(_tick(app), max(MIN_TICK_SECONDS, wait))


async def _poll(app: App) -> bool:
    try:
        await app.pipeline.poll_once()
        await app.deliverer.drain()
        return True
    except Exception:  # the poll loop must outlive any one bad cycle
        log.exception("poll cycle failed")
        return False
