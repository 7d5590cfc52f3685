"""Frozen dataclasses that flow between the pipeline stages, the store and the service.

Data path (docs/ARCHITECTURE.md walks it module by module): fetch → FetchResult → parse →
ParsedFeed(FeedItem…) → dedupe → extract (full text) → embed → match → TopicScore →
store.save_articles (NewArticle, NewMatch) → Article, Match → outbox → deliver.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bot.core.errors import BadArgument

if TYPE_CHECKING:
    from bot.core.facets import Facet


@dataclass(frozen=True)
class FetchResult:
    """What the fetch stage returns for one URL."""

    url: str  # final URL after redirects
    status: int  # 200 or 304
    content: bytes  # decoded of transfer/content encoding; empty on 304
    headers: Mapping[str, str]  # lower-case names
    not_modified: bool = False

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")

    @property
    def last_modified(self) -> str | None:
        return self.headers.get("last-modified")


@dataclass(frozen=True)
class FeedItem:
    """One normalised entry of a feed, before it is stored."""

    guid: str  # guid, else canonical link, else hash of title+date
    url: str | None  # canonical absolute link, tracking parameters removed
    title: str
    text: str  # plain text, HTML removed
    published: datetime | None  # UTC; None when the feed gives no date
    author: str | None = None
    source: str | None = None  # feed/outlet name


@dataclass(frozen=True)
class ParsedFeed:
    title: str | None
    link: str | None
    items: tuple[FeedItem, ...]
    ttl_seconds: int | None = None  # RSS <ttl>, sy:updatePeriod…
    warnings: tuple[str, ...] = ()  # e.g. recovered-from-malformed-XML notes
    hub_url: str | None = None  # WebSub hub advertised by the feed (Link header or document)
    self_url: str | None = None  # the feed's rel="self" URL: the WebSub topic


class FeedStatus(enum.StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"  # too many consecutive failures, or by an admin


@dataclass(frozen=True)
class Feed:
    id: int
    url: str
    name: str | None
    status: FeedStatus
    etag: str | None
    last_modified: str | None
    next_check_at: datetime
    last_checked_at: datetime | None
    last_success_at: datetime | None
    consecutive_failures: int
    last_error: str | None
    items_seen: int = 0
    hub_url: str | None = None  # WebSub hub the feed advertised when last fetched
    self_url: str | None = None  # its rel="self" URL, the topic to subscribe to


class WebSubState(enum.StrEnum):
    PENDING = "pending"  # asked the hub; no verification yet
    ACTIVE = "active"  # verified; the hub pushes new content until expires_at
    DENIED = "denied"  # the hub refused the subscription
    FAILED = "failed"  # the request could not be made or the hub answered with an error


@dataclass(frozen=True)
class WebSubSubscription:
    """Our subscription to a feed's WebSub hub (one per feed)."""

    feed_id: int
    hub_url: str
    topic_url: str
    callback_token: str  # last segment of the callback URL; unguessable
    secret: str  # HMAC key for the hub's signatures
    state: WebSubState
    awaiting_verification: bool  # a subscribe request is out and not verified yet
    lease_seconds: int | None
    expires_at: datetime | None
    requested_at: datetime
    verified_at: datetime | None
    next_attempt_at: datetime  # renew, or ask again
    failures: int = 0
    last_error: str | None = None
    deliveries: int = 0
    last_delivery_at: datetime | None = None


@dataclass(frozen=True)
class Article:
    """A stored article (new or old)."""

    id: int
    feed_id: int | None
    guid: str
    url: str | None
    title: str
    text: str
    published: datetime  # falls back to first-seen time
    first_seen: datetime
    author: str | None
    source: str | None
    content_hash: str
    story_id: int | None = None
    language: str = ""  # ISO 639-1 ("en", "ar", "fa"…), "und" when unsure, "" if never detected


def utcnow() -> datetime:
    """The clock every long-lived object gets by default (tests pass their own)."""
    return datetime.now(UTC)


TOPIC_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


def validate_topic_name(name: str) -> str:
    if not TOPIC_NAME.match(name):
        raise BadArgument(
            f"bad topic name {name[:70]!r}: use 1-63 lower-case letters, digits, '-' or '_'"
        )
    return name


@dataclass(frozen=True)
class Topic:
    name: str
    description: str
    threshold: float
    enabled: bool = True
    threshold_mode: str = "manual"  # "auto": the active version's cross-validated threshold
    facets: tuple[Facet, ...] = ()  # phrase groups that spell out the definition
    active_version: int | None = None


@dataclass(frozen=True)
class Seed:
    id: int
    topic: str
    title: str
    text: str
    content_hash: str
    origin: str  # file name, URL, or "chat"
    kind: str = "positive"  # "positive" or "counter" (counter-examples)


@dataclass(frozen=True)
class TopicScore:
    """How one article scored against one topic: the explanation travels with the score."""

    topic: str
    score: float
    threshold: float
    seed_id: int | None
    seed_title: str | None
    passage: str  # the article passage that matched best
    similarity: float | None = None  # cosine of that passage to the nearest seed passage

    @property
    def is_match(self) -> bool:
        return self.score >= self.threshold


@dataclass(frozen=True)
class Match:
    """A stored match: an article that scored over a topic's threshold."""

    id: int
    article: Article
    topic: str
    score: float
    threshold: float
    seed_title: str | None
    passage: str
    created_at: datetime
    story_id: int | None = None  # the story (event) this report belongs to
    story_role: str = "first"  # "first" alerts; "repeat" threads under it; "update" adds facts
    summary: str = ""  # 2-3 sentence extractive summary
    similarity: float | None = None  # raw similarity to the nearest seed, beside the score
    roles: str = ""  # "who → what → whom, where" in the article's words (bot/relevance/roles.py)


@dataclass(frozen=True)
class TopicVersion:
    """One change to a topic: what changed, and a full snapshot to roll back to."""

    topic: str
    version: int
    reason: str
    created_at: datetime
    snapshot: Mapping[str, Any]


@dataclass
class CycleReport:
    """Counts of one poll cycle; logged as one line and printed by ``poll --once``."""

    feeds_due: int = 0
    fetched: int = 0
    not_modified: int = 0
    failed: int = 0
    new: int = 0
    duplicates: int = 0
    full_text: int = 0
    matched: int = 0
    queued: int = 0
    seconds: float = 0.0
    leases_lost: int = 0  # feeds whose results were dropped: another process took them over
    stopped_at_lead: int = 0  # new articles whose lead was clearly unrelated to every topic
    errors: list[str] = field(default_factory=list)
    failed_by: dict[str, int] = field(default_factory=dict)  # failed fetches by error class
    matched_by_topic: dict[str, int] = field(default_factory=dict)
    queued_by_platform: dict[str, int] = field(default_factory=dict)  # outbox rows by platform

    def line(self) -> str:
        return (
            f"cycle: feeds_due={self.feeds_due} fetched={self.fetched} "
            f"not_modified={self.not_modified} failed={self.failed} new={self.new} "
            f"duplicates={self.duplicates} full_text={self.full_text} matched={self.matched} "
            f"queued={self.queued} stopped_at_lead={self.stopped_at_lead} "
            f"seconds={self.seconds:.2f}"
            + (f" leases_lost={self.leases_lost}" if self.leases_lost else "")
        )
