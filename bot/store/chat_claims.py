"""Chat claims and the two-phase send: any number of processes drain one outbox, each chat held
by one sender at a time, so a chat's alerts go out in order and under its limits.

A sender claims chats that have due rows (``claim_chats``) for ``lease_seconds``; a claim it
already holds is renewed, one that ran out goes to whoever asks next, with a higher epoch (the
fencing token). Before calling the platform it marks the row ``sending`` with a fresh attempt
id (``begin_send``), which checks the claim in the same transaction and renews it; once the
platform accepted the message, ``mark_sent``. A sender that dies leaves its chats claimed for
at most the lease, and a row it left ``sending`` is taken up again (``claimed_outbox``) once it
has been ``sending`` for longer than the lease: the send is made again, or found in the
platform's history first where the platform allows it (Slack).

On SQLite a claim is made in one write transaction (``BEGIN IMMEDIATE``); the PostgreSQL store
claims with ``FOR UPDATE SKIP LOCKED`` (bot/store/postgres/chat_claims.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from bot.core.errors import LeaseLost
from bot.core.records import ChatClaim, OutboxEntry
from bot.store.base import _dt, _iso
from bot.store.delivery import INSTANT, DeliveryPart

# a row that may be sent now: pending and due, or left 'sending' by a sender gone for a lease
READY = """((o.status = 'pending' AND o.next_attempt_at <= :now)
    OR (o.status = 'sending' AND o.sending_at <= :stale))"""
# an older row of the same chat that must go first and cannot yet: waiting for its retry, or
# being sent by a sender that may still be at it
BLOCKING = """((w.status = 'pending' AND w.next_attempt_at > :now)
    OR (w.status = 'sending' AND w.sending_at > :stale))"""
FREE = "(k.channel_id IS NULL OR k.lease_until IS NULL OR k.lease_until <= :now OR k.lease_owner = :owner)"
CLAIM = """INSERT INTO chat_claims (channel_id, lease_owner, lease_until, epoch)
    VALUES (:channel, :owner, :until, 1)
    ON CONFLICT (channel_id) DO UPDATE SET
        epoch = CASE WHEN chat_claims.lease_owner = excluded.lease_owner
            AND chat_claims.lease_until > :now THEN chat_claims.epoch
            ELSE chat_claims.epoch + 1 END,
        lease_owner = excluded.lease_owner, lease_until = excluded.lease_until
    WHERE chat_claims.lease_until IS NULL OR chat_claims.lease_until <= :now
        OR chat_claims.lease_owner = excluded.lease_owner
    RETURNING epoch"""
ENTRY_COLUMNS = """o.id, o.match_id, o.channel_id, o.attempts, o.attempt_id, o.created_at,
    c.platform, c.chat_id, c.thread_id"""


def _stale(now: datetime, lease_seconds: float) -> datetime:
    return now - timedelta(seconds=lease_seconds)


class ChatClaimsPart(DeliveryPart):
    def claim_chats(
        self,
        owner: str,
        now: datetime,
        *,
        platforms: Sequence[str],
        lease_seconds: float,
        limit: int,
        skip_channels: Sequence[int] = (),
    ) -> list[ChatClaim]:
        """Up to ``limit`` instant-mode chats of ``platforms`` with a row ready to send that no
        other live claim holds (the one with the oldest such row first), claimed for
        ``owner`` until ``now + lease_seconds``; chats ``owner`` already holds are renewed."""
        if not platforms:
            return []
        until = now + timedelta(seconds=lease_seconds)
        params: dict[str, object] = {
            "now": _iso(now),
            "stale": _iso(_stale(now, lease_seconds)),
            "owner": owner,
            "until": _iso(until),
            "limit": limit,
        }
        params |= {f"p{i}": p for i, p in enumerate(platforms)}
        params |= {f"s{i}": s for i, s in enumerate(skip_channels)}
        platform_in = ",".join(f":p{i}" for i in range(len(platforms)))
        skip = ",".join(f":s{i}" for i in range(len(skip_channels)))
        skip_sql = f"AND o.channel_id NOT IN ({skip})" if skip_channels else ""
        claims = []
        with self.transaction() as conn:
            candidates = conn.execute(
                f"""SELECT o.channel_id FROM outbox o JOIN channels c ON c.id = o.channel_id
                    LEFT JOIN chat_claims k ON k.channel_id = o.channel_id
                    WHERE c.platform IN ({platform_in}) AND {INSTANT} AND {READY} AND {FREE}
                    {skip_sql} AND NOT EXISTS (SELECT 1 FROM outbox w
                        WHERE w.channel_id = o.channel_id AND w.id < o.id AND {BLOCKING})
                    GROUP BY o.channel_id ORDER BY min(o.id) LIMIT :limit""",
                params,
            ).fetchall()
            for (channel_id,) in candidates:
                row = conn.execute(CLAIM, params | {"channel": channel_id}).fetchone()
                if row is not None:
                    claims.append(ChatClaim(int(channel_id), owner, int(row[0]), until))
        return claims

    def claim_chat(
        self, channel_id: int, owner: str, now: datetime, *, lease_seconds: float
    ) -> ChatClaim | None:
        """Claim one chat whatever its rows (a digest is sent to it), or None while another
        live claim holds it."""
        until = now + timedelta(seconds=lease_seconds)
        params = {"channel": channel_id, "owner": owner, "until": _iso(until), "now": _iso(now)}
        with self.transaction() as conn:
            row = conn.execute(CLAIM, params).fetchone()
        return ChatClaim(channel_id, owner, int(row[0]), until) if row is not None else None

    def claimed_outbox(
        self,
        claims: Sequence[ChatClaim],
        now: datetime,
        *,
        lease_seconds: float,
        per_chat: int = 20,
    ) -> list[OutboxEntry]:
        """The rows of the claimed chats that are ready, oldest first, at most ``per_chat`` of
        each (a chat with a long backlog does not crowd the others out): pending and due, or
        left 'sending' for longer than ``lease_seconds`` (carrying their last ``attempt_id``).
        A row waits while an older row of its chat waits for a retry or is being sent."""
        if not claims:
            return []
        params: dict[str, object] = {
            "now": _iso(now),
            "stale": _iso(_stale(now, lease_seconds)),
            "per_chat": per_chat,
        }
        params |= {f"c{i}": c.channel_id for i, c in enumerate(claims)}
        channel_in = ",".join(f":c{i}" for i in range(len(claims)))
        rows = self._rows(
            f"""SELECT * FROM (SELECT {ENTRY_COLUMNS},
                    row_number() OVER (PARTITION BY o.channel_id ORDER BY o.id) AS nth
                FROM outbox o JOIN channels c ON c.id = o.channel_id
                WHERE o.channel_id IN ({channel_in}) AND {READY}
                AND NOT EXISTS (SELECT 1 FROM outbox w WHERE w.channel_id = o.channel_id
                    AND w.id < o.id AND {BLOCKING}))
                WHERE nth <= :per_chat ORDER BY id""",
            params,
        )
        return [self._claimed_entry(r) for r in rows]

    def _claimed_entry(self, r: dict) -> OutboxEntry:  # type: ignore[type-arg]
        return OutboxEntry(
            id=r["id"],
            match=self.match(r["match_id"]),
            channel_id=r["channel_id"],
            platform=r["platform"],
            chat_id=r["chat_id"],
            thread_id=r["thread_id"],
            attempts=r["attempts"],
            attempt_id=r["attempt_id"],
            queued_at=_dt(r["created_at"]),
        )

    def begin_send(
        self,
        claim: ChatClaim,
        outbox_ids: Sequence[int],
        attempt_id: str,
        now: datetime,
        *,
        lease_seconds: float,
    ) -> list[int]:
        """Mark rows of the claimed chat 'sending' with ``attempt_id``, renewing the claim:
        the ids marked (a row that was dropped or sent meanwhile is not). LeaseLost when the
        claim ran out or changed hands; then nothing is marked."""
        until = now + timedelta(seconds=lease_seconds)
        with self.transaction() as conn:
            held = conn.execute(
                """UPDATE chat_claims SET lease_until = ? WHERE channel_id = ?
                   AND lease_owner = ? AND epoch = ? AND lease_until > ?""",
                [_iso(until), claim.channel_id, claim.owner, claim.epoch, _iso(now)],
            ).rowcount
            if not held:
                raise LeaseLost(f"claim on chat {claim.channel_id} ran out")
            marked = []
            for outbox_id in outbox_ids:
                row = conn.execute(
                    """UPDATE outbox SET status = 'sending', attempt_id = ?, sending_by = ?,
                       sending_at = ? WHERE id = ? AND channel_id = ?
                       AND status IN ('pending', 'sending') RETURNING id""",
                    [attempt_id, claim.owner, _iso(now), outbox_id, claim.channel_id],
                ).fetchone()
                if row is not None:
                    marked.append(int(row[0]))
        return marked

    def release_chats(self, claims: Sequence[ChatClaim]) -> None:
        """Give chats back before their claims run out (a claim no longer held is left as is)."""
        with self.transaction() as conn:
            conn.executemany(
                """UPDATE chat_claims SET lease_owner = NULL, lease_until = NULL
                   WHERE channel_id = ? AND lease_owner = ? AND epoch = ?""",
                [(c.channel_id, c.owner, c.epoch) for c in claims],
            )
