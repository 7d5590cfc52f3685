"""Rate windows shared by every process through the database: the platforms' limits (Telegram's
30 messages a second per bot, a chat's own limit) hold however many processes send.

Each window is one row holding its recent sends as a JSON list of ``[unix time, token]``. A send
takes a slot before it starts (``take_send_slots``: in one transaction, every window has room
or none is touched) and counts as happening now while it is in flight (its token is set); when
the platform has answered, ``end_send_slots`` records it as finished then, so sends are spaced
by when they reached the platform, as the in-process limiter does (bot/deliver/ratelimit.py).
A process that dies with a send in flight leaves a token behind: it counts as in flight for
``in_flight_limit`` seconds at most, then as finished. Times are wall-clock seconds, so the
processes' clocks must agree (NTP), as they must for leases.

The pure arithmetic is here (both stores use it); the rows are read with a write lock
(SQLite's ``BEGIN IMMEDIATE``, PostgreSQL's ``FOR UPDATE``), so two processes never both take
the last slot.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from bot.core.records import SendWindow
from bot.store.base import StoreBase

IN_FLIGHT_POLL = 0.05  # seconds to wait while only sends in flight fill a window

Sends = list[tuple[float, str | None]]


def parse(text: str | None) -> Sends:
    try:
        raw = json.loads(text or "[]")
        return [(float(t), None if token is None else str(token)) for t, token in raw]
    except (ValueError, TypeError):  # a damaged row: forget it rather than block every send
        return []


def dump(sends: Sends) -> str:
    return json.dumps([[round(t, 4), token] for t, token in sends])


def settled(sends: Sends, window: SendWindow, now: float, in_flight_limit: float) -> Sends:
    """The sends that still count: finished ones within the window, and the ones in flight (a
    send in flight longer than ``in_flight_limit`` was abandoned: finished then)."""
    kept: Sends = []
    for t, token in sends:
        if token is not None and t <= now - in_flight_limit:
            t, token = t + in_flight_limit, None
        if token is not None or t > now - window.per_seconds:
            kept.append((t, token))
    return kept


def wait_for(sends: Sends, window: SendWindow, now: float) -> float:
    """Seconds until one more send fits ``window`` (0 when it fits now); ``sends`` settled."""
    finished = sorted(t for t, token in sends if token is None)
    over = len(sends) - window.messages  # ≥ 0: no room
    if over < 0:
        return 0.0
    if over < len(finished):  # room once the (over+1)-th oldest finished send leaves the window
        return max(finished[over] + window.per_seconds - now, IN_FLIGHT_POLL)
    return IN_FLIGHT_POLL  # sends in flight alone fill it: look again shortly


def take(
    rows: Mapping[str, str | None],
    windows: Sequence[SendWindow],
    token: str,
    at: float,
    in_flight_limit: float,
) -> tuple[tuple[float, ...], dict[str, str]]:
    """(the wait of each window, the rows to write back): every window has room and the send
    is added to each, or nothing is added and the waits say how long."""
    logs = {w.scope: settled(parse(rows.get(w.scope)), w, at, in_flight_limit) for w in windows}
    waits = tuple(wait_for(logs[w.scope], w, at) for w in windows)
    if any(waits):
        return waits, {}
    return waits, {scope: dump([*sends, (at, token)]) for scope, sends in logs.items()}


def end(rows: Mapping[str, str | None], token: str, at: float, *, counted: bool) -> dict[str, str]:
    """The rows with the send ``token`` finished at ``at`` (or removed when it never reached the
    platform)."""
    out = {}
    for scope, text in rows.items():
        sends = parse(text)
        if counted:
            updated = [(at, None) if tok == token else (t, tok) for t, tok in sends]
        else:
            updated = [(t, tok) for t, tok in sends if tok != token]
        out[scope] = dump(updated)
    return out


class SendWindowsPart(StoreBase):
    def take_send_slots(
        self, windows: Sequence[SendWindow], token: str, at: float, *, in_flight_limit: float
    ) -> tuple[float, ...]:
        """Count one send starting at ``at`` (unix seconds) in every window, or in none: the
        seconds each window needs before it has room (all 0 when the send was counted)."""
        scopes = [w.scope for w in windows]
        with self.transaction() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO send_windows (scope) VALUES (?)", [(s,) for s in scopes]
            )
            marks = ",".join("?" * len(scopes))
            rows = dict(
                conn.execute(
                    f"SELECT scope, sends FROM send_windows WHERE scope IN ({marks})", scopes
                ).fetchall()
            )
            waits, updated = take(rows, windows, token, at, in_flight_limit)
            conn.executemany(
                "UPDATE send_windows SET sends = ? WHERE scope = ?",
                [(text, scope) for scope, text in updated.items()],
            )
        return waits

    def end_send_slots(
        self, scopes: Sequence[str], token: str, at: float, *, counted: bool = True
    ) -> None:
        """The send ``token`` is over: it counts from ``at`` on, or (``counted`` false: it never
        reached the platform) not at all."""
        with self.transaction() as conn:
            marks = ",".join("?" * len(scopes))
            rows = dict(
                conn.execute(
                    f"SELECT scope, sends FROM send_windows WHERE scope IN ({marks})", list(scopes)
                ).fetchall()
            )
            conn.executemany(
                "UPDATE send_windows SET sends = ? WHERE scope = ?",
                [(text, scope) for scope, text in end(rows, token, at, counted=counted).items()],
            )
