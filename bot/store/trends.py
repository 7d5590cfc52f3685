"""Activity of a topic over time, for trend charts and spike detection: matches and distinct
stories per UTC day, the top sources, and the reports of a recent window. Days are counted by
the article's publication time (which falls back to when it was first seen), never later than
``until``, so a backlog of old articles lands on its own days."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.core.channels import Channel
from bot.core.records import RecentReport, TopicActivity
from bot.store.base import StoreBase, _iso
from bot.store.channels import _channel

WHEN = "m.published"


class TrendsPart(StoreBase):
    def topic_activity(
        self, topic: str, *, days: int, until: datetime, top_sources: int = 5
    ) -> TopicActivity:
        """Per-day counts over the ``days`` UTC days that end with ``until``'s day."""
        last = until.date()
        first = last - timedelta(days=days - 1)
        start = datetime(first.year, first.month, first.day, tzinfo=until.tzinfo)
        params = [topic, _iso(start), _iso(until)]
        rows = self._conn.execute(
            f"""SELECT substr({WHEN}, 1, 10) AS day, COUNT(*),
                       COUNT(DISTINCT coalesce(a.story_id, -a.id))
                FROM matches m JOIN articles a ON a.id = m.article_id
                WHERE m.topic = ? AND {WHEN} >= ? AND {WHEN} <= ?
                GROUP BY day""",
            params,
        ).fetchall()
        by_day = {r[0]: (int(r[1]), int(r[2])) for r in rows}
        calendar = tuple(first + timedelta(days=i) for i in range(days))
        sources = self._conn.execute(
            f"""SELECT coalesce(nullif(a.source, ''), f.name, 'unknown') AS name, COUNT(*) AS n
                FROM matches m JOIN articles a ON a.id = m.article_id
                LEFT JOIN feeds f ON f.id = a.feed_id
                WHERE m.topic = ? AND {WHEN} >= ? AND {WHEN} <= ?
                GROUP BY name ORDER BY n DESC, name LIMIT ?""",
            [*params, top_sources],
        ).fetchall()
        return TopicActivity(
            topic=topic,
            days=calendar,
            matches=tuple(by_day.get(d.isoformat(), (0, 0))[0] for d in calendar),
            stories=tuple(by_day.get(d.isoformat(), (0, 0))[1] for d in calendar),
            sources=tuple((str(name), int(n)) for name, n in sources),
        )

    def window_counts(
        self, topic: str, *, until: datetime, windows: int, hours: int = 24
    ) -> list[tuple[int, int]]:
        """(matches, distinct stories) in each of ``windows`` consecutive ``hours``-long windows
        ending at ``until``, oldest first: the last one is the most recent day."""
        start = until - timedelta(hours=hours * windows)
        rows = self._conn.execute(
            f"""SELECT {WHEN}, coalesce(a.story_id, -a.id)
                FROM matches m JOIN articles a ON a.id = m.article_id
                WHERE m.topic = ? AND {WHEN} > ? AND {WHEN} <= ?""",
            [topic, _iso(start), _iso(until)],
        ).fetchall()
        matches = [0] * windows
        stories: list[set[int]] = [set() for _ in range(windows)]
        for published, story in rows:
            age = (until - datetime.fromisoformat(published)).total_seconds()
            index = windows - 1 - min(windows - 1, int(age // (hours * 3600)))
            matches[index] += 1
            stories[index].add(int(story))
        return [(m, len(s)) for m, s in zip(matches, stories, strict=True)]

    def recent_reports(self, topic: str, *, since: datetime, limit: int = 5) -> list[RecentReport]:
        """The first report of each story published since ``since``, newest first."""
        rows = self._conn.execute(
            f"""SELECT m.id, a.title, a.url, coalesce(nullif(a.source, ''), f.name), {WHEN}
                FROM matches m JOIN articles a ON a.id = m.article_id
                LEFT JOIN feeds f ON f.id = a.feed_id
                WHERE m.topic = ? AND {WHEN} > ? AND m.id IN (
                    SELECT MIN(m2.id) FROM matches m2 JOIN articles a2 ON a2.id = m2.article_id
                    WHERE m2.topic = ? GROUP BY coalesce(a2.story_id, -a2.id))
                ORDER BY {WHEN} DESC LIMIT ?""",
            [topic, _iso(since), topic, limit],
        ).fetchall()
        return [
            RecentReport(int(r[0]), str(r[1]), r[2], r[3], datetime.fromisoformat(r[4]))
            for r in rows
        ]

    def topic_channels(self, topic: str) -> list[Channel]:
        """Chats with an active subscription to ``topic`` (spike alerts go to them)."""
        rows = self._rows(
            """SELECT c.* FROM channels c JOIN subscriptions s ON s.channel_id = c.id
               WHERE s.topic = ? AND s.status = 'active' ORDER BY c.id""",
            [topic],
        )
        return [_channel(r) for r in rows]
