"""The poll loop of `threatwatch run` wakes when the next feed is due (not at the next fixed
tick), so an item waits at most the poll interval plus one cycle before it is fetched."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import runner
from bot.app.compose import compose
from bot.core.settings import Settings

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


async def test_the_poll_loop_sleeps_until_the_next_feed_is_due(tmp_path: Path) -> None:
    settings = Settings(
        db=tmp_path / "t.db", embedder="hashing", load_default_feeds=False, poll_interval=300
    )
    app = compose(settings, clock=lambda: NOW, sinks={})
    try:
        assert runner._until_next_due(app) == runner.MAX_TICK_SECONDS  # no feeds yet
        feed, _ = app.store.add_feed("https://news.example/feed.xml", None, NOW)  # due at once
        assert runner._until_next_due(app) == runner.MIN_TICK_SECONDS
        for seconds, wait in ((4, 4 + runner.DUE_SLACK_SECONDS), (300, runner.MAX_TICK_SECONDS)):
            app.store.record_feed_not_modified(
                feed.id, now=NOW, next_check_at=NOW + timedelta(seconds=seconds)
            )
            assert runner._until_next_due(app) == pytest.approx(wait)
        app.settings.poll_interval = 5  # a tick is never longer than the interval
        assert runner._until_next_due(app) == 5
    finally:
        await app.aclose()
