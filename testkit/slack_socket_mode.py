"""SocketModeEndpoint: the server side of Slack's Socket Mode, for FakeSlackAPI.

In Socket Mode the app opens a websocket to Slack (at the URL apps.connections.open gave it);
Slack says hello, then pushes each slash command, event and interaction to it as an envelope,
and the app acknowledges each envelope by its id, with a response payload where one is accepted.
Tests push envelopes with ``send`` and get back what the bot's acknowledgement carried.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from typing import Any

from aiohttp import WSMsgType, web

SOCKET_PATH = "/socket"


class SocketModeEndpoint:
    """Websockets served on the server's own event loop (``loop``); ``send`` and ``connected``
    are called from other threads."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._acked = threading.Condition()
        self._acks: dict[str, Any] = {}
        self._ids = itertools.count(1)
        self._sockets: list[web.WebSocketResponse] = []

    def connected(self) -> bool:
        return bool(self._sockets)

    def send(self, kind: str, payload: dict[str, Any], timeout: float = 10) -> Any:
        """Push one envelope (slash_commands, events_api, interactive) to the bot's socket and
        wait for its acknowledgement; returns the ack's payload (None when it had none)."""
        envelope_id = f"env-{next(self._ids)}"
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": kind != "events_api",
            "retry_attempt": 0,
            "retry_reason": "",
        }

        async def push() -> None:
            await self._sockets[-1].send_str(json.dumps(envelope))

        asyncio.run_coroutine_threadsafe(push(), self._loop).result(timeout)
        deadline = time.monotonic() + timeout
        with self._acked:
            while envelope_id not in self._acks:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no ack for {kind} envelope within {timeout}s")
                self._acked.wait(min(left, 0.5))
            return self._acks.pop(envelope_id)

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """The websocket route: hello, then record every acknowledgement until the bot hangs up."""
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_str(json.dumps({"type": "hello", "num_connections": 1}))
        try:
            async for message in ws:
                if message.type != WSMsgType.TEXT:
                    continue
                data = json.loads(message.data)
                if "envelope_id" in data:
                    with self._acked:
                        self._acks[data["envelope_id"]] = data.get("payload")
                        self._acked.notify_all()
        finally:
            self._sockets.remove(ws)
        return ws

    async def close(self) -> None:
        for ws in list(self._sockets):
            await ws.close()
