"""A poll cycle's feed leases: any number of processes, on any number of machines, run poll
cycles on one database, and each due feed is polled by one of them at a time.

A cycle claims due feeds a few at a time as it has room for them (``claim``), so a lease starts
just before its feed is fetched, and renews the leases it holds every third of their length
while it works (``renew``): a live process keeps its feeds however long a round takes (a model
loading, a loaded machine); only a process that stopped (dead, paused, cut off) loses them. Whatever the cycle writes for a feed (its new articles with
their matches and outbox rows, then its state) is written in a transaction that first checks the
lease still holds (``writing``, on the store's ``fenced``). A process that was paused (SIGSTOP)
or cut off from the database past its lease finds it lost: its results for that feed are
logged and dropped, and the process that claimed the feed after it polls it again. Once its
state is written the feed is released at once, in the same transaction.

How long a lease lasts (``lease_seconds``): half the poll interval, so that a feed whose holder
died is claimed by another process, and polled again, within two poll intervals of its last
poll; at least MIN_LEASE_SECONDS, so that a renewal late by a busy event loop is not a loss.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from dataclasses import replace
from datetime import datetime

from bot.core.errors import LeaseLost, ThreatwatchError
from bot.core.records import FeedLease, NewArticle, NewMatch
from bot.core.settings import Settings
from bot.store import Store

log = logging.getLogger(__name__)

CLAIM_BATCH = 16  # feeds claimed at once: few enough that none waits long for room to fetch
MIN_LEASE_SECONDS = 30.0
RENEWALS_PER_LEASE = 3  # a held lease is renewed this many times per its length


def lease_seconds(settings: Settings) -> float:
    """THREATWATCH_FEED_LEASE_SECONDS, else half the poll interval, at least 30 s."""
    if settings.feed_lease_seconds is not None:
        return float(settings.feed_lease_seconds)
    return max(settings.poll_interval / 2, MIN_LEASE_SECONDS)


_OWNERS_HERE: set[str] = set()  # the lease owners made in this process (a pipeline has one)


def process_owner() -> str:
    """This process's name on its leases: host, pid and a random part (pids repeat)."""
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    _OWNERS_HERE.add(owner)
    return owner


def free_dead_neighbours(store: Store, owner: str, now: datetime) -> None:
    """Give back the feeds held by processes of this machine that are gone: a process restarted
    after a crash (kill -9, OOM, a container restart) polls its feeds at once instead of
    waiting for its predecessor's leases to run out. Machines are told apart by host name,
    which must be unique among the processes sharing a database; a process found dead wrongly
    (a twin host name) only loses its round's results, to the fence."""
    parts = owner.rsplit(":", 2)
    if len(parts) != 3 or not parts[1].isdigit():
        return
    host, my_pid = parts[0], int(parts[1])
    for holder in store.feed_lease_holders(now) - {owner}:
        parts = holder.rsplit(":", 2)
        if len(parts) != 3 or parts[0] != host or not parts[1].isdigit():
            continue
        pid = int(parts[1])
        # our pid on a lease not made here: a predecessor's (a restarted container's pid 1)
        if (pid == my_pid and holder not in _OWNERS_HERE) or (pid != my_pid and not _alive(pid)):
            freed = store.release_feeds_of(holder)
            log.info("gave back %d feed(s) held by %s, a process that is gone", freed, holder)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


