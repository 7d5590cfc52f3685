"""The health probe reads a database afresh on both backends, and says clearly when it cannot."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.core.errors import StoreError
from bot.store import SqliteStore
from bot.store.postgres import PostgresStore
from bot.store.probe import probe_database

NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)


def test_probe_counts_feeds_on_sqlite(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "t.db")
    store.add_feed("https://example.org/a.xml", None, NOW)
    store.close()
    assert probe_database(tmp_path / "t.db", NOW).feeds_by_status == {"active": 1}


def test_probe_counts_feeds_on_postgresql(postgres_url: str) -> None:
    store = PostgresStore(postgres_url)
    store.add_feed("https://example.org/a.xml", None, NOW)
    store.close()
    found = probe_database(postgres_url, NOW)
    assert found.feeds_by_status == {"active": 1}
    assert found.outbox_pending == 0 and found.vectors == 0


def test_probe_of_an_unreachable_postgresql_is_a_clear_error() -> None:
    with pytest.raises(StoreError, match="cannot be reached") as caught:
        probe_database("postgresql://tw:secret@127.0.0.1:9/none", NOW)
    assert "secret" not in str(caught.value)


def test_probe_never_creates_a_missing_sqlite_file(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        probe_database(tmp_path / "gone.db", NOW)
    assert not (tmp_path / "gone.db").exists()
