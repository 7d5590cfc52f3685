"""Chaos: three `threatwatch run` workers on one PostgreSQL database, 2,000 feeds, Telegram chats
and Slack channels subscribed to the watch topic. One worker is paused (SIGSTOP) in the middle
of a poll cycle past its feed lease and then resumed; one is killed (kill -9) while its sends are
in flight; the Telegram listener is killed in the middle of a poll cycle. Killed workers are not
restarted: the survivors take their feeds, chats and the listener over.

At the end: every item is stored once; every alert reached every subscribed chat; Slack got
none twice, and Telegram again only an alert that a paused or dead worker left 'sending', at
most one copy per fault, one chat at a time (docs/RELIABILITY.md);
the per-chat and global rate limits held in every window; and a command sent after the
listener's death was answered. The figures are printed (pytest -s)."""

from __future__ import annotations

import os
import signal
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from chaos_support import (
    DISTINCT_ITEMS,
    FEEDS,
    GROUP_CHATS,
    PRIVATE_CHATS,
    RELEVANT,
    Database,
    copy_senders,
    most_in_window,
    prepare,
    received,
    send_times,
    telegram_copies,
    write_feeds,
)
from process_support import BotProcess
from telegram_support import USER

from testkit.env import local_env
from testkit.feedserver import FeedServer
from testkit.load import TOKEN
from testkit.slack_api import BOT_TOKEN, FakeSlackAPI
from testkit.telegram_api import FakeBotAPI

LEASE_SECONDS = 5  # the shortest feed lease the settings allow
TAKEOVER_SECONDS = 30  # the scale-out specification's bound for answering after a kill
TOLERANCE = 0.1  # seconds of jitter at a window's edge, as the fake platforms forgive
LISTENING = "this process is the listener"
EVENTS: list[str] = []  # what was done to which worker, when (monotonic seconds): for failures
# (chats it applies to, messages, seconds): Telegram's and Slack's published limits
LIMITS: list[tuple[Callable[[str], bool], int, float]] = [
    (lambda chat: chat == "telegram:*", 30, 1.0),
    (lambda chat: chat in {f"telegram:{c}" for c in PRIVATE_CHATS}, 1, 1.0),
    (lambda chat: chat in {f"telegram:{c}" for c in GROUP_CHATS}, 20, 60.0),
    (lambda chat: chat.startswith("slack:"), 1, 1.0),
]


class Watch:
    """Polls conditions with deadlines, and meanwhile notes every outbox row that a stopped or
    dead worker left 'sending': only such a row may reach Telegram twice (docs/RELIABILITY.md)."""

    def __init__(self, db: Database):
        self.db = db
        self.frozen: dict[str, int] = {}  # the workers that are paused or dead: name → pid
        self.exposed: dict[str, set[tuple[str, int]]] = defaultdict(set)  # name → rows

    def note(self) -> None:
        for name, pid in self.frozen.items():
            self.exposed[name] |= self.db.sending_by(pid)

    def until(self, condition: Callable[[], object], timeout: float, what: str) -> float:
        """Polls ``condition`` until it holds; returns the seconds it took."""
        started = time.monotonic()
        while True:
            self.note()
            if condition():
                return time.monotonic() - started
            assert time.monotonic() - started < timeout, f"not within {timeout} s: {what}"
            time.sleep(0.02)


def worker_env(root: Path, database_url: str, tg: FakeBotAPI, slack: FakeSlackAPI, name: str):
    return local_env(
        root,
        poll_interval=5,  # the shortest the settings allow
        THREATWATCH_DATABASE_URL=database_url,
        THREATWATCH_FEED_LEASE_SECONDS=str(LEASE_SECONDS),
        THREATWATCH_PER_HOST_CONCURRENCY="32",  # every feed is on one loopback host
        THREATWATCH_SPIKE_CHECK_INTERVAL="0",  # only alerts reach the chats
        THREATWATCH_TELEGRAM_TOKEN=TOKEN,
        THREATWATCH_TELEGRAM_API_URL=tg.api_url_for(name),
        THREATWATCH_TELEGRAM_POLL_TIMEOUT="1",
        THREATWATCH_TELEGRAM_REQUEST_TIMEOUT="10",
        THREATWATCH_SLACK_BOT_TOKEN=BOT_TOKEN,
        THREATWATCH_SLACK_API_URL=slack.api_url,
        THREATWATCH_SLACK_SIGNING_SECRET="8f742231b10e8888abcd99yyyzzz85a5",
        THREATWATCH_SLACK_LISTEN="127.0.0.1",
        THREATWATCH_SLACK_PORT="0",
    )


