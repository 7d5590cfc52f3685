"""Chat updates when several processes receive them, on both store backends: one elected
listener at a time, taken over at once when its process dies; each update handled once
however many processes it reaches; the long-poll offset shared and only moving forward."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.store import Store

NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)
KEEP = 2 * 86_400.0
TAKEOVER_SECONDS = 10.0

# another process that wins the election and holds it until it is killed
HOLDER = """
import sys, time
from bot.store.open import open_store_url
election = open_store_url(sys.argv[1]).listener_election("telegram")
print("leading" if election.try_lead() else "standing by", flush=True)
time.sleep(120)
"""


def url_of(store: Any) -> str:
    return store.url if hasattr(store, "url") else f"sqlite:///{store.path}"


def test_one_listener_at_a_time_and_another_takes_over_when_it_dies(
    open_test_store: Callable[[str], Store],
) -> None:
    one, two = open_test_store("t"), open_test_store("t")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, url_of(one)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "leading"
        a, b = one.listener_election("telegram"), two.listener_election("telegram")
        assert not a.try_lead() and not b.try_lead()  # standing by, both
        other = one.listener_election("slack")  # another election is independent
        assert other.try_lead()
        other.resign()
        holder.kill()  # kill -9: nothing given back on purpose
        holder.wait(10)
        died = time.monotonic()
        while not a.try_lead():
            assert time.monotonic() - died < TAKEOVER_SECONDS, "nobody took over"
            time.sleep(0.1)
    finally:
        holder.kill()
        holder.wait(10)
        assert holder.stdout is not None
        holder.stdout.close()
    try:
        assert not b.try_lead() and a.try_lead()  # exactly one; the holder's re-check holds
        a.resign()
        assert b.try_lead() and not a.try_lead()  # resigning hands over at once
    finally:  # a standby resigns too: it holds a connection to ask on
        b.resign()
        a.resign()


def test_an_update_is_handled_once_within_the_retention_window(
    open_test_store: Callable[[str], Store],
) -> None:
    stores = [open_test_store("t") for _ in range(4)]
    firsts: list[bool] = []
    start = threading.Barrier(len(stores))

    def arrive(store: Store) -> None:  # a retried webhook reaching four processes at once
        start.wait()
        firsts.append(store.first_update("telegram", "1001", NOW, keep_seconds=KEEP))

    threads = [threading.Thread(target=arrive, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(firsts) == [False, False, False, True]
    a, b = stores[:2]
    assert not b.first_update("telegram", "1001", NOW + timedelta(hours=47), keep_seconds=KEEP)
    assert a.first_update("slack", "1001", NOW, keep_seconds=KEEP)  # another platform's id
    # forgotten after the window (Telegram keeps an update for 24 hours at most)
    assert a.first_update("telegram", "1001", NOW + timedelta(hours=49), keep_seconds=KEEP)


def test_the_long_poll_offset_is_shared_and_only_moves_forward(
    open_test_store: Callable[[str], Store],
) -> None:
    old, new = open_test_store("t"), open_test_store("t")
    assert new.update_offset("telegram") == 0
    old.save_update_offset("telegram", 42, NOW)
    assert new.update_offset("telegram") == 42  # the next listener goes on from here
    old.save_update_offset("telegram", 40, NOW)  # a late write of a listener that lost
    new.save_update_offset("telegram", 43, NOW)
    assert old.update_offset("telegram") == 43 and new.update_offset("slack") == 0
