"""Feed leases on PostgreSQL (see bot/store/leases.py for the contract): claims take due rows
with ``FOR UPDATE SKIP LOCKED``, so processes claiming at once never wait for nor take the same
feed; ``fenced`` locks the feed's row while it checks the lease, so the lease cannot change
hands between the check and the commit."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta

from psycopg.rows import dict_row

from bot.core.errors import LeaseLost
from bot.core.records import FeedLease
from bot.store.feeds import _feed
from bot.store.postgres.base import PgBase, texts, ts


class PgLeasesPart(PgBase):
    def claim_feeds(
        self,
        owner: str,
        now: datetime,
        *,
        lease_seconds: float,
        limit: int,
        include_not_due: bool = False,
    ) -> list[FeedLease]:
        until = now + timedelta(seconds=lease_seconds)
        with self.transaction() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(
                """WITH due AS (SELECT id FROM feeds WHERE status = 'active'
                       AND (%(any)s OR next_check_at <= %(now)s)
                       AND (lease_until IS NULL OR lease_until <= %(now)s)
                       ORDER BY next_check_at, id LIMIT %(limit)s FOR UPDATE SKIP LOCKED)
                   UPDATE feeds f SET lease_owner = %(owner)s, lease_until = %(until)s,
                       lease_epoch = f.lease_epoch + 1
                   FROM due WHERE f.id = due.id RETURNING f.*""",
                {
                    "now": ts(now),
                    "any": include_not_due,
                    "limit": limit,
                    "owner": owner,
                    "until": ts(until),
                },
            )
            claimed = [texts(r) for r in cur.fetchall()]
        claimed.sort(key=lambda r: (r["next_check_at"], r["id"]))
        return [FeedLease(_feed(r), owner, int(r["lease_epoch"]), until) for r in claimed]

    def release_feed(self, lease: FeedLease) -> None:
        with self.transaction() as conn:
            conn.execute(
                """UPDATE feeds SET lease_owner = NULL, lease_until = NULL
                   WHERE id = %s AND lease_owner = %s AND lease_epoch = %s""",
                [lease.feed.id, lease.owner, lease.epoch],
            )

    def renew_feeds(
        self, leases: Sequence[FeedLease], now: datetime, *, lease_seconds: float
    ) -> list[FeedLease]:
        until = now + timedelta(seconds=lease_seconds)
        kept: list[FeedLease] = []
        with self.transaction() as conn:
            for lease in leases:
                cur = conn.execute(
                    """UPDATE feeds SET lease_until = %s
                       WHERE id = %s AND lease_owner = %s AND lease_epoch = %s""",
                    [ts(until), lease.feed.id, lease.owner, lease.epoch],
                )
                if cur.rowcount:
                    kept.append(replace(lease, until=until))
        return kept

    def feed_lease_holders(self, now: datetime) -> set[str]:
        rows = self._all("SELECT DISTINCT lease_owner FROM feeds WHERE lease_until > %s", [ts(now)])
        return {r[0] for r in rows if r[0]}

    def release_feeds_of(self, owner: str) -> int:
        with self.transaction() as conn:
            cur = conn.execute(
                """UPDATE feeds SET lease_owner = NULL, lease_until = NULL
                   WHERE lease_owner = %s""",
                [owner],
            )
            return cur.rowcount

    @contextmanager
    def fenced(self, lease: FeedLease, now: datetime) -> Iterator[None]:
        with self.one_transaction():
            row = self._one(
                """SELECT 1 FROM feeds WHERE id = %s AND lease_owner = %s AND lease_epoch = %s
                   AND lease_until > %s FOR UPDATE""",
                [lease.feed.id, lease.owner, lease.epoch, ts(now)],
            )
            if row is None:
                raise LeaseLost(f"lease on feed {lease.feed.id} ({lease.feed.url}) ran out")
            yield
