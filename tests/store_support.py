"""Articles to save in a real store, for tests that need stored articles and matches but not
what they say."""

from __future__ import annotations

from datetime import datetime

import numpy as np

from bot.core.models import FeedItem
from bot.core.records import NewArticle


def new_article(n: int, published: datetime | None) -> NewArticle:
    """Article ``n``: its own guid, link and content hash, one passage, a unit vector."""
    item = FeedItem(
        guid=f"g{n}",
        url=f"https://news.example/{n}",
        title=f"Title {n}",
        text=f"Body of story {n}.",
        published=published,
    )
    return NewArticle(item, None, f"h{n}", [item.text], np.ones((1, 4), np.float32) / 2)
