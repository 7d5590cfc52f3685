"""Story links: for each new article, the earlier report whose story it joins (a stored one, or
one earlier in its batch), and whether it adds facts to that story.

A new article is compared with the ``STORY_CANDIDATES`` newest stored reports published at most
``stories.WINDOW`` before it. A poll cycle saves its new articles in dozens of small rounds, and
reading those thousands of reports (texts and vectors) again for every round cost more than
comparing them. So ``StoryLinker`` keeps what linking needs of each stored report (a
``StoredReport``: none of it changes once an article is saved, and articles are never deleted),
and each round reads only the articles saved since it last looked, whoever saved them. Story
ids do change as stories grow: they are read when a link is found.

Two costs grew with a cycle's size. Whether a report adds facts to its story was decided by
finding the facts (toll, claim, confirmation) of every report of the story again, for each new
report: quadratic in a story's size. Now a report that states no fact skips that, and each kept
report's facts are found once. And each new article was compared with up to thousands of kept
reports one pair at a time. Now the scores are computed for all of them at once (gist cosines
from one matrix product, specifics overlaps from an index of which reports name which
specific), and only the reports within ``SCORE_SLACK`` of the best are compared exactly, in the
same order, so the result is that of comparing all.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import numpy as np

from bot.core.models import FeedItem
from bot.core.records import StoredReport
from bot.relevance import stories
from bot.relevance.scoring import Embedded
from bot.store import Store
from bot.store.articles import STORY_CANDIDATES

# Scores from the matrix product differ from one pair's float32 dot product by rounding only
# (well under 1e-5 for unit vectors of a few hundred dimensions): every report whose exact
# score can reach the best one's is within this of it.
SCORE_SLACK = 1e-4
WINDOW_US = stories.WINDOW // timedelta(microseconds=1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class StoryLink:
    stored: int | None = None  # id of a stored article this is another report of
    in_batch: int | None = None  # …or position of an earlier article in the same batch
    adds_facts: bool = False


class StoryLinker:
    """Links new articles to stories; keeps the stored reports it has read (see the module doc).

    It holds every stored report that is among the ``limit`` newest published since
    ``self._since`` (and perhaps more), so for any window starting at or after ``_since`` the
    newest ``limit`` it holds in the window are exactly those the store would return.
    """

    def __init__(self, store: Store, limit: int = STORY_CANDIDATES) -> None:
        self._store = store
        self._limit = limit
        self._forget_all(model="", since=None)

    def link(
        self, entries: Sequence[tuple[FeedItem, Embedded]], *, model: str, now: datetime
    ) -> list[StoryLink]:
        if not entries:
            return []
        dates = [item.published or now for item, _ in entries]
        # The store compares dates as ISO text to the second; so does the window here.
        since = (min(dates) - stories.WINDOW).replace(microsecond=0)
        self._catch_up(since, model)
        gists = [stories.gist(doc.vectors) for _, doc in entries]
        field = _Field(
            self._candidates(since),
            gists=self._gists[: len(self._known)],
            specifics=self._specifics,
            micros=self._micros,
            naming=self._naming,
            new_gists=gists,
        )
        earlier: list[stories.Report] = []  # this batch's reports so far
        links: list[StoryLink] = []
        for position, ((item, _), gist, published) in enumerate(
            zip(entries, gists, dates, strict=True)
        ):
            report = stories.Report.unsaved(
                -(position + 1),  # batch positions are negative keys: not saved yet
                item.title,
                item.text,
                gist,
                published,
            )
            stored = [self._report(row) for row in field.contenders(report, position)]
            match = stories.best_story(report, stored + earlier)
            links.append(self._link_to(item, match, field))
            earlier.append(report)
        if len(self._known) > 2 * self._limit:
            self._keep_newest(self._limit)
        return links

    def _link_to(self, item: FeedItem, match: stories.Report | None, field: _Field) -> StoryLink:
        if match is None:
            return StoryLink()
        stated = stories.facts(item.text)
        if match.key < 0:  # an earlier article of this batch: the only report of its story yet
            adds = bool(stated) and bool(stated - stories.facts(match.text))
            return StoryLink(in_batch=-match.key - 1, adds_facts=adds)
        if not stated:  # nothing it states can be new
            return StoryLink(stored=match.key)
        known: set[str] = set()
        for article_id in self._store.story_members(match.key):
            row = self._row_of.get(article_id)
            if row is not None and field.holds(row):  # the story's reports in the window
                known |= self._facts(row)
        return StoryLink(stored=match.key, adds_facts=bool(stated - known))

    # --- the stored reports kept ------------------------------------------------------------------
    def _forget_all(self, *, model: str, since: datetime | None) -> None:
        self._model = model
        self._since = since
        self._last_id = 0  # articles saved after this one have not been looked for yet
        self._known: list[StoredReport] = []
        self._row_of: dict[int, int] = {}  # article id → index in _known
        # row i: the gist of _known[i]; spare rows at the end
        self._gists = np.zeros((0, 0), np.float32)
        # (-published, -article id, row): ascending is the store's order, newest first
        self._ranked: list[tuple[float, int, int]] = []
        self._reports: dict[int, stories.Report] = {}  # by row, made when first compared
        self._stated: dict[int, frozenset[str]] = {}  # by row: facts, found when first needed
        self._specifics: list[frozenset[str]] = []  # by row
        self._micros: list[int] = []  # by row: published, in microseconds since the epoch
        self._naming: dict[str, list[int]] = {}  # specific → rows that name it

    def _catch_up(self, since: datetime, model: str) -> None:
        if model == self._model and self._since is not None and since >= self._since:
            self._add(
                self._store.story_reports_saved_after(
                    self._last_id, self._since, model, stories.GIST_PASSAGES
                )
            )
            return
        self._forget_all(model=model, since=since)
        # read before the window: an article saved in between is read again next round
        last_id = self._store.last_article_id()
        self._add(self._store.story_reports(since, model, stories.GIST_PASSAGES, self._limit))
        self._last_id = max(self._last_id, last_id)

    def _add(
        self, reports: Sequence[StoredReport], gists: Sequence[np.ndarray] | None = None
    ) -> None:
        """Keep these reports, each with its gist (computed from its opening unless given:
        ``_keep_newest`` re-adds kept reports, and recomputing a gist could move a score by
        rounding). A report is kept with its gist as its opening, so up to ``GIST_PASSAGES``
        vectors per report, for thousands of reports, are not held beside the gists."""
        given = gists if gists is not None else [None] * len(reports)
        new = [
            (r, g) for r, g in zip(reports, given, strict=True) if r.article_id not in self._row_of
        ]
        self._last_id = max([self._last_id, *(r.article_id for r in reports)])
        if not new:
            return
        first, needed = len(self._known), len(self._known) + len(new)
        if needed > len(self._gists):
            dim = new[0][0].opening.shape[1]
            grown = np.zeros((max(needed, 2 * len(self._gists)), dim), np.float32)
            if first:
                grown[:first] = self._gists[:first]
            self._gists = grown
        for row, (report, given_gist) in enumerate(new, start=first):
            gist = stories.gist(report.opening) if given_gist is None else given_gist
            self._known.append(replace(report, opening=gist[None]))
            self._row_of[report.article_id] = row
            self._gists[row] = gist
            found = stories.specifics(report.title, report.text)
            self._specifics.append(found)
            self._micros.append(_micros(report.published))
            for name in found:
                self._naming.setdefault(name, []).append(row)
            bisect.insort(self._ranked, (-report.published.timestamp(), -report.article_id, row))

    def _candidates(self, since: datetime) -> np.ndarray:
        in_window = bisect.bisect_right(self._ranked, (-since.timestamp(), math.inf))
        rows = [row for _, _, row in self._ranked[: min(in_window, self._limit)]]
        return np.array(rows, dtype=np.intp)

    def _keep_newest(self, count: int) -> None:
        """Forget all but the ``count`` newest reports: the newest ``limit`` of any window are
        still among them."""
        rows = [row for _, _, row in self._ranked[:count]]
        newest = [self._known[row] for row in rows]
        gists = [self._gists[row].copy() for row in rows]
        model, since, last_id = self._model, self._since, self._last_id
        self._forget_all(model=model, since=since)
        self._add(newest, gists)
        self._last_id = last_id

    def _report(self, row: int) -> stories.Report:
        if row not in self._reports:
            stored = self._known[row]
            self._reports[row] = stories.Report(
                stored.article_id,
                None,  # not needed to compare; read when a link is found
                self._gists[row],
                self._specifics[row],
                stored.published,
                stored.text,
            )
        return self._reports[row]

    def _facts(self, row: int) -> frozenset[str]:
        if row not in self._stated:
            self._stated[row] = frozenset(stories.facts(self._known[row].text))
        return self._stated[row]


class _Field:
    """One round's candidates (rows of a ``StoryLinker``, newest first) with what scoring them
    all at once needs: each one's gist cosine with every new article, specifics count and date.
    The linker's per-row arrays are passed in and only read."""

    def __init__(
        self,
        candidates: np.ndarray,
        *,
        gists: np.ndarray,  # (rows, dim): every kept report's gist
        specifics: Sequence[frozenset[str]],  # by row
        micros: Sequence[int],  # by row: published, microseconds since the epoch
        naming: Mapping[str, Sequence[int]],  # specific → rows that name it
        new_gists: list[np.ndarray],
    ):
        self.candidates = candidates
        self._position = np.full(len(gists), -1, np.intp)  # row → position among the candidates
        self._position[candidates] = np.arange(len(candidates))
        if len(candidates):
            self._cosines = (gists @ np.stack(new_gists).T)[candidates]
        else:
            self._cosines = np.zeros((0, len(new_gists)), np.float32)
        self._sizes = np.array([len(specifics[r]) for r in candidates], np.float64)
        self._micros = np.array(micros, np.int64)[candidates]
        self._rows_naming = naming
        self._naming: dict[str, np.ndarray] = {}  # specific → positions of candidates naming it

    def holds(self, row: int) -> bool:
        return bool(self._position[row] >= 0)

    def contenders(self, report: stories.Report, position: int) -> list[int]:
        """The candidates whose score with ``report`` can reach the threshold and the best
        candidate's score, in candidate order (``stories.similarity``, for all at once)."""
        if not len(self.candidates):
            return []
        shared = np.zeros(len(self.candidates), np.float64)
        for name in report.specifics:
            shared[self._named(name)] += 1
        # stories.overlap, for every candidate at once
        smaller = np.minimum(len(report.specifics), self._sizes)
        overlap = shared / np.maximum(smaller, stories.MIN_SPECIFICS)
        scores = self._cosines[:, position] + stories.ENTITY_WEIGHT * overlap
        assert report.published is not None  # every new article has a date here
        apart = np.abs(self._micros - _micros(report.published))
        scores[apart > WINDOW_US] = -np.inf
        best = float(scores.max())
        if best < stories.SAME_STORY - SCORE_SLACK:
            return []
        return [int(r) for r in self.candidates[scores >= best - SCORE_SLACK]]

    def _named(self, name: str) -> np.ndarray:
        if name not in self._naming:
            rows = np.array(self._rows_naming.get(name, []), np.intp)
            at = self._position[rows] if len(rows) else rows
            self._naming[name] = at[at >= 0]
        return self._naming[name]


def _micros(when: datetime) -> int:
    start = EPOCH if when.tzinfo is not None else EPOCH.replace(tzinfo=None)
    return (when - start) // timedelta(microseconds=1)
