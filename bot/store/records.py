"""Records the store takes and returns besides bot.models."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from bot.models import FeedItem, Match


@dataclass(frozen=True)
class NewArticle:
    """An item ready to be saved, with its passages and their vectors."""

    item: FeedItem
    feed_id: int | None
    content_hash: str
    passages: Sequence[str]
    vectors: np.ndarray  # (len(passages), dim) float32, L2-normalised
    story_of: int | None = None  # a stored article this is another report of
    story_of_index: int | None = None  # …or an earlier article of the same batch
    adds_facts: bool = False  # states facts the story's earlier reports did not


@dataclass(frozen=True)
class NewMatch:
    article_index: int  # index into the NewArticle batch being saved
    topic: str
    score: float
    threshold: float
    seed_id: int | None
    seed_title: str | None
    passage: str
    similarity: float | None = None
    summary: str = ""
    roles: str = ""  # the role line the alert states


@dataclass(frozen=True)
class StoredReport:
    """What story linking needs of a stored article; none of it changes once saved."""

    article_id: int
    opening: np.ndarray  # (≤ n, dim): the vectors of its first passages, as many as asked for
    title: str
    text: str
    published: datetime


@dataclass(frozen=True)
class OutboxEntry:
    id: int
    match: Match
    channel_id: int
    platform: str
    chat_id: str
    thread_id: str
    attempts: int
