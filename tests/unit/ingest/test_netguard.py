"""SSRF guard: address classes, URL validation, encoded hosts, redirects and DNS pinning."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.errors import URLRefused
from bot.ingest import netguard
from bot.ingest.fetch import Fetcher, FetchLimits
from bot.ingest.netguard import (
    address_problem,
    check_url,
    is_forbidden_address,
    redact_url,
    resolve,
    validate_url,
)
from testkit.feedserver import FeedServer

FEED = "news-bbc-world-rss2.xml"

FORBIDDEN = [
    "127.0.0.1", "127.255.255.254", "10.1.2.3", "172.16.0.1", "172.31.255.255",
    "192.168.0.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "0.1.2.3", "224.0.0.1",
    "239.255.255.250", "240.0.0.1", "255.255.255.255", "192.0.2.1", "198.18.0.1",
    "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "fec0::1", "ff02::1", "2001:db8::1",
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "::127.0.0.1",
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "2002:7f00:1::1", "2002:a00:1::",  # 6to4 of 127.0.0.1, 10.0.0.1
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
]  # fmt: skip
ALLOWED = [
    "8.8.8.8", "1.1.1.1", "93.184.216.34", "172.32.0.1", "11.0.0.1",
    "2606:4700:4700::1111", "::ffff:8.8.8.8", "2002:808:808::1", "64:ff9b::808:808",
]  # fmt: skip


@pytest.mark.parametrize("address", FORBIDDEN)
def test_forbidden_addresses(address: str) -> None:
    assert is_forbidden_address(address)
    assert address_problem(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_allowed(address: str) -> None:
    assert not is_forbidden_address(address)


PRIVATE_V4 = [
    "127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16",
    "100.64.0.0/10", "0.0.0.0/8", "224.0.0.0/4", "240.0.0.0/4",
]  # fmt: skip


def _address_in(networks: list[str]) -> st.SearchStrategy[ipaddress.IPv4Address]:
    nets = [ipaddress.IPv4Network(n) for n in networks]
    return st.sampled_from(nets).flatmap(
        lambda net: st.integers(int(net.network_address), int(net.broadcast_address)).map(
            ipaddress.IPv4Address
        )
    )


@given(_address_in(PRIVATE_V4))
def test_any_private_ipv4_is_refused_in_every_wrapping(ip: ipaddress.IPv4Address) -> None:
    n = int(ip)
    wrapped: list[netguard.IPAddress] = [
        ip,
        ipaddress.IPv6Address(0xFFFF_0000_0000 | n),  # ::ffff:a.b.c.d
        ipaddress.IPv6Address((0x2002 << 112) | (n << 80)),  # 6to4
        ipaddress.IPv6Address((0x64FF9B << 96) | n),  # NAT64
    ]
    for form in wrapped:
        assert is_forbidden_address(form), form
    with pytest.raises(URLRefused):
        validate_url(f"http://{ip}/feed", allow_private=False)
    with pytest.raises(URLRefused):
        validate_url(f"http://[{wrapped[1]}]/feed", allow_private=False)


@given(_address_in(["8.0.0.0/8", "1.0.0.0/8", "93.184.0.0/16"]))
def test_public_ipv4_is_allowed(ip: ipaddress.IPv4Address) -> None:
    assert not is_forbidden_address(ip)
    assert validate_url(f"https://{ip}/feed", allow_private=False).host == str(ip)


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://x/",
        "gopher://x:70/_HELO",
        "data:text/plain,hello",
        "javascript:alert(1)",
        "dict://x:11211/stat",
        "//example.com/feed",
        "",
        "http:///nohost",
        "http://user:secret@example.com/feed",
        "http://example.com@10.0.0.1/",
        "http://exa mple.com/",
        "http://example.com/\r\nX-Injected: 1",
        "http://10.1.2.3/",
        "http://192.168.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://224.0.0.1/",
        "http://0.0.0.0/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[fe80::1]/",
        "http://" + "a" * 5000 + ".com/",
    ],
)
def test_validate_url_refuses(url: str) -> None:
    with pytest.raises(URLRefused) as info:
        validate_url(url, allow_private=False)
    message = str(info.value)
    assert message.startswith("refused:") and "\n" not in message
    assert "secret" not in message


@pytest.mark.parametrize("char", ["\x00", "\t", "\n", "\x1f", " ", "\x7f"])
def test_validate_url_refuses_whitespace_and_control_characters(char: str) -> None:
    with pytest.raises(URLRefused, match="whitespace or control characters"):
        validate_url(f"http://example.com/a{char}b", allow_private=False)
    # the characters just past those ranges are allowed
    assert validate_url("http://example.com/!a\x80b~", allow_private=False).host == "example.com"


@pytest.mark.parametrize(
    "url", ["http://example.com/feed", "https://93.184.216.34/x?y=1", "HTTPS://Example.COM/rss"]
)
def test_validate_url_accepts_public(url: str) -> None:
    assert validate_url(url, allow_private=False).scheme in {"http", "https"}


def test_allow_private_permits_private_hosts_but_not_other_schemes() -> None:
    assert validate_url("http://10.1.2.3/", allow_private=True).host == "10.1.2.3"
    assert validate_url("http://[::1]:8080/", allow_private=True).port == 8080
    with pytest.raises(URLRefused):
        validate_url("file:///etc/passwd", allow_private=True)


def test_refusal_message_names_address_and_setting() -> None:
    with pytest.raises(URLRefused) as info:
        validate_url("http://10.0.0.5/feed", allow_private=False)
    assert str(info.value) == (
        "refused: 10.0.0.5 is a private address; "
        "set THREATWATCH_ALLOW_PRIVATE_NETWORKS=true to allow"
    )


ENCODED_LOOPBACK = ["0x7f.1", "2130706433", "017700000001", "127.1", "localhost"]


@pytest.mark.parametrize("host", ENCODED_LOOPBACK)
async def test_getaddrinfo_normalises_encoded_hosts(host: str) -> None:
    # validate_url cannot see through these forms; resolution must.
    validate_url(f"http://{host}/", allow_private=False)
    assert "127.0.0.1" in await resolve(host, 80)
    with pytest.raises(URLRefused, match=r"resolves to 127\.0\.0\.1, a loopback address"):
        await check_url(f"http://{host}/", allow_private=False)


def test_httpx_rejects_octal_dotted_quad() -> None:
    # httpx refuses this spelling itself; either way it never reaches a socket.
    with pytest.raises(URLRefused, match="malformed URL"):
        validate_url("http://0177.0.0.1/", allow_private=False)


async def test_check_url_unresolvable_host_is_refused() -> None:
    with pytest.raises(URLRefused, match="cannot resolve"):
        await check_url("http://no-such-host.invalid/feed", allow_private=False)


@pytest.mark.parametrize(
    "host", [*ENCODED_LOOPBACK, "0177.0.0.1", "127.0.0.1", "[::ffff:127.0.0.1]", "[::1]"]
)
async def test_fetch_refuses_loopback_in_any_spelling(feed_server: FeedServer, host: str) -> None:
    async with Fetcher(FetchLimits(timeout=5)) as fetcher:
        with pytest.raises(URLRefused):
            await fetcher.fetch(f"http://{host}:{feed_server.port}/{FEED}")
    assert feed_server.requests == []  # refused before a connection was made


def test_redact_url_strips_credentials_and_query() -> None:
    shown = redact_url("https://bob:pw@example.com:8443/feed.xml?token=abc#frag")
    assert shown == "https://example.com:8443/feed.xml?…"
    assert redact_url("http://[::1]/x") == "http://[::1]/x"


# --- redirects and DNS, with a policy that treats 127.0.0.1 as if it were public -----------------
FAKE_DNS = {
    "feed.test": ["127.0.0.1"],
    "internal.test": ["10.0.0.5"],
    "mixed.test": ["127.0.0.1", "10.0.0.5"],
    "metadata.test": ["169.254.169.254"],
}


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Resolve *.test names from FAKE_DNS and allow only 127.0.0.1 among private addresses."""
    calls: list[str] = []
    real_problem: Callable[..., str | None] = netguard.address_problem

    async def fake_resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        if host not in FAKE_DNS:
            raise OSError(f"unknown test host {host}")
        return FAKE_DNS[host]

    def problem(ip: netguard.IPAddress) -> str | None:
        return None if str(ip) == "127.0.0.1" else real_problem(ip)

    monkeypatch.setattr(netguard, "resolve", fake_resolve)
    monkeypatch.setattr(netguard, "address_problem", problem)
    return calls