def test_three_workers_survive_kills_and_a_pause(tmp_path: Path, postgres_url: str) -> None:
    started = time.monotonic()
    write_feeds(tmp_path / "www")
    with (
        FeedServer(tmp_path / "www") as feeds,
        FakeBotAPI(TOKEN) as tg,
        FakeSlackAPI() as slack,
    ):
        prepare(tmp_path, postgres_url, (feeds.url(f"f{i}.xml") for i in range(FEEDS)), slack)
        db = Database(postgres_url)
        names = ("w1", "w2", "w3")
        workers = {n: BotProcess(worker_env(tmp_path, postgres_url, tg, slack, n)) for n in names}
        try:
            figures = run_chaos(db, tg, slack, workers)
        finally:
            for name, worker in workers.items():
                tg.release_sends(name)
                if worker.proc.poll() is None:
                    os.kill(worker.proc.pid, signal.SIGCONT)
                    worker.stop()
                (tmp_path / f"{name}.log").write_text(worker.output)  # kept by pytest's tmp_path
            db.close()
        figures["wall seconds"] = round(time.monotonic() - started, 1)
        print("\nchaos figures:")
        for name, value in figures.items():
            print(f"  {name}: {value}")


def run_chaos(
    db: Database, tg: FakeBotAPI, slack: FakeSlackAPI, workers: dict[str, BotProcess]
) -> dict[str, object]:
    watch = Watch(db)
    watch.until(lambda: any(LISTENING in w.output for w in workers.values()), 60, "a listener")
    listener = next(n for n, w in workers.items() if LISTENING in w.output)
    sender, paused = (n for n in workers if n != listener)
    pid = {n: w.proc.pid for n, w in workers.items()}
    tg.hold_sends(sender)  # its next send waits in flight: the kill comes in the middle of it
    figures: dict[str, object] = {}

    def kill_sender_once_in_flight() -> None:
        if workers[sender].proc.poll() is None and tg.held_sends(sender):
            workers[sender].kill9()
            watch.frozen[sender] = pid[sender]
            EVENTS.append(f"kill {sender}@{time.monotonic():.2f}")
            figures["Telegram sends held in flight at the kill mid-drain"] = tg.held_sends(sender)
            tg.release_sends(sender)  # what was in flight reaches Telegram after all

    # the pause: in the middle of a poll cycle, until every lease it holds has run out; the
    # kill in the middle of a drain may come meanwhile
    # (a held send is not left waiting: past the claim it would be taken over from the living)
    watch.until(
        lambda: kill_sender_once_in_flight() or db.leases_of(pid[paused]),
        60,
        "the worker to pause holds feeds",
    )
    os.kill(pid[paused], signal.SIGSTOP)
    watch.frozen[paused] = pid[paused]
    stopped_at = time.monotonic()
    EVENTS.append(f"SIGSTOP {paused}@{stopped_at:.2f}")
    held: set[int] = set()  # a claim sent just before the stop may commit after it

    def leases_ran_out() -> bool:
        kill_sender_once_in_flight()
        leases = db.leases_of(pid[paused])
        held.update(leases)
        return time.monotonic() - stopped_at > LEASE_SECONDS and not leases

    watch.until(leases_ran_out, 60, "the paused worker's leases run out")
    figures["feeds the paused worker held"] = len(held)
    os.kill(pid[paused], signal.SIGCONT)
    del watch.frozen[paused]
    EVENTS.append(f"SIGCONT {paused}@{time.monotonic():.2f}")
    figures["paused seconds (SIGSTOP to SIGCONT)"] = round(time.monotonic() - stopped_at, 1)
    watch.until(
        lambda: kill_sender_once_in_flight() or workers[sender].proc.poll() is not None,
        60,
        "the sender's send in flight, and its kill",
    )

    # the listener's kill: in the middle of a poll cycle; then a command must be answered
    watch.until(lambda: db.leases_of(pid[listener]), 60, "the listener holds feeds")
    figures["feeds the listener held at its kill"] = len(db.leases_of(pid[listener]))
    # one process long-polls Telegram; the others never call getUpdates
    assert tg.calls_from(listener, "getUpdates") > 0
    assert tg.calls_from(sender, "getUpdates") == tg.calls_from(paused, "getUpdates") == 0
    tg.hold_sends(listener)
    killed_at, killed_wall = time.monotonic(), datetime.now(UTC)
    workers[listener].kill9()
    watch.frozen[listener] = pid[listener]
    EVENTS.append(f"kill {listener}@{time.monotonic():.2f}")
    figures["Telegram sends held in flight at the listener's kill"] = tg.held_sends(listener)
    tg.release_sends(listener)
    before = len(tg.sent_to(USER))
    tg.send_command(USER, "/topics", user_id=USER)
    watch.until(lambda: len(tg.sent_to(USER)) > before, 60, "an answer after the listener's kill")
    assert "Watch topics" in tg.sent_to(USER)[before].text
    assert tg.calls_from(paused, "getUpdates") > 0  # the survivor is the listener now
    failover = time.monotonic() - killed_at
    assert failover < TAKEOVER_SECONDS
    figures["listener failover: kill -9 to the answer of /topics, seconds"] = round(failover, 1)
    figures |= settle_and_check(watch, tg, slack, killed_wall, [paused, sender, listener])
    assert workers[paused].stop() == 0, workers[paused].output[-3000:]
    figures["results the paused worker dropped after its leases ran out (feeds)"] = workers[
        paused
    ].output.count("before its results were saved; they are dropped")
    return figures


