"""Full text for feed items that carry only a teaser: the article's page is fetched and its main
text extracted; a page that cannot be fetched keeps the teaser."""

from __future__ import annotations

import asyncio
import logging

from bot.core.errors import ThreatwatchError
from bot.core.models import CycleReport, FeedItem
from bot.core.settings import Settings
from bot.ingest import extract
from bot.ingest.fetch import HTML_ACCEPT, Fetcher

log = logging.getLogger(__name__)


async def with_full_text(
    fetcher: Fetcher, settings: Settings, items: list[FeedItem], report: CycleReport
) -> list[FeedItem]:
    async def one(item: FeedItem) -> FeedItem:
        if not extract.needs_full_text(item, settings.full_text_min_words) or not item.url:
            return item
        try:
            page = await fetcher.fetch(item.url, accept=HTML_ACCEPT)
        except ThreatwatchError as exc:
            log.info("full text: keeping teaser of %s (%s)", item.url, exc)
            return item
        charset = page.headers.get("content-type", "").partition("charset=")[2].strip(' "') or None
        text = await asyncio.to_thread(
            extract.extract_main_text, page.content, url=page.url, charset=charset
        )
        merged = extract.merge_full_text(item, text)
        if merged is not item and merged.text != item.text:
            report.full_text += 1
        return merged

    return list(await asyncio.gather(*(one(i) for i in items)))
