"""WebSub subscriptions: one row per feed whose hub we subscribed to (see bot/websub/)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.core.models import Feed, WebSubState, WebSubSubscription
from bot.store.base import StoreBase, _dt, _iso
from bot.store.feeds import _feed


class WebSubPart(StoreBase):
    def websub_work(self, now: datetime) -> list[tuple[Feed, WebSubSubscription | None]]:
        """Active feeds that advertise a hub and need the subscriber now: no subscription yet,
        a different hub or topic than subscribed, or a renewal or retry that is due."""
        rows = self._rows(
            """SELECT f.*, w.feed_id AS w_feed_id FROM feeds f
               LEFT JOIN websub_subscriptions w ON w.feed_id = f.id
               WHERE f.status = 'active' AND f.hub_url IS NOT NULL AND (
                   w.feed_id IS NULL OR w.hub_url != f.hub_url
                   OR w.topic_url != COALESCE(f.self_url, f.url) OR w.next_attempt_at <= ?)
               ORDER BY f.id""",
            [_iso(now)],
        )
        return [
            (_feed(r), self.websub_subscription(r["id"]) if r["w_feed_id"] is not None else None)
            for r in rows
        ]

    def websub_subscription(self, feed_id: int) -> WebSubSubscription | None:
        rows = self._rows("SELECT * FROM websub_subscriptions WHERE feed_id = ?", [feed_id])
        return _subscription(rows[0]) if rows else None

    def websub_by_token(self, token: str) -> WebSubSubscription | None:
        rows = self._rows("SELECT * FROM websub_subscriptions WHERE callback_token = ?", [token])
        return _subscription(rows[0]) if rows else None

    def websub_subscriptions(self) -> list[WebSubSubscription]:
        return [
            _subscription(r) for r in self._rows("SELECT * FROM websub_subscriptions ORDER BY 1")
        ]

    def websub_active_feed_ids(self, now: datetime) -> set[int]:
        """Feeds whose hub pushes to us now (verified, lease not over)."""
        rows = self._conn.execute(
            "SELECT feed_id FROM websub_subscriptions WHERE state = 'active' AND expires_at > ?",
            [_iso(now)],
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
        """A subscribe request is about to go out. Written first: a hub may verify before it
        answers the request. A new hub, topic or token starts the subscription over."""
        with self.transaction() as conn:
            conn.execute(
                """INSERT INTO websub_subscriptions (feed_id, hub_url, topic_url, callback_token,
                   secret, state, awaiting_verification, requested_at, next_attempt_at)
                   VALUES (?, ?, ?, ?, ?, 'pending', 1, ?, ?)
                   ON CONFLICT (feed_id) DO UPDATE SET
                   state = CASE WHEN callback_token = excluded.callback_token
                       THEN state ELSE 'pending' END,
                   expires_at = CASE WHEN callback_token = excluded.callback_token
                       THEN expires_at END,
                   hub_url = excluded.hub_url, topic_url = excluded.topic_url,
                   callback_token = excluded.callback_token, secret = excluded.secret,
                   awaiting_verification = 1, requested_at = excluded.requested_at,
                   next_attempt_at = excluded.next_attempt_at""",
                [
                    feed_id,
                    hub_url,
                    topic_url,
                    callback_token,
                    secret,
                    _iso(now),
                    _iso(next_attempt_at),
                ],
            )

    def websub_request_failed(
        self, feed_id: int, *, error: str, next_attempt_at: datetime, denied: bool = False
    ) -> None:
        """The hub refused (denied) or could not be asked. An active lease stays active."""
        state = WebSubState.DENIED if denied else WebSubState.FAILED
        with self.transaction() as conn:
            conn.execute(
                """UPDATE websub_subscriptions SET awaiting_verification = 0,
                   failures = failures + 1, last_error = ?, next_attempt_at = ?,
                   state = CASE WHEN state = 'active' AND NOT ? THEN state ELSE ? END
                   WHERE feed_id = ?""",
                [error[:500], _iso(next_attempt_at), int(denied), state.value, feed_id],
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
                """UPDATE websub_subscriptions SET state = 'active', awaiting_verification = 0,
                   lease_seconds = ?, verified_at = ?, expires_at = ?, next_attempt_at = ?,
                   failures = 0, last_error = NULL WHERE feed_id = ?""",
                [lease_seconds, _iso(now), _iso(expires_at), _iso(renew_at), feed_id],
            )

    def websub_delivered(self, feed_id: int, now: datetime) -> None:
        with self.transaction() as conn:
            conn.execute(
                """UPDATE websub_subscriptions SET deliveries = deliveries + 1,
                   last_delivery_at = ? WHERE feed_id = ?""",
                [_iso(now), feed_id],
            )


def _subscription(r: dict[str, Any]) -> WebSubSubscription:
    return WebSubSubscription(
        feed_id=r["feed_id"],
        hub_url=r["hub_url"],
        topic_url=r["topic_url"],
        callback_token=r["callback_token"],
        secret=r["secret"],
        state=WebSubState(r["state"]),
        awaiting_verification=bool(r["awaiting_verification"]),
        lease_seconds=r["lease_seconds"],
        expires_at=_dt(r["expires_at"]),
        requested_at=datetime.fromisoformat(r["requested_at"]),
        verified_at=_dt(r["verified_at"]),
        next_attempt_at=datetime.fromisoformat(r["next_attempt_at"]),
        failures=r["failures"],
        last_error=r["last_error"],
        deliveries=r["deliveries"],
        last_delivery_at=_dt(r["last_delivery_at"]),
    )
