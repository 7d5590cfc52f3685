"""WebSub as `threatwatch run` runs it: the callback server (aiohttp, in the bot's event loop),
one worker that feeds accepted content into the poll cycle's ingest path, and a maintenance loop
that subscribes and renews."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiohttp import web

from bot.core.errors import ThreatwatchError
from bot.pipeline.cycle import Pipeline
from bot.websub import protocol
from bot.websub.subscriber import Delivery, WebSubSubscriber

log = logging.getLogger(__name__)

MAINTAIN_SECONDS = 5.0  # how often to look for feeds to subscribe or leases to renew
QUEUE_SIZE = 64  # accepted deliveries waiting to be ingested; past that hubs are asked to retry
# deliveries the worker takes at once: their items are embedded in one batch, which a burst of
# one-article pushes needs (the model runs a batch far faster than the same texts one by one)
INGEST_BATCH = QUEUE_SIZE


class WebSubReceiver:
    def __init__(
        self,
        subscriber: WebSubSubscriber,
        pipeline: Pipeline,
        *,
        maintain_every: float | None = MAINTAIN_SECONDS,  # None: the caller runs maintain()
    ) -> None:
        self.subscriber = subscriber
        self.maintain_every = maintain_every
        self.pipeline = pipeline
        settings = subscriber.settings
        self.listen, self.port = settings.websub_listen, settings.websub_port
        self.max_body = settings.max_body_bytes
        self._queue: asyncio.Queue[Delivery] = asyncio.Queue(QUEUE_SIZE)
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> str:
        """Serve callbacks, then start subscribing. Returns the callback base URL."""
        base = self.subscriber.callback_base
        path = protocol.callback_path(base)
        server = web.Application(client_max_size=self.max_body)
        server.router.add_get(path + "/{token}", self._verify)
        server.router.add_post(path + "/{token}", self._receive)
        self._runner = web.AppRunner(server, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.listen, self.port).start()
        bound = [a[1] for a in self._runner.addresses if isinstance(a, tuple)]
        base = protocol.with_port(base, bound[0] if bound else self.port)
        self.subscriber.callback_base = base
        self._tasks = [asyncio.create_task(self._ingest_forever())]
        if self.maintain_every is not None:
            self._tasks.append(asyncio.create_task(self._maintain_forever(self.maintain_every)))
        log.info(
            "websub callbacks on %s:%s (public %s)",
            self.listen,
            bound[0] if bound else self.port,
            protocol.shown_callback(protocol.callback_url(base, "x")),
        )
        return base

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # --- HTTP -----------------------------------------------------------------------------
    async def _verify(self, request: web.Request) -> web.Response:
        reply = self.subscriber.verification(request.match_info["token"], request.query)
        return web.Response(status=reply.status, text=reply.text, content_type="text/plain")

    async def _receive(self, request: web.Request) -> web.Response:
        if (request.content_length or 0) > self.max_body:
            return web.Response(status=413, text="body too large")
        try:
            body = await request.read()  # aiohttp refuses past client_max_size with 413
        except web.HTTPRequestEntityTooLarge:
            return web.Response(status=413, text="body too large")
        headers = {k.lower(): v for k, v in request.headers.items()}
        reply, delivery = self.subscriber.delivery(request.match_info["token"], body, headers)
        if delivery is not None:
            try:
                self._queue.put_nowait(delivery)
            except asyncio.QueueFull:
                return web.Response(status=503, headers={"Retry-After": "30"})
            self.subscriber.accepted(delivery)
        return web.Response(status=reply.status, text=reply.text)

    # --- background -------------------------------------------------------------------------
    async def _maintain_forever(self, every: float) -> None:
        while True:
            try:
                await self.subscriber.maintain()
            except Exception:  # one bad hub or a locked database must not end renewals
                log.exception("websub maintenance failed")
            await asyncio.sleep(every)

    async def _ingest_forever(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < INGEST_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            feeds = ",".join(sorted({str(d.feed.id) for d in batch}))
            try:
                report, failed = await self.pipeline.ingest_pushed(
                    [(d.feed, d.body, d.headers) for d in batch]
                )
                for feed, exc in failed:
                    log.warning("websub push for feed %s not ingested: %s", feed.id, exc)
                log.info(
                    "websub push: deliveries=%d feeds=%s new=%d duplicates=%d matched=%d "
                    "queued=%d seconds=%.2f",
                    len(batch),
                    feeds,
                    report.new,
                    report.duplicates,
                    report.matched,
                    report.queued,
                    report.seconds,
                )
            except ThreatwatchError as exc:  # the store, say: the feeds' fallback polls catch up
                log.warning("websub pushes for feeds %s not ingested: %s", feeds, exc)
            except Exception:
                log.exception("websub pushes for feeds %s failed", feeds)
