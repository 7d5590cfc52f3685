"""Fetcher against the recorded feed server (loopback, so allow_private_networks=True)."""

from __future__ import annotations

import asyncio
import gzip
import socket
import time
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from bot.core.errors import FeedUnavailable, FetchTooLarge, URLRefused
from bot.core.settings import Settings
from bot.ingest import netguard
from bot.ingest.fetch import DISCARD_MAX_BYTES, FEED_ACCEPT, Fetcher, FetchLimits
from testkit.feedserver import FeedServer

FEED = "news-bbc-world-rss2.xml"
MIB = 1024 * 1024


def limits(**overrides: object) -> FetchLimits:
    base: dict[str, object] = {
        "timeout": 5.0,
        "max_body_bytes": MIB,
        "max_redirects": 3,
        "allow_private_networks": True,
        "user_agent": "ThreatwatchTest/1.0",
    }
    base.update(overrides)
    return FetchLimits(**base)  # type: ignore[arg-type]


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    async with Fetcher(limits()) as f:
        yield f


class Chunks(httpx.AsyncByteStream):
    """A response body that arrives in small pieces, as from a socket (MockTransport responses
    built with ``content=`` are pre-read, which the streaming fetcher never sees for real)."""

    def __init__(self, data: bytes, size: int = 7) -> None:
        self._parts = [data[i : i + size] for i in range(0, len(data), size)]

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for part in self._parts:
            yield part


def respond(
    status: int, body: bytes = b"", headers: dict[str, str] | None = None
) -> httpx.Response:
    return httpx.Response(status, headers=headers, stream=Chunks(body))


def mock_fetcher(handler: Callable[[httpx.Request], httpx.Response], **kw: object) -> Fetcher:
    return Fetcher(limits(**kw), transport=httpx.MockTransport(handler))


def test_limits_from_settings() -> None:
    s = Settings.model_validate(
        {
            "fetch_timeout": 7,
            "max_body_bytes": 1234,
            "max_redirects": 2,
            "per_host_concurrency": 1,
            "global_concurrency": 4,
            "user_agent": "UA",
            "allow_private_networks": True,
        }
    )
    assert FetchLimits.from_settings(s) == FetchLimits(7, 1234, 2, 1, 4, "UA", True)


# --- success, validators, 304 ---------------------------------------------------------------------
async def test_200_with_validators(
    fetcher: Fetcher, feed_server: FeedServer, feeds_dir: Path
) -> None:
    result = await fetcher.fetch(feed_server.url(FEED))
    assert result.status == 200 and not result.not_modified
    assert result.content == (feeds_dir / FEED).read_bytes()
    assert result.url == feed_server.url(FEED)
    assert result.etag and result.etag.startswith('"')
    assert result.last_modified and result.last_modified.endswith("GMT")
    assert result.headers["content-type"] == "application/rss+xml"
    assert all(name == name.lower() for name in result.headers)


async def test_second_poll_is_conditional_and_gets_304(
    fetcher: Fetcher, feed_server: FeedServer
) -> None:
    first = await fetcher.fetch(feed_server.url(FEED))
    second = await fetcher.fetch(
        feed_server.url(FEED), etag=first.etag, last_modified=first.last_modified
    )
    assert second.not_modified and second.status == 304 and second.content == b""
    sent = feed_server.requests[-1][2]
    assert sent["if-none-match"] == first.etag
    assert sent["if-modified-since"] == first.last_modified
    assert "if-none-match" not in feed_server.requests[0][2]


async def test_if_modified_since_alone_and_changed_content(
    fetcher: Fetcher, feed_server: FeedServer
) -> None:
    feed_server.set_file("live.xml", b"<rss><channel><title>one</title></channel></rss>")
    first = await fetcher.fetch(feed_server.url("live.xml"))
    assert (await fetcher.fetch(feed_server.url("live.xml"),
                                last_modified=first.last_modified)).not_modified  # fmt: skip
    feed_server.set_file("live.xml", b"<rss><channel><title>two</title></channel></rss>")
    changed = await fetcher.fetch(feed_server.url("live.xml"), etag=first.etag)
    assert changed.status == 200 and b"two" in changed.content and changed.etag != first.etag


async def test_request_headers(fetcher: Fetcher, feed_server: FeedServer) -> None:
    await fetcher.fetch(feed_server.url(FEED))
    sent = feed_server.requests[0][2]
    assert sent["user-agent"] == "ThreatwatchTest/1.0"
    assert sent["accept"] == FEED_ACCEPT
    assert sent["accept-encoding"] == "gzip, deflate"


