"""FeedServer: the demo's RecordedFeedServer with fault routes, for tests and benches.

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
"""

from __future__ import annotations

import threading
import zlib
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, unquote, urlsplit

from bot.demo.feedserver import RecordedFeedServer, _Handler

__all__ = ["FeedServer"]


class _FaultHandler(_Handler):
    _drip: tuple[float, int] | None = None

    def _route(self) -> None:
        self._drip = None  # a kept-alive connection's next request starts plain
        split = urlsplit(self.path)
        parts = unquote(split.path).lstrip("/").split("/")
        query = parse_qs(split.query)
        route, args = parts[0], parts[1:]
        if route == "_slow" and args:
            self._wait(float(args[0]))
            return self._serve("/".join(args[1:]))
        if route == "_drip" and args:
            self._drip = (float(args[0]), int(query.get("chunk", ["64"])[0]))
            return self._serve("/".join(args[1:]))
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
        return super()._route()

    def _write_body(self, body: bytes) -> None:
        if self._drip is None:
            return super()._write_body(body)
        delay, size = self._drip
        for start in range(0, len(body), max(1, size)):
            if not self._wait(delay):
                return
            self.wfile.write(body[start : start + size])
            self.wfile.flush()

    def _redirect(self, location: str) -> None:
        self._send(302, b"", "text/plain", {"Location": location})

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


class FeedServer(RecordedFeedServer):
    """A RecordedFeedServer that also answers the fault routes above."""

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        return _FaultHandler
