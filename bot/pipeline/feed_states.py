"""What a poll round learned about each feed, and writing it back: the next check time (backoff,
TTL, caching headers, WebSub's longer interval), the ETag and Last-Modified, errors, and
disabling a feed that keeps failing. Written only after the round's articles are saved, so a
crash mid-cycle re-fetches rather than losing items; in a poll cycle, only while the process's
lease on the feed holds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.core.errors import FeedUnavailable, ThreatwatchError
from bot.core.models import Feed, FeedItem, FetchResult, ParsedFeed
from bot.core.settings import Settings
from bot.ingest import schedule
from bot.pipeline.leases import CycleLeases
from bot.store import Store


@dataclass(frozen=True)
class FeedOutcome:
    feed: Feed
    result: FetchResult | None = None
    parsed: ParsedFeed | None = None
    error: ThreatwatchError | None = None
    fresh: tuple[FeedItem, ...] = ()  # parsed items not stored before, with full text


def record_feed_states(
    store: Store,
    settings: Settings,
    outcomes: Sequence[FeedOutcome],
    now: datetime,
    leases: CycleLeases | None = None,
) -> None:
    """Each fetched feed's new state: when it is next due (backoff after a failure, its own
    TTL or caching headers after a success), its ETag, its error. One commit for the round.
    Under ``leases``, only for the feeds whose lease still holds, which are then given back."""
    if leases is None:
        with store.one_transaction():  # a round's feeds: one commit, not one each
            _record_each(store, settings, outcomes, now)
        return
    with leases.writing((o.feed.id for o in outcomes), now) as dropped:
        kept = [o for o in outcomes if o.feed.id not in dropped]
        _record_each(store, settings, kept, now)
        for o in kept:
            leases.done(o.feed.id)


def _record_each(
    store: Store, settings: Settings, outcomes: Sequence[FeedOutcome], now: datetime
) -> None:
    interval = settings.poll_interval
    pushing = _pushing_feeds(store, settings, now)
    for o in outcomes:
        if o.error is not None:
            failures = o.feed.consecutive_failures + 1
            retry_after = o.error.retry_after if isinstance(o.error, FeedUnavailable) else None
            store.record_feed_failure(
                o.feed.id,
                now=now,
                error=str(o.error),
                next_check_at=schedule.next_check_after_failure(
                    now,
                    consecutive_failures=failures,
                    retry_after=retry_after,
                    base=interval,
                    cap=settings.max_backoff_seconds,
                ),
                disable=schedule.should_disable(failures, settings.max_consecutive_failures),
            )
            continue
        assert o.result is not None
        next_check = schedule.next_check_after_success(
            now,
            headers=o.result.headers,
            ttl_seconds=o.parsed.ttl_seconds if o.parsed else None,
            default_interval=pushing.get(o.feed.id, interval),
            max_interval=settings.max_backoff_seconds,
        )
        if o.result.not_modified:
            store.record_feed_not_modified(o.feed.id, now=now, next_check_at=next_check)
        else:
            assert o.parsed is not None
            store.record_feed_success(
                o.feed.id,
                now=now,
                next_check_at=next_check,
                etag=o.result.etag,
                last_modified=o.result.last_modified,
                name=o.parsed.title,
                items_seen=len(o.parsed.items),
                hub_url=o.parsed.hub_url,
                self_url=o.parsed.self_url,
            )


def _pushing_feeds(store: Store, settings: Settings, now: datetime) -> dict[int, int]:
    """Feeds a WebSub hub pushes to us, with their (longer) fallback poll interval."""
    longer = settings.websub_poll_interval
    if not (longer and settings.websub_callback_url):
        return {}
    return dict.fromkeys(store.websub_active_feed_ids(now), longer)
