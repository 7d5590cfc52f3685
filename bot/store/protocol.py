"""The Store protocol: every operation the rest of the code asks of a database, and nothing else.

The SQLite store (bot/store/sqlite.py, assembled from one part per kind of data) is the embedded
default; a second backend implements this protocol and passes the same contract tests. What each
operation does is documented where the SQLite parts implement it. Every method returns models
(bot/core/models.py, bot/core/records.py), never rows, and raises StoreError or NotFound.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from bot.core.channels import Channel, ChannelKey, ChatSettings, Subscription
from bot.core.facets import Facet
from bot.core.models import (
    Article,
    Feed,
    FeedItem,
    Match,
    Seed,
    Topic,
    TopicVersion,
    WebSubSubscription,
)
from bot.core.records import (
    FeedLease,
    NewArticle,
    NewMatch,
    RecentReport,
    SpikeAlert,
    SpikeDelivery,
    StoredReport,
    TopicActivity,
)
from bot.store.delivery_protocol import DeliveryStore

if TYPE_CHECKING:
    import numpy as np


class Election(Protocol):
    """One process among several (the Telegram listener) holds it until it resigns or dies."""

    def try_lead(self) -> bool: ...

    def resign(self) -> None: ...


class Store(DeliveryStore, Protocol):
    # --- base ------------------------------------------------------------------------------------
    def close(self) -> None: ...

    def one_transaction(self) -> AbstractContextManager[None]: ...

    # --- feeds -----------------------------------------------------------------------------------
    def add_feed(self, url: str, name: str | None, now: datetime) -> tuple[Feed, bool]: ...

    def feed(self, feed_id: int) -> Feed: ...

    def find_feed(self, ref: str) -> Feed: ...

    def feeds(self) -> list[Feed]: ...

    def due_feeds(self, now: datetime, *, include_not_due: bool = False) -> list[Feed]: ...

    def next_feed_due_at(self) -> datetime | None: ...

    def remove_feed(self, feed_id: int) -> None: ...

    def record_feed_success(
        self,
        feed_id: int,
        *,
        now: datetime,
        next_check_at: datetime,
        etag: str | None,
        last_modified: str | None,
        name: str | None,
        items_seen: int,
        hub_url: str | None = None,
        self_url: str | None = None,
    ) -> None: ...

    def record_feed_not_modified(
        self, feed_id: int, *, now: datetime, next_check_at: datetime
    ) -> None: ...

    def record_feed_failure(
        self, feed_id: int, *, now: datetime, next_check_at: datetime, error: str, disable: bool
    ) -> None: ...

    def meta(self, key: str) -> str | None: ...

    def set_meta(self, key: str, value: str) -> None: ...

    def save_cycle_report(self, started_at: datetime, report: dict[str, Any]) -> None: ...

    def last_cycle_report(self) -> dict[str, Any] | None: ...

    # --- topics ----------------------------------------------------------------------------------
    def upsert_topic_default(self, topic: Topic, now: datetime) -> bool: ...

    def set_config_facets(self, topic: str, facets: Sequence[Facet], now: datetime) -> bool: ...

    def topics(self, *, enabled_only: bool = False) -> list[Topic]: ...

    def topic(self, name: str) -> Topic: ...

    def add_seed(self, seed: Seed, now: datetime, *, revive: bool) -> tuple[Seed, bool]: ...

    def seed(self, seed_id: int) -> Seed: ...

    def seeds(self, topic: str | None = None, *, kind: str | None = None) -> list[Seed]: ...

    def live_seed_ids(self) -> dict[str, tuple[int, ...]]: ...

    def remove_seed(self, seed_id: int, now: datetime) -> None: ...

    def cached_seed_chunks(
        self, content_hash: str, model: str
    ) -> tuple[list[str], np.ndarray] | None: ...

    def cache_seed_chunks(
        self, content_hash: str, model: str, passages: Sequence[str], vectors: np.ndarray
    ) -> None: ...

    def topic_versions(self, topic: str) -> list[TopicVersion]: ...

    def topic_version(self, topic: str, version: int) -> TopicVersion: ...

    def save_topic_version(
        self,
        topic: str,
        reason: str,
        snapshot: dict[str, Any],
        now: datetime,
        *,
        threshold: float,
    ) -> int: ...

    def mark_feedback_applied(self, match_ids: Sequence[int], *, version: int) -> None: ...

    def restore_topic(
        self, topic: str, snapshot: Mapping[str, Any], version: int, now: datetime
    ) -> None: ...

    def set_threshold_mode(
        self, topic: str, mode: str, threshold: float, now: datetime
    ) -> None: ...

    def feedback_votes(self, topic: str, *, applied_only: bool) -> list[tuple[int, int, int]]: ...

    # --- topic edits -----------------------------------------------------------------------------
    def add_topic(self, topic: Topic, now: datetime) -> None: ...

    def remove_topic(self, name: str) -> None: ...

    def update_topic(
        self,
        name: str,
        now: datetime,
        *,
        threshold: float | None = None,
        enabled: bool | None = None,
        description: str | None = None,
    ) -> None: ...

    # --- articles --------------------------------------------------------------------------------
    def known_items(self, items: Iterable[FeedItem]) -> set[str]: ...

    def stored_content_hashes(self, hashes: Iterable[str]) -> set[str]: ...

    def save_articles(
        self,
        batch: Sequence[NewArticle],
        matches: Sequence[NewMatch],
        *,
        model: str,
        now: datetime,
    ) -> tuple[list[Article], list[Match]]: ...

    def story_candidates(
        self, since: datetime, model: str, passages: int, limit: int = ...
    ) -> list[tuple[int, int | None, np.ndarray, str, str, datetime]]: ...

    def story_reports(
        self, since: datetime, model: str, passages: int, limit: int
    ) -> list[StoredReport]: ...

    def story_reports_saved_after(
        self, article_id: int, since: datetime, model: str, passages: int
    ) -> list[StoredReport]: ...

    def last_article_id(self) -> int: ...

    def story_members(self, article_id: int) -> set[int]: ...

    def article(self, article_id: int) -> Article: ...

    def articles_by_ids(self, ids: Sequence[int]) -> dict[int, Article]: ...

    def count_articles(self) -> int: ...

    def chunk_matrix(self, model: str) -> tuple[np.ndarray, np.ndarray, list[str]]: ...

    def latest_matches(self, *, topic: str | None = None, limit: int = 10) -> list[Match]: ...

    def count_matches(self, topic: str, *, since: datetime) -> int: ...

    def match(self, match_id: int) -> Match: ...

    # --- lookups ---------------------------------------------------------------------------------
    def article_by_url(self, url: str) -> Article | None: ...

    def article_vectors(self, article_id: int, model: str) -> tuple[list[str], np.ndarray]: ...

    def article_ids_since(self, since: datetime) -> list[int]: ...

    def matched_article_ids(self, topic: str, article_ids: Sequence[int]) -> set[int]: ...

    def matched_in_window(
        self, topics: Sequence[str], since: datetime, until: datetime, limit: int
    ) -> list[tuple[int, str]]: ...

    # --- channels --------------------------------------------------------------------------------
    def ensure_channel(
        self,
        platform: str,
        chat_id: str,
        thread_id: str = "",
        title: str | None = None,
        now: datetime | None = None,
    ) -> int: ...

    def channel_for(self, key: ChannelKey, now: datetime) -> Channel: ...

    def channel(self, channel_id: int) -> Channel: ...

    def digest_channels(self, platforms: Sequence[str]) -> list[Channel]: ...

    def save_channel_settings(self, channel_id: int, settings: ChatSettings) -> None: ...

    def subscribe(self, channel_id: int, topics: Sequence[str], now: datetime) -> None: ...

    def unsubscribe(self, channel_id: int, topics: Sequence[str]) -> int: ...

    def subscriptions(self, channel_id: int) -> list[Subscription]: ...

    def pause_channel(self, channel_id: int, reason: str) -> int: ...

    def count_subscriptions(self) -> dict[str, int]: ...

    def record_feedback(
        self,
        match_id: int,
        platform: str,
        user_id: str,
        vote: int,
        now: datetime,
        *,
        reason: str | None = None,
    ) -> None: ...

    def feedback_reasons(self, match_id: int) -> dict[str, int]: ...

    def feedback_counts(self, match_id: int) -> tuple[int, int]: ...

    # --- vectors ---------------------------------------------------------------------------------
    def chunk_vectors_after(
        self, model: str, after_rowid: int, limit: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...

    def iter_chunk_vectors(
        self, model: str, after_rowid: int, page: int
    ) -> Generator[tuple[np.ndarray, np.ndarray], None, None]: ...

    def chunk_vectors_by_rowid(
        self, model: str, rowids: Sequence[int]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...

    def chunk_passages(self, rowids: Sequence[int]) -> dict[int, str]: ...

    # --- websub ----------------------------------------------------------------------------------
    def websub_work(self, now: datetime) -> list[tuple[Feed, WebSubSubscription | None]]: ...

    def websub_subscription(self, feed_id: int) -> WebSubSubscription | None: ...

    def websub_by_token(self, token: str) -> WebSubSubscription | None: ...

    def websub_subscriptions(self) -> list[WebSubSubscription]: ...

    def websub_active_feed_ids(self, now: datetime) -> set[int]: ...

    def websub_requesting(
        self,
        feed_id: int,
        *,
        hub_url: str,
        topic_url: str,
        callback_token: str,
        secret: str,
        now: datetime,
        next_attempt_at: datetime,
    ) -> None: ...

    def websub_request_failed(
        self, feed_id: int, *, error: str, next_attempt_at: datetime, denied: bool = False
    ) -> None: ...

    def websub_verified(
        self,
        feed_id: int,
        *,
        lease_seconds: int,
        now: datetime,
        expires_at: datetime,
        renew_at: datetime,
    ) -> None: ...

    def websub_delivered(self, feed_id: int, now: datetime) -> None: ...

    # --- leases ------------------------------------------------------------------------------
    def claim_feeds(
        self,
        owner: str,
        now: datetime,
        *,
        lease_seconds: float,
        limit: int,
        include_not_due: bool = False,
    ) -> list[FeedLease]: ...

    def release_feed(self, lease: FeedLease) -> None: ...

    def fenced(self, lease: FeedLease, now: datetime) -> AbstractContextManager[None]: ...

    def renew_feeds(
        self, leases: Sequence[FeedLease], now: datetime, *, lease_seconds: float
    ) -> list[FeedLease]: ...

    def feed_lease_holders(self, now: datetime) -> set[str]: ...

    def release_feeds_of(self, owner: str) -> int: ...

    def schema_version(self) -> int: ...

    # --- chat updates received by several processes (bot/store/chat_updates.py) ---------------
    def listener_election(self, name: str) -> Election: ...

    def first_update(
        self, source: str, key: str, now: datetime, *, keep_seconds: float
    ) -> bool: ...

    def update_offset(self, source: str) -> int: ...

    def save_update_offset(self, source: str, offset: int, now: datetime) -> None: ...

    # --- trends ------------------------------------------------------------------------------
    def topic_activity(
        self, topic: str, *, days: int, until: datetime, top_sources: int = 5
    ) -> TopicActivity: ...

    def window_counts(
        self, topic: str, *, until: datetime, windows: int, hours: int = 24
    ) -> list[tuple[int, int]]: ...

    def recent_reports(
        self, topic: str, *, since: datetime, limit: int = 5
    ) -> list[RecentReport]: ...

    def topic_channels(self, topic: str) -> list[Channel]: ...

    # --- spike outbox --------------------------------------------------------------------------
    def queue_spike(
        self, alert: SpikeAlert, channel_ids: Sequence[int], *, not_since: datetime
    ) -> int | None: ...

    def spike_alert(self, spike_id: int) -> SpikeAlert: ...

    def due_spike_deliveries(
        self, now: datetime, *, platforms: Sequence[str], limit: int = 100
    ) -> list[SpikeDelivery]: ...

    def claim_spike_delivery(self, delivery_id: int, *, now: datetime, until: datetime) -> bool: ...

    def mark_spike_sent(
        self, delivery_id: int, now: datetime, message_ref: str | None = None
    ) -> None: ...

    def mark_spike_retry(
        self, delivery_id: int, *, next_attempt_at: datetime, error: str
    ) -> None: ...

    def drop_spike_delivery(self, delivery_id: int, *, status: str, reason: str) -> None: ...

    def spike_outbox_counts(self) -> dict[str, int]: ...