async def test_gzip_content_encoding_is_decoded(
    fetcher: Fetcher, feed_server: FeedServer, feeds_dir: Path
) -> None:
    result = await fetcher.fetch(feed_server.url(f"_gzip/{FEED}"))
    assert result.content == (feeds_dir / FEED).read_bytes()


async def test_gz_file_without_content_encoding_is_left_alone(
    fetcher: Fetcher, feed_server: FeedServer, feeds_dir: Path
) -> None:
    name = "gzip-orenru-rss2-windows-1251.xml.gz"
    result = await fetcher.fetch(feed_server.url(name))
    assert result.content == (feeds_dir / name).read_bytes()
    assert result.headers["content-type"] == "application/gzip"


# --- time limits -------------------------------------------------------------------------------
async def test_slow_server_hits_total_timeout(feed_server: FeedServer) -> None:
    async with Fetcher(limits(timeout=0.5)) as fetcher:
        started = time.monotonic()
        with pytest.raises(FeedUnavailable, match="timed out"):
            await fetcher.fetch(feed_server.url(f"_slow/10/{FEED}"))
    assert time.monotonic() - started < 2.0


async def test_drip_body_hits_total_timeout(feed_server: FeedServer) -> None:
    # Each chunk arrives well within the per-read timeout; only the total deadline stops it.
    async with Fetcher(limits(timeout=0.6)) as fetcher:
        started = time.monotonic()
        with pytest.raises(FeedUnavailable, match="timed out after 0.6s"):
            await fetcher.fetch(feed_server.url(f"_drip/0.05/{FEED}?chunk=16"))
    assert time.monotonic() - started < 2.0
    assert feed_server.requests  # the body had started arriving


async def test_connection_refused_is_unavailable(fetcher: Fetcher) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(FeedUnavailable, match="cannot connect") as info:
        await fetcher.fetch(f"http://127.0.0.1:{port}/feed")
    assert info.value.status is None


async def test_unresolvable_host_is_unavailable(fetcher: Fetcher) -> None:
    with pytest.raises(FeedUnavailable, match="cannot resolve host no-such-host.invalid"):
        await fetcher.fetch("http://no-such-host.invalid/feed")


