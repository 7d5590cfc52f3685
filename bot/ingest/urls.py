"""Canonical article URLs: one spelling per article, so links dedupe and compare reliably.

Feeds link the same story in many spellings (tracking tags, fragments, ``HTTP://Host:80``,
relative paths). ``canonical_url`` maps them onto one absolute http(s) URL, or ``None`` when the
link is not something we would ever fetch or post (``javascript:``, ``mailto:``, garbage).
It is pure and total: it never raises, whatever text a feed puts in ``<link>``.
"""

from __future__ import annotations

import re
from urllib.parse import (
    SplitResult,
    parse_qsl,
    quote,
    unquote_plus,
    urljoin,
    urlsplit,
    urlunsplit,
)

_SCHEMES = frozenset({"http", "https"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Longer than any real article link; past this a "URL" is junk or an attack on storage.
_MAX_LENGTH = 4096

# Query parameters that only tell the publisher or an ad network where a click came from.
# Compared case-insensitively (the Guardian uses ``CMP=``).
_TRACKING_EXACT = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid",
        "mc_cid", "mc_eid", "ocid", "cmpid", "cmp", "_ga", "_gl", "igshid", "spm",
        "ref_src", "ref_url", "smid", "smtyp", "__twitter_impression", "rss_source",
        "wt_mc", "wt_zmc", "xtor", "maca",  # Webtrekk (heise), AT Internet, DW's RSS campaign
    }
)  # fmt: skip
_REDIRECT_HOSTS = frozenset({"www.google.com", "google.com"})
_TRACKING_PREFIXES = ("utm_", "ns_", "at_", "pk_", "mtm_", "hsa_", "itm_")

# Characters left as they are when re-quoting; everything else (spaces, non-ASCII, quotes) is
# percent-encoded so the raw and the encoded spelling of one link end up identical.
# "%" is safe so existing escapes are never double-encoded (which keeps this idempotent).
_PATH_SAFE = "/%:@!$&'()*+,;=~"
_QUERY_SAFE = "/%:@!$&'()*+,;=~?"
_ESCAPE = re.compile(r"%[0-9a-fA-F]{2}")
# Characters that never occur in a host: spaces, quotes, brackets, controls, lone surrogates.
_BAD_HOST = re.compile(r"[\s<>\"'{}|\\^`%/?#@\[\]\x00-\x1f\x7f\ud800-\udfff]")


def canonical_url(link: str, base: str | None = None) -> str | None:
    """Absolute, normalised http(s) form of ``link`` (resolved against ``base``), or None.

    Lower-cases scheme and host, drops user info, default ports, the fragment and tracking
    parameters; keeps every other query parameter in its original order.
    """
    if not isinstance(link, str):
        return None
    link = link.strip()
    if not link or len(link) > _MAX_LENGTH:
        return None
    try:
        absolute = urljoin(base, link) if base else link
        result = _canonical(absolute)
        # Google Alerts links are google.com/url?url=<article>: the article is the identity.
        # Unwrap only while it gets shorter, so nesting terminates and a second pass is a no-op.
        while result is not None and (target := _redirect_target(result)) is not None:
            unwrapped = _canonical(target)
            if unwrapped is None or len(unwrapped) >= len(result):
                break
            result = unwrapped
        return result
    except (ValueError, UnicodeError):
        # urlsplit/urljoin reject malformed IPv6 literals, bad ports and NFKC tricks in hosts.
        return None


def _canonical(absolute: str) -> str | None:
    return _rebuild(urlsplit(absolute))


def _redirect_target(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.hostname not in _REDIRECT_HOSTS or parts.path != "/url":
        return None
    for name, value in parse_qsl(parts.query):
        if name in ("url", "q") and value.lower().startswith(("http://", "https://")):
            return value
    return None


def _rebuild(parts: SplitResult) -> str | None:
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        return None
    host = _host(parts)
    if host is None:
        return None
    port = parts.port  # raises ValueError for a non-numeric or out-of-range port
    netloc = host if port is None or port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    path = _requote(parts.path, _PATH_SAFE) or "/"
    query = _clean_query(parts.query)
    url = urlunsplit((scheme, netloc, path, query, ""))
    return url if len(url) <= _MAX_LENGTH else None


def _host(parts: SplitResult) -> str | None:
    host = parts.hostname  # already lower-cased, user info and port removed
    if not host:
        return None
    if ":" in host:
        # IPv6 literal: urlsplit has checked it; it needs its brackets back in the netloc.
        return f"[{host}]"
    host = host.rstrip(".")  # "example.com." and "example.com" are the same host
    if not host or _BAD_HOST.search(host):
        return None
    return host


def _requote(text: str, safe: str) -> str:
    quoted = quote(text, safe=safe)
    # %2f and %2F are the same byte; one spelling keeps canonical forms comparable.
    return _ESCAPE.sub(lambda m: m.group(0).upper(), quoted)


def _clean_query(query: str) -> str:
    kept = []
    for piece in query.split("&"):
        if not piece:
            continue  # "a=1&&b=2" and "a=1&b=2" are the same query
        name = unquote_plus(piece.split("=", 1)[0]).strip().lower()
        if _is_tracking(name):
            continue
        kept.append(_requote(piece, _QUERY_SAFE))
    return "&".join(kept)


def _is_tracking(name: str) -> bool:
    return name in _TRACKING_EXACT or name.startswith(_TRACKING_PREFIXES)
