"""RecordedFeedServer: a small local HTTP server for feed captures, with fault routes.

Used by the test suite and by ``threatwatch demo`` (so it ships in the package). It behaves
like a well-run feed host (strong ETag, Last-Modified, 304) and, on request, like a bad one:

    /_slow/<seconds>/<path>             wait, then serve <path>
    /_drip/<seconds_per_chunk>/<path>   serve <path> a few bytes at a time (?chunk=N bytes)
    /_redirect/<n>/<path>               n relative redirects, then <path>
    /_redirect_to?url=<absolute URL>    one redirect to any URL (e.g. a forbidden address)
    /_loop                              redirect loop between /_loop and /_loop/b
    /_status/<code>[?retry_after=V]     bare status, optional Retry-After: V
    /_big/<n_bytes>                     oversize body with an honest Content-Length
    /_big_chunked/<n_bytes>             oversize body, chunked, no Content-Length
    /_gzipbomb/<n_bytes>                small gzip body that decodes to n_bytes of zeros
    /_gzip/<path>                       <path> with Content-Encoding: gzip

``*.gz`` files are served as stored (application/gzip, no Content-Encoding), as a static
host would. Everything binds to 127.0.0.1 (or another loopback address given as ``host``) on a
free port.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import socket
import threading
import time
import zlib
from collections.abc import Iterator
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Self
from urllib.parse import parse_qs, unquote, urlsplit

from bot.localserver import LocalHTTPServer, OwnedHTTPServer

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
        split = urlsplit(self.path)
        parts = unquote(split.path).lstrip("/").split("/")
        query = parse_qs(split.query)
        route, args = parts[0], parts[1:]
        if route == "_slow" and args:
            self._wait(float(args[0]))
            return self._serve("/".join(args[1:]))
        if route == "_drip" and args:
            chunk = int(query.get("chunk", ["64"])[0])
            return self._serve("/".join(args[1:]), drip=(float(args[0]), chunk))
        if route == "_redirect" and args:
            hops, rest = int(args[0]), "/".join(args[1:])
            if hops <= 0:
                return self._serve(rest)
            return self._redirect(f"/_redirect/{hops - 1}/{rest}")
        if route == "_redirect_to":
            return self._redirect(query.get("url", ["/"])[0])
        if route == "_loop":
            return self._redirect("/_loop" if args else "/_loop/b")
        if route == "_status" and args:
            extra = {"Retry-After": query["retry_after"][0]} if "retry_after" in query else {}
            return self._send(int(args[0]), b"", "text/plain", extra)
        if route == "_big" and args:
            return self._send_stream(int(args[0]), chunked=False)
        if route == "_big_chunked" and args:
            return self._send_stream(int(args[0]), chunked=True)
        if route == "_gzipbomb" and args:
            body = _gzip_zeros(int(args[0]))
            return self._send(200, body, "application/rss+xml", {"Content-Encoding": "gzip"})
        if route == "_gzip" and args:
            return self._serve("/".join(args), gzip_it=True)
        return self._serve(unquote(split.path))

    # --- responses ----------------------------------------------------------------------------
    def _serve(
        self, path: str, *, drip: tuple[float, int] | None = None, gzip_it: bool = False
    ) -> None:
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
        self._send(200, body, doc.content_type, headers, drip=drip)

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

    def _redirect(self, location: str) -> None:
        self._send(302, b"", "text/plain", {"Location": location})

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str | None,
        headers: dict[str, str] | None = None,
        *,
        drip: tuple[float, int] | None = None,
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
        if drip is None:
            self.wfile.write(body)
            return
        delay, size = drip
        for start in range(0, len(body), max(1, size)):
            if not self._wait(delay):
                return
            self.wfile.write(body[start : start + size])
            self.wfile.flush()

    def _send_stream(self, n_bytes: int, *, chunked: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(n_bytes))
        self.end_headers()
        if self.command == "HEAD":
            return
        block = b"x" * 65536
        remaining = n_bytes
        while remaining > 0 and not self.server.owner.stopping.is_set():
            piece = block[: min(remaining, len(block))]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            remaining -= len(piece)
        if chunked:
            self.wfile.write(b"0\r\n\r\n")

    def _wait(self, seconds: float) -> bool:
        """Sleep, but wake up at once when the server stops. False if stopping."""
        return not self.server.owner.stopping.wait(seconds)


_BOMB_CACHE: dict[int, bytes] = {}
_BOMB_LOCK = threading.Lock()


def _gzip_zeros(n_bytes: int) -> bytes:
    """A gzip member that decodes to ``n_bytes`` zero bytes (about 1000:1), built in slices."""
    with _BOMB_LOCK:
        if n_bytes not in _BOMB_CACHE:
            comp = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
            slab = bytes(1 << 20)
            parts, remaining = [], n_bytes
            while remaining > 0:
                parts.append(comp.compress(slab[: min(remaining, len(slab))]))
                remaining -= len(slab)
            parts.append(comp.flush())
            _BOMB_CACHE[n_bytes] = b"".join(parts)
        return _BOMB_CACHE[n_bytes]


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
    def _handler(self) -> type[_Handler]:
        return _Handler

    def start(self) -> Self:
        self.stopping.clear()
        return super().start()

    def _release_requests(self) -> None:
        self.stopping.set()  # wakes sleeping fault routes
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
