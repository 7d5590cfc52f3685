"""RecordedFeedServer: a small local HTTP server for recorded feed captures.

``threatwatch demo`` serves its bundled feeds with it. It behaves like a well-run feed host:
strong ETag, Last-Modified, 304. ``*.gz`` files are served as stored (application/gzip, no
Content-Encoding), as a static host would. Everything binds to 127.0.0.1 (or another loopback
address given as ``host``) on a free port. The test kit (testkit/feedserver.py) adds fault
routes on top of it: slow, dripping, redirecting and oversize responses.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import socket
import threading
import time
from collections.abc import Iterator
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Self
from urllib.parse import unquote, urlsplit

from bot.demo.localserver import LocalHTTPServer, OwnedHTTPServer

RequestRecord = tuple[str, str, dict[str, str]]  # (method, path with query, lower-case headers)


class _Document:
    def __init__(self, content: bytes, content_type: str, mtime: float) -> None:
        self.content = content
        self.content_type = content_type
        self.etag = '"' + hashlib.sha256(content).hexdigest()[:32] + '"'
        self.last_modified = formatdate(int(mtime), usegmt=True)
        self.mtime = int(mtime)


def guess_content_type(name: str, content: bytes) -> str:
    """Content-Type for a feed document, by extension first, then by sniffing the start."""
    lower = name.lower()
    if lower.endswith(".gz"):
        return "application/gzip"
    if lower.endswith(".json"):
        return "application/feed+json" if b"jsonfeed.org" in content[:2048] else "application/json"
    if lower.endswith(".rss"):
        return "application/rss+xml"
    if lower.endswith(".atom"):
        return "application/atom+xml"
    head = content[:2048]
    if b"<rss" in head:
        return "application/rss+xml"
    if b"<feed" in head:
        return "application/atom+xml"
    if b"<rdf:RDF" in head:
        return "application/rdf+xml"
    if lower.endswith((".html", ".htm")):
        return "text/html; charset=utf-8"
    return (
        "application/xml"
        if lower.endswith(".xml") or head.lstrip().startswith(b"<")
        else ("application/octet-stream")
    )


class _Server(OwnedHTTPServer):
    owner: RecordedFeedServer

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients hang up mid-body on purpose (size caps, timeouts): stay quiet


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: with Nagle's algorithm the body would wait for the
    # client's delayed ACK (~40 ms a response), which no production feed host makes us pay.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        pass

    def setup(self) -> None:
        super().setup()
        self.server.owner._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.owner._track(self.connection, add=False)

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        owner = self.server.owner
        owner._record(self.command, self.path, {k.lower(): v for k, v in self.headers.items()})
        with owner._in_flight():
            try:
                self._route()
            except (ConnectionError, TimeoutError):
                self.close_connection = True

    # --- routing ------------------------------------------------------------------------------
    def _route(self) -> None:
        self._serve(unquote(urlsplit(self.path).path))

    # --- responses ----------------------------------------------------------------------------
    def _serve(self, path: str, *, gzip_it: bool = False) -> None:
        doc = self.server.owner._document(path)
        if doc is None:
            return self._send(404, b"not found\n", "text/plain")
        headers = {"ETag": doc.etag, "Last-Modified": doc.last_modified}
        if self._not_modified(doc):
            return self._send(304, b"", None, headers)
        body = doc.content
        if gzip_it:
            body = gzip.compress(body, mtime=0)
            headers["Content-Encoding"] = "gzip"
        self._send(200, body, doc.content_type, headers)

    def _not_modified(self, doc: _Document) -> bool:
        # RFC 9110 13.2.2: If-None-Match wins over If-Modified-Since when both are present.
        inm = self.headers.get("If-None-Match")
        if inm is not None:
            tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
            return "*" in tags or doc.etag in tags
        ims = self.headers.get("If-Modified-Since")
        if ims is None:
            return False
        try:
            return doc.mtime <= parsedate_to_datetime(ims).timestamp()
        except (TypeError, ValueError):
            return False

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str | None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        if content_type is not None and status != 304:
            self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command == "HEAD" or status == 304:
            return
        self._write_body(body)

    def _write_body(self, body: bytes) -> None:
        self.wfile.write(body)


class RecordedFeedServer(LocalHTTPServer):
    """Serve files under ``root`` (plus in-memory documents) on 127.0.0.1, port chosen by the OS."""

    server_class = _Server

    def __init__(self, root: Path, host: str = "127.0.0.1") -> None:
        super().__init__(host)
        self.root = Path(root).resolve()
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._docs: dict[str, _Document] = {}
        self._requests: list[RequestRecord] = []
        self._connections: set[socket.socket] = set()
        self._active = 0
        self._max_active = 0

    # --- lifecycle ----------------------------------------------------------------------------
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        return _Handler

    def start(self) -> Self:
        self.stopping.clear()
        return super().start()

    def _release_requests(self) -> None:
        self.stopping.set()  # wakes handlers that wait (the test kit's slow routes)
        with self._lock:  # unblock handlers waiting on idle keep-alive connections
            for conn in list(self._connections):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    # --- content and observations -------------------------------------------------------------
    def set_file(self, path: str, content: bytes, content_type: str | None = None) -> None:
        """Add or replace an in-memory document; it shadows any file with the same path."""
        key = path.lstrip("/")
        ctype = content_type or guess_content_type(key, content)
        with self._lock:
            self._docs[key] = _Document(content, ctype, time.time())

    @property
    def requests(self) -> list[RequestRecord]:
        """A snapshot of every request received so far."""
        with self._lock:
            return list(self._requests)

    @property
    def max_in_flight(self) -> int:
        """The most requests that were being answered at the same moment."""
        with self._lock:
            return self._max_active

    def reset(self) -> None:
        """Forget recorded requests and the concurrency high-water mark."""
        with self._lock:
            self._requests.clear()
            self._max_active = self._active

    # --- used by the handler ------------------------------------------------------------------
    def _document(self, path: str) -> _Document | None:
        key = path.lstrip("/")
        with self._lock:
            doc = self._docs.get(key)
        if doc is not None:
            return doc
        target = (self.root / key).resolve()
        if not key or not target.is_relative_to(self.root) or not target.is_file():
            return None  # also refuses ../ traversal out of root
        content = target.read_bytes()
        return _Document(content, guess_content_type(key, content), target.stat().st_mtime)

    def _record(self, method: str, path: str, headers: dict[str, str]) -> None:
        with self._lock:
            self._requests.append((method, path, headers))

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    @contextlib.contextmanager
    def _in_flight(self) -> Iterator[None]:
        """Count concurrent requests so tests can check per-host concurrency limits."""
        with self._lock:
            self._active += 1
            self._max_active = max(self._max_active, self._active)
        try:
            yield
        finally:
            with self._lock:
                self._active -= 1
