"""Feed leases on both store backends: a due feed is claimed by one process at a time, a lease
that ran out is claimed by another with a higher epoch, and a holder whose lease ran out (or
changed hands) cannot commit its results."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from store_support import in_transaction, new_article

from bot.core.errors import LeaseLost
from bot.store import Store

NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)
LEASE = 60.0


def feeds(store: Store, n: int) -> list[int]:
    return [store.add_feed(f"https://f{i}.example/feed", None, NOW)[0].id for i in range(n)]


def success(store: Store, feed_id: int, now: datetime) -> None:
    store.record_feed_success(feed_id, now=now, next_check_at=now + timedelta(minutes=5),
                              etag=None, last_modified=None, name=None, items_seen=1)  # fmt: skip


def test_a_due_feed_is_held_by_one_owner_until_its_lease_runs_out(store: Store) -> None:
    ids = feeds(store, 3)
    first = store.claim_feeds("a", NOW, lease_seconds=LEASE, limit=2)
    assert [lease.feed.id for lease in first] == ids[:2]
    second = store.claim_feeds("b", NOW, lease_seconds=LEASE, limit=10)
    assert [lease.feed.id for lease in second] == ids[2:]  # a's feeds are not offered again
    assert store.claim_feeds("c", NOW + timedelta(seconds=59), lease_seconds=LEASE, limit=10) == []
    later = NOW + timedelta(seconds=LEASE)
    taken = store.claim_feeds("c", later, lease_seconds=LEASE, limit=10)  # a and b went quiet
    assert sorted(lease.feed.id for lease in taken) == ids
    assert all(t.epoch == 2 for t in taken) and {f.epoch for f in first} == {1}


def test_results_are_kept_only_while_the_lease_holds(store: Store) -> None:
    (feed_id,) = feeds(store, 1)
    (lease,) = store.claim_feeds("a", NOW, lease_seconds=LEASE, limit=1)
    with store.fenced(lease, NOW + timedelta(seconds=10)):
        store.save_articles([new_article(1, NOW)], [], model="m", now=NOW)
        success(store, feed_id, NOW + timedelta(seconds=10))
    assert store.count_articles() == 1 and store.feed(feed_id).items_seen == 1
    late = NOW + timedelta(seconds=LEASE + 1)  # paused past its lease
    with pytest.raises(LeaseLost, match=f"lease on feed {feed_id}"), store.fenced(lease, late):
        store.save_articles([new_article(2, NOW)], [], model="m", now=late)
    assert store.count_articles() == 1


def test_a_holder_whose_feed_changed_hands_is_fenced_off_even_with_a_slow_clock(
    store: Store,
) -> None:
    (feed_id,) = feeds(store, 1)
    (old,) = store.claim_feeds("a", NOW, lease_seconds=LEASE, limit=1)
    later = NOW + timedelta(seconds=LEASE)
    (new,) = store.claim_feeds("b", later, lease_seconds=LEASE, limit=1)
    assert new.epoch == old.epoch + 1
    # a's clock says its lease still holds, but the epoch moved on: refused, nothing written
    with pytest.raises(LeaseLost), store.fenced(old, NOW + timedelta(seconds=30)):
        success(store, feed_id, NOW)
    assert store.feed(feed_id).items_seen == 0
    with store.fenced(new, later):
        success(store, feed_id, later)
    assert store.feed(feed_id).items_seen == 1


def test_a_released_feed_is_free_at_once_and_a_polled_one_is_no_longer_due(
    store: Store,
) -> None:
    one, two = feeds(store, 2)
    leases = store.claim_feeds("a", NOW, lease_seconds=LEASE, limit=2)
    with store.fenced(leases[0], NOW):
        success(store, one, NOW)
    store.release_feed(leases[0])
    store.release_feed(leases[1])
    store.release_feed(leases[1])  # twice: still fine
    assert [
        lease.feed.id for lease in store.claim_feeds("b", NOW, lease_seconds=LEASE, limit=5)
    ] == [two]


def test_processes_claiming_at_once_share_the_feeds_without_overlap(
    open_test_store: Callable[[str], Store],
) -> None:
    base = open_test_store("t")
    ids = feeds(base, 200)
    workers = [open_test_store("t") for _ in range(4)]
    claimed: list[int] = []
    start = threading.Barrier(len(workers))

    def work(store: Store, owner: str) -> None:
        start.wait()
        while leases := store.claim_feeds(owner, NOW, lease_seconds=LEASE, limit=7):
            claimed.extend(lease.feed.id for lease in leases)

    threads = [threading.Thread(target=work, args=(w, f"w{i}")) for i, w in enumerate(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == ids and max(Counter(claimed).values()) == 1


def test_fenced_results_inside_a_round_stay_part_of_the_round(store: Store) -> None:
    """The poll cycle makes a round's writes one transaction; a fenced feed inside it must not
    end that grouping: a failure later in the round still undoes everything."""
    one, two = feeds(store, 2)
    leases = store.claim_feeds("a", NOW, lease_seconds=LEASE, limit=2)
    with pytest.raises(RuntimeError), store.one_transaction():
        with store.fenced(leases[0], NOW):
            success(store, one, NOW)
        success(store, two, NOW)  # after the fenced block, still inside the round
        raise RuntimeError("the round fails")
    assert store.feed(one).items_seen == 0 and store.feed(two).items_seen == 0
    assert not in_transaction(store)
