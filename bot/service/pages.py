"""Article text fetched from a URL for a seed or a comparison: through the SSRF guard, extracted
off the event loop. Shared by the topic and query services."""

from __future__ import annotations

import asyncio

from bot.core.errors import BadArgument
from bot.core.settings import Settings
from bot.ingest import extract, netguard
from bot.ingest.fetch import HTML_ACCEPT, Fetcher


class PageReader:
    def __init__(self, settings: Settings, fetcher: Fetcher) -> None:
        self.settings = settings
        self.fetcher = fetcher

    async def article_text(self, url: str) -> str:
        await netguard.check_url(url, allow_private=self.settings.allow_private_networks)
        page = await self.fetcher.fetch(url, accept=HTML_ACCEPT)
        text = await asyncio.to_thread(extract.extract_main_text, page.content, url=page.url)
        if not text:
            raise BadArgument(f"could not extract article text from {url}")
        return text
