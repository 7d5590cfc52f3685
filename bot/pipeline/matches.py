"""A match to save, with what explains it: the summary and the role line (English only)."""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.facets import Facet
from bot.core.models import FeedItem, TopicScore
from bot.core.records import NewMatch
from bot.relevance.role_line import role_line
from bot.relevance.summary import summarize


def new_match(
    index: int, item: FeedItem, s: TopicScore, facets: Sequence[Facet], *, english: bool
) -> NewMatch:
    """A match to save, with what explains it: a non-English alert shows the passage in the
    original instead of a summary, and has no role line (its rules read English sentences)."""
    return NewMatch(
        index,
        s.topic,
        s.score,
        s.threshold,
        s.seed_id,
        s.seed_title,
        s.passage,
        similarity=s.similarity,
        summary=summarize(item.text, facets, title=item.title) if english else "",
        roles=role_line(item.title, item.text, facets) if english else "",
    )
