"""parse: feed bytes → ParsedFeed of normalised FeedItems. Pure: no network, files or clock.

Hostile input is expected (see tests/data/feeds/README.md):

* feedparser only ever gets an in-memory stream. A ``str`` argument can be a URL or a path,
  and even a ``bytes`` argument is first tried as a file name (``open(b"/etc/passwd")``).
* No DTD reaches a parser and gzip is inflated with a cap: see ``bot.ingest.xmlsafe``.
* feedparser's loose parser recovers items from broken XML, so "bozo" alone never rejects a
  feed; we refuse only when no items and no feed title/link came back from a structural error.
"""

from __future__ import annotations

import calendar
import hashlib
import io
import json
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import feedparser

from bot.core.errors import FeedInvalid
from bot.core.models import FeedItem, ParsedFeed
from bot.ingest.feedlinks import websub_links
from bot.ingest.htmltext import html_to_text, normalise_text
from bot.ingest.urls import canonical_url
from bot.ingest.xmlsafe import inflate, scrub_prolog, to_utf8

_MAX_WARNING = 300  # characters per warning: they end up in logs and admin replies
_MAX_TTL = 7 * 24 * 3600  # a week; longer hints are typos, and the scheduler has its own cap
_SY_PERIODS = {"hourly": 3600, "daily": 86_400, "weekly": 604_800, "monthly": 2_592_000,
               "yearly": 31_536_000}  # fmt: skip
_SURROGATE = re.compile(r"[\ud800-\udfff]")
# Exceptions feedparser flags that say nothing about the structure of the document.
_BENIGN_BOZO = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)


@dataclass(frozen=True)
class _Raw:
    """One entry as read from the document, before identity, dedupe and capping."""

    entry_id: str
    link: str
    title: str
    text: str
    published: datetime | None
    author: str | None


def parse_feed(
    content: bytes,
    *,
    url: str,
    headers: Mapping[str, str] | None = None,
    max_items: int = 200,
) -> ParsedFeed:
    """Parse an RSS/Atom/RDF/JSON Feed body fetched from ``url``.

    Raises FeedInvalid when the body is not a feed at all; a feed with zero items is valid.
    """
    lowered = {k.lower(): v for k, v in (headers or {}).items()}
    warnings: list[str] = []
    body, was_gzip = inflate(content)
    if was_gzip:
        warnings.append("body was still gzip-compressed; inflated it before parsing")
    if not body.strip():
        raise FeedInvalid("empty body: no feed document")
    if body.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        return _parse_json_feed(
            body, url=url, headers=lowered, max_items=max_items, warnings=warnings
        )
    return _parse_xml_feed(body, url=url, headers=lowered, max_items=max_items, warnings=warnings)


# --- RSS / Atom / RDF via feedparser ----------------------------------------------------------


def _parse_xml_feed(
    body: bytes, *, url: str, headers: Mapping[str, str], max_items: int, warnings: list[str]
) -> ParsedFeed:
    utf8, encoding_warning = to_utf8(body, headers.get("content-type"))
    if encoding_warning:
        warnings.append(" ".join(encoding_warning.split())[:_MAX_WARNING])
    clean, dropped_dtd = scrub_prolog(utf8)
    if dropped_dtd:
        warnings.append("DTD/entity declarations removed before parsing (never expanded)")
    parsed = _run_feedparser(clean, url)
    exc = parsed.get("bozo_exception")
    if exc is not None:
        warnings.append(_one_line(exc))
    entries = parsed.get("entries") or []
    feed = parsed.get("feed") or {}
    title = _single_line(_detail_text(feed, "title")) or None
    link = canonical_url(_field(feed, "link") or "", base=url)
    if not entries:
        _refuse_if_not_a_feed(parsed, has_meta=bool(title or link))
    raws = [_raw_from_entry(entry) for entry in entries]
    hub, self_url = websub_links(headers, url, _feed_links(feed))
    return ParsedFeed(
        title=title,
        link=link,
        items=_finish(raws, url=url, source=title, max_items=max_items, warnings=warnings),
        ttl_seconds=_ttl_seconds(feed),
        warnings=tuple(warnings),
        hub_url=hub,
        self_url=self_url,
    )


def _run_feedparser(clean: bytes, url: str) -> Any:
    # content-location makes relative links absolute; the charset matches our transcoding.
    response_headers = {"content-location": url, "content-type": "application/xml; charset=utf-8"}
    try:
        # its HTML sanitiser and link rewriting work on markup that html_to_text reduces to
        # plain text anyway (dropping scripts, styles and their like with their content): about
        # half the time of parsing the recorded captures, for the same items word for word
        # (docs/BENCHMARKS.md, "The ingest ceiling on this CPU")
        return feedparser.parse(
            io.BytesIO(clean),
            response_headers=response_headers,
            sanitize_html=False,
            resolve_relative_uris=False,
        )
    except (MemoryError, RecursionError):
        raise
    except Exception as exc:  # a foreign parser on hostile input: translate, never leak
        raise FeedInvalid(f"feed parser failed: {_one_line(exc)}") from exc