class CycleLeases:
    """The leases one poll cycle holds, from the claim until the feed's state is written."""

    def __init__(self, store: Store, owner: str, seconds: float):
        self.store, self.owner, self.seconds = store, owner, seconds
        self._held: dict[int, FeedLease] = {}
        self._seen: set[int] = set()  # claimed at some point of this cycle
        self._lost: set[int] = set()  # …and lost before its state was written

    @property
    def lost(self) -> int:
        return len(self._lost)

    def claim(self, now: datetime, *, everything: bool = False) -> list[FeedLease]:
        """The next few due feeds (every active feed, with ``everything``) not yet taken in this
        cycle; [] when none is left. A feed claimed again in the same cycle (its lease ran out
        before its state was written) is given back rather than fetched twice in one cycle,
        and ends the cycle's claims: the next cycle takes it and whatever is still due."""
        if everything and self._seen:
            return []  # everything was claimed at once
        claimed = self.store.claim_feeds(
            self.owner,
            now,
            lease_seconds=self.seconds,
            limit=1_000_000 if everything else CLAIM_BATCH,
            include_not_due=everything,
        )
        fresh = [lease for lease in claimed if lease.feed.id not in self._seen]
        for lease in claimed:
            if lease.feed.id in self._seen:
                self.store.release_feed(lease)
        for lease in fresh:
            self._seen.add(lease.feed.id)
            self._held[lease.feed.id] = lease
        return fresh

    def renew(self, now: datetime) -> None:
        """Extend every lease still held; one that changed hands meanwhile is lost (logged)."""
        held = list(self._held.values())
        if not held:
            return
        try:
            kept = self.store.renew_feeds(held, now, lease_seconds=self.seconds)
        except ThreatwatchError as exc:  # the writes' own check decides then
            log.warning("could not renew %d feed lease(s): %s", len(held), exc)
            return
        renewed = {lease.feed.id for lease in kept}
        for lease in held:
            if lease.feed.id not in renewed:
                self._lose(lease, LeaseLost(f"lease on feed {lease.feed.id} was taken over"))
        for lease in kept:
            if lease.feed.id in self._held:
                self._held[lease.feed.id] = lease

    async def keep(self, clock: Callable[[], datetime]) -> None:
        """Renew the held leases every third of their length, until cancelled."""
        while True:
            await asyncio.sleep(self.seconds / RENEWALS_PER_LEASE)
            self.renew(clock())

    @contextmanager
    def writing(self, feed_ids: Iterable[int | None], now: datetime) -> Iterator[set[int]]:
        """One transaction for the results of ``feed_ids``, in which every lease among them is
        checked at ``now``: yields the feeds whose results must be dropped (their lease ran out
        or changed hands). Results of feeds this cycle did not lease (items pushed by a hub, or
        without a feed) are kept."""
        ids = {f for f in feed_ids if f is not None}
        with self.store.one_transaction(), ExitStack() as fences:
            for feed_id in sorted(ids):
                lease = self._held.get(feed_id)
                if lease is None:
                    continue
                try:
                    fences.enter_context(self.store.fenced(lease, now))
                except LeaseLost as exc:
                    self._lose(lease, exc)
            yield ids & self._lost

    def done(self, feed_id: int) -> None:
        """The feed's state is written (call inside ``writing``): give the feed back."""
        lease = self._held.pop(feed_id, None)
        if lease is not None:
            self.store.release_feed(lease)

    def release_all(self) -> None:
        """At the end of a cycle that failed: every feed still held is free again at once
        (else it would wait for its lease to run out)."""
        for feed_id in list(self._held):
            try:
                self.done(feed_id)
            except ThreatwatchError as exc:  # the lease runs out on its own
                log.warning("could not give back feed %d: %s", feed_id, exc)
                self._held.pop(feed_id, None)

    def _lose(self, lease: FeedLease, exc: LeaseLost) -> None:
        self._held.pop(lease.feed.id, None)
        self._lost.add(lease.feed.id)
        log.warning(
            "feed %d: %s before its results were saved; they are dropped (another process "
            "polls it)",
            lease.feed.id,
            exc,
            extra={"feed_id": lease.feed.id, "feed_url": lease.feed.url},
        )


def writing(
    leases: CycleLeases | None, feed_ids: Iterable[int | None], now: datetime
) -> AbstractContextManager[set[int]]:
    """``leases.writing``, or for work outside a poll cycle (no leases) a plain block that
    drops nothing."""
    return leases.writing(feed_ids, now) if leases is not None else nullcontext(set())


def without_feeds(
    batch: Sequence[NewArticle], matches: Sequence[NewMatch], dropped: set[int]
) -> tuple[list[NewArticle], list[NewMatch]]:
    """The articles not from the ``dropped`` feeds and their matches, with the in-batch story
    links and the matches' article indexes renumbered; a link to a dropped article is removed
    (the article starts its own story)."""
    if not dropped:
        return list(batch), list(matches)
    order = [i for i, article in enumerate(batch) if article.feed_id not in dropped]
    renumbered = {old: new for new, old in enumerate(order)}
    articles = [
        replace(batch[i], story_of_index=renumbered.get(link))
        if (link := batch[i].story_of_index) is not None
        else batch[i]
        for i in order
    ]
    kept = [
        replace(m, article_index=renumbered[m.article_index])
        for m in matches
        if m.article_index in renumbered
    ]
    return articles, kept
