"""The subscriber's side of the WebSub protocol that needs no I/O: content signatures, lease
arithmetic, callback URLs. Pure and synchronous."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

# X-Hub-Signature: method=hex digest; the spec names these four.
SIGNATURE_METHODS = {
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
    "sha384": hashlib.sha384,
    "sha512": hashlib.sha512,
}
MIN_LEASE_SECONDS = 2  # a hub's lease shorter than this is taken as this
MAX_LEASE_SECONDS = 366 * 86_400  # a longer one is capped: renew at least yearly
MAX_CHALLENGE = 1024  # characters echoed back; a longer challenge is refused
RENEW_MARGIN_SECONDS = 60.0  # renew at least this long before a lease ends (when it allows)


def signature_ok(header: str | None, body: bytes, secret: str) -> bool:
    """True when ``header`` (``sha256=<hex>``…) is the HMAC of ``body`` keyed with ``secret``."""
    method, _, digest = (header or "").strip().partition("=")
    algorithm = SIGNATURE_METHODS.get(method.strip().lower())
    if algorithm is None or not digest:
        return False
    expected = hmac.new(secret.encode(), body, algorithm).hexdigest()
    return hmac.compare_digest(expected, digest.strip().lower())


def sign(body: bytes, secret: str, method: str = "sha256") -> str:
    """The X-Hub-Signature value a hub sends for ``body`` (used by the local test hub)."""
    return f"{method}={hmac.new(secret.encode(), body, SIGNATURE_METHODS[method]).hexdigest()}"


def granted_lease(value: str | None, requested: int) -> int:
    """The lease a verification grants: its hub.lease_seconds, else what we asked for."""
    try:
        lease = int((value or "").strip())
    except ValueError:
        lease = requested
    return min(max(lease, MIN_LEASE_SECONDS), MAX_LEASE_SECONDS)


def renew_at(verified_at: datetime, lease_seconds: int) -> datetime:
    """When to renew a lease: a tenth of it (at least a minute, at most half) before it ends."""
    margin = min(lease_seconds / 2, max(lease_seconds / 10, RENEW_MARGIN_SECONDS))
    return verified_at + timedelta(seconds=lease_seconds - margin)


def new_token() -> str:
    """The unguessable last path segment of one feed's callback URL."""
    return secrets.token_urlsafe(24)


def new_secret() -> str:
    """The HMAC key the hub signs content with (the spec wants under 200 bytes)."""
    return secrets.token_urlsafe(32)


def callback_url(base: str, token: str) -> str:
    return f"{base.rstrip('/')}/{token}"


def callback_path(base: str) -> str:
    """The path under which callbacks are served: the base URL's path, without a trailing /."""
    return urlsplit(base).path.rstrip("/")


def with_port(base: str, port: int) -> str:
    """``base`` with an explicit port 0 replaced by ``port`` (the port the server bound)."""
    parts = urlsplit(base)
    if parts.port != 0:
        return base
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    return urlunsplit(parts._replace(netloc=f"{host}:{port}"))


def shown_callback(url: str) -> str:
    """A callback URL for logs: the token is a credential, so it is left out."""
    head, _, _ = url.rstrip("/").rpartition("/")
    return f"{head}/…"
