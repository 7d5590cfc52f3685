"""FakeSlackAPI: a local Slack Web API server for tests, with Socket Mode and fault injection.

It speaks enough of Slack's protocol for the real slack-sdk and slack-bolt clients: auth.test,
chat.postMessage (with message metadata), chat.update, chat.postEphemeral, conversations.info /
members / join / open / history / replies (metadata only with include_all_metadata),
files.getUploadURLExternal + upload + files.completeUploadExternal, apps.connections.open with a
local websocket for Socket Mode (``socket_mode``, in testkit/slack_socket_mode.py), and
response_url endpoints that record what the bot answered. Faults:
``fail(method, error, status=…, retry_after=…, times=…)`` (e.g. 429 ratelimited with Retry-After), ``archive(channel)``, ``kick(channel)``, ``outage(status)``
until ``restore()`` (every post, update and file upload fails), and ``enforce_limits()``:
Slack's one message a second per channel, a 429 with Retry-After for any post over it, each one recorded.

Binds 127.0.0.1 on a port the OS chooses; runs its own event loop in a daemon thread.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from typing import Any, Self

from aiohttp import web

from bot.demo.localserver import LocalServer
from testkit.ratelimits import PlatformLimits, slack_limits
from testkit.slack_objects import Channel, Fault, Posted, call_params, history_page
from testkit.slack_socket_mode import SOCKET_PATH, SocketModeEndpoint

BOT_USER = "UBOT0001"
BOT_TOKEN = "xoxb-test-token"
APP_TOKEN = "xapp-1-test-token"
TEAM = "T0TEST01"
MEMBERS_PAGE = 2  # small pages, so the bot must follow cursors


class FakeSlackAPI(LocalServer):
    def __init__(self, bot_token: str = BOT_TOKEN, app_token: str = APP_TOKEN) -> None:
        super().__init__()
        self.bot_token, self.app_token = bot_token, app_token
        self.lock = threading.Condition()
        self.posted: list[Posted] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.faults: dict[str, deque[Fault]] = defaultdict(deque)
        self.channels: dict[str, Channel] = {}
        self.files: list[dict[str, Any]] = []
        self._uploads: dict[str, bytes] = {}
        self._last_ts = 0.0
        self._ids = itertools.count(1)
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self.socket_mode = SocketModeEndpoint(self._loop)
        self.down: Fault | None = None  # an outage: every post, update and upload fails so
        self.limits: PlatformLimits | None = None

    # --- lifecycle --------------------------------------------------------------------------
    def start(self) -> Self:
        ready = threading.Event()
        threading.Thread(target=self._serve, args=(ready,), daemon=True).start()
        if not ready.wait(10):
            raise RuntimeError("fake Slack API did not start")
        return self

    def _serve(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/respond/{id}", self._respond)
        app.router.add_post("/upload/{id}", self._upload)
        app.router.add_get(SOCKET_PATH, self.socket_mode.handle)
        app.router.add_get("/files/{id}", self._download)
        self._runner = web.AppRunner(app, access_log=None)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, self.host, 0)
        self._loop.run_until_complete(site.start())
        self._port = self._runner.addresses[0][1]
        ready.set()
        self._loop.run_forever()
        self._loop.close()

    def stop(self) -> None:
        async def close() -> None:
            await self.socket_mode.close()
            assert self._runner is not None
            await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)

    @property
    def api_url(self) -> str:
        """THREATWATCH_SLACK_API_URL for a bot that talks to this server."""
        return self.base_url + "/api/"

    def response_url(self) -> str:
        return f"{self.base_url}/respond/{next(self._ids)}"

    # --- set-up and faults --------------------------------------------------------------------
    def add_channel(self, channel_id: str, members: list[str], **flags: bool) -> Channel:
        with self.lock:
            self.channels[channel_id] = Channel(channel_id, list(members), **flags)
            return self.channels[channel_id]

    def fail(
        self,
        method: str,
        error: str,
        *,
        status: int = 200,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        with self.lock:
            self.faults[method].extend(Fault(error, status, retry_after) for _ in range(times))

    def outage(self, status: int = 503, *, retry_after: int | None = None) -> None:
        """Every chat.postMessage, chat.update and file upload (files.getUploadURLExternal,
        files.completeUploadExternal) fails with ``status`` until ``restore()``."""
        error = "ratelimited" if status == 429 else "service_unavailable"
        with self.lock:
            self.down = Fault(error, status, retry_after)

    def restore(self) -> None:
        with self.lock:
            self.down = None

    def enforce_limits(self, limits: PlatformLimits | None = None) -> PlatformLimits:
        """Refuse posts over Slack's limits with 429; ``limits.refused`` records each one."""
        with self.lock:
            self.limits = limits or slack_limits()
            return self.limits

    def archive(self, channel_id: str) -> None:
        with self.lock:
            self.channels[channel_id].is_archived = True

    def kick(self, channel_id: str) -> None:
        with self.lock:
            self.channels[channel_id].is_member = False

    # --- reading what the bot did -------------------------------------------------------------
    def wait_for(self, predicate: Callable[[list[Posted]], bool], timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        with self.lock:
            while not predicate(self.posted):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out; posted: {[p.text[:80] for p in self.posted]}")
                self.lock.wait(min(left, 0.5))

    def posted_to(self, channel: str, method: str | None = None) -> list[Posted]:
        with self.lock:
            return [p for p in self.posted if p.channel == channel and method in (None, p.method)]

    def alerts(self, channel: str) -> list[Posted]:
        return [p for p in self.posted_to(channel, "chat.postMessage") if p.buttons]

    def calls_to(self, method: str) -> list[dict[str, Any]]:
        with self.lock:
            return [params for name, params in self.calls if name == method]

    # --- HTTP handlers ------------------------------------------------------------------------
    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = call_params(dict(request.query), await request.read(), request.content_type or "")
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        token = token or str(params.get("token", ""))
        with self.lock:
            self.calls.append((method, params))
            fault = self.faults[method].popleft() if self.faults[method] else None
            posting = method in ("chat.postMessage", "chat.update")
            sharing = method in ("files.getUploadURLExternal", "files.completeUploadExternal")
            if fault is None and (posting or sharing) and self.down is not None:
                fault = self.down
            if fault is None and posting and self.limits is not None:
                wait = self.limits.check(str(params.get("channel", "")))
                if wait is not None:
                    fault = Fault("ratelimited", 429, wait)
        if fault is not None:
            headers = (
                {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            )
            return web.json_response(
                {"ok": False, "error": fault.error}, status=fault.status, headers=headers
            )
        expected = self.app_token if method == "apps.connections.open" else self.bot_token
        if token != expected:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        handler = getattr(self, "m_" + method.replace(".", "_"), None)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"}, status=404)
        with self.lock:
            result = handler(params)
            self.lock.notify_all()
        return web.json_response({"ok": "error" not in result, **result})

    async def _respond(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read() or b"{}")
        with self.lock:
            self.posted.append(
                self._posted("response_url", f"respond:{request.match_info['id']}", body)
            )
            self.lock.notify_all()
        return web.Response(text="ok")

    def add_file(self, name: str, content: bytes) -> dict[str, str]:
        """A file a user shared; returns its object as Slack puts it in a message event."""
        file_id = f"F{next(self._ids):08d}"
        with self.lock:
            self._uploads[file_id] = content
        download = f"{self.base_url}/files/{file_id}"
        return {"id": file_id, "name": name, "url_private_download": download}

    async def _download(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {self.bot_token}":
            return web.Response(status=403)  # Slack answers a login page; a status will do
        with self.lock:
            data = self._uploads.get(request.match_info["id"])
        return web.Response(body=data) if data is not None else web.Response(status=404)

    async def _upload(self, request: web.Request) -> web.Response:
        data = await request.read()
        with self.lock:
            self._uploads[request.match_info["id"]] = data
        return web.Response(text=f"OK - {len(data)}")

    def _next_ts(self) -> str:
        """A message ts as Slack makes them: the time it was posted, unique and increasing."""
        self._last_ts = max(time.time(), self._last_ts + 0.000001)
        return f"{self._last_ts:.6f}"

    def _posted(self, method: str, channel: str, params: dict[str, Any]) -> Posted:
        return Posted(
            method=method,
            channel=channel,
            ts=self._next_ts(),
            text=str(params.get("text", "")),
            blocks=list(params.get("blocks") or []),
            thread_ts=params.get("thread_ts") or None,
            user=params.get("user"),
            response_type=params.get("response_type"),
        )

    def _channel_error(self, channel_id: str, *, posting: bool) -> dict[str, str] | None:
        channel = self.channels.get(channel_id)
        if channel is None and not channel_id.startswith("D"):
            return {"error": "channel_not_found"}
        if channel is not None and posting and channel.is_archived:
            return {"error": "is_archived"}
        if channel is not None and posting and not channel.is_member:
            return {"error": "not_in_channel"}
        return None

    # --- Web API methods (called with the lock held) -------------------------------------------
    def m_auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "user_id": BOT_USER,
            "user": "threatwatch",
            "bot_id": "B0BOT01",
            "team_id": TEAM,
            "team": "Test",
        }

    def m_apps_connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"url": f"ws://{self.host}:{self.port}{SOCKET_PATH}"}

    def m_chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params.get("channel", ""))
        if error := self._channel_error(channel, posting=True):
            return error
        if not params.get("text") and not params.get("blocks"):
            return {"error": "no_text"}
        posted = self._posted("chat.postMessage", channel, params)
        if isinstance(params.get("metadata"), dict):
            posted.metadata = params["metadata"]
        self.posted.append(posted)
        return {
            "channel": channel,
            "ts": posted.ts,
            "message": {"text": posted.text, "ts": posted.ts},
        }

    def m_chat_postEphemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params.get("channel", ""))
        if error := self._channel_error(channel, posting=True):
            return error
        posted = self._posted("chat.postEphemeral", channel, params)
        self.posted.append(posted)
        return {"message_ts": posted.ts}

    def m_chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        for posted in self.posted:
            if posted.channel == params.get("channel") and posted.ts == params.get("ts"):
                posted.edits.append(params)
                posted.text, posted.blocks = (
                    str(params.get("text", "")),
                    list(params.get("blocks") or []),
                )
                return {"channel": posted.channel, "ts": posted.ts}
        return {"error": "message_not_found"}

    def m_conversations_info(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self.channels.get(str(params.get("channel")))
        if channel is None:
            return {"error": "channel_not_found"}
        flags = {k: getattr(channel, k) for k in ("is_member", "is_private", "is_archived")}
        return {"channel": {"id": channel.id, "name": channel.id.lower(), **flags}}

    def m_conversations_history(self, params: dict[str, Any]) -> dict[str, Any]:
        if error := self._channel_error(str(params.get("channel", "")), posting=True):
            return error  # like Slack: the bot must be in the channel to read it
        return history_page(self.posted, params, thread=None)

    def m_conversations_replies(self, params: dict[str, Any]) -> dict[str, Any]:
        if error := self._channel_error(str(params.get("channel", "")), posting=True):
            return error
        return history_page(self.posted, params, thread=str(params.get("ts", "")))

    def m_conversations_members(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self.channels.get(str(params.get("channel")))
        if channel is None:
            return {"error": "channel_not_found"}
        start = int(params.get("cursor") or 0)
        page = channel.members[start : start + MEMBERS_PAGE]
        more = start + MEMBERS_PAGE < len(channel.members)
        return {
            "members": page,
            "response_metadata": {"next_cursor": str(start + MEMBERS_PAGE) if more else ""},
        }

    def m_conversations_join(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self.channels.get(str(params.get("channel")))
        if channel is None:
            return {"error": "channel_not_found"}
        if channel.is_private:
            return {"error": "method_not_supported_for_channel_type"}
        channel.is_member = True
        return {"channel": {"id": channel.id}}

    def m_conversations_open(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"channel": {"id": "D" + str(params.get("users", "")).split(",")[0]}}

    def m_files_getUploadURLExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        file_id = f"F{next(self._ids):08d}"
        return {"upload_url": f"{self.base_url}/upload/{file_id}", "file_id": file_id}

    def m_files_completeUploadExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        files = params.get("files") or []
        done = []
        for f in files:
            record = {
                "id": f["id"],
                "title": f.get("title"),
                "channel": params.get("channel_id"),
                "thread_ts": params.get("thread_ts"),
                "content": self._uploads.get(f["id"], b""),
                "comment": params.get("initial_comment"),
            }
            self.files.append(record)
            done.append({"id": f["id"], "title": f.get("title")})
        return {"files": done}