def settle_and_check(
    watch: Watch, tg: FakeBotAPI, slack: FakeSlackAPI, killed_at: datetime, faults: list[str]
) -> dict[str, object]:
    """Waits until every feed was polled again after the last kill, every item is stored and
    every outbox row sent and received; then checks the counts and the rate limits."""

    def settled() -> bool:
        if db.feeds_checked_since(killed_at) < FEEDS or db.article_count() < DISTINCT_ITEMS:
            return False
        statuses, pairs = db.outbox()
        return set(statuses) == {"sent"} and pairs <= set(received(tg, slack))

    db = watch.db
    watch.until(settled, 90, "every feed polled, every item stored, every alert delivered")
    articles = db.articles()
    statuses, expected = db.outbox()
    got = received(tg, slack)
    matched = db.matched_guids()
    assert articles["rows"] == DISTINCT_ITEMS, articles
    assert articles["max_per_guid"] == articles["max_per_title"] == articles["max_per_hash"] == 1
    assert matched == {f"r{k}" for k in range(RELEVANT)}, matched
    assert set(got) == expected, "an alert reached a chat it was not queued for, or was lost"
    duplicates = {pair: n - 1 for pair, n in got.items() if n > 1}
    slack_dups = sum(n for (chat, _), n in duplicates.items() if chat.startswith("slack:"))
    telegram_dups = sum(duplicates.values()) - slack_dups
    assert slack_dups == 0, duplicates
    # one Telegram send in flight per process (the default): at most one duplicate per fault
    assert telegram_dups <= len(faults), (telegram_copies(tg, duplicates), EVENTS)
    # a Telegram alert comes again only from a worker that was paused or died with it 'sending':
    # each such worker adds at most one copy of it, one chat at a time (a chat's sends are one at
    # a time), and at most one copy comes from a worker that did not fail with it in flight; so an
    # alert caught by two faults in turn may come three times, still one duplicate per fault
    senders = copy_senders(tg, duplicates)
    per_fault: dict[str, list[tuple[str, int]]] = {name: [] for name in faults}
    for pair, by in senders.items():
        assert len(by) == len(set(by)), ("a worker sent an alert twice", pair, by, EVENTS)
        exposed = [name for name in by if pair in watch.exposed.get(name, set())]
        assert len(by) - len(exposed) <= 1, (telegram_copies(tg, [pair]), EVENTS)
        for name in exposed:
            per_fault[name].append(pair)
    for name, pairs in per_fault.items():
        chats = [chat for chat, _ in pairs]
        assert len(chats) == len(set(chats)), (name, telegram_copies(tg, pairs), EVENTS)
    figures: dict[str, object] = {
        "items stored (distinct items served)": f"{articles['rows']} ({DISTINCT_ITEMS})",
        "most copies of one item (guid / title / hash)": "1 / 1 / 1",
        "alerts x chats delivered": f"{len(set(got))} of {len(expected)} ({statuses['sent']} sent)",
        "duplicates Telegram / Slack": f"{telegram_dups} / {slack_dups}",
        "Telegram duplicates, who sent each copy @ when": telegram_copies(tg, duplicates),
        "rows left 'sending' by the worker paused / killed mid-drain / killed listener": " / ".join(
            str(len(watch.exposed[n])) for n in faults
        ),
        "Telegram copies sent by each failed worker it left sending (chats, one each)": " / ".join(
            str(len(per_fault.get(n, []))) for n in faults
        ),
    }
    times = send_times(tg, slack)
    for applies, messages, seconds in LIMITS:
        chats = [c for c in times if applies(c)]
        strict = max((most_in_window(times[c], seconds) for c in chats), default=0)
        lenient = max((most_in_window(times[c], seconds - TOLERANCE) for c in chats), default=0)
        assert lenient <= messages, (chats, lenient, messages, seconds)
        label = chats[0].split(":")[0] + (" all" if chats == ["telegram:*"] else f" x{len(chats)}")
        figures[f"most sends in {seconds:g} s, {label} (limit {messages})"] = strict
    return figures


def test_the_window_count_sees_every_burst() -> None:
    """The rate checks above count sends in sliding windows: a burst straddling two whole
    seconds is one window, and a send exactly a window later starts a new one."""
    assert most_in_window([], 1.0) == 0
    assert most_in_window([0.0, 1.0, 2.0], 1.0) == 1
    assert most_in_window([0.6, 0.9, 1.1, 1.5], 1.0) == 4
    assert most_in_window([0.6, 0.9, 1.1, 1.5], 0.9) == 3
    assert most_in_window([5.0, 0.0, 0.5], 1.0) == 2  # any order
