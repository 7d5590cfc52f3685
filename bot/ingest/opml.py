"""OPML import/export of feed lists (pure). Parsing refuses DTDs and entities (defusedxml)."""

from __future__ import annotations

from dataclasses import dataclass
from xml.etree import ElementTree as ET

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from bot.core.errors import BadArgument

MAX_OPML_BYTES = 1_000_000  # one cap for the CLI, Telegram and Slack: a feed list is a few kB


@dataclass(frozen=True)
class OutlineFeed:
    url: str
    name: str | None


def parse_opml(data: bytes) -> list[OutlineFeed]:
    if len(data) > MAX_OPML_BYTES:
        raise BadArgument(f"OPML file too large ({MAX_OPML_BYTES // 1000} kB at most)")
    try:
        root = SafeET.fromstring(data, forbid_dtd=True)
    except (ET.ParseError, DefusedXmlException, ValueError) as exc:
        raise BadArgument(f"not a readable OPML file: {exc}") from exc
    if root.tag.lower() != "opml":
        raise BadArgument("not an OPML file: the root element is not <opml>")
    feeds: list[OutlineFeed] = []
    seen: set[str] = set()
    for outline in root.iter("outline"):
        url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
        if url and url not in seen:
            seen.add(url)
            feeds.append(OutlineFeed(url, outline.get("title") or outline.get("text")))
    return feeds


def to_opml(feeds: list[OutlineFeed], title: str = "Threatwatch feeds") -> str:
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    body = ET.SubElement(root, "body")
    for feed in feeds:
        name = feed.name or feed.url
        ET.SubElement(body, "outline", type="rss", text=name, title=name, xmlUrl=feed.url)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
