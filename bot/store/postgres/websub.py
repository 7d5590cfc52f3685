"""WebSub subscriptions: one row per feed whose hub we subscribed to (see bot/websub/)."""

from __future__ import annotations

from datetime import datetime

from bot.core.models import Feed, WebSubState, WebSubSubscription
from bot.store.feeds import _feed
from bot.store.postgres.base import PgBase, ts
from bot.store.websub import _subscription


class PgWebSubPart(PgBase):
    def websub_work(self, now: datetime) -> list[tuple[Feed, WebSubSubscription | None]]:
        """Active feeds that advertise a hub and need the subscriber now."""
        rows = self._rows(
            """SELECT f.*, w.feed_id AS w_feed_id FROM feeds f
               LEFT JOIN websub_subscriptions w ON w.feed_id = f.id
               WHERE f.status = 'active' AND f.hub_url IS NOT NULL AND (
                   w.feed_id IS NULL OR w.hub_url != f.hub_url
                   OR w.topic_url != COALESCE(f.self_url, f.url) OR w.next_attempt_at <= %s)
               ORDER BY f.id""",
            [ts(now)],
        )
        return [
            (_feed(r), self.websub_subscription(r["id"]) if r["w_feed_id"] is not None else None)
            for r in rows
        ]

    def websub_subscription(self, feed_id: int) -> WebSubSubscription | None:
        rows = self._rows("SELECT * FROM websub_subscriptions WHERE feed_id = %s", [feed_id])
        return _subscription(rows[0]) if rows else None

    def websub_by_token(self, token: str) -> WebSubSubscription | None:
        rows = self._rows("SELECT * FROM websub_subscriptions WHERE callback_token = %s", [token])
        return _subscription(rows[0]) if rows else None

    def websub_subscriptions(self) -> list[WebSubSubscription]:
        return [
            _subscription(r)
            for r in self._rows("SELECT * FROM websub_subscriptions ORDER BY feed_id")
        ]

    def websub_active_feed_ids(self, now: datetime) -> set[int]:
        """Feeds whose hub pushes to us now (verified, lease not over)."""
        rows = self._all(
            "SELECT feed_id FROM websub_subscriptions WHERE state = 'active' AND expires_at > %s",
            [ts(now)],
        )
        return {r[0] for r in rows}

    def websub_requesting(
        self,
        feed_id: int,
        *,
        hub_url: str,
        topic_url: str,
        callback_token: str,
        secret: str,
        now: datetime,
        next_attempt_at: datetime,
    ) -> None:
        """A subscribe request is about to go out (written first: a hub may verify before it
        answers). A new hub, topic or token starts the subscription over."""
        with self.transaction() as conn:
            conn.execute(
                """INSERT INTO websub_subscriptions AS w (feed_id, hub_url, topic_url,
                   callback_token, secret, state, awaiting_verification, requested_at,
                   next_attempt_at) VALUES (%s, %s, %s, %s, %s, 'pending', true, %s, %s)
                   ON CONFLICT (feed_id) DO UPDATE SET
                   state = CASE WHEN w.callback_token = excluded.callback_token
                       THEN w.state ELSE 'pending' END,
                   expires_at = CASE WHEN w.callback_token = excluded.callback_token
                       THEN w.expires_at END,
                   hub_url = excluded.hub_url, topic_url = excluded.topic_url,
                   callback_token = excluded.callback_token, secret = excluded.secret,
                   awaiting_verification = true, requested_at = excluded.requested_at,
                   next_attempt_at = excluded.next_attempt_at""",
                [feed_id, hub_url, topic_url, callback_token, secret, ts(now), ts(next_attempt_at)],
            )

    def websub_request_failed(
        self, feed_id: int, *, error: str, next_attempt_at: datetime, denied: bool = False
    ) -> None:
        """The hub refused (denied) or could not be asked. An active lease stays active."""
        state = WebSubState.DENIED if denied else WebSubState.FAILED
        with self.transaction() as conn:
            conn.execute(
                """UPDATE websub_subscriptions SET awaiting_verification = false,
                   failures = failures + 1, last_error = %s, next_attempt_at = %s,
                   state = CASE WHEN state = 'active' AND NOT %s THEN state ELSE %s END
                   WHERE feed_id = %s""",
                [error[:500], ts(next_attempt_at), denied, state.value, feed_id],
            )

    def websub_verified(
        self,
        feed_id: int,
        *,
        lease_seconds: int,
        now: datetime,
        expires_at: datetime,
        renew_at: datetime,
    ) -> None:
        with self.transaction() as conn:
            conn.execute(
                """UPDATE websub_subscriptions SET state = 'active',
                   awaiting_verification = false, lease_seconds = %s, verified_at = %s,
                   expires_at = %s, next_attempt_at = %s, failures = 0, last_error = NULL
                   WHERE feed_id = %s""",
                [lease_seconds, ts(now), ts(expires_at), ts(renew_at), feed_id],
            )

    def websub_delivered(self, feed_id: int, now: datetime) -> None:
        with self.transaction() as conn:
            conn.execute(
                """UPDATE websub_subscriptions SET deliveries = deliveries + 1,
                   last_delivery_at = %s WHERE feed_id = %s""",
                [ts(now), feed_id],
            )
