"""What the deliverer asks of a database (part of the ``Store`` protocol, bot/store/protocol.py):
the outbox, and what lets any number of processes drain it at once — chat claims, the
two-phase send (bot/store/chat_claims.py) and rate windows shared through the database
(bot/store/send_windows.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from bot.core.models import Match
from bot.core.records import ChatClaim, OutboxEntry, SendWindow


class DeliveryStore(Protocol):
    # --- delivery --------------------------------------------------------------------------------
    def due_outbox(
        self,
        now: datetime,
        *,
        platforms: Sequence[str],
        limit: int = 100,
        skip_channels: Sequence[int] = (),
    ) -> list[OutboxEntry]: ...

    def pending_for_channel(self, channel_id: int) -> list[OutboxEntry]: ...

    def mark_sent(self, outbox_id: int, now: datetime, message_ref: str | None = None) -> None: ...

    def mark_many_sent(
        self, outbox_ids: Sequence[int], now: datetime, message_ref: str | None = None
    ) -> None: ...

    def mark_filtered(self, outbox_id: int, reason: str) -> None: ...

    def mark_retry(self, outbox_id: int, *, next_attempt_at: datetime, error: str) -> None: ...

    def story_root(
        self, channel_id: int, story_id: int, *, before_match: int
    ) -> tuple[int, str] | None: ...

    def story_reports_sent(self, channel_id: int, message_ref: str) -> list[Match]: ...

    def outbox_rows_by_platform(self, match_ids: Sequence[int]) -> dict[str, int]: ...

    def outbox_counts(self) -> dict[str, int]: ...

    # --- many senders ----------------------------------------------------------------------------
    def claim_chats(
        self,
        owner: str,
        now: datetime,
        *,
        platforms: Sequence[str],
        lease_seconds: float,
        limit: int,
        skip_channels: Sequence[int] = (),
    ) -> list[ChatClaim]: ...

    def claim_chat(
        self, channel_id: int, owner: str, now: datetime, *, lease_seconds: float
    ) -> ChatClaim | None: ...

    def claimed_outbox(
        self,
        claims: Sequence[ChatClaim],
        now: datetime,
        *,
        lease_seconds: float,
        per_chat: int = 20,
    ) -> list[OutboxEntry]: ...

    def begin_send(
        self,
        claim: ChatClaim,
        outbox_ids: Sequence[int],
        attempt_id: str,
        now: datetime,
        *,
        lease_seconds: float,
    ) -> list[int]: ...

    def release_chats(self, claims: Sequence[ChatClaim]) -> None: ...

    def take_send_slots(
        self, windows: Sequence[SendWindow], token: str, at: float, *, in_flight_limit: float
    ) -> tuple[float, ...]: ...

    def end_send_slots(
        self, scopes: Sequence[str], token: str, at: float, *, counted: bool = True
    ) -> None: ...
