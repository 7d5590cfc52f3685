"""Feeds: add (through the SSRF guard), list, remove, OPML import and export."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.core.errors import BadArgument, Refused
from bot.core.models import Feed
from bot.core.settings import Settings
from bot.ingest.opml import MAX_OPML_BYTES, OutlineFeed, parse_opml, to_opml
from bot.store import Store

MAX_FEED_NAME = 200
__all__ = ["MAX_OPML_BYTES", "FeedService", "ImportResult"]  # the OPML cap is the service's


@dataclass(frozen=True)
class ImportResult:
    added: list[Feed]
    existing: list[str]
    refused: list[tuple[str, str]]  # (url, reason)


class FeedService:
    def __init__(self, settings: Settings, store: Store, clock: Callable[[], datetime]) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock

    async def add_feed(self, url: str, name: str | None = None) -> tuple[Feed, bool]:
        # the SSRF guard brings the HTTP stack: imported here, so listing feeds stays instant
        from bot.ingest import netguard

        url = url.strip()
        await netguard.check_url(url, allow_private=self.settings.allow_private_networks)
        if name is not None and len(name) > MAX_FEED_NAME:
            raise BadArgument(f"feed name too long ({MAX_FEED_NAME} characters at most)")
        return self.store.add_feed(url, name, self.clock())

    def list_feeds(self) -> list[Feed]:
        return self.store.feeds()

    def remove_feed(self, ref: str) -> Feed:
        feed = self.store.find_feed(ref.strip())
        self.store.remove_feed(feed.id)
        return feed

    async def import_opml(self, data: bytes) -> ImportResult:
        added: list[Feed] = []
        existing: list[str] = []
        refused: list[tuple[str, str]] = []
        for outline in parse_opml(data):
            try:
                feed, created = await self.add_feed(outline.url, outline.name)
            except Refused as exc:  # a bad or hostile URL in the file: skip it, keep the rest
                refused.append((outline.url, str(exc)))
                continue
            (added.append(feed) if created else existing.append(feed.url))
        return ImportResult(added, existing, refused)

    def export_opml(self) -> str:
        return to_opml([OutlineFeed(f.url, f.name) for f in self.store.feeds()])
