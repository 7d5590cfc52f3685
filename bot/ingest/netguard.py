"""SSRF guard: which URLs and addresses the fetcher may reach.

Feed URLs come from chat admins and from redirects chosen by remote servers, so a URL is
untrusted input that could point the bot at cloud metadata (169.254.169.254), the host's own
services (127.0.0.1) or the office network (10.x). Two layers stop that:

1. ``validate_url`` checks every URL (the first one and every redirect hop) before a request:
   http(s) only, a host, no credentials, and IP literals checked right away. ``check_url``
   (async) adds DNS resolution, for refusing a bad feed URL when an admin adds it.
2. ``GuardedBackend`` is the httpcore network backend. It resolves the host itself, checks
   *every* address, and connects to an address it checked. Checking in one place and
   connecting by name in another would let DNS rebinding (a TTL-0 answer that changes
   between the check and the connect) slip through. TLS still verifies the hostname because
   httpcore passes the request's host as ``server_hostname`` to ``start_tls`` on our stream.

Encoded host forms (``0x7f.1``, ``2130706433``, ``017700000001``, ``127.1``) are not parsed
here: ``getaddrinfo`` turns them into the address the OS would really connect to, and that
address is what gets checked.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Iterable

import httpcore
import httpx

from bot.core.errors import URLRefused

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALLOWED_SCHEMES = frozenset({"http", "https"})
MAX_URL_LENGTH = 4096
ALLOW_HINT = "set THREATWATCH_ALLOW_PRIVATE_NETWORKS=true to allow"

# Ranges the generic ipaddress flags do not classify the way an SSRF guard needs.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # deprecated ::a.b.c.d form
_SHARED_V4 = ipaddress.IPv4Network("100.64.0.0/10")  # carrier-grade NAT, not public
_WHITESPACE_OR_CONTROL = re.compile(r"[\x00-\x20\x7f]")


def address_problem(ip: IPAddress) -> str | None:
    """Why ``ip`` must not be fetched from, as a phrase ("a private address"), or None if fine."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            # The packet ends up at the embedded IPv4 address: judge that one.
            inner = address_problem(embedded)
            return None if inner is None else f"{inner} embedded in an IPv6 address"
        if ip.teredo is not None:
            return "a Teredo tunnel address"
        if ip in _IPV4_COMPATIBLE:
            return "an unspecified or loopback address" if int(ip) <= 1 else "a reserved address"
        if ip.is_site_local:
            return "a site-local address"
    checks: tuple[tuple[bool, str], ...] = (
        (ip.is_unspecified, "an unspecified address"),
        (ip.is_loopback, "a loopback address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_multicast, "a multicast address"),
        (ip.is_private, "a private address"),
        (isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED_V4, "a shared (CGNAT) address"),
        (ip.is_reserved, "a reserved address"),
        (not ip.is_global, "a non-public address"),
    )
    for hit, phrase in checks:
        if hit:
            return phrase
    return None


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address forwards to (mapped, 6to4, NAT64), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_forbidden_address(ip: str | IPAddress) -> bool:
    """True for loopback, private, link-local, multicast, reserved… (see ``address_problem``)."""
    return address_problem(ipaddress.ip_address(ip) if isinstance(ip, str) else ip) is not None


def redact_url(url: str | httpx.URL) -> str:
    """The URL without userinfo, query or fragment, safe to put in logs and chat messages."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return "<invalid URL>"
    port = f":{parsed.port}" if parsed.port is not None else ""
    host = f"[{parsed.host}]" if ":" in parsed.host else parsed.host
    suffix = "?…" if parsed.query else ""
    return f"{parsed.scheme}://{host}{port}{parsed.path}{suffix}"


def validate_url(url: str | httpx.URL, *, allow_private: bool) -> httpx.URL:
    """Parse and validate a URL before any request; raise ``URLRefused`` with a one-line reason.

    Host names are not resolved here (that happens at connect time, see ``GuardedBackend``),
    but IP literals are judged immediately so an obviously bad URL fails without network I/O.
    """
    text = str(url)
    if len(text) > MAX_URL_LENGTH:
        raise URLRefused(f"refused: URL longer than {MAX_URL_LENGTH} characters")
    if _WHITESPACE_OR_CONTROL.search(text):
        # Whitespace/control characters are how request-splitting and parser-confusion
        # tricks start; a real feed URL never needs them unescaped.
        raise URLRefused("refused: URL contains whitespace or control characters")
    try:
        parsed = url if isinstance(url, httpx.URL) else httpx.URL(text)
    except httpx.InvalidURL as exc:
        raise URLRefused(f"refused: malformed URL ({exc})") from None
    if parsed.scheme not in ALLOWED_SCHEMES:
        shown = parsed.scheme or "none"
        raise URLRefused(f"refused: scheme {shown!r} not allowed; only http and https")
    if not parsed.host:
        raise URLRefused("refused: URL has no host")
    if parsed.userinfo:
        # "http://trusted.example@10.0.0.5/" reads as trusted.example to a human; credentials
        # in a stored feed URL would also leak into logs and chat messages.
        raise URLRefused("refused: URLs with a user name or password are not allowed")
    if not allow_private:
        literal = _ip_literal(parsed.host)
        if literal is not None:
            _refuse_if_forbidden(parsed.host, literal)
    return parsed


async def check_url(url: str | httpx.URL, *, allow_private: bool) -> httpx.URL:
    """``validate_url`` plus resolving the host and checking every address it resolves to.

    For input validation (an admin adding a feed or a seed URL), so the refusal names the
    problem at once. It is not what keeps fetches safe: the address can change before the
    fetch, which is why ``GuardedBackend`` checks again at connect time.
    """
    parsed = validate_url(url, allow_private=allow_private)
    if not allow_private:
        try:
            port = parsed.port or (443 if parsed.scheme == "https" else 80)
            await resolve_checked(parsed.host, port, allow_private=False)
        except httpcore.ConnectError:
            raise URLRefused(f"refused: cannot resolve host {parsed.host}") from None
    return parsed


def _ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _refuse_if_forbidden(host: str, ip: IPAddress) -> None:
    problem = address_problem(ip)
    if problem is None:
        return
    where = f"{host} is" if _ip_literal(host) == ip else f"{host} resolves to {ip},"
    raise URLRefused(f"refused: {where} {problem}; {ALLOW_HINT}")


async def resolve(host: str, port: int) -> list[str]:
    """All addresses ``host`` resolves to for a TCP connection, in resolver order, deduplicated.

    Module-level so tests can substitute a fake resolver for names like ``internal.test``.
    """
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: dict[str, None] = {}
    for _family, _type, _proto, _canon, sockaddr in infos:
        seen.setdefault(str(sockaddr[0]), None)
    return list(seen)


async def resolve_checked(host: str, port: int, *, allow_private: bool) -> list[str]:
    """Resolve and check every address; refuse if *any* is forbidden.

    Refusing on any bad address (rather than skipping it) means a name that mixes public and
    private answers cannot win by retrying until the private one is picked.
    """
    try:
        addresses = await resolve(host, port)
    except (OSError, UnicodeError) as exc:
        raise httpcore.ConnectError(f"cannot resolve host {host}: {exc}") from None
    if not addresses:
        raise httpcore.ConnectError(f"cannot resolve host {host}: no addresses")
    if not allow_private:
        for address in addresses:
            _refuse_if_forbidden(host, ipaddress.ip_address(address))
    return addresses


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """An httpcore backend that only connects to addresses it resolved and checked itself."""

    def __init__(
        self, *, allow_private: bool, backend: httpcore.AsyncNetworkBackend | None = None
    ) -> None:
        self._allow_private = allow_private
        self._backend = backend if backend is not None else httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await resolve_checked(host, port, allow_private=self._allow_private)
        last_error: Exception | None = None
        for address in addresses:  # try each checked address, like a browser would
            try:
                return await self._backend.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
        assert last_error is not None  # addresses is never empty
        raise last_error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise URLRefused("refused: unix sockets are not allowed")

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


def guarded_transport(
    *, allow_private: bool, limits: httpx.Limits | None = None
) -> httpx.AsyncHTTPTransport:
    """An httpx transport whose connections all go through ``GuardedBackend``.

    httpx 0.28 has no public ``network_backend`` argument, so we build the normal transport
    (same TLS context, HTTP/1.1 only) and swap its connection pool for one with our backend.
    The pool attribute is private: the check makes an httpx upgrade that renames it fail
    loudly at start-up instead of silently dropping the guard. No proxy is configured here,
    and the client must use ``trust_env=False``: a proxy would connect on our behalf and
    bypass the address checks.
    """
    limits = limits if limits is not None else httpx.Limits()
    ssl_context = httpx.create_ssl_context()  # honours SSL_CERT_FILE/SSL_CERT_DIR
    transport = httpx.AsyncHTTPTransport(verify=ssl_context, limits=limits)
    if not isinstance(getattr(transport, "_pool", None), httpcore.AsyncConnectionPool):
        raise RuntimeError("httpx transport internals changed; cannot install the SSRF guard")
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=ssl_context,
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        http1=True,
        http2=False,
        network_backend=GuardedBackend(allow_private=allow_private),
    )
    return transport
