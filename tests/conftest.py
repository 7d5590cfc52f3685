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


@pytest.fixture(autouse=True, scope="session")
def _one_int8_model_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Processes that embed with the int8 model (THREATWATCH_EMBED_PRECISION auto picks it on a
    CPU with int8 dot products) share one cache: the model is built once per test session,
    not once per test database."""
    import os

    key = "THREATWATCH_MODEL_CACHE_DIR"
    before = os.environ.get(key)
    os.environ[key] = before or str(tmp_path_factory.mktemp("model-cache"))
    yield
    if before is None:
        os.environ.pop(key, None)
