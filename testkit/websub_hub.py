"""LocalHub: a small WebSub hub on 127.0.0.1 for tests and benchmarks.

It implements the hub's side of W3C WebSub that a subscriber meets:

* ``POST /`` with ``hub.mode=subscribe|unsubscribe``: answered 202, then the intent is verified
  with a GET to the callback (``hub.challenge`` must come back as the body, with a 2xx); only then
  is the subscription active, for the lease the hub grants. ``deny=True`` sends
  ``hub.mode=denied`` instead.
* ``POST /`` with ``hub.mode=publish`` and ``hub.url`` (or ``hub.topic``), or ``publish()`` from
  Python: the hub fetches the topic and POSTs it to every active subscriber of that topic, signed
  with ``X-Hub-Signature: sha256=…`` (HMAC of the body with the subscriber's ``hub.secret``), with
  ``Link`` headers naming the hub and the topic.

Everything it did is recorded (``requests``, ``verifications``, ``deliveries``) for assertions.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qsl

import httpx

from bot.demo.localserver import LocalHTTPServer, OwnedHTTPServer
from bot.websub.protocol import sign


@dataclass
class HubSubscription:
    topic: str
    callback: str
    secret: str | None
    lease_seconds: int
    expires_at: float


@dataclass(frozen=True)
class Verification:
    callback: str
    mode: str
    status: int
    confirmed: bool  # 2xx and the challenge echoed exactly


@dataclass(frozen=True)
class HubDelivery:
    callback: str
    topic: str
    status: int


class _Server(OwnedHTTPServer):
    owner: LocalHub


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        form = dict(parse_qsl(self.rfile.read(length).decode("utf-8", "replace")))
        status = self.server.owner._request(form)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.send_header("Connection", "close")  # no idle keep-alive thread to wait for on stop
        self.end_headers()
        self.close_connection = True


class LocalHub(LocalHTTPServer):
    server_class = _Server

    def __init__(
        self,
        *,
        lease_seconds: int | None = None,
        deny: bool = False,
        signature_method: str = "sha256",
        host: str = "127.0.0.1",
    ) -> None:
        super().__init__(host)
        self.lease_seconds = lease_seconds  # granted instead of the requested lease, if set
        self.deny = deny
        self.signature_method = signature_method
        self.requests: list[dict[str, str]] = []
        self.verifications: list[Verification] = []
        self.deliveries: list[HubDelivery] = []
        self.subscriptions: dict[tuple[str, str], HubSubscription] = {}
        self.lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._client = httpx.Client(timeout=10, trust_env=False)

    # --- lifecycle ----------------------------------------------------------------------------
    def _handler(self) -> type[_Handler]:
        return _Handler

    def stop(self) -> None:
        if self._server is None:
            return
        super().stop()
        for thread in list(self._threads):  # verifications and deliveries use the client
            thread.join(timeout=15)
        self._client.close()

    @property
    def url(self) -> str:
        return self.base_url + "/"

    # --- what subscribers and publishers see ---------------------------------------------------
    def active(self, topic: str) -> list[HubSubscription]:
        now = time.time()
        with self.lock:
            return [
                s for s in self.subscriptions.values() if s.topic == topic and s.expires_at > now
            ]

    def publish(
        self, topic: str, content: bytes | None = None, content_type: str = ""
    ) -> list[int]:
        """Distribute ``content`` (default: the topic as fetched now) to the topic's active
        subscribers, signed; returns each callback's HTTP status."""
        if content is None:
            response = self._client.get(topic)
            content, content_type = response.content, response.headers.get("content-type", "")
        statuses = []
        for sub in self.active(topic):
            headers = {
                "Content-Type": content_type or "application/xml",
                "Link": f'<{self.url}>; rel="hub", <{topic}>; rel="self"',
            }
            if sub.secret:
                headers["X-Hub-Signature"] = sign(content, sub.secret, self.signature_method)
            try:
                status = self._client.post(
                    sub.callback, content=content, headers=headers
                ).status_code
            except httpx.HTTPError:
                status = 0
            with self.lock:
                self.deliveries.append(HubDelivery(sub.callback, topic, status))
            statuses.append(status)
        return statuses

    def wait_for_verification(self, count: int = 1, timeout: float = 30) -> list[Verification]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.verifications) >= count:
                    return list(self.verifications)
            time.sleep(0.02)
        raise AssertionError(f"fewer than {count} verifications: {self.verifications}")

    # --- the hub's work -----------------------------------------------------------------------
    def _request(self, form: dict[str, str]) -> int:
        with self.lock:
            self.requests.append(form)
        mode = form.get("hub.mode")
        if mode == "publish":
            topic = form.get("hub.url") or form.get("hub.topic")
            if not topic:
                return 400
            self._background(self.publish, topic)
            return 204
        if mode not in ("subscribe", "unsubscribe") or not form.get("hub.callback"):
            return 400
        if not form.get("hub.topic"):
            return 400
        self._background(self._verify, form)
        return 202

    def _background(self, target: Callable[..., object], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        with self.lock:
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def _verify(self, form: dict[str, str]) -> None:
        topic, callback, mode = form["hub.topic"], form["hub.callback"], form["hub.mode"]
        requested = int(form.get("hub.lease_seconds") or 864_000)
        lease = self.lease_seconds if self.lease_seconds is not None else requested
        challenge = secrets.token_urlsafe(16)
        params = {"hub.mode": mode, "hub.topic": topic}
        if self.deny:
            params = {"hub.mode": "denied", "hub.topic": topic, "hub.reason": "not allowed"}
        else:
            params |= {"hub.challenge": challenge, "hub.lease_seconds": str(lease)}
        try:
            response = self._client.get(callback, params=params)
            status, body = response.status_code, response.text
        except httpx.HTTPError:
            status, body = 0, ""
        confirmed = not self.deny and 200 <= status < 300 and body == challenge
        with self.lock:
            self.verifications.append(Verification(callback, params["hub.mode"], status, confirmed))
            if confirmed and mode == "subscribe":
                self.subscriptions[(topic, callback)] = HubSubscription(
                    topic, callback, form.get("hub.secret"), lease, time.time() + lease
                )
            elif confirmed:
                self.subscriptions.pop((topic, callback), None)
