"""Feed leases: any number of processes poll the same feeds, each feed held by one at a time.

A process claims due feeds for a while (``claim_feeds``); each claim raises the feed's epoch,
the fencing token. Its results for a feed are written inside ``fenced(lease, now)``, which
first checks, in the same transaction, that the lease is still this one and has not run out:
a process that was paused or cut off past its lease cannot write over the work of the process
that took the feed over; it gets ``LeaseLost`` and its writes are rolled back. A crashed
process's feeds are claimed by the others once its leases run out.

On SQLite (one file, one machine) a claim is an ``UPDATE … RETURNING`` in a write
transaction; the PostgreSQL store claims with ``FOR UPDATE SKIP LOCKED`` instead.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta

from bot.core.errors import LeaseLost
from bot.core.records import FeedLease
from bot.store.base import StoreBase, _iso
from bot.store.feeds import _feed


class LeasesPart(StoreBase):
    def claim_feeds(
        self,
        owner: str,
        now: datetime,
        *,
        lease_seconds: float,
        limit: int,
        include_not_due: bool = False,
    ) -> list[FeedLease]:
        """Up to ``limit`` active feeds that are due (any active feed with ``include_not_due``)
        and not held by a live lease (oldest due first), leased to ``owner`` until
        ``now + lease_seconds``."""
        until = now + timedelta(seconds=lease_seconds)
        with self.transaction() as conn:
            rows = conn.execute(
                """UPDATE feeds SET lease_owner = ?, lease_until = ?,
                   lease_epoch = lease_epoch + 1
                   WHERE id IN (SELECT id FROM feeds WHERE status = 'active'
                       AND (? OR next_check_at <= ?)
                       AND (lease_until IS NULL OR lease_until <= ?)
                       ORDER BY next_check_at, id LIMIT ?)
                   RETURNING *""",
                [owner, _iso(until), include_not_due, _iso(now), _iso(now), limit],
            )
            names = [d[0] for d in rows.description]
            claimed = [dict(zip(names, row, strict=True)) for row in rows.fetchall()]
        claimed.sort(key=lambda r: (r["next_check_at"], r["id"]))
        return [FeedLease(_feed(r), owner, int(r["lease_epoch"]), until) for r in claimed]

    def release_feed(self, lease: FeedLease) -> None:
        """Give the feed back before the lease runs out (no-op when it is no longer ours)."""
        with self.transaction() as conn:
            conn.execute(
                """UPDATE feeds SET lease_owner = NULL, lease_until = NULL
                   WHERE id = ? AND lease_owner = ? AND lease_epoch = ?""",
                [lease.feed.id, lease.owner, lease.epoch],
            )

    def renew_feeds(
        self, leases: Sequence[FeedLease], now: datetime, *, lease_seconds: float
    ) -> list[FeedLease]:
        """Extend the leases still ours (same owner and epoch) to ``now + lease_seconds``;
        returns them, renewed. One that changed hands is not among them."""
        until = now + timedelta(seconds=lease_seconds)
        kept: list[FeedLease] = []
        with self.transaction() as conn:
            for lease in leases:
                cur = conn.execute(
                    """UPDATE feeds SET lease_until = ?
                       WHERE id = ? AND lease_owner = ? AND lease_epoch = ?""",
                    [_iso(until), lease.feed.id, lease.owner, lease.epoch],
                )
                if cur.rowcount:
                    kept.append(replace(lease, until=until))
        return kept

    def feed_lease_holders(self, now: datetime) -> set[str]:
        """The owners of the leases that have not run out at ``now``."""
        rows = self._conn.execute(
            "SELECT DISTINCT lease_owner FROM feeds WHERE lease_until > ?", [_iso(now)]
        ).fetchall()
        return {r[0] for r in rows if r[0]}

    def release_feeds_of(self, owner: str) -> int:
        """Give back every feed ``owner`` holds (a process known to be dead); how many."""
        with self.transaction() as conn:
            cur = conn.execute(
                """UPDATE feeds SET lease_owner = NULL, lease_until = NULL
                   WHERE lease_owner = ?""",
                [owner],
            )
            return cur.rowcount

    @contextmanager
    def fenced(self, lease: FeedLease, now: datetime) -> Iterator[None]:
        """One transaction for a feed's results, kept only while ``lease`` still holds at
        ``now``; otherwise LeaseLost, and nothing written inside is kept."""
        with self.one_transaction():
            row = self._conn.execute(
                """SELECT 1 FROM feeds WHERE id = ? AND lease_owner = ? AND lease_epoch = ?
                   AND lease_until > ?""",
                [lease.feed.id, lease.owner, lease.epoch, _iso(now)],
            ).fetchone()
            if row is None:
                raise LeaseLost(f"lease on feed {lease.feed.id} ({lease.feed.url}) ran out")
            yield
