"""The metrics and health HTTP server (aiohttp, on the bot's event loop): ``/metrics``,
``/healthz`` and ``/readyz`` on THREATWATCH_METRICS_LISTEN:THREATWATCH_METRICS_PORT. Clients
outside THREATWATCH_METRICS_ALLOWED_NETWORKS get 403. It starts before the model loads, so an
orchestrator sees the process alive (and not yet ready) within seconds of start-up."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from bot.core.settings import Network
from bot.ops.health import Readiness
from bot.ops.metrics import Metrics

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def allowed(remote: str | None, networks: Sequence[Network]) -> bool:
    if not networks:
        return True
    if not remote:
        return False
    try:
        address = ipaddress.ip_address(remote.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address.version == n.version and address in n for n in networks)


class OpsServer:
    def __init__(
        self,
        metrics: Metrics,
        readiness: Readiness,
        *,
        listen: str = "0.0.0.0",
        port: int = 0,
        networks: Sequence[Network] = (),
    ):
        self.metrics, self.readiness = metrics, readiness
        self.listen, self.port, self.networks = listen, port, list(networks)
        self._runner: web.AppRunner | None = None

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._only_allowed])
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        return app

    async def start(self) -> int:
        """Listen; returns the bound port (useful with port 0)."""
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.listen, self.port)
        await site.start()
        addresses = self._runner.addresses
        self.port = int(addresses[0][1]) if addresses else self.port
        log.info("metrics and health on http://%s:%d/metrics", self.listen, self.port)
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @web.middleware
    async def _only_allowed(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not allowed(request.remote, self.networks):
            return web.Response(status=403, text="forbidden\n")
        return await handler(request)

    async def _metrics(self, request: web.Request) -> web.Response:
        body = await asyncio.to_thread(self.metrics.render)  # reads the database
        response = web.Response(body=body)
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def _readyz(self, request: web.Request) -> web.Response:
        failed = await asyncio.to_thread(self.readiness.check)
        if failed:
            return web.json_response(
                {"status": "not ready", "failed": failed}, status=503, dumps=_dumps
            )
        return web.json_response({"status": "ready"})


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)
