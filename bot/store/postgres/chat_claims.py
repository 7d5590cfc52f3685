"""Chat claims, the two-phase send and the shared rate windows on PostgreSQL (the contract is in
bot/store/chat_claims.py and bot/store/send_windows.py). A claim locks the free chats' claim
rows with ``FOR UPDATE SKIP LOCKED``, so processes claiming at once never wait for nor take the
same chat; ``begin_send`` locks the claim row while it checks it, so the claim cannot change
hands between the check and the commit; a rate window's rows are locked (in scope order, so two
senders never deadlock) while a slot is taken."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from bot.core.errors import LeaseLost
from bot.core.records import ChatClaim, OutboxEntry, SendWindow
from bot.store import send_windows
from bot.store.base import _dt
from bot.store.postgres.base import PgBase, ts
from bot.store.postgres.channels import MODE, PgDeliveryPart

READY = """((o.status = 'pending' AND o.next_attempt_at <= %(now)s)
    OR (o.status = 'sending' AND o.sending_at <= %(stale)s))"""
BLOCKING = """((w.status = 'pending' AND w.next_attempt_at > %(now)s)
    OR (w.status = 'sending' AND w.sending_at > %(stale)s))"""
FREE = """(lease_until IS NULL OR lease_until <= %(now)s OR lease_owner = %(owner)s)"""
CLAIM = f"""WITH free AS (SELECT channel_id FROM chat_claims WHERE channel_id = ANY(%(ids)s)
        AND {FREE} FOR UPDATE SKIP LOCKED)
    UPDATE chat_claims k SET
        epoch = CASE WHEN k.lease_owner = %(owner)s AND k.lease_until > %(now)s THEN k.epoch
            ELSE k.epoch + 1 END,
        lease_owner = %(owner)s, lease_until = %(until)s
    FROM free WHERE k.channel_id = free.channel_id RETURNING k.channel_id, k.epoch"""


class PgChatClaimsPart(PgDeliveryPart):
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
        if not platforms:
            return []
        until = now + timedelta(seconds=lease_seconds)
        params = {
            "now": ts(now),
            "stale": ts(now - timedelta(seconds=lease_seconds)),
            "owner": owner,
            "until": ts(until),
            "limit": limit,
            "platforms": list(platforms),
            "skip": [int(c) for c in skip_channels],
        }
        with self.transaction() as conn:
            ids = [
                int(r[0])
                for r in conn.execute(
                    f"""SELECT o.channel_id FROM outbox o JOIN channels c ON c.id = o.channel_id
                        LEFT JOIN chat_claims k ON k.channel_id = o.channel_id
                        WHERE c.platform = ANY(%(platforms)s) AND {MODE} = 'instant'
                        AND NOT (o.channel_id = ANY(%(skip)s)) AND {READY}
                        AND (k.channel_id IS NULL OR k.lease_until IS NULL
                            OR k.lease_until <= %(now)s OR k.lease_owner = %(owner)s)
                        AND NOT EXISTS (SELECT 1 FROM outbox w WHERE w.channel_id = o.channel_id
                            AND w.id < o.id AND {BLOCKING})
                        GROUP BY o.channel_id ORDER BY min(o.id) LIMIT %(limit)s""",  # type: ignore[arg-type]
                    params,
                ).fetchall()
            ]
            claimed = self._claim(conn, ids, params)
        return [ChatClaim(i, owner, claimed[i], until) for i in ids if i in claimed]

    def _claim(self, conn: Any, ids: list[int], params: dict[str, Any]) -> dict[int, int]:
        """{channel id: epoch} of the chats of ``ids`` claimed now (their claim rows are made
        first, in id order so that two claimers never wait on each other crosswise)."""
        if not ids:
            return {}
        conn.execute(
            """INSERT INTO chat_claims (channel_id) SELECT unnest(%s::bigint[]) AS id
               ORDER BY id ON CONFLICT DO NOTHING""",
            [sorted(ids)],
        )
        rows = conn.execute(CLAIM, params | {"ids": ids}).fetchall()
        return {int(r[0]): int(r[1]) for r in rows}

    def claim_chat(
        self, channel_id: int, owner: str, now: datetime, *, lease_seconds: float
    ) -> ChatClaim | None:
        until = now + timedelta(seconds=lease_seconds)
        params = {"owner": owner, "until": ts(until), "now": ts(now)}
        with self.transaction() as conn:
            claimed = self._claim(conn, [channel_id], params)
        if channel_id not in claimed:
            return None
        return ChatClaim(channel_id, owner, claimed[channel_id], until)

    def claimed_outbox(
        self,
        claims: Sequence[ChatClaim],
        now: datetime,
        *,
        lease_seconds: float,
        per_chat: int = 20,
    ) -> list[OutboxEntry]:
        if not claims:
            return []
        rows = self._rows(
            f"""SELECT * FROM (SELECT o.id, o.match_id, o.channel_id, o.attempts,
                    o.attempt_id, o.created_at, c.platform, c.chat_id, c.thread_id,
                    row_number() OVER (PARTITION BY o.channel_id ORDER BY o.id) AS nth
                FROM outbox o JOIN channels c ON c.id = o.channel_id
                WHERE o.channel_id = ANY(%(ids)s) AND {READY}
                AND NOT EXISTS (SELECT 1 FROM outbox w WHERE w.channel_id = o.channel_id
                    AND w.id < o.id AND {BLOCKING})) ready
                WHERE nth <= %(per_chat)s ORDER BY id""",
            {
                "ids": [c.channel_id for c in claims],
                "now": ts(now),
                "stale": ts(now - timedelta(seconds=lease_seconds)),
                "per_chat": per_chat,
            },
        )
        return [
            OutboxEntry(
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
            for r in rows
        ]

    def begin_send(
        self,
        claim: ChatClaim,
        outbox_ids: Sequence[int],
        attempt_id: str,
        now: datetime,
        *,
        lease_seconds: float,
    ) -> list[int]:
        until = now + timedelta(seconds=lease_seconds)
        with self.transaction() as conn:
            held = conn.execute(
                """SELECT 1 FROM chat_claims WHERE channel_id = %s AND lease_owner = %s
                   AND epoch = %s AND lease_until > %s FOR UPDATE""",
                [claim.channel_id, claim.owner, claim.epoch, ts(now)],
            ).fetchone()
            if held is None:
                raise LeaseLost(f"claim on chat {claim.channel_id} ran out")
            conn.execute(
                "UPDATE chat_claims SET lease_until = %s WHERE channel_id = %s",
                [ts(until), claim.channel_id],
            )
            rows = conn.execute(
                """UPDATE outbox SET status = 'sending', attempt_id = %s, sending_by = %s,
                   sending_at = %s WHERE id = ANY(%s) AND channel_id = %s
                   AND status IN ('pending', 'sending') RETURNING id""",
                [attempt_id, claim.owner, ts(now), [int(i) for i in outbox_ids], claim.channel_id],
            ).fetchall()
        marked = {int(r[0]) for r in rows}
        return [i for i in outbox_ids if i in marked]

    def release_chats(self, claims: Sequence[ChatClaim]) -> None:
        with self.transaction() as conn, conn.cursor() as cur:
            cur.executemany(
                """UPDATE chat_claims SET lease_owner = NULL, lease_until = NULL
                   WHERE channel_id = %s AND lease_owner = %s AND epoch = %s""",
                [(c.channel_id, c.owner, c.epoch) for c in claims],
            )


class PgSendWindowsPart(PgBase):
    def take_send_slots(
        self, windows: Sequence[SendWindow], token: str, at: float, *, in_flight_limit: float
    ) -> tuple[float, ...]:
        with self.transaction() as conn:
            rows = self._locked_windows(conn, [w.scope for w in windows])
            waits, updated = send_windows.take(rows, windows, token, at, in_flight_limit)
            self._save_windows(conn, updated)
        return waits

    def end_send_slots(
        self, scopes: Sequence[str], token: str, at: float, *, counted: bool = True
    ) -> None:
        with self.transaction() as conn:
            rows = self._locked_windows(conn, list(scopes))
            self._save_windows(conn, send_windows.end(rows, token, at, counted=counted))

    def _locked_windows(self, conn: Any, scopes: list[str]) -> dict[str, str | None]:
        conn.execute(
            """INSERT INTO send_windows (scope) SELECT unnest(%s::text[]) AS s ORDER BY s
               ON CONFLICT DO NOTHING""",
            [sorted(scopes)],
        )
        rows = conn.execute(
            """SELECT scope, sends FROM send_windows WHERE scope = ANY(%s)
               ORDER BY scope FOR UPDATE""",
            [scopes],
        ).fetchall()
        return {str(r[0]): r[1] for r in rows}

    def _save_windows(self, conn: Any, updated: dict[str, str]) -> None:
        if updated:
            with conn.cursor() as cur:
                cur.executemany(
                    "UPDATE send_windows SET sends = %s WHERE scope = %s",
                    [(text, scope) for scope, text in updated.items()],
                )
