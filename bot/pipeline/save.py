"""The last stage of an ingest batch: its articles, matches and outbox rows written in one go
(in a poll cycle only those of feeds whose lease still holds), and the cycle's report told."""

from __future__ import annotations

import logging
from datetime import datetime

from bot.core.models import CycleReport
from bot.core.records import NewArticle, NewMatch
from bot.pipeline.leases import CycleLeases, without_feeds, writing
from bot.store import Store

log = logging.getLogger("bot.pipeline.cycle")  # the alert lines keep the logger they always had


def save_batch(
    store: Store,
    batch: list[NewArticle],
    matches: list[NewMatch],
    model: str,
    report: CycleReport,
    leases: CycleLeases | None,
    now: datetime,
) -> None:
    """Articles, matches, outbox rows; in a cycle, only of feeds whose lease still holds."""
    with writing(leases, [a.feed_id for a in batch], now) as dropped:
        batch, matches = without_feeds(batch, matches, dropped)
        saved, new_matches = store.save_articles(batch, matches, model=model, now=now)
        queued = store.outbox_rows_by_platform([m.id for m in new_matches])
    report.new += len(saved)
    report.duplicates += len(batch) - len(saved)
    report.matched += len(new_matches)
    for m in new_matches:
        report.matched_by_topic[m.topic] = report.matched_by_topic.get(m.topic, 0) + 1
        log.info(
            "alert %d: article %d matched %s (%.3f)",
            m.id,
            m.article.id,
            m.topic,
            m.score,
            extra={"alert_id": m.id, "article_id": m.article.id, "topic": m.topic},
        )
    for platform, count in queued.items():
        report.queued_by_platform[platform] = report.queued_by_platform.get(platform, 0) + count
    report.queued += sum(queued.values())
