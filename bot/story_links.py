"""Story links: for each new article, the earlier report whose story it joins (a stored one, or
one earlier in its batch), and whether it adds facts to that story.

A new article is compared with the ``STORY_CANDIDATES`` newest stored reports published at most
``stories.WINDOW`` before it. A poll cycle saves its new articles in dozens of small rounds, and
reading those thousands of reports (texts and vectors) again for every round cost more than
comparing them. So ``StoryLinker`` keeps what linking needs of each stored report (a
``StoredLead``: none of it changes once an article is saved, and articles are never deleted),
and each round reads only the articles saved since it last looked, whoever saved them. Story
ids do change as stories grow: they are read when a link is found.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from bot.models import FeedItem
from bot.relevance import stories
from bot.scoring import Embedded
from bot.store import Store
from bot.store.articles import STORY_CANDIDATES
from bot.store.records import StoredLead

# A pair scores lead cosine + ENTITY_WEIGHT × specifics overlap (≤ 1), so a stored report whose
# lead cosine is below this cannot be joined: only the others are compared, in the same order
# (so the result is that of comparing all), and only they have their specifics found.
LINK_BOUND = stories.SAME_STORY - stories.ENTITY_WEIGHT - 1e-6


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
        candidates = self._candidates(since)  # rows of self._known, newest first
        if len(candidates):
            new_leads = np.stack([doc.vectors[0] for _, doc in entries])
            lead_cosines = (self._leads[: len(self._known)] @ new_leads.T)[candidates]
        else:
            lead_cosines = np.zeros((0, len(entries)), np.float32)
        earlier: list[stories.Report] = []  # this batch's reports so far
        links: list[StoryLink] = []
        for position, ((item, doc), published) in enumerate(zip(entries, dates, strict=True)):
            report = stories.Report(
                -(position + 1),  # batch positions are negative keys: not saved yet
                None,
                doc.vectors[0],
                stories.specifics(item.title, item.text),
                published,
                item.text,
            )
            reachable = candidates[lead_cosines[:, position] >= LINK_BOUND]
            stored = [self._report(int(row)) for row in reachable]
            match = stories.best_story(report, stored + earlier)
            links.append(self._link_to(item, match, candidates))
            earlier.append(report)
        if len(self._known) > 2 * self._limit:
            self._keep_newest(self._limit)
        return links

    def _link_to(
        self, item: FeedItem, match: stories.Report | None, candidates: np.ndarray
    ) -> StoryLink:
        if match is None:
            return StoryLink()
        if match.key < 0:  # an earlier article of this batch: the only report of its story yet
            adds = stories.adds_facts(item.text, [match.text])
            return StoryLink(in_batch=-match.key - 1, adds_facts=adds)
        members = self._store.story_members(match.key)
        same = [  # the texts of the story's reports in the window
            self._known[row].text for row in candidates if self._known[row].article_id in members
        ]
        return StoryLink(stored=match.key, adds_facts=stories.adds_facts(item.text, same))

    # --- the stored reports kept ------------------------------------------------------------------
    def _forget_all(self, *, model: str, since: datetime | None) -> None:
        self._model = model
        self._since = since
        self._last_id = 0  # articles saved after this one have not been looked for yet
        self._known: list[StoredLead] = []
        self._row_of: dict[int, int] = {}  # article id → index in _known
        self._leads = np.zeros((0, 0), np.float32)  # row i: _known[i].lead; spare rows at the end
        # (-published, -article id, row): ascending is the store's order, newest first
        self._ranked: list[tuple[float, int, int]] = []
        self._reports: dict[int, stories.Report] = {}  # by row, made when first compared

    def _catch_up(self, since: datetime, model: str) -> None:
        if model == self._model and self._since is not None and since >= self._since:
            self._add(self._store.story_leads_saved_after(self._last_id, self._since, model))
            return
        self._forget_all(model=model, since=since)
        # read before the window: an article saved in between is read again next round
        last_id = self._store.last_article_id()
        self._add(self._store.story_leads(since, model, self._limit))
        self._last_id = max(self._last_id, last_id)

    def _add(self, leads: Sequence[StoredLead]) -> None:
        new = [lead for lead in leads if lead.article_id not in self._row_of]
        self._last_id = max([self._last_id, *(lead.article_id for lead in leads)])
        if not new:
            return
        first, needed = len(self._known), len(self._known) + len(new)
        if needed > len(self._leads):
            grown = np.zeros((max(needed, 2 * len(self._leads)), len(new[0].lead)), np.float32)
            if first:
                grown[:first] = self._leads[:first]
            self._leads = grown
        for row, lead in enumerate(new, start=first):
            self._known.append(lead)
            self._row_of[lead.article_id] = row
            self._leads[row] = lead.lead
            bisect.insort(self._ranked, (-lead.published.timestamp(), -lead.article_id, row))

    def _candidates(self, since: datetime) -> np.ndarray:
        in_window = bisect.bisect_right(self._ranked, (-since.timestamp(), math.inf))
        rows = [row for _, _, row in self._ranked[: min(in_window, self._limit)]]
        return np.array(rows, dtype=np.intp)

    def _keep_newest(self, count: int) -> None:
        """Forget all but the ``count`` newest reports: the newest ``limit`` of any window are
        still among them."""
        newest = [self._known[row] for _, _, row in self._ranked[:count]]
        model, since, last_id = self._model, self._since, self._last_id
        self._forget_all(model=model, since=since)
        self._add(newest)
        self._last_id = last_id

    def _report(self, row: int) -> stories.Report:
        if row not in self._reports:
            lead = self._known[row]
            self._reports[row] = stories.Report(
                lead.article_id,
                None,  # not needed to compare; read when a link is found
                lead.lead,
                stories.specifics(lead.title, lead.text),
                lead.published,
                lead.text,
            )
        return self._reports[row]
