"""Shared pytest fixtures. Other test modules may append their own fixtures below."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit.feedserver import FeedServer

DATA_DIR = Path(__file__).parent / "data"
FEEDS_DIR = DATA_DIR / "feeds"


@pytest.fixture
def feeds_dir() -> Path:
    """Recorded feed captures (copied from ../shared/feeds)."""
    return FEEDS_DIR


@pytest.fixture
def feed_server(feeds_dir: Path) -> Iterator[FeedServer]:
    """A started FeedServer over tests/data/feeds on 127.0.0.1, port chosen by the OS."""
    with FeedServer(feeds_dir) as server:
        yield server
