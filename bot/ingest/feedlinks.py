"""WebSub discovery: a feed's hub and self URLs, from HTTP ``Link`` headers first (as the WebSub
spec has subscribers prefer), then from the links the document itself declares."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from urllib.parse import urljoin, urlsplit

_LINK_VALUE = re.compile(r"<([^>]*)>((?:\s*;\s*[^;,]*)*)")
_LINK_REL = re.compile(r"""\brel\s*=\s*(?:"([^"]*)"|([^\s;,"]+))""", re.IGNORECASE)


def websub_links(
    headers: Mapping[str, str], base: str, in_document: Sequence[tuple[str, str]]
) -> tuple[str | None, str | None]:
    """(hub URL, self URL). The WebSub spec has subscribers prefer HTTP ``Link`` headers."""
    found: dict[str, str] = {}
    for links in (header_links(headers.get("link", "")), in_document):
        for rel, href in links:
            if (
                rel in ("hub", "self")
                and rel not in found
                and (absolute := absolute_url(href, base))
            ):
                found[rel] = absolute
    return found.get("hub"), found.get("self")


def header_links(value: str) -> list[tuple[str, str]]:
    """(rel, href) pairs of an RFC 8288 ``Link`` header (several headers arrive comma-joined)."""
    pairs = []
    for target, params in _LINK_VALUE.findall(value[:8192]):
        for rel in _LINK_REL.finditer(params):
            names = (rel.group(1) or rel.group(2) or "").split()
            pairs += [(name.lower(), target.strip()) for name in names]
    return pairs


def absolute_url(href: str, base: str) -> str | None:
    """An http(s) URL resolved against ``base``, kept as spelled otherwise: a hub matches
    topics by exact string, so tracking-parameter clean-up must not touch it."""
    try:
        absolute = urljoin(base, href.strip())
        parts = urlsplit(absolute)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or len(absolute) > 4096:
        return None
    return absolute
