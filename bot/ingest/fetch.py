"""Fetch stage: one URL in, one ``FetchResult`` out, or an error from ``bot.core.errors``.

A feed URL is untrusted, and so is the server behind it. This module bounds everything it
controls: a total deadline per fetch (slow drips included, not just per-read timeouts), the
body size *after* decompression (we decode gzip/deflate ourselves with ``max_length`` so a
gzip bomb never inflates past the cap), the redirect count (each hop re-checked by the SSRF
guard), and concurrency per host and overall. Every httpx exception is translated here.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http.cookiejar import CookieJar, DefaultCookiePolicy
from types import TracebackType

import httpx

from bot.core.errors import FeedUnavailable, FetchTooLarge, URLRefused
from bot.core.models import FetchResult
from bot.core.settings import Settings
from bot.ingest.netguard import guarded_transport, redact_url, validate_url
from bot.ingest.schedule import parse_retry_after

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/feed+json;q=0.9, application/xml;q=0.8, text/xml;q=0.8, "
    "application/json;q=0.5, */*;q=0.1"
)
HTML_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.1"
ACCEPT_ENCODING = "gzip, deflate"  # only what _BoundedDecoder can decode with a size bound
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# A response whose body we ignore (a 304, a redirect's note) is read to its end so that its
# connection goes back to the pool; one longer than this is cheaper to hang up on.
DISCARD_MAX_BYTES = 64 * 1024


@dataclass(frozen=True)
class FetchLimits:
    timeout: float = 20.0  # total seconds per fetch, redirects and body included
    max_body_bytes: int = 5 * 1024 * 1024  # decoded bytes
    max_redirects: int = 5
    per_host_concurrency: int = 2
    global_concurrency: int = 32
    user_agent: str = "Threatwatch/0.1 (+news alert bot; feed reader)"
    allow_private_networks: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> FetchLimits:
        return cls(
            timeout=settings.fetch_timeout,
            max_body_bytes=settings.max_body_bytes,
            max_redirects=settings.max_redirects,
            per_host_concurrency=settings.per_host_concurrency,
            global_concurrency=settings.global_concurrency,
            user_agent=settings.user_agent,
            allow_private_networks=settings.allow_private_networks,
        )


class _BoundedDecoder:
    """Decodes a Content-Encoding incrementally, refusing once output passes ``limit`` bytes.

    zlib's ``max_length`` stops inflation at limit+1 bytes, so memory stays near the cap no
    matter how compressible the input is (httpx's own decoder inflates a whole network read).
    """

    def __init__(self, content_encoding: str | None, limit: int, shown_url: str) -> None:
        codings = [c.strip().lower() for c in (content_encoding or "").split(",")]
        codings = [c for c in codings if c and c != "identity"]
        if len(codings) > 1 or (codings and codings[0] not in {"gzip", "x-gzip", "deflate"}):
            raise FeedUnavailable(
                f"unsupported Content-Encoding {content_encoding!r} from {shown_url}"
            )
        self._coding = codings[0] if codings else None
        self._limit = limit
        self._shown_url = shown_url
        self._produced = 0
        self._done = False
        self._pending = b""
        # "deflate" should be zlib-wrapped, but some servers send raw deflate: decide from the
        # first two bytes, so keep them until they have arrived.
        self._head: bytearray | None = bytearray() if self._coding == "deflate" else None
        self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)  # gzip; deflate decided later

    def _count(self, n: int) -> None:
        self._produced += n
        if self._produced > self._limit:
            raise FetchTooLarge(
                f"body of {self._shown_url} is larger than {self._limit} bytes "
                "(after decompression)"
            )

    def decode(self, data: bytes) -> bytes:
        if self._coding is None:
            self._count(len(data))
            return data
        if self._head is not None:
            self._head += data
            if len(self._head) < 2:
                return b""
            data, self._head = bytes(self._head), None
            cmf, flg = data[0], data[1]
            zlib_wrapped = cmf & 0x0F == 8 and (cmf * 256 + flg) % 31 == 0
            self._inflater = zlib.decompressobj(zlib.MAX_WBITS if zlib_wrapped else -zlib.MAX_WBITS)
        data, self._pending = self._pending + data, b""
        out = bytearray()
        while data and not self._done:
            if self._inflater.eof:  # after a complete stream: another gzip member, or junk
                if self._coding != "deflate" and len(data) < 2:
                    self._pending = data  # wait for the rest of the magic number
                    break
                if self._coding == "deflate" or not data.startswith(b"\x1f\x8b"):
                    self._done = True  # ignore trailing junk, as browsers do
                    break
                self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)  # next gzip member
            try:
                chunk = self._inflater.decompress(data, self._limit - self._produced + 1)
            except zlib.error:
                raise FeedUnavailable(f"corrupt compressed body from {self._shown_url}") from None
            self._count(len(chunk))  # raises as soon as output passes the cap
            out += chunk
            # unconsumed_tail is only non-empty when max_length stopped inflation, and then
            # _count has already raised; unused_data is what follows the end of the stream.
            data = self._inflater.unused_data if self._inflater.eof else b""
        return bytes(out)

    def flush(self) -> bytes:
        if self._coding is None or self._done or self._head is not None:
            return b""
        tail = self._inflater.flush()
        self._count(len(tail))
        return tail


@dataclass
class _Budget:
    """Seconds of network time left for one fetch (waiting for a semaphore is not charged)."""

    left: float


class Fetcher:
    """Async HTTP fetcher for feeds and article pages. Use as ``async with Fetcher(limits)``."""

    def __init__(
        self, limits: FetchLimits, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.limits = limits
        if transport is None:
            pool = httpx.Limits(
                max_connections=limits.global_concurrency,
                max_keepalive_connections=min(limits.global_concurrency, 16),
            )
            transport = guarded_transport(allow_private=limits.allow_private_networks, limits=pool)
        self._client = httpx.AsyncClient(
            transport=transport,
            follow_redirects=False,  # every hop goes through validate_url and our counter
            timeout=httpx.Timeout(limits.timeout),  # per operation; the total is ours
            headers={"User-Agent": limits.user_agent, "Accept-Encoding": ACCEPT_ENCODING},
            # No cookies: feeds do not need them, and one feed's cookies must not reach another.
            # (A bare CookieJar: wrapping it in httpx.Cookies would copy it and drop the policy.)
            cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
            trust_env=False,  # an environment proxy would bypass the SSRF guard
        )
        self._global = asyncio.Semaphore(limits.global_concurrency)
        self._hosts: dict[str, asyncio.Semaphore] = {}

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str = FEED_ACCEPT,
    ) -> FetchResult:
        """GET ``url`` (conditionally, when validators are given), following safe redirects.

        Returns a 2xx or 304 result; raises ``URLRefused``, ``FeedUnavailable`` or
        ``FetchTooLarge``.
        """
        allow_private = self.limits.allow_private_networks
        current = validate_url(url, allow_private=allow_private)
        headers = {"Accept": accept}
        # Validators are echoed from an earlier response; one that cannot be sent back as a
        # header (non-ASCII, line breaks) is dropped: conditional GET is only an optimisation.
        if etag and _sendable(etag):
            headers["If-None-Match"] = etag
        if last_modified and _sendable(last_modified):
            headers["If-Modified-Since"] = last_modified
        seen = {str(current)}
        budget = _Budget(self.limits.timeout)
        async with self._global:
            for _hop in range(self.limits.max_redirects + 1):
                outcome = await self._hop(current, headers, budget)
                if isinstance(outcome, FetchResult):
                    return outcome
                try:
                    target = current.join(outcome)
                except httpx.InvalidURL:
                    raise URLRefused("refused: redirect to a malformed URL") from None
                current = validate_url(target, allow_private=allow_private)
                if str(current) in seen:
                    raise FeedUnavailable(f"redirect loop at {redact_url(current)}")
                seen.add(str(current))
        raise FeedUnavailable(
            f"too many redirects (more than {self.limits.max_redirects}) from {redact_url(url)}"
        )

    def _host_semaphore(self, host: str) -> asyncio.Semaphore:
        # One entry per host ever fetched: bounded by the number of feeds, so no eviction.
        if host not in self._hosts:
            self._hosts[host] = asyncio.Semaphore(self.limits.per_host_concurrency)
        return self._hosts[host]

    async def _hop(
        self, url: httpx.URL, headers: Mapping[str, str], budget: _Budget
    ) -> FetchResult | str:
        """One request: a result, or the raw Location of a redirect."""
        shown = redact_url(url)
        loop = asyncio.get_running_loop()
        async with self._host_semaphore(url.host):
            started = loop.time()
            try:
                async with asyncio.timeout(budget.left):
                    return await self._request(url, headers, shown)
            except TimeoutError:
                raise FeedUnavailable(
                    f"timed out after {self.limits.timeout:g}s fetching {shown}"
                ) from None
            finally:
                budget.left -= loop.time() - started

    async def _request(
        self, url: httpx.URL, headers: Mapping[str, str], shown: str
    ) -> FetchResult | str:
        try:
            async with self._client.stream("GET", url, headers=headers) as response:
                return await self._handle(url, response, shown)
        except httpx.TimeoutException:
            raise FeedUnavailable(f"timed out fetching {shown}") from None
        except httpx.ConnectError as exc:
            raise FeedUnavailable(f"cannot connect to {shown}: {exc}") from None
        except httpx.InvalidURL as exc:
            raise URLRefused(f"refused: malformed URL ({exc})") from None
        except (httpx.HTTPError, httpx.StreamError) as exc:
            # Protocol errors, resets mid-body, truncated chunked encoding…
            raise FeedUnavailable(f"{type(exc).__name__} fetching {shown}: {exc}") from None

    async def _handle(
        self, url: httpx.URL, response: httpx.Response, shown: str
    ) -> FetchResult | str:
        status = response.status_code
        headers = {name.lower(): value for name, value in response.headers.items()}
        if status in REDIRECT_STATUSES:
            location = headers.get("location", "").strip()
            if not location:
                raise FeedUnavailable(f"HTTP {status} without Location from {shown}", status=status)
            await _discard_body(response)
            return location
        if status == 304:
            await _discard_body(response)
            return FetchResult(
                url=str(url), status=304, content=b"", headers=headers, not_modified=True
            )
        if not 200 <= status < 300:
            retry_after = parse_retry_after(headers.get("retry-after"), datetime.now(UTC))
            raise FeedUnavailable(
                f"HTTP {status} from {shown}", retry_after=retry_after, status=status
            )
        content = await self._read_body(response, headers, shown)
        return FetchResult(url=str(url), status=status, content=content, headers=headers)

    async def _read_body(
        self, response: httpx.Response, headers: Mapping[str, str], shown: str
    ) -> bytes:
        cap = self.limits.max_body_bytes
        declared = headers.get("content-length", "").strip()
        # Encoded length over the cap means the decoded body is too (compression only grows
        # it), so refuse before reading a byte.
        if declared.isdigit() and int(declared) > cap:
            raise FetchTooLarge(
                f"body of {shown} is {int(declared)} bytes, over the {cap}-byte limit"
            )
        decoder = _BoundedDecoder(headers.get("content-encoding"), cap, shown)
        body = bytearray()
        async for raw in response.aiter_raw():
            body += decoder.decode(raw)
        body += decoder.flush()
        return bytes(body)


async def _discard_body(response: httpx.Response) -> None:
    """Read the rest of a body we do not use, up to DISCARD_MAX_BYTES. httpcore only pools a
    connection whose response was read to the end; otherwise it closes it, and the next request
    to that host pays for a new connection (and address check). A failure here loses nothing:
    everything we need of the response is in its headers."""
    read = 0
    try:
        async for chunk in response.aiter_raw():
            read += len(chunk)
            if read > DISCARD_MAX_BYTES:
                return
    except (httpx.HTTPError, httpx.StreamError):
        return


def _sendable(value: str) -> bool:
    return value.isascii() and value.isprintable()
