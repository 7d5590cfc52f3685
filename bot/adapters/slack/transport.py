"""How Slack reaches the Bolt app: Socket Mode (a websocket opened with the app-level token) or
HTTP mode (Events API, slash commands and interactivity POSTed to /slack/events). In HTTP mode
Bolt checks each request's signature and timestamp before anything runs: a bad or stale
signature is answered 401 and has no effect."""

from __future__ import annotations

import logging
from typing import Protocol

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp

from bot.core.errors import ConfigError
from bot.core.settings import Settings

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
MAX_REQUEST_BYTES = 1_000_000  # Slack's payloads are a few kB


class Transport(Protocol):
    async def start(self) -> str:
        """Start receiving; returns a description for the log."""
        ...

    async def stop(self) -> None: ...


def mode_of(settings: Settings) -> str:
    """'socket' or 'http', checked against the tokens and secret that mode needs."""
    mode = settings.slack_mode
    if mode == "auto":
        mode = "socket" if settings.slack_app_token else "http"
    if mode == "socket":
        if not settings.slack_app_token:
            raise ConfigError("Slack Socket Mode needs THREATWATCH_SLACK_APP_TOKEN (xapp-…)")
        if not settings.slack_app_token.startswith("xapp-"):
            raise ConfigError(
                "THREATWATCH_SLACK_APP_TOKEN must be an app-level token (xapp-…) with the "
                "connections:write scope"
            )
    elif not settings.slack_signing_secret:
        raise ConfigError(
            "Slack needs THREATWATCH_SLACK_APP_TOKEN (Socket Mode) or "
            "THREATWATCH_SLACK_SIGNING_SECRET (HTTP mode, requests to /slack/events)"
        )
    return mode


class SocketModeTransport:
    def __init__(self, app: AsyncApp, app_token: str):
        self.handler = AsyncSocketModeHandler(app, app_token, web_client=app.client)

    async def start(self) -> str:
        await self.handler.connect_async()
        return "socket mode"

    async def stop(self) -> None:
        await self.handler.close_async()


class HttpTransport:
    def __init__(self, app: AsyncApp, listen: str, port: int):
        self.app, self.listen, self.port = app, listen, port
        self.runner: web.AppRunner | None = None

    async def events(self, request: web.Request) -> web.Response:
        response = await self.app.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(response)

    async def health(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def start(self) -> str:
        server = web.Application(client_max_size=MAX_REQUEST_BYTES)
        server.router.add_post(EVENTS_PATH, self.events)
        server.router.add_get("/healthz", self.health)
        self.runner = web.AppRunner(server, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.listen, self.port)
        await site.start()
        port = self.port
        for address in self.runner.addresses:  # the real port when asked for port 0
            port = address[1]
        return f"http mode on http://{self.listen}:{port}{EVENTS_PATH}"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


def make_transport(app: AsyncApp, settings: Settings) -> Transport:
    if mode_of(settings) == "socket":
        assert settings.slack_app_token is not None
        return SocketModeTransport(app, settings.slack_app_token)
    return HttpTransport(app, settings.slack_listen, settings.slack_port)
