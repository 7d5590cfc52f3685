"""Records the store takes and returns besides bot.core.models: what the pipeline saves, what
story linking reads back, what the outbox hands to a sink."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

import numpy as np

from bot.core.models import Feed, FeedItem, Match


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
    language: str = ""  # ISO 639-1 code the article was detected in ("und" when unsure)


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
    # the last attempt's id once the row has been tried (its outcome may be unknown: a crash or
    # a timeout after the platform accepted it), and when the row was queued
    attempt_id: str | None = None
    queued_at: datetime | None = None


@dataclass(frozen=True)
class ChatClaim:
    """One process's hold on a chat: only it sends to the chat until ``until`` (renewed with
    each send). ``epoch`` grows with every new holder and fences a holder whose claim ran out."""

    channel_id: int
    owner: str
    epoch: int
    until: datetime


@dataclass(frozen=True)
class SendWindow:
    """A rate limit shared by every process through the database: at most ``messages`` sends in
    any ``per_seconds`` to ``scope`` (a platform's whole bot, or one chat)."""

    scope: str
    messages: int
    per_seconds: float


@dataclass(frozen=True)
class FeedLease:
    feed: Feed
    owner: str
    epoch: int  # the fencing token: the feed's claim counter when this lease was granted
    until: datetime


@dataclass(frozen=True)
class TopicActivity:
    topic: str
    days: tuple[date, ...]  # every UTC day of the window, oldest first
    matches: tuple[int, ...]  # matches published that day
    stories: tuple[int, ...]  # distinct stories (events) among them
    sources: tuple[tuple[str, int], ...]  # top sources over the window, most first


@dataclass(frozen=True)
class RecentReport:
    match_id: int
    title: str
    url: str | None
    source: str | None
    published: datetime


@dataclass(frozen=True)
class DatabaseProbe:
    feeds_by_status: dict[str, int] = field(default_factory=dict)
    outbox_by_status: dict[tuple[str, str], int] = field(default_factory=dict)  # (platform, status)
    outbox_pending: int = 0
    oldest_pending_seconds: float = 0.0  # age of the oldest pending alert (instant chats)
    overdue_seconds: float = 0.0  # how long the most overdue pending alert has been due
    vectors: int = 0  # stored article passages (the vector index's size)


@dataclass(frozen=True)
class SpikeAlert:
    """An activity spike as queued for its chats: what the message says and its chart, the PNG
    rendered when the spike was found and stored with it, so that a retry hours later sends the
    same picture the first attempt carried."""

    id: int  # 0 until it is queued
    topic: str
    detected_at: datetime
    measure: str  # "matches" or "stories"
    count: int  # in the last 24 hours
    median: float  # a day of the baseline
    z: float
    reports: tuple[RecentReport, ...]  # the stories behind it, newest first
    chart_filename: str
    chart: bytes


@dataclass(frozen=True)
class SpikeDelivery:
    """One (spike alert, chat) row of the spike outbox."""

    id: int
    spike_id: int
    topic: str
    channel_id: int
    platform: str
    chat_id: str
    thread_id: str
    attempts: int
    subscribed: bool  # the chat still has an active subscription to the topic
