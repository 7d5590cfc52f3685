"""Two `threatwatch run` processes on one PostgreSQL database with one Telegram bot: one of them
is the elected long-poll listener and the other never calls getUpdates; after a kill -9 of the
listener the other answers commands within 30 s; both poll the feeds, an item carried by every
feed is stored once, and the dead process's feeds are polled again once its leases run out."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from pathlib import Path

from telegram_support import ADMIN, ITEMS, TOKEN, USER, bot_env, write_watch_config
from test_telegram_run import bot_process, command

from bot.store.postgres import PostgresStore
from testkit.feedserver import FeedServer
from testkit.telegram_api import FakeBotAPI

TAKEOVER_SECONDS = 30  # the scale-out specification's bound for answering after a kill
LEASE_SECONDS = 10
POLLED = re.compile(r"cycle: feeds_due=[1-9]")
# one wire, four URLs: whichever process polls which, each item is stored once
WIRES = ("wire.xml", "_slow/0/wire.xml", "_slow/0.2/wire.xml", "_gzip/wire.xml")


def test_two_processes_one_listener_takeover_after_kill_and_feeds_shared(
    tmp_path: Path, postgres_url: str
) -> None:
    _, _, www = write_watch_config(tmp_path)
    with FakeBotAPI(TOKEN) as api, FeedServer(www) as feeds:
        env = bot_env(
            tmp_path,
            "",
            THREATWATCH_DATABASE_URL=postgres_url,
            THREATWATCH_FEED_LEASE_SECONDS=str(LEASE_SECONDS),
        )
        with (
            bot_process(env | {"THREATWATCH_TELEGRAM_API_URL": api.api_url_for("one")}) as one,
            bot_process(env | {"THREATWATCH_TELEGRAM_API_URL": api.api_url_for("two")}) as two,
        ):
            listening = "this process is the listener"
            deadline = time.monotonic() + 60  # whichever wins the election
            while not any(listening in p.output for p in (one, two)):
                assert time.monotonic() < deadline, one.output + two.output
                time.sleep(0.1)
            (leader, lead), (standby, stand) = sorted(
                ((one, "one"), (two, "two")), key=lambda p: listening not in p[0].output
            )
            standby.wait_for_output("standing by")
            for wire in WIRES:
                added = command(api, ADMIN, f"/feed_add {feeds.url(wire)}", ADMIN)
                assert "added" in added.text, added.text
            assert "Watch topics" in command(api, USER, "/topics", USER).text
            assert api.calls_from(lead, "getUpdates") > 0
            assert api.calls_from(stand, "getUpdates") == 0, "the standby polled Telegram"
            assert listening not in standby.output
            leader.wait_for_output(POLLED)

            leader.kill9()
            killed, at = time.monotonic(), datetime.now(UTC)
            answer = command(api, USER, "/topics", USER, timeout=TAKEOVER_SECONDS)
            assert "Watch topics" in answer.text
            assert time.monotonic() - killed < TAKEOVER_SECONDS
            assert api.calls_from(stand, "getUpdates") > 0
            standby.wait_for_output(POLLED)
            standby.wait_for_output(listening)
            store = PostgresStore(postgres_url)
            try:  # the dead process's feeds too, once its leases ran out
                deadline = time.monotonic() + LEASE_SECONDS + 15
                while not all(f.last_checked_at and f.last_checked_at >= at for f in store.feeds()):
                    assert time.monotonic() < deadline, [f.last_checked_at for f in store.feeds()]
                    time.sleep(0.5)
                assert len(store.feeds()) == len(WIRES)
                assert store.count_articles() == len(ITEMS)  # each item once, four feeds
            finally:
                store.close()
        assert standby.proc.returncode == 0, standby.output