async def test_connection_is_reused_after_304_and_redirects(
    feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A 304 or a redirect is read to its end, so the next request to the host reuses the
    # connection instead of opening (and address-checking) a new one.
    opened: list[str] = []
    connect = netguard.GuardedBackend.connect_tcp

    async def counting_connect(
        self: netguard.GuardedBackend, host: str, port: int, **kw: Any
    ) -> Any:
        opened.append(host)
        return await connect(self, host, port, **kw)

    monkeypatch.setattr(netguard.GuardedBackend, "connect_tcp", counting_connect)
    async with Fetcher(limits(per_host_concurrency=1)) as fetcher:
        first = await fetcher.fetch(feed_server.url(FEED))
        for _ in range(3):
            assert (await fetcher.fetch(feed_server.url(FEED), etag=first.etag)).not_modified
        assert (await fetcher.fetch(feed_server.url(f"_redirect/2/{FEED}"))).status == 200
    assert len(feed_server.requests) == 7
    assert opened == ["127.0.0.1"]


async def test_redirect_with_a_long_body_is_followed() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/old":
            note = (
                b"moved " * DISCARD_MAX_BYTES
            )  # more than is worth reading to keep the connection
            return respond(301, note, headers={"Location": "/new"})
        return respond(200, b"<rss/>")

    async with mock_fetcher(handler) as fetcher:
        result = await fetcher.fetch("http://feeds.example/old")
    assert result.url == "http://feeds.example/new" and result.content == b"<rss/>"


# --- redirects ----------------------------------------------------------------------------------
async def test_redirect_chain_within_limit(
    fetcher: Fetcher, feed_server: FeedServer, feeds_dir: Path
) -> None:
    result = await fetcher.fetch(feed_server.url(f"_redirect/3/{FEED}"))
    assert result.content == (feeds_dir / FEED).read_bytes()
    assert result.url == feed_server.url(f"_redirect/0/{FEED}")
    assert len(feed_server.requests) == 4


async def test_redirect_chain_beyond_limit(fetcher: Fetcher, feed_server: FeedServer) -> None:
    with pytest.raises(FeedUnavailable, match="too many redirects"):
        await fetcher.fetch(feed_server.url(f"_redirect/4/{FEED}"))
    assert len(feed_server.requests) == 4  # first request + 3 followed hops, no more


async def test_redirect_loop_detected(fetcher: Fetcher, feed_server: FeedServer) -> None:
    with pytest.raises(FeedUnavailable, match="redirect loop"):
        await fetcher.fetch(feed_server.url("_loop"))
    assert len(feed_server.requests) == 2


async def test_absolute_redirect(fetcher: Fetcher, feed_server: FeedServer) -> None:
    result = await fetcher.fetch(feed_server.url(f"_redirect_to?url={feed_server.url(FEED)}"))
    assert result.status == 200 and result.url == feed_server.url(FEED)


async def test_redirect_without_location() -> None:
    async with mock_fetcher(lambda request: respond(302)) as fetcher:
        with pytest.raises(FeedUnavailable, match="without Location") as info:
            await fetcher.fetch("http://feeds.example/rss")
    assert info.value.status == 302


async def test_relative_location_resolved() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        if request.url.path == "/a/b/feed":
            return respond(301, headers={"Location": "../new/feed.xml"})
        return respond(200, b"<rss/>")

    async with mock_fetcher(handler) as fetcher:
        result = await fetcher.fetch("http://feeds.example/a/b/feed")
    assert seen[-1] == result.url == "http://feeds.example/a/new/feed.xml"


# --- status codes --------------------------------------------------------------------------------
@pytest.mark.parametrize("code", [400, 401, 403, 404, 410])
async def test_client_errors(fetcher: Fetcher, feed_server: FeedServer, code: int) -> None:
    with pytest.raises(FeedUnavailable, match=f"HTTP {code}") as info:
        await fetcher.fetch(feed_server.url(f"_status/{code}"))
    assert info.value.status == code and info.value.retry_after is None


@pytest.mark.parametrize(("code", "retry_after"), [(429, "120"), (503, "7"), (500, None)])
async def test_server_errors_with_retry_after(
    fetcher: Fetcher, feed_server: FeedServer, code: int, retry_after: str | None
) -> None:
    query = f"?retry_after={retry_after}" if retry_after else ""
    with pytest.raises(FeedUnavailable) as info:
        await fetcher.fetch(feed_server.url(f"_status/{code}{query}"))
    assert info.value.status == code
    assert info.value.retry_after == (float(retry_after) if retry_after else None)


async def test_retry_after_http_date(fetcher: Fetcher, feed_server: FeedServer) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(hours=1), usegmt=True)
    with pytest.raises(FeedUnavailable) as info:
        await fetcher.fetch(feed_server.url(f"_status/503?retry_after={quote(when)}"))
    assert info.value.retry_after is not None and 3500 < info.value.retry_after <= 3600


async def test_messages_do_not_leak_query_tokens(fetcher: Fetcher, feed_server: FeedServer) -> None:
    with pytest.raises(FeedUnavailable) as info:
        await fetcher.fetch(feed_server.url("_status/500?token=SECRET123"))
    assert "SECRET123" not in str(info.value)


# --- size caps ---------------------------------------------------------------------------------
async def test_oversize_with_content_length(fetcher: Fetcher, feed_server: FeedServer) -> None:
    with pytest.raises(FetchTooLarge, match="over the 1048576-byte limit"):
        await fetcher.fetch(feed_server.url(f"_big/{50 * MIB}"))


async def test_oversize_chunked(fetcher: Fetcher, feed_server: FeedServer) -> None:
    with pytest.raises(FetchTooLarge, match="larger than 1048576 bytes"):
        await fetcher.fetch(feed_server.url(f"_big_chunked/{50 * MIB}"))


async def test_body_exactly_at_cap_is_accepted(feed_server: FeedServer) -> None:
    async with Fetcher(limits(max_body_bytes=1000)) as fetcher:
        assert len((await fetcher.fetch(feed_server.url("_big_chunked/1000"))).content) == 1000
        with pytest.raises(FetchTooLarge):
            await fetcher.fetch(feed_server.url("_big_chunked/1001"))


async def test_gzip_bomb_refused_with_bounded_memory(
    fetcher: Fetcher, feed_server: FeedServer
) -> None:
    bomb = feed_server.url(f"_gzipbomb/{200 * MIB}")  # ~200 KiB on the wire
    with pytest.raises(FetchTooLarge):
        await fetcher.fetch(bomb)  # warm-up: the server builds and caches the bomb
    tracemalloc.start()
    try:
        with pytest.raises(FetchTooLarge, match="after decompression"):
            await fetcher.fetch(bomb)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * MIB, f"peak {peak} bytes while refusing a 200 MiB gzip bomb"


