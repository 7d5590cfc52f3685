"""The ingest cascade inside the poll cycle: the same alerts with and without it, articles it
stops stored with their lead as their only passage, and the cycle report counting them.
The shipped topic's definition trained on the sample with the hashing embedder; the sample's
reports and recorded news (two feeds that carry whole articles) ingested."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from relevance_support import sample, write_topic

from bot.app.compose import compose
from bot.core.models import CycleReport, FeedItem
from bot.core.settings import Settings
from bot.ingest.parse import parse_feed
from bot.relevance.cascade import lead_text
from bot.relevance.scorer import document_text

REPO = Path(__file__).resolve().parents[3]
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
NEWS = ("news-dawn-world-rss2.xml", "news-foreignpolicy-rss2-content-encoded.xml")


def items() -> list[FeedItem]:
    reports = [
        FeedItem(guid=r["id"], url=f"https://news.example/{r['id']}", title=r["title"] or "",
                 text=r["text"], published=NOW)
        for r in sample()
    ]  # fmt: skip
    news = [
        item
        for name in NEWS
        for item in parse_feed(
            (REPO / "tests" / "data" / "feeds" / name).read_bytes(), url=f"https://x.example/{name}"
        ).items
    ]
    return reports + news


def ingest(
    tmp: Path, *, cascade: bool
) -> tuple[CycleReport, dict[str, float], dict[str, list[str]]]:
    # the shipped topic's definition trained on the sample: quicker than all its seeds
    config, seeds = write_topic(
        tmp,
        positives=sample(label="related"),
        counters=sample(label="hard_negative"),
        background=sample(label="negative"),
    )
    settings = Settings(
        db=tmp / "t.db",
        config_dir=config,
        seeds_dir=seeds,
        embedder="hashing",
        load_default_feeds=False,
        embed_cascade=cascade,
    )
    app = compose(settings, clock=lambda: NOW, sinks={})
    report = CycleReport()
    try:
        batch = items()
        asyncio.run(app.pipeline.ingest_items(batch, [None] * len(batch), report))
        matches = {m.article.guid: m.score for m in app.store.latest_matches(limit=1000)}
        store, model = app.store, app.embedder.name
        ids = store.article_ids_since(NOW)
        stored = {
            a.guid: store.article_vectors(a.id, model)[0]
            for a in store.articles_by_ids(ids).values()
        }
    finally:
        asyncio.run(app.aclose())
    return report, matches, stored


def test_the_cascade_changes_no_alert_and_stores_stopped_articles_with_their_lead(
    tmp_path: Path,
) -> None:
    (tmp_path / "on").mkdir()
    (tmp_path / "off").mkdir()
    report, alerts, stored = ingest(tmp_path / "on", cascade=True)
    plain_report, plain_alerts, plain_stored = ingest(tmp_path / "off", cascade=False)
    assert alerts == plain_alerts and len(alerts) > 0
    assert report.new == plain_report.new == len(stored) == len(plain_stored)
    assert plain_report.stopped_at_lead == 0
    assert 0 < report.stopped_at_lead < report.new
    stopped = [guid for guid, parts in stored.items() if parts != plain_stored[guid]]
    assert stopped, "long unrelated articles stop at their lead"
    assert len(stopped) <= report.stopped_at_lead  # short ones are their own lead
    related = {r["id"] for r in sample(label="related")}
    for guid in stopped:
        assert guid not in related and guid not in alerts
        assert stored[guid] == [lead_text(document_text(plain_stored[guid]))]
    assert "stopped_at_lead=" in report.line()
    # the passages an article keeps when it goes on are exactly those without the cascade
    kept = [g for g in stored if g not in stopped]
    assert all(stored[g] == plain_stored[g] for g in kept)
