"""Preview a topic as configured now against the stored articles of the last N days, before an
edit goes live: how many would match, how that differs from what matched, the top items."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.core.errors import NotFound
from bot.core.models import Article, TopicScore
from bot.relevance.match import TopicIndex, score_article
from bot.store import Store

MAX_DAYS = 90


@dataclass(frozen=True)
class Preview:
    topic: str
    days: int
    threshold: float
    scored: int  # stored articles of the period
    would_match: int
    matched_before: int  # of those articles, how many matched when they arrived
    newly_matching: int  # would match now, did not then
    no_longer_matching: int  # matched then, would not now
    top: list[tuple[Article, TopicScore]]


def preview_topic(
    store: Store,
    indexes: Sequence[TopicIndex],
    model: str,
    topic: str,
    *,
    since: datetime,
    days: int,
    top: int = 5,
) -> Preview:
    """Score every article stored since ``since`` with the topic's current index (the scoring
    path alerts use), and compare with the matches they got on arrival."""
    if not indexes:
        raise NotFound(f"no topic {topic!r}")
    index = indexes[0]
    ids = store.article_ids_since(since)
    matched_then = store.matched_article_ids(topic, ids)
    scored: list[tuple[int, TopicScore]] = []
    for article_id in ids:
        passages, vectors = store.article_vectors(article_id, model)
        if passages:
            scored.append((article_id, score_article(vectors, passages, index)))
    matching = [(aid, s) for aid, s in scored if s.is_match]
    matching_ids = {aid for aid, _ in matching}
    matching.sort(key=lambda pair: -pair[1].score)
    articles = store.articles_by_ids([aid for aid, _ in matching[:top]])
    return Preview(
        topic=topic,
        days=days,
        threshold=index.topic.threshold,
        scored=len(scored),
        would_match=len(matching),
        matched_before=len(matched_then),
        newly_matching=len(matching_ids - matched_then),
        no_longer_matching=len(matched_then - matching_ids),
        top=[(articles[aid], s) for aid, s in matching[:top]],
    )
