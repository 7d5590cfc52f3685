"""The store's one connection is shared with worker threads (topic index builds read and write
it off the event loop while the loop saves articles and marks sends). A write transaction on one
thread and a query on another must not meet inside the connection: before the store serialised
them, a query's savepoint could open a transaction that the other thread's BEGIN then refused
("cannot start a transaction within a transaction"), and the poll cycle failed."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from store_support import in_transaction, query

from bot.store import Store

ROUNDS = 1500


def test_queries_on_a_worker_thread_meet_no_transaction_of_another(
    tmp_path: Path, open_test_store: Callable[[str], Store]
) -> None:
    store = open_test_store("t")
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def read() -> None:
        start.wait()
        try:
            for _ in range(ROUNDS):
                store.topics()
                store.seeds()
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    worker = threading.Thread(target=read)
    switching = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # the threads take turns between any two statements
    worker.start()
    start.wait()
    try:
        for n in range(ROUNDS):
            if n % 10:
                store.save_cycle_report(datetime.now(UTC), {"n": n})
                continue
            with store.one_transaction():
                store.save_cycle_report(datetime.now(UTC), {"n": n, "grouped": True})
    finally:
        worker.join()
        sys.setswitchinterval(switching)
    assert errors == []
    assert query(store, "SELECT count(*) FROM cycles") == [(ROUNDS,)]
    assert not in_transaction(store)


def test_rounds_grouped_on_two_threads_at_once_stay_apart(
    open_test_store: Callable[[str], Store],
) -> None:
    """Two threads each grouping their writes (one_transaction) at once: each group is its own
    transaction, and none leaks into the other's or outlives its block."""
    store = open_test_store("t")
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def rounds(tag: str) -> None:
        start.wait()
        try:
            for n in range(200):
                with store.one_transaction():
                    store.save_cycle_report(datetime.now(UTC), {"n": n, "tag": tag})
                    with store.one_transaction():  # a nested group is part of the outer one
                        store.save_cycle_report(datetime.now(UTC), {"n": n, "tag": tag})
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    workers = [threading.Thread(target=rounds, args=(tag,)) for tag in "ab"]
    switching = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    finally:
        sys.setswitchinterval(switching)
    assert errors == []
    assert query(store, "SELECT count(*) FROM cycles") == [(800,)]
    assert not in_transaction(store)