def _refuse_if_not_a_feed(parsed: Any, *, has_meta: bool) -> None:
    exc = parsed.get("bozo_exception")
    structural = bool(parsed.get("bozo")) and not isinstance(exc, _BENIGN_BOZO)
    if not parsed.get("version"):
        reason = _one_line(exc) if exc is not None else "no RSS, Atom or RDF root element"
        raise FeedInvalid(f"not a feed: {reason}")
    if structural and not has_meta:
        raise FeedInvalid(f"not a feed: no items, title or link recovered ({_one_line(exc)})")


def _raw_from_entry(entry: Mapping[str, Any]) -> _Raw:
    bodies = [_detail_text(c) for c in _field(entry, "content") or [] if isinstance(c, dict)]
    bodies.append(_detail_text(entry, "summary"))
    published = None
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        published = published or _struct_to_utc(_field(entry, key))
    # author_detail.name turns Dawn's "none@none.com (Reuters)" into "Reuters".
    detail = _field(entry, "author_detail")
    name = detail.get("name") if isinstance(detail, dict) else None
    author = _single_line(str(name or _field(entry, "author") or "")) or None
    return _Raw(
        entry_id=str(_field(entry, "id") or "").strip(),
        link=str(_field(entry, "link") or ""),
        title=_single_line(_detail_text(entry, "title")),
        text=max(bodies, key=len),
        published=published,
        author=author,
    )


def _field(obj: Any, key: str) -> Any:
    """A raw field of a FeedParserDict. Not ``obj.get``: its aliases (``updated_parsed`` →
    ``published_parsed``) emit DeprecationWarnings, and we want the real fields anyway."""
    return dict.get(obj, key) if isinstance(obj, dict) else None


def _detail_text(obj: Mapping[str, Any], key: str | None = None) -> str:
    """Plain text of a feedparser text construct (``title``+``title_detail`` or a content dict)."""
    if key is None:
        value, kind = obj.get("value"), obj.get("type")
    else:
        value = _field(obj, key)
        detail = _field(obj, f"{key}_detail") or {}
        kind = detail.get("type") if isinstance(detail, dict) else None
    if not isinstance(value, str) or not value:
        return ""
    if kind and "html" not in str(kind):
        return normalise_text(value)
    return html_to_text(value)


