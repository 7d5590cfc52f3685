"""FakeBotAPI: a local Telegram Bot API server for tests, with fault injection.

It speaks the Bot API's HTTP protocol well enough for the real python-telegram-bot client:
getMe, getUpdates (offset + long-poll timeout), sendMessage, editMessageText, sendDocument,
sendPhoto (the picture's bytes kept in ``Sent.document``),
getFile + file download, answerCallbackQuery, setMyCommands, deleteWebhook, setWebhook,
getChatMember, getChatAdministrators. Tests push updates (messages, commands, documents, button
presses) and read what the bot sent. Faults: ``fail(method, 429, retry_after=…)``, 403, 5xx,
``slow(method, seconds)``, ``block_chat(chat_id)`` (403 for every send to that chat),
``outage(status)`` until ``restore()`` (every send and edit fails), ``enforce_limits()``:
Telegram's rate limits, a 429 with ``retry_after`` for any send over them, each one recorded,
and ``hold_sends(name)``: one process's sends wait in flight until ``release_sends(name)`` (to
kill it in the middle of a send; a held send is then carried out, as one that reached Telegram).

Several bot processes may share one server: each one given ``api_url_for(name)`` as its Bot API
URL is told apart by that name in the path (Telegram knows only the token), so a test can count
each process's calls (``calls_from(name, "getUpdates")``: a standby listener must make none).

Binds 127.0.0.1 on a port the OS chooses; runs in daemon threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from bot.demo.localserver import LocalHTTPServer, OwnedHTTPServer
from testkit.ratelimits import PlatformLimits, telegram_limits
from testkit.telegram_objects import BOT_ID, BOT_USERNAME, Sent, TelegramObjects

__all__ = ["BOT_ID", "BOT_USERNAME", "FakeBotAPI", "Fault", "Sent"]


@dataclass
class Fault:
    status: int  # 0: no error, only the delay
    description: str = ""
    retry_after: int | None = None
    delay: float = 0.0


class ClientsMayDie(OwnedHTTPServer):
    """Tests kill bot processes (kill -9): a connection they leave reset is no server error."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class FakeBotAPI(TelegramObjects, LocalHTTPServer):
    daemon_threads = True  # getUpdates long polls block in handlers until their timeout
    server_class = ClientsMayDie

    def __init__(self, token: str = "123456:TEST-token") -> None:
        TelegramObjects.__init__(self)
        LocalHTTPServer.__init__(self)
        self.token = token
        self.lock = threading.Condition()
        self.updates: list[dict[str, Any]] = []
        self.next_update_id = 1
        self.sent: list[Sent] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.callers: list[tuple[str, str, str]] = []  # (process name, token, method) of each call
        self.faults: dict[str, deque[Fault]] = defaultdict(deque)
        self.blocked_chats: dict[int, str] = {}
        self.commands: dict[str, list[dict[str, str]]] = {}
        self.files: dict[str, bytes] = {}
        self.webhook: dict[str, Any] | None = None
        self.down: Fault | None = None  # an outage: every send and edit fails like this
        self.limits: PlatformLimits | None = None
        self.holding: set[str] = set()  # processes whose sends wait until released
        self.held: dict[str, int] = defaultdict(int)  # sends waiting now, per process
        self.current_caller = ""

    # --- lifecycle --------------------------------------------------------------------------
    def _release_requests(self) -> None:
        with self.lock:
            self.lock.notify_all()

    @property
    def api_url(self) -> str:
        """THREATWATCH_TELEGRAM_API_URL for a bot that talks to this server."""
        return self.base_url + "/bot"

    def api_url_for(self, name: str) -> str:
        """THREATWATCH_TELEGRAM_API_URL for one of several processes, its calls counted apart."""
        if not name or "/" in name or name.startswith("bot") or name == "file":
            raise ValueError(f"not a process name for the URL: {name!r}")
        return f"{self.base_url}/{name}/bot"

    def calls_from(self, name: str, method: str, token: str | None = None) -> int:
        """How many times the process called ``name`` made ``method`` calls (with the token)."""
        with self.lock:
            return sum(
                1
                for caller, used, called in self.callers
                if caller == name and called == method and used == (token or self.token)
            )

    # --- faults -----------------------------------------------------------------------------
    def fail(
        self,
        method: str,
        status: int,
        *,
        times: int = 1,
        retry_after: int | None = None,
        description: str | None = None,
    ) -> None:
        text = description or {
            429: f"Too Many Requests: retry after {retry_after}",
            403: "Forbidden: bot was blocked by the user",
            500: "Internal Server Error",
        }.get(status, "Error")
        with self.lock:
            self.faults[method].extend(Fault(status, text, retry_after) for _ in range(times))

    def slow(self, method: str, seconds: float, *, times: int = 1) -> None:
        with self.lock:
            self.faults[method].extend(Fault(0, delay=seconds) for _ in range(times))

    def block_chat(
        self, chat_id: int, description: str = "Forbidden: bot was kicked from the group chat"
    ) -> None:
        with self.lock:
            self.blocked_chats[chat_id] = description

    def outage(self, status: int = 502, *, retry_after: int | None = None) -> None:
        """Every send and edit fails with ``status`` until ``restore()``."""
        description = "Too Many Requests" if status == 429 else "Bad Gateway"
        with self.lock:
            self.down = Fault(status, description, retry_after)

    def restore(self) -> None:
        with self.lock:
            self.down = None

    def enforce_limits(self, limits: PlatformLimits | None = None) -> PlatformLimits:
        """Refuse sends over Telegram's limits with 429; ``limits.refused`` records each one."""
        with self.lock:
            self.limits = limits or telegram_limits()
            return self.limits

    def hold_sends(self, name: str) -> None:
        """Sends and edits from process ``name`` wait, in flight, until ``release_sends``."""
        with self.lock:
            self.holding.add(name)

    def release_sends(self, name: str) -> None:
        with self.lock:
            self.holding.discard(name)
            self.lock.notify_all()

    def held_sends(self, name: str) -> int:
        """How many sends from process ``name`` are waiting now."""
        with self.lock:
            return self.held[name]

    def _wait_while_held(self, caller: str) -> None:
        with self.lock:
            if caller not in self.holding:
                return
            self.held[caller] += 1
            while caller in self.holding:
                self.lock.wait(0.5)
            self.held[caller] -= 1

    # --- updates from "users" -----------------------------------------------------------------
    def push(self, update: dict[str, Any]) -> int:
        with self.lock:
            update_id = self.next_update_id
            self.next_update_id += 1
            self.updates.append({"update_id": update_id, **update})
            self.lock.notify_all()
        return update_id

    # --- reading what the bot did -------------------------------------------------------------
    def wait_for(
        self, predicate: Callable[[list[Sent]], bool], timeout: float = 20.0
    ) -> list[Sent]:
        deadline = time.monotonic() + timeout
        with self.lock:
            while not predicate(self.sent):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"not seen in {timeout}s; sent so far: {[s.text[:80] for s in self.sent]}"
                    )
                self.lock.wait(min(left, 0.2))
            return list(self.sent)

    def wait_for_reply(self, chat_id: int, after: int = 0, timeout: float = 20.0) -> Sent:
        """The first message sent to chat_id beyond the first ``after`` ones to that chat."""
        sent = self.wait_for(lambda s: len([m for m in s if m.chat_id == chat_id]) > after, timeout)
        return [m for m in sent if m.chat_id == chat_id][after]

    async def next_reply(self, chat_id: int, after: int = 0, timeout: float = 20.0) -> Sent:
        """wait_for_reply for code running in an event loop (the bot may share it)."""
        return await asyncio.to_thread(self.wait_for_reply, chat_id, after, timeout)

    def sent_to(self, chat_id: int) -> list[Sent]:
        with self.lock:
            return [m for m in self.sent if m.chat_id == chat_id]

    def calls_of(self, method: str) -> list[dict[str, Any]]:
        with self.lock:
            return [p for m, p in self.calls if m == method]

    # --- the HTTP side ------------------------------------------------------------------------
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                caller, path = split_caller(unquote(urlsplit(self.path).path))
                prefix = f"/file/bot{api.token}/"
                if path.startswith(prefix) and path[len(prefix) :] in api.files:
                    self._reply(200, api.files[path[len(prefix) :]], "application/octet-stream")
                elif path.startswith(f"/bot{api.token}/"):
                    self._api(path, dict(parse_qsl(urlsplit(self.path).query)), caller)
                else:
                    self._reply(404, b'{"ok":false,"error_code":404,"description":"Not Found"}')

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                try:
                    body = self.rfile.read(length)
                except ConnectionResetError:
                    body = b""
                if len(body) < length:  # the client died while sending: nothing arrived
                    self.close_connection = True
                    return
                caller, path = split_caller(urlsplit(self.path).path)
                self._api(path, api.parse_body(self.headers.get("content-type", ""), body), caller)

            def _api(self, path: str, params: dict[str, Any], caller: str) -> None:
                token, _, method = path.removeprefix("/bot").partition("/")
                with api.lock:
                    api.callers.append((caller, token, method))
                if token != api.token:
                    status, payload = (
                        401,
                        {"ok": False, "error_code": 401, "description": "Unauthorized"},
                    )
                else:
                    status, payload = api.call(method, params, caller)
                self._reply(status, json.dumps(payload).encode())

            def _reply(
                self, status: int, body: bytes, content_type: str = "application/json"
            ) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (
                    BrokenPipeError,
                    ConnectionResetError,
                ):  # the client gave up (timeout, kill)
                    pass

        return Handler

    @staticmethod
    def parse_body(content_type: str, body: bytes) -> dict[str, Any]:
        """Form, multipart or JSON parameters; JSON-looking values decoded (PTB JSON-encodes
        objects such as reply_markup inside form fields)."""
        raw: dict[str, Any] = {}
        if content_type.startswith("application/json"):
            raw = json.loads(body or b"{}")
        elif content_type.startswith("multipart/form-data"):
            message = BytesParser(policy=HTTP).parsebytes(
                b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
            )
            for part in message.iter_parts():
                name = part.get_param("name", header="content-disposition")
                payload = part.get_payload(decode=True)
                if part.get_filename():
                    raw[str(name)] = {"filename": part.get_filename(), "content": payload}
                else:
                    raw[str(name)] = payload.decode() if isinstance(payload, bytes) else payload
        else:
            raw = dict(parse_qsl(body.decode()))
        for key, value in list(raw.items()):
            if isinstance(value, str) and value[:1] in "{[":
                with contextlib.suppress(ValueError):
                    raw[key] = json.loads(value)
        return raw

    def call(
        self, method: str, params: dict[str, Any], caller: str = ""
    ) -> tuple[int, dict[str, Any]]:
        if caller and method.startswith(("send", "edit")):
            self._wait_while_held(caller)
        with self.lock:
            self.calls.append((method, params))
            fault = self.faults[method].popleft() if self.faults[method] else None
            chat = (
                int(params["chat_id"])
                if str(params.get("chat_id", "")).lstrip("-").isdigit()
                else None
            )
            sending = chat is not None and method.startswith(("send", "edit"))
            if fault is None and chat in self.blocked_chats and sending:
                fault = Fault(403, self.blocked_chats[chat])
            if fault is None and sending and self.down is not None:
                fault = self.down
            if fault is None and sending and self.limits is not None:
                wait = self.limits.check(str(chat))
                if wait is not None:
                    fault = Fault(429, f"Too Many Requests: retry after {wait}", wait)
        if fault is not None and fault.delay:
            time.sleep(fault.delay)
        if fault is not None and fault.status:
            error: dict[str, Any] = {
                "ok": False,
                "error_code": fault.status,
                "description": fault.description,
            }
            if fault.retry_after is not None:
                error["parameters"] = {"retry_after": fault.retry_after}
            return fault.status, error
        handler = getattr(self, f"api_{method}", None)
        if handler is None:
            return 404, {
                "ok": False,
                "error_code": 404,
                "description": f"Not Found: method {method}",
            }
        if method == "getUpdates":
            return 200, {"ok": True, "result": handler(params)}
        with self.lock:
            self.current_caller = caller  # the process named on what the handler records
            result = handler(params)
            self.lock.notify_all()
        if isinstance(result, tuple):
            return result
        return 200, {"ok": True, "result": result}


def split_caller(path: str) -> tuple[str, str]:
    """``/<name>/bot<token>/<method>`` → (name, ``/bot<token>/<method>``); "" without a name."""
    first, _, rest = path.lstrip("/").partition("/")
    if first.startswith("bot") or first == "file":
        return "", path
    return first, "/" + rest
