"""A full disk or a read-only database: a clear StoreError, nothing half-written, nothing sent
twice, and everything flows again once the database can be written.

Root ignores file permissions and a small tmpfs needs mounting, so the conditions are made on
the store's own SQLite connection: ``PRAGMA max_page_count`` caps the file at its current size
(writes fail with SQLITE_FULL, "database or disk is full", as on a full disk) and ``PRAGMA
query_only`` refuses every write (SQLITE_READONLY, as for a read-only file).
"""

from __future__ import annotations

import asyncio
import io
import logging
import re
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from telegram_support import many_items, settings_for, write_watch_config

from bot.app import runner
from bot.app.compose import App, compose
from bot.core.errors import StoreError
from bot.core.records import OutboxEntry
from bot.deliver.console import CONSOLE, ConsoleSink
from bot.deliver.sink import SendOptions
from testkit.feedserver import FeedServer

ITEMS = 6
ALERT_LINE = re.compile(r"^━━ [A-Z ]+ #(\d+) · topic", re.MULTILINE)  # first report or a later one


def printed(out: io.StringIO) -> list[str]:
    return ALERT_LINE.findall(out.getvalue())


@asynccontextmanager
async def app_with_feed(root: Path, stream: io.StringIO) -> AsyncIterator[App]:
    _, _, www = write_watch_config(root, many_items(ITEMS))
    with FeedServer(www) as feeds:
        settings = settings_for(root, "", telegram_token=None, poll_interval=5)
        app = compose(settings, sinks={CONSOLE: ConsoleSink(stream)})
        await app.service.feeds.add_feed(feeds.url("wire.xml"))
        try:
            yield app
        finally:
            await app.aclose()


def disk_full(app: App) -> None:
    conn = app.store._conn  # the condition is the database's, so it is set on its connection
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")


def space_returns(app: App) -> None:
    app.store._conn.execute("PRAGMA max_page_count = 1073741823")


def read_only(app: App, on: bool) -> None:
    app.store._conn.execute(f"PRAGMA query_only = {int(on)}")


def counts(db: Path) -> tuple[int, int, int, str]:
    with sqlite3.connect(db) as conn:
        return (
            conn.execute("SELECT count(*) FROM articles").fetchone()[0],
            conn.execute("SELECT count(*) FROM matches").fetchone()[0],
            conn.execute("SELECT count(*) FROM outbox").fetchone()[0],
            conn.execute("PRAGMA integrity_check").fetchone()[0],
        )


async def test_disk_full_cycle_fails_clearly_keeps_the_file_intact_and_recovers(
    tmp_path: Path,
) -> None:
    db = tmp_path / "bot.db"
    async with app_with_feed(tmp_path, io.StringIO()) as app:
        before = counts(db)
        disk_full(app)
        with pytest.raises(StoreError, match=r"bot\.db write failed: database or disk is full"):
            await app.pipeline.poll_once()
        assert counts(db) == before == (0, 0, 0, "ok")  # nothing half-written
        [feed] = app.store.feeds()
        assert feed.etag is None  # the feed was not marked as read: its items are fetched again

        space_returns(app)
        report = await app.pipeline.poll_once()
        assert (report.new, report.matched, report.failed) == (ITEMS, ITEMS, 0)
        assert counts(db) == (ITEMS, ITEMS, ITEMS, "ok")  # one console channel per match


async def test_read_only_database_never_sends_an_alert_twice_and_catches_up(
    tmp_path: Path,
) -> None:
    out = io.StringIO()
    async with app_with_feed(tmp_path, out) as app:
        await app.pipeline.poll_once()  # alerts queued, none sent yet
        read_only(app, True)
        with pytest.raises(StoreError, match="attempt to write a readonly database"):
            await app.deliverer.drain()  # no chat can be claimed, no alert marked 'sending'
        assert printed(out) == []  # so nothing is sent
        read_only(app, False)
        # the database turns read-only right after the platform took the first alert
        sink = app.deliverer.sinks[CONSOLE]
        send = sink.send

        async def send_then_read_only(entry: OutboxEntry, options: SendOptions) -> str | None:
            ref = await send(entry, options)
            read_only(app, True)
            return ref

        sink.send = send_then_read_only  # type: ignore[method-assign]
        with pytest.raises(StoreError, match="attempt to write a readonly database"):
            await app.deliverer.drain()  # the first alert went out, its mark failed
        sink.send = send  # type: ignore[method-assign]
        assert len(printed(out)) == 1
        for _ in range(3):  # while the database stays read-only: nothing more is sent
            with pytest.raises(StoreError):
                await app.deliverer.drain()
        assert len(printed(out)) == 1

        read_only(app, False)
        assert await app.deliverer.drain() == ITEMS - 1
        assert len(printed(out)) == ITEMS == len(set(printed(out)))
        assert app.store.outbox_counts() == {"sent": ITEMS}
    assert counts(tmp_path / "bot.db")[3] == "ok"


async def test_scheduler_outlives_a_full_disk_and_the_next_cycle_stores_everything(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    out = io.StringIO()
    async with app_with_feed(tmp_path, out) as app:
        disk_full(app)
        stop = asyncio.Event()
        running = asyncio.create_task(runner.run(app, stop=stop))
        try:
            await wait_until(lambda: "poll cycle failed" in caplog.text, 20)
            assert "database or disk is full" in caplog.text
            assert not running.done()
            space_returns(app)
            # the next tick (poll_interval 5 s) polls the same feed again and delivers
            await wait_until(lambda: len(printed(out)) == ITEMS, 20)
        finally:
            stop.set()
            await asyncio.wait_for(running, 20)
    assert counts(tmp_path / "bot.db") == (ITEMS, ITEMS, ITEMS, "ok")


async def wait_until(condition, timeout: float) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.1)