async def test_connects_to_the_checked_address_with_original_host(
    feed_server: FeedServer, fake_dns: list[str]
) -> None:
    # The system resolver cannot resolve feed.test, so success proves the connection went to
    # the address our guard resolved and checked (no second lookup to rebind), while the
    # Host header kept the name.
    async with Fetcher(FetchLimits(timeout=5)) as fetcher:
        result = await fetcher.fetch(f"http://feed.test:{feed_server.port}/{FEED}")
    assert result.status == 200
    assert fake_dns == ["feed.test"]
    assert feed_server.requests[0][2]["host"] == f"feed.test:{feed_server.port}"


@pytest.mark.parametrize(
    ("target", "needle"),
    [
        ("http://internal.test:{port}/" + FEED, "resolves to 10.0.0.5, a private address"),
        ("http://metadata.test/latest/meta-data/", "a link-local address"),
        ("http://mixed.test:{port}/" + FEED, "10.0.0.5"),
        ("http://10.0.0.5/feed", "10.0.0.5 is a private address"),
        ("http://[::ffff:10.0.0.5]/feed", "private address embedded in an IPv6 address"),
        ("file:///etc/passwd", "scheme 'file' not allowed"),
        ("gopher://feed.test/", "scheme 'gopher' not allowed"),
    ],
)
async def test_redirect_from_allowed_server_to_forbidden_target(
    feed_server: FeedServer, fake_dns: list[str], target: str, needle: str
) -> None:
    location = target.format(port=feed_server.port)
    start = f"http://feed.test:{feed_server.port}/_redirect_to?url={quote(location, safe='')}"
    async with Fetcher(FetchLimits(timeout=5)) as fetcher:
        with pytest.raises(URLRefused, match=re.escape(needle)):
            await fetcher.fetch(start)
    # Only the first hop reached the server; nothing was sent to the forbidden target.
    assert [path.split("?")[0] for _m, path, _h in feed_server.requests] == ["/_redirect_to"]


async def test_guard_off_without_allow_private_is_on(feed_server: FeedServer) -> None:
    # Same server, same URL: refused by default, served when private networks are allowed.
    url = feed_server.url(FEED)
    async with Fetcher(FetchLimits(timeout=5)) as fetcher:
        with pytest.raises(URLRefused):
            await fetcher.fetch(url)
    async with Fetcher(FetchLimits(timeout=5, allow_private_networks=True)) as fetcher:
        assert (await fetcher.fetch(url)).status == 200