# --- content codings, with a mock transport --------------------------------------------------
BODY = b"<rss><channel><title>t</title></channel></rss>" * 50


def _gzip(data: bytes) -> bytes:
    # mtime=0: a gzip header carries the time it was made, and these payloads are parameter ids,
    # which must be identical in every test worker that collects them.
    return gzip.compress(data, mtime=0)


def _raw_deflate(data: bytes) -> bytes:
    comp = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return comp.compress(data) + comp.flush()


@pytest.mark.parametrize(
    ("encoding", "payload"),
    [
        ("gzip", _gzip(BODY)),
        ("x-gzip", _gzip(BODY)),
        ("deflate", zlib.compress(BODY)),
        ("deflate", _raw_deflate(BODY)),
        ("gzip", _gzip(BODY[:100]) + _gzip(BODY[100:])),  # two members
        ("gzip", _gzip(BODY) + b"\0\0trailing junk"),
        ("identity", BODY),
    ],
)
async def test_content_codings(encoding: str, payload: bytes) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return respond(200, payload, {"Content-Encoding": encoding})

    async with mock_fetcher(handler) as fetcher:
        assert (await fetcher.fetch("https://feeds.example/rss")).content == BODY


@pytest.mark.parametrize(
    ("encoding", "payload", "message"),
    [
        ("br", b"\x0b\x02\x80hello\x03", "unsupported Content-Encoding"),
        ("gzip, gzip", _gzip(_gzip(BODY)), "unsupported Content-Encoding"),
        ("gzip", b"\x1f\x8bnot really gzip at all", "corrupt compressed body"),
    ],
)
async def test_bad_content_codings(encoding: str, payload: bytes, message: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return respond(200, payload, {"Content-Encoding": encoding})

    async with mock_fetcher(handler) as fetcher:
        with pytest.raises(FeedUnavailable, match=message):
            await fetcher.fetch("https://feeds.example/rss")


@pytest.mark.parametrize(
    "exc", [httpx.ReadError("reset"), httpx.RemoteProtocolError("bad"), httpx.ReadTimeout("t")]
)
async def test_httpx_errors_are_translated(exc: Exception) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    async with mock_fetcher(handler) as fetcher:
        with pytest.raises(FeedUnavailable):
            await fetcher.fetch("https://feeds.example/rss")


async def test_cookies_are_not_kept() -> None:
    cookies: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        cookies.append(request.headers.get("cookie"))
        return respond(200, b"<rss/>", {"Set-Cookie": "sid=abc; Path=/"})

    async with mock_fetcher(handler) as fetcher:
        await fetcher.fetch("https://feeds.example/rss")
        await fetcher.fetch("https://feeds.example/rss")
    assert cookies == [None, None]


async def test_unsendable_validators_are_dropped() -> None:
    sent: list[httpx.Headers] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.headers)
        return respond(200, b"<rss/>")

    async with mock_fetcher(handler) as fetcher:
        await fetcher.fetch("https://feeds.example/rss", etag='"é"', last_modified="x\r\nY: z")
    assert "if-none-match" not in sent[0] and "if-modified-since" not in sent[0]


async def test_refused_scheme(fetcher: Fetcher) -> None:
    with pytest.raises(URLRefused):
        await fetcher.fetch("file:///etc/passwd")


# --- concurrency ---------------------------------------------------------------------------------
async def test_per_host_concurrency_is_respected(feed_server: FeedServer) -> None:
    # Ten 0.3 s requests, two at a time, take 1.5 s: longer than the 1 s timeout, so this
    # also shows that waiting for the host's turn is not charged to a fetch's time budget.
    async with Fetcher(limits(timeout=1.0, per_host_concurrency=2)) as fetcher:
        results = await asyncio.gather(
            *(fetcher.fetch(feed_server.url(f"_slow/0.3/{FEED}?n={i}")) for i in range(10))
        )
    assert all(r.status == 200 for r in results)
    assert feed_server.max_in_flight == 2


async def test_global_concurrency_is_respected(feed_server: FeedServer) -> None:
    async with Fetcher(limits(per_host_concurrency=10, global_concurrency=3)) as fetcher:
        await asyncio.gather(
            *(fetcher.fetch(feed_server.url(f"_slow/0.2/{FEED}?n={i}")) for i in range(9))
        )
    assert feed_server.max_in_flight == 3
