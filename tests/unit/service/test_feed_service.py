"""FeedService on a real SQLite file: one OPML size cap for every way in, hostile entries
refused without losing the good ones."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.core.errors import BadArgument
from bot.core.settings import Settings
from bot.service.feeds import MAX_OPML_BYTES, FeedService
from bot.store import SqliteStore

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def opml(urls: list[str], padding: int = 0) -> bytes:
    outlines = "".join(f'<outline type="rss" xmlUrl="{u}" text="t"/>' for u in urls)
    pad = f"<!-- {'x' * padding} -->" if padding else ""
    return f'<?xml version="1.0"?><opml version="2.0"><body>{outlines}</body>{pad}</opml>'.encode()


@pytest.fixture
def service(tmp_path: Path) -> FeedService:
    settings = Settings(db=tmp_path / "t.db", load_default_feeds=False)
    return FeedService(settings, SqliteStore(settings.db), lambda: NOW)


async def test_an_opml_file_over_the_cap_is_refused_and_changes_nothing(
    service: FeedService,
) -> None:
    data = opml(["https://example.org/feed.xml"], padding=MAX_OPML_BYTES)
    with pytest.raises(BadArgument, match="OPML file too large"):
        await service.import_opml(data)
    assert service.list_feeds() == []


async def test_hostile_entries_are_refused_and_the_good_ones_kept(tmp_path: Path) -> None:
    # no DNS here: the good feed is on loopback, which this service is told to allow
    settings = Settings(db=tmp_path / "t.db", load_default_feeds=False, allow_private_networks=True)
    service = FeedService(settings, SqliteStore(settings.db), lambda: NOW)
    good = "http://127.0.0.1:9/feed.xml"
    result = await service.import_opml(opml([good, "file:///etc/passwd", "ftp://127.0.0.1/x"]))
    assert [f.url for f in result.added] == [good]
    assert sorted(url for url, _ in result.refused) == ["file:///etc/passwd", "ftp://127.0.0.1/x"]
    assert [f.url for f in service.list_feeds()] == [good]
