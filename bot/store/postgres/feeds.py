"""Feeds, their schedule and health; small facts about the database; cycle reports."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from bot.core.errors import NotFound
from bot.core.models import Feed, FeedStatus
from bot.store.feeds import _feed
from bot.store.postgres.base import PgBase, ts


class PgFeedsPart(PgBase):
    # --- feeds ------------------------------------------------------------------------------
    def add_feed(self, url: str, name: str | None, now: datetime) -> tuple[Feed, bool]:
        """Add a feed, due at once. Returns (feed, created)."""
        with self.transaction() as conn:
            row = conn.execute(
                """INSERT INTO feeds (url, name, next_check_at, created_at) VALUES (%s,%s,%s,%s)
                   ON CONFLICT (url) DO NOTHING RETURNING id""",
                [url, name, ts(now), ts(now)],
            ).fetchone()
        if row is None:
            return self.find_feed_by_url(url), False
        return self.feed(int(row[0])), True

    def find_feed_by_url(self, url: str) -> Feed:
        rows = self._rows("SELECT * FROM feeds WHERE url = %s", [url])
        if not rows:
            raise NotFound(f"no feed {url!r}")
        return _feed(rows[0])

    def feed(self, feed_id: int) -> Feed:
        rows = self._rows("SELECT * FROM feeds WHERE id = %s", [feed_id])
        if not rows:
            raise NotFound(f"no feed with id {feed_id}")
        return _feed(rows[0])

    def find_feed(self, ref: str) -> Feed:
        """A feed by id or exact URL."""
        if ref.isdigit():
            return self.feed(int(ref))
        return self.find_feed_by_url(ref)

    def feeds(self) -> list[Feed]:
        return [_feed(r) for r in self._rows("SELECT * FROM feeds ORDER BY id")]

    def due_feeds(self, now: datetime, *, include_not_due: bool = False) -> list[Feed]:
        if include_not_due:
            sql, params = "SELECT * FROM feeds WHERE status = 'active' ORDER BY id", []
        else:
            sql = "SELECT * FROM feeds WHERE status = 'active' AND next_check_at <= %s ORDER BY next_check_at, id"
            params = [ts(now)]
        return [_feed(r) for r in self._rows(sql, params)]

    def next_feed_due_at(self) -> datetime | None:
        """When the next active feed is due for a check and free to claim (None: no active
        feeds): a feed another process holds is not due before its lease runs out."""
        row = self._one(
            """SELECT min(greatest(next_check_at, lease_until)) FROM feeds
               WHERE status = 'active'"""
        )
        return row[0].astimezone(UTC) if row and row[0] else None

    def remove_feed(self, feed_id: int) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM feeds WHERE id = %s", [feed_id])

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
                """UPDATE feeds SET etag = %s, last_modified = %s, next_check_at = %s,
                   last_checked_at = %s, last_success_at = %s, consecutive_failures = 0,
                   last_error = NULL, name = COALESCE(name, %s), items_seen = items_seen + %s,
                   hub_url = %s, self_url = %s WHERE id = %s""",
                [
                    etag,
                    last_modified,
                    ts(next_check_at),
                    ts(now),
                    ts(now),
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
                """UPDATE feeds SET next_check_at = %s, last_checked_at = %s,
                   last_success_at = %s, consecutive_failures = 0, last_error = NULL
                   WHERE id = %s""",
                [ts(next_check_at), ts(now), ts(now), feed_id],
            )

    def record_feed_failure(
        self, feed_id: int, *, now: datetime, next_check_at: datetime, error: str, disable: bool
    ) -> None:
        with self.transaction() as conn:
            conn.execute(
                """UPDATE feeds SET next_check_at = %s, last_checked_at = %s,
                   consecutive_failures = consecutive_failures + 1, last_error = %s,
                   status = CASE WHEN %s THEN 'disabled' ELSE status END WHERE id = %s""",
                [ts(next_check_at), ts(now), error[:500], disable, feed_id],
            )

    def set_feed_status(self, feed_id: int, status: FeedStatus, now: datetime) -> None:
        with self.transaction() as conn:
            conn.execute(
                """UPDATE feeds SET status = %s, consecutive_failures = 0, next_check_at = %s
                   WHERE id = %s""",
                [status.value, ts(now), feed_id],
            )

    # --- meta ------------------------------------------------------------------------------------
    def meta(self, key: str) -> str | None:
        row = self._one("SELECT value FROM meta WHERE key = %s", [key])
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as conn:
            conn.execute(
                """INSERT INTO meta (key, value) VALUES (%s, %s)
                   ON CONFLICT (key) DO UPDATE SET value = excluded.value""",
                [key, value],
            )

    # --- cycle reports ------------------------------------------------------------------------
    def save_cycle_report(self, started_at: datetime, report: dict[str, Any]) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO cycles (started_at, report) VALUES (%s, %s)",
                [ts(started_at), json.dumps(report)],
            )

    def last_cycle_report(self) -> dict[str, Any] | None:
        rows = self._rows("SELECT started_at, report FROM cycles ORDER BY id DESC LIMIT 1")
        return (
            {"started_at": rows[0]["started_at"], **json.loads(rows[0]["report"])} if rows else None
        )
