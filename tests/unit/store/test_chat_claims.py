"""Chat claims, the two-phase send and the shared rate windows on both store backends: a chat is
held by one sender until its claim runs out, a row left 'sending' by a sender that went quiet is
ready again after the claim timeout (rows behind it wait), claims made at once never overlap,
and a shared window never lets more sends through than its limit, whichever store object asks."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from store_support import new_article, query

from bot.core.errors import LeaseLost
from bot.core.models import Topic
from bot.core.records import NewMatch, SendWindow
from bot.store import Store

NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)
LEASE = 30.0


def queue(store: Store, chats: list[str], alerts: int, platform: str = "telegram") -> list[int]:
    """``alerts`` alerts queued for every chat; returns the channel ids."""
    store.upsert_topic_default(Topic("t1", "d", 0.5), NOW)
    channels = [store.ensure_channel(platform, chat, now=NOW) for chat in chats]
    for channel in channels:
        store.subscribe(channel, ["t1"], NOW)
    for n in range(alerts):
        match = NewMatch(0, "t1", 0.9, 0.5, None, "seed", "passage")
        store.save_articles([new_article(n, NOW)], [match], model="m", now=NOW)
    return channels


def claim(store: Store, owner: str, now: datetime, limit: int = 10) -> list[int]:
    claims = store.claim_chats(owner, now, platforms=["telegram"], lease_seconds=LEASE, limit=limit)
    return [c.channel_id for c in claims]


def test_a_chat_is_held_by_one_sender_until_its_claim_runs_out(store: Store) -> None:
    one, two, three = queue(store, ["1", "2", "3"], alerts=2)
    first = store.claim_chats("a", NOW, platforms=["telegram"], lease_seconds=LEASE, limit=2)
    assert [c.channel_id for c in first] == [one, two]
    assert claim(store, "b", NOW) == [three]  # a's chats are not offered to b
    assert claim(store, "b", NOW + timedelta(seconds=LEASE - 1)) == [three]  # b renews its own
    later = NOW + timedelta(seconds=LEASE)  # a went quiet: its claims ran out
    taken = store.claim_chats("b", later, platforms=["telegram"], lease_seconds=LEASE, limit=10)
    assert sorted(c.channel_id for c in taken) == [one, two, three]
    assert {c.epoch for c in taken if c.channel_id != three} == {first[0].epoch + 1}
    # a's old claim no longer lets it send: nothing is marked
    entry = store.claimed_outbox(first[:1], later, lease_seconds=LEASE)[0]
    with pytest.raises(LeaseLost, match=f"claim on chat {one}"):
        store.begin_send(first[0], [entry.id], "x", later, lease_seconds=LEASE)
    assert store.outbox_counts() == {"pending": 6}


def test_each_send_renews_the_claim_and_a_released_chat_is_free_at_once(store: Store) -> None:
    (channel,) = queue(store, ["1"], alerts=2)
    (held,) = store.claim_chats("a", NOW, platforms=["telegram"], lease_seconds=LEASE, limit=1)
    rows = store.claimed_outbox([held], NOW, lease_seconds=LEASE)
    at = NOW + timedelta(seconds=20)
    assert store.begin_send(held, [rows[0].id], "a1", at, lease_seconds=LEASE) == [rows[0].id]
    store.mark_sent(rows[0].id, at, "m1")
    assert claim(store, "b", NOW + timedelta(seconds=LEASE + 5)) == []  # renewed until 50 s
    store.release_chats([held])
    store.release_chats([held])  # twice: still fine
    assert claim(store, "b", NOW + timedelta(seconds=21)) == [channel]


def test_a_row_left_sending_is_ready_again_after_the_claim_timeout(store: Store) -> None:
    (channel,) = queue(store, ["1"], alerts=3)
    (held,) = store.claim_chats("a", NOW, platforms=["telegram"], lease_seconds=LEASE, limit=1)
    first, second, third = store.claimed_outbox([held], NOW, lease_seconds=LEASE)
    assert first.attempt_id is None and first.queued_at == NOW
    store.begin_send(held, [first.id], "attempt-1", NOW, lease_seconds=LEASE)
    # a dies here, after the platform may have accepted the message
    assert store.outbox_counts() == {"sending": 1, "pending": 2}
    # while the row is sending, the rows behind it wait, even for the chat's holder
    assert store.claimed_outbox([held], NOW + timedelta(seconds=5), lease_seconds=LEASE) == []
    assert claim(store, "b", NOW + timedelta(seconds=LEASE - 1)) == []
    later = NOW + timedelta(seconds=LEASE)
    (taken,) = store.claim_chats("b", later, platforms=["telegram"], lease_seconds=LEASE, limit=1)
    assert taken.channel_id == channel and taken.epoch == held.epoch + 1
    ready = store.claimed_outbox([taken], later, lease_seconds=LEASE)
    assert [r.id for r in ready] == [first.id, second.id, third.id]
    assert ready[0].attempt_id == "attempt-1" and ready[1].attempt_id is None
    assert store.begin_send(taken, [first.id], "attempt-2", later, lease_seconds=LEASE) == [
        first.id
    ]
    store.mark_sent(first.id, later, "m1")
    assert query(store, "SELECT status, attempt_id, sending_by FROM outbox WHERE id = ?",
                 [first.id]) == [("sent", "attempt-2", "b")]  # fmt: skip


def test_a_failed_send_is_pending_again_and_remembers_its_attempt(store: Store) -> None:
    one, two = queue(store, ["1", "2"], alerts=1)
    claims = store.claim_chats("a", NOW, platforms=["telegram"], lease_seconds=LEASE, limit=2)
    rows = store.claimed_outbox(claims, NOW, lease_seconds=LEASE)
    for c, row in zip(claims, rows, strict=True):
        store.begin_send(c, [row.id], f"try-{row.id}", NOW, lease_seconds=LEASE)
    retry_at = NOW + timedelta(seconds=10)
    store.mark_retry(rows[0].id, next_attempt_at=retry_at, error="503")
    store.pause_channel(two, "chat gone")  # a row being sent to a gone chat is not left sending
    assert store.outbox_counts() == {"pending": 1, "undeliverable": 1}
    (again,) = store.claimed_outbox(claims[:1], retry_at, lease_seconds=LEASE)
    assert again.attempt_id == f"try-{rows[0].id}" and again.attempts == 1
    assert store.begin_send(claims[1], [rows[1].id], "late", NOW, lease_seconds=LEASE) == []


def test_a_chat_with_a_long_backlog_does_not_crowd_the_others_out(store: Store) -> None:
    (busy,) = queue(store, ["1"], alerts=25)  # a backlog, older than anything else
    quiet = store.ensure_channel("telegram", "2", now=NOW)
    store.subscribe(quiet, ["t1"], NOW)
    match = NewMatch(0, "t1", 0.9, 0.5, None, "seed", "passage")
    store.save_articles([new_article(100, NOW)], [match], model="m", now=NOW)
    claims = store.claim_chats("a", NOW, platforms=["telegram"], lease_seconds=LEASE, limit=2)
    rows = store.claimed_outbox(claims, NOW, lease_seconds=LEASE, per_chat=20)
    assert [r.channel_id for r in rows].count(busy) == 20
    assert [r.channel_id for r in rows].count(quiet) == 1
    assert [r.id for r in rows] == sorted(r.id for r in rows)


def test_senders_claiming_at_once_share_the_chats_without_overlap(
    open_test_store: Callable[[str], Store],
) -> None:
    base = open_test_store("t")
    channels = queue(base, [str(i) for i in range(60)], alerts=1)
    workers = [open_test_store("t") for _ in range(4)]
    claimed: list[int] = []
    start = threading.Barrier(len(workers))

    def work(store: Store, owner: str) -> None:
        start.wait()
        while got := store.claim_chats(
            owner,
            NOW,
            platforms=["telegram"],
            lease_seconds=LEASE,
            limit=7,
            skip_channels=list(claimed),
        ):
            claimed.extend(c.channel_id for c in got)

    threads = [threading.Thread(target=work, args=(w, f"w{i}")) for i, w in enumerate(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # each chat went to one worker only (skip_channels keeps a worker from renewing its own)
    assert sorted(claimed) == channels and max(Counter(claimed).values()) == 1


def test_a_digest_chat_is_claimed_by_one_sender(store: Store) -> None:
    (channel,) = queue(store, ["1"], alerts=1)
    got = store.claim_chat(channel, "a", NOW, lease_seconds=LEASE)
    assert got is not None and got.owner == "a"
    assert store.claim_chat(channel, "b", NOW, lease_seconds=LEASE) is None
    again = store.claim_chat(channel, "b", NOW + timedelta(seconds=LEASE), lease_seconds=LEASE)
    assert again is not None and again.epoch == got.epoch + 1


# --- shared rate windows ----------------------------------------------------------------------
BOT = SendWindow("telegram", 3, 1.0)
CHAT = SendWindow("telegram:chat:-100", 2, 10.0)


def test_a_shared_window_counts_the_sends_of_every_store_object(
    open_test_store: Callable[[str], Store],
) -> None:
    a, b = open_test_store("t"), open_test_store("t")
    t0 = 1_800_000_000.0
    assert a.take_send_slots([BOT], "s1", t0, in_flight_limit=LEASE) == (0.0,)
    b.end_send_slots(["telegram"], "s1", t0 + 0.1)  # ended by anyone who knows the token
    assert b.take_send_slots([BOT], "s2", t0 + 0.2, in_flight_limit=LEASE) == (0.0,)
    assert a.take_send_slots([BOT], "s3", t0 + 0.3, in_flight_limit=LEASE) == (0.0,)
    # full: s2 and s3 are still in flight (they count as now), s1 finished at +0.1
    (wait,) = b.take_send_slots([BOT], "s4", t0 + 0.4, in_flight_limit=LEASE)
    assert wait == pytest.approx(0.7)
    assert a.take_send_slots([BOT], "s4", t0 + 1.1, in_flight_limit=LEASE) == (0.0,)
    # a send that never reached the platform gives its slot back
    a.end_send_slots(["telegram"], "s4", t0 + 1.2, counted=False)
    assert b.take_send_slots([BOT], "s5", t0 + 1.2, in_flight_limit=LEASE) == (0.0,)


def test_all_windows_or_none_and_an_abandoned_send_counts_until_the_claim_timeout(
    store: Store,
) -> None:
    t0 = 1_800_000_000.0
    for i in range(2):
        assert store.take_send_slots([BOT, CHAT], f"c{i}", t0 + i, in_flight_limit=LEASE) == (
            0.0,
            0.0,
        )
    # the chat's window is full: nothing is counted in the bot's window either
    bot_wait, chat_wait = store.take_send_slots([BOT, CHAT], "c2", t0 + 2, in_flight_limit=LEASE)
    assert bot_wait == 0 and chat_wait > 0
    assert store.take_send_slots([BOT], "other", t0 + 2, in_flight_limit=LEASE) == (0.0,)
    # c0 and c1 were never ended (their sender died): in flight until the claim timeout, then
    # finished then; the chat's window has room once they leave it
    late = t0 + LEASE + 1 + CHAT.per_seconds
    assert store.take_send_slots([CHAT], "c3", late, in_flight_limit=LEASE) == (0.0,)
