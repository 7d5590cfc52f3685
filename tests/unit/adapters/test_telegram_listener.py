"""Several processes of one bot in one event loop (each its own App on one database), against
the fake Bot API: one elected listener long-polls, the other never calls getUpdates; when the
listener stops the other takes over within seconds and goes on from the stored offset, and
every command is answered once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from telegram_support import TOKEN, USER, settings_for, write_watch_config

from bot.adapters.telegram.listener import ELECTION_RETRY_SECONDS
from bot.app.compose import App, compose
from testkit.telegram_api import FakeBotAPI


async def until(condition: Callable[[], bool], timeout: float) -> float:
    """Seconds until ``condition`` held (fails after ``timeout``)."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, "not within the timeout"
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def test_one_process_listens_the_other_stands_by_then_takes_over(tmp_path: Path) -> None:
    write_watch_config(tmp_path)
    with FakeBotAPI(TOKEN) as api:
        apps: list[App] = []
        for name in ("first", "second"):
            settings = settings_for(tmp_path, api.api_url_for(name))
            apps.append(compose(settings, sync_config=not apps))
        first, second = (app.adapters[0] for app in apps)
        stop = asyncio.Event()
        try:
            assert await first.start(stop)
            await until(lambda: first.poller.listening, 5)  # type: ignore[attr-defined]
            assert await second.start(stop)
            api.send_command(USER, "/topics", user_id=USER)
            assert "Watch topics" in (await api.next_reply(USER)).text
            await asyncio.sleep(ELECTION_RETRY_SECONDS + 0.5)  # the standby retried, at least once
            assert api.calls_from("second", "getUpdates") == 0
            assert api.calls_from("first", "getUpdates") >= 2
            assert not second.poller.listening  # type: ignore[attr-defined]

            await first.stop()  # the listener goes away (its process dies: see the process test)
            took = await until(lambda: second.poller.listening, ELECTION_RETRY_SECONDS + 3)  # type: ignore[attr-defined]
            api.send_command(USER, "/topics", user_id=USER)
            assert "Watch topics" in (await api.next_reply(USER, after=1)).text
            await asyncio.sleep(0.5)
            assert len(api.sent_to(USER)) == 2  # each command answered once, by one process
            # the new listener went on from the stored offset: the first command was confirmed
            offsets = [int(c.get("offset") or 0) for c in api.calls_of("getUpdates")]
            assert offsets[-1] == 3 and took <= ELECTION_RETRY_SECONDS + 1
            assert apps[1].store.update_offset("telegram") == 3
        finally:
            stop.set()
            for app in apps:
                for adapter in app.adapters:
                    await adapter.stop()
                await app.aclose()
