"""Feeds, their schedule and health; small facts about the database; cycle reports."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from bot.core.errors import NotFound
from bot.core.models import Feed, FeedStatus
from bot.store.base import StoreBase, _dt, _iso


class FeedsPart(StoreBase):
    # --- feeds ------------------------------------------------------------------------------
    def add_feed(self, url: str, name: str | None, now: datetime) -> tuple[Feed, bool]:
        """Add a feed, due at once. Returns (feed, created)."""
        existing = self._rows("SELECT * FROM feeds WHERE url = ?", [url])
        if existing:
            return _feed(existing[0]), False
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO feeds (url, name, next_check_at, created_at) VALUES (?, ?, ?, ?)",
                [url, name, _iso(now), _iso(now)],
            )
        return self.feed(int(cur.lastrowid or 0)), True

    def feed(self, feed_id: int) -> Feed:
        rows = self._rows("SELECT * FROM feeds WHERE id = ?", [feed_id])
        if not rows:
            raise NotFound(f"no feed with id {feed_id}")
        return _feed(rows[0])

    def find_feed(self, ref: str) -> Feed:
        """A feed by id or exact URL."""
        if ref.isdigit():
            return self.feed(int(ref))
        rows = self._rows("SELECT * FROM feeds WHERE url = ?", [ref])
        if not rows:
            raise NotFound(f"no feed {ref!r}")
        return _feed(rows[0])

    def feeds(self) -> list[Feed]:
        return [_feed(r) for r in self._rows("SELECT * FROM feeds ORDER BY id")]

    def due_feeds(self, now: datetime, *, include_not_due: bool = False) -> list[Feed]:
        if include_not_due:
            sql, params = "SELECT * FROM feeds WHERE status = 'active' ORDER BY id", []
        else:
            sql = "SELECT * FROM feeds WHERE status = 'active' AND next_check_at <= ? ORDER BY next_check_at"
            params = [_iso(now)]
        return [_feed(r) for r in self._rows(sql, params)]

    def next_feed_due_at(self) -> datetime | None:
        """When the next active feed is due for a check and free to claim (None: no active
        feeds): a feed another process holds is not due before its lease runs out."""
        row = self._conn.execute(
            """SELECT MIN(MAX(next_check_at, COALESCE(lease_until, next_check_at)))
               FROM feeds WHERE status = 'active'"""
        ).fetchone()
        return datetime.fromisoformat(row[0]) if row and row[0] else None

    def remove_feed(self, feed_id: int) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM feeds WHERE id = ?", [feed_id])

    def record_feed_success(
        self,
        feed_id: int,
        *,
        now: datetime,
        next_check_at: datetime,
        etag: str | None,
        last_modified: str | None,
        name: str | None,
        items_seen: int,
        hub_url: str | None = None,
        self_url: str | None = None,
    ) -> None:
        """A 200: new validators and schedule, and the WebSub links the document advertised."""
        with self.transaction() as conn:
            conn.execute(
                """UPDATE feeds SET etag = ?, last_modified = ?, next_check_at = ?,
                   last_checked_at = ?, last_success_at = ?, consecutive_failures = 0,
                   last_error = NULL, name = COALESCE(name, ?), items_seen = items_seen + ?,
                   hub_url = ?, self_url = ?
                   WHERE id = ?""",
                [
                    etag,
                    last_modified,
                    _iso(next_check_at),
                    _iso(now),
                    _iso(now),
                    name,
                    items_seen,
                    hub_url,
                    self_url,
                    feed_id,
                ],
            )

    def record_feed_not_modified(
        self, feed_id: int, *, now: datetime, next_check_at: datetime
    ) -> None:
        with self.transaction() as conn:
            conn.execute(
                """UPDATE feeds SET next_check_at = ?, last_checked_at = ?, last_success_at = ?,
                   consecutive_failures = 0, last_error = NULL WHERE id = ?""",
                [_iso(next_check_at), _iso(now), _iso(now), feed_id],
            )

    def record_feed_failure(
        self, feed_id: int, *, now: datetime, next_check_at: datetime, error: str, disable: bool
    ) -> None:
        with self.transaction() as conn:
            conn.execute(
                """UPDATE feeds SET next_check_at = ?, last_checked_at = ?,
                   consecutive_failures = consecutive_failures + 1, last_error = ?,
                   status = CASE WHEN ? THEN 'disabled' ELSE status END WHERE id = ?""",
                [_iso(next_check_at), _iso(now), error[:500], int(disable), feed_id],
            )

    def meta(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", [key, value])

    # --- cycle reports ------------------------------------------------------------------------
    def save_cycle_report(self, started_at: datetime, report: dict[str, Any]) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO cycles (started_at, report) VALUES (?, ?)",
                [_iso(started_at), json.dumps(report)],
            )

    def last_cycle_report(self) -> dict[str, Any] | None:
        row = self._conn.execute(
            "SELECT started_at, report FROM cycles ORDER BY id DESC LIMIT 1"
        ).fetchone()
        return {"started_at": row[0], **json.loads(row[1])} if row else None


def _feed(r: dict[str, Any]) -> Feed:
    return Feed(
        id=r["id"],
        url=r["url"],
        name=r["name"],
        status=FeedStatus(r["status"]),
        etag=r["etag"],
        last_modified=r["last_modified"],
        next_check_at=datetime.fromisoformat(r["next_check_at"]),
        last_checked_at=_dt(r["last_checked_at"]),
        last_success_at=_dt(r["last_success_at"]),
        consecutive_failures=r["consecutive_failures"],
        last_error=r["last_error"],
        items_seen=r["items_seen"],
        hub_url=r.get("hub_url"),
        self_url=r.get("self_url"),
    )