def _struct_to_utc(value: Any) -> datetime | None:
    """feedparser's *_parsed are UTC struct_times; timegm tolerates leap seconds."""
    if not isinstance(value, time.struct_time):
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _ttl_seconds(feed: Mapping[str, Any]) -> int | None:
    ttl = _positive_int(_field(feed, "ttl"))
    if ttl is not None:
        return min(ttl * 60, _MAX_TTL)
    period = _SY_PERIODS.get(str(_field(feed, "sy_updateperiod") or "").strip().lower())
    if period is None:
        return None
    # DW spells it sy:updateFequency; accept the typo rather than lose the hint.
    raw_frequency = _field(feed, "sy_updatefrequency") or _field(feed, "sy_updatefequency")
    frequency = _positive_int(raw_frequency) or 1
    return min(max(period // frequency, 60), _MAX_TTL)


def _positive_int(value: Any) -> int | None:
    try:
        number = int(str(value).strip())
    except ValueError:
        return None
    return number if number > 0 else None


# --- where the feed declares its WebSub hub (bot/ingest/feedlinks.py reads them)


def _feed_links(feed: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(rel, href) of the feed's own ``<link>``/``<atom:link>`` elements."""
    return [
        (str(link.get("rel") or "").lower(), str(link["href"]))
        for link in _field(feed, "links") or []
        if isinstance(link, dict) and link.get("href")
    ]


# --- JSON Feed (feedparser 6 has no JSON support) ------------------------------------------------


def _parse_json_feed(
    body: bytes, *, url: str, headers: Mapping[str, str], max_items: int, warnings: list[str]
) -> ParsedFeed:
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise FeedInvalid(f"not a feed: invalid JSON ({_one_line(exc)})") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
        raise FeedInvalid("not a feed: JSON document without an 'items' list")
    if "jsonfeed.org" not in str(doc.get("version") or ""):
        warnings.append("JSON document has items but no jsonfeed.org version")
    title = _single_line(_str(doc.get("title"))) or None
    raws = [_raw_from_json(item) for item in doc["items"] if isinstance(item, dict)]
    hub, self_url = websub_links(headers, url, _json_links(doc))
    return ParsedFeed(
        title=title,
        link=canonical_url(_str(doc.get("home_page_url")), base=url),
        items=_finish(raws, url=url, source=title, max_items=max_items, warnings=warnings),
        ttl_seconds=None,
        warnings=tuple(warnings),
        hub_url=hub,
        self_url=self_url,
    )


def _raw_from_json(item: Mapping[str, Any]) -> _Raw:
    bodies = [
        html_to_text(_str(item.get("content_html"))),
        normalise_text(_str(item.get("content_text"))),
        normalise_text(_str(item.get("summary"))),
    ]
    published = _iso_to_utc(item.get("date_published")) or _iso_to_utc(item.get("date_modified"))
    return _Raw(
        entry_id=_str(item.get("id")).strip(),  # v1 allowed numbers; _str keeps them
        link=_str(item.get("url")) or _str(item.get("external_url")),
        title=_single_line(_str(item.get("title"))),
        text=max(bodies, key=len),
        published=published,
        author=_json_authors(item),
    )


def _json_authors(item: Mapping[str, Any]) -> str | None:
    people = item.get("authors")  # v1.1
    if not isinstance(people, list):
        people = [item.get("author")]  # v1
    names = [_single_line(_str(p.get("name"))) for p in people if isinstance(p, dict)]
    return ", ".join(n for n in names if n) or None


def _json_links(doc: Mapping[str, Any]) -> list[tuple[str, str]]:
    hubs = doc.get("hubs")
    links = [
        ("hub", _str(hub.get("url")))
        for hub in (hubs if isinstance(hubs, list) else [])
        if isinstance(hub, dict) and _str(hub.get("url"))
    ]
    return links + ([("self", _str(doc.get("feed_url")))] if _str(doc.get("feed_url")) else [])


def _iso_to_utc(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
        # RFC 3339 requires an offset; a bare timestamp is most likely UTC (never local time).
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: year 1 shifted before year 1
        return None


def _str(value: Any) -> str:
    """A JSON scalar as text; lone surrogates from "\\ud800" escapes become U+FFFD."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


# --- shared: identity, dedupe within the document, cap ------------------------------------------


def _finish(
    raws: Sequence[_Raw], *, url: str, source: str | None, max_items: int, warnings: list[str]
) -> tuple[FeedItem, ...]:
    source = source or _host(url)
    items = [item for raw in raws if (item := _to_item(raw, url, source)) is not None]
    unique = _first_of_each(items)
    if len(unique) < len(items):
        warnings.append(f"collapsed {len(items) - len(unique)} repeated items")
    kept = _cap(unique, max_items)
    if len(kept) < len(unique):
        warnings.append(f"dropped {len(unique) - len(kept)} items over the cap of {max_items}")
    return tuple(kept)


def _to_item(raw: _Raw, base: str, source: str | None) -> FeedItem | None:
    link = canonical_url(raw.link, base=base) if raw.link else None
    if not (raw.title or raw.text or link):
        return None
    return FeedItem(
        guid=raw.entry_id or link or _fallback_guid(raw),
        url=link,
        title=raw.title,
        text=raw.text,
        published=raw.published,
        author=raw.author,
        source=source,
    )


def _fallback_guid(raw: _Raw) -> str:
    """Stable id for an item with neither id nor link: its title and date (else its text)."""
    stamp = raw.published.isoformat() if raw.published else ""
    basis = f"{raw.title}\n{stamp}" if raw.title else f"{raw.text}\n{stamp}"
    return "sha256:" + hashlib.sha256(basis.encode("utf-8")).hexdigest()


def _first_of_each(items: Iterable[FeedItem]) -> list[FeedItem]:
    """Drop repeats inside one document (Al-Monitor lists stories 4 times): first wins."""
    seen: set[str] = set()
    unique = []
    for item in items:
        keys = {f"g:{item.guid}"} | ({f"u:{item.url}"} if item.url else set())
        if keys & seen:
            continue
        seen |= keys
        unique.append(item)
    return unique


def _cap(items: list[FeedItem], max_items: int) -> list[FeedItem]:
    """Keep the newest ``max_items`` (document order when undated), in document order."""
    if len(items) <= max_items:
        return items
    if any(item.published for item in items):
        oldest = datetime.min.replace(tzinfo=UTC)  # undated items go first when trimming
        order = sorted(range(len(items)), key=lambda i: items[i].published or oldest, reverse=True)
        chosen = set(order[: max(max_items, 0)])
        return [item for i, item in enumerate(items) if i in chosen]
    return items[: max(max_items, 0)]


def _single_line(text: str) -> str:
    """Titles, names: text on one line (a broken feed can run a title over several)."""
    return " ".join(normalise_text(text).split())


def _host(url: str) -> str | None:
    try:
        return urlsplit(url).hostname or None
    except ValueError:
        return None


def _one_line(exc: BaseException) -> str:
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return text[:_MAX_WARNING]
