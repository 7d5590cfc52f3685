"""Activity of a topic over time on PostgreSQL: the same counts as the SQLite part
(bot/store/trends.py), days taken in UTC from the match's publication time."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.core.channels import Channel
from bot.core.records import RecentReport, TopicActivity
from bot.store.postgres.base import PgBase, ts
from bot.store.postgres.channels import _channel

DAY = "to_char(m.published AT TIME ZONE 'UTC', 'YYYY-MM-DD')"


class PgTrendsPart(PgBase):
    def topic_activity(
        self, topic: str, *, days: int, until: datetime, top_sources: int = 5
    ) -> TopicActivity:
        last = until.date()
        first = last - timedelta(days=days - 1)
        start = datetime(first.year, first.month, first.day, tzinfo=until.tzinfo)
        params = [topic, ts(start), ts(until)]
        rows = self._rows(
            f"""SELECT {DAY} AS day, count(*) AS n,
                       count(DISTINCT coalesce(a.story_id, -a.id)) AS s
                FROM matches m JOIN articles a ON a.id = m.article_id
                WHERE m.topic = %s AND m.published >= %s AND m.published <= %s
                GROUP BY day""",
            params,
        )
        by_day = {r["day"]: (int(r["n"]), int(r["s"])) for r in rows}
        calendar = tuple(first + timedelta(days=i) for i in range(days))
        sources = self._rows(
            """SELECT coalesce(nullif(a.source, ''), f.name, 'unknown') AS name, count(*) AS n
               FROM matches m JOIN articles a ON a.id = m.article_id
               LEFT JOIN feeds f ON f.id = a.feed_id
               WHERE m.topic = %s AND m.published >= %s AND m.published <= %s
               GROUP BY name ORDER BY n DESC, name LIMIT %s""",
            [*params, top_sources],
        )
        return TopicActivity(
            topic=topic,
            days=calendar,
            matches=tuple(by_day.get(d.isoformat(), (0, 0))[0] for d in calendar),
            stories=tuple(by_day.get(d.isoformat(), (0, 0))[1] for d in calendar),
            sources=tuple((str(r["name"]), int(r["n"])) for r in sources),
        )

    def window_counts(
        self, topic: str, *, until: datetime, windows: int, hours: int = 24
    ) -> list[tuple[int, int]]:
        start = until - timedelta(hours=hours * windows)
        rows = self._rows(
            """SELECT m.published, coalesce(a.story_id, -a.id) AS story
               FROM matches m JOIN articles a ON a.id = m.article_id
               WHERE m.topic = %s AND m.published > %s AND m.published <= %s""",
            [topic, ts(start), ts(until)],
        )
        matches = [0] * windows
        stories: list[set[int]] = [set() for _ in range(windows)]
        for r in rows:
            age = (until - r["published"]).total_seconds()
            index = windows - 1 - min(windows - 1, int(age // (hours * 3600)))
            matches[index] += 1
            stories[index].add(int(r["story"]))
        return [(m, len(s)) for m, s in zip(matches, stories, strict=True)]

    def recent_reports(self, topic: str, *, since: datetime, limit: int = 5) -> list[RecentReport]:
        rows = self._rows(
            """SELECT m.id, a.title, a.url, coalesce(nullif(a.source, ''), f.name) AS source,
                      m.published
               FROM matches m JOIN articles a ON a.id = m.article_id
               LEFT JOIN feeds f ON f.id = a.feed_id
               WHERE m.topic = %s AND m.published > %s AND m.id IN (
                   SELECT min(m2.id) FROM matches m2 JOIN articles a2 ON a2.id = m2.article_id
                   WHERE m2.topic = %s GROUP BY coalesce(a2.story_id, -a2.id))
               ORDER BY m.published DESC LIMIT %s""",
            [topic, ts(since), topic, limit],
        )
        return [
            RecentReport(int(r["id"]), str(r["title"]), r["url"], r["source"], r["published"])
            for r in rows
        ]

    def topic_channels(self, topic: str) -> list[Channel]:
        rows = self._rows(
            """SELECT c.* FROM channels c JOIN subscriptions s ON s.channel_id = c.id
               WHERE s.topic = %s AND s.status = 'active' ORDER BY c.id""",
            [topic],
        )
        return [_channel(r) for r in rows]
