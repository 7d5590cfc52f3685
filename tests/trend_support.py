"""Generated match histories in a real store: ``daily`` reports per day, each its own story
unless ``per_story`` reports share one, from rotating sources."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from itertools import count

import numpy as np

from bot.core.models import FeedItem, Topic
from bot.core.records import NewArticle, NewMatch
from bot.store import Store

SOURCES = ("Defense Wire", "Mideast Desk", "World Briefing")
_serial = count(1)


def add_topic(store: Store, name: str, now: datetime) -> None:
    store.upsert_topic_default(Topic(name, "generated", 0.5), now)


def add_history(
    store: Store,
    topic: str,
    daily: Sequence[int],
    *,
    end: datetime,
    per_story: int = 1,
) -> None:
    """``daily[-1]`` reports in the 24 hours before ``end``, ``daily[-2]`` the day before…"""
    for back, reports in enumerate(reversed(daily)):
        day_end = end - timedelta(days=back)
        first_of_story: int | None = None
        for i in range(reports):
            n = next(_serial)
            published = day_end - timedelta(minutes=10 + i * 5)
            item = FeedItem(
                guid=f"gen-{n}",
                url=f"https://news.example/gen/{n}",
                title=f"Report {n}",
                text=f"Generated report {n}.",
                published=published,
                source=SOURCES[n % len(SOURCES)],
            )
            article = NewArticle(
                item,
                None,
                f"gen-hash-{n}",
                [item.text],
                np.ones((1, 4), np.float32) / 2,
                story_of=first_of_story if i % per_story else None,
            )
            match = NewMatch(0, topic, 0.9, 0.5, None, "seed", "passage")
            saved, _ = store.save_articles([article], [match], model="m", now=published)
            if i % per_story == 0:
                first_of_story = saved[0].id
