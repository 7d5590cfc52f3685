"""Story links across languages: an Arabic or Persian report joins the story of the English report
of the same event, and an English report the story of an earlier Arabic or Persian one.

Each language keeps its own story rule: English reports link by MiniLM gists and capitalised
words (bot/pipeline/story_links.py); across languages, pairs are compared in the multilingual
space and by the canonical names both reports mention (bot/relevance/stories_across.py). Only
reports that matched a topic are linked across languages, each to reports that matched the same
topic within the story window: a story across languages matters for an alert's follow-up, and
this keeps the cost small. A non-English report is compared by the gist of its own multilingual
passages (stored with it); an English report by its lead, embedded in the multilingual space
when it is first needed and cached by content hash (the seed chunk cache, under the model name
``<multilingual model>:lead``), so each English report is embedded there at most once and only
when a report in another language of its topic is in the window.

Reports in the same non-English language are not compared here (the rule was measured across
languages only): each joins a story through the English report of its event.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from bot.core.models import Article, FeedItem, TopicScore
from bot.pipeline.story_links import StoryLink
from bot.relevance import stories, stories_across, story_names
from bot.relevance.embed import Embedder
from bot.relevance.stories_across import Evidence
from bot.store import Store

log = logging.getLogger(__name__)

ENGLISH = frozenset({"", "en", "und"})
CANDIDATES = 2000  # the most stored matches one round reads (the window of a busy topic)


@dataclass(frozen=True)
class NewReport:
    """A report of this round: what linking across languages needs of it."""

    item: FeedItem
    content_hash: str
    language: str
    vectors: np.ndarray  # its passages' vectors in its own space
    scores: Sequence[TopicScore]


class AcrossLanguages:
    """Finds, for each new matched report, a stored report in another language of its event."""

    def __init__(self, store: Store, embedder: Callable[[], Embedder]) -> None:
        self._store = store
        self._embedder = embedder  # the multilingual embedder, asked for only when needed
        self.lead_embeddings = 0  # English leads embedded (not read from the cache): the cost

    def link(
        self, reports: Sequence[NewReport], links: Sequence[StoryLink], *, now: datetime
    ) -> list[StoryLink]:
        """``links`` with each new report that has none joined across languages where the
        evidence is strong enough. Blocking: run off the event loop."""
        out = list(links)
        waiting = [
            (position, report, sorted({s.topic for s in report.scores if s.is_match}))
            for position, (report, link) in enumerate(zip(reports, links, strict=True))
            if link.stored is None and link.in_batch is None
        ]
        waiting = [(p, r, topics) for p, r, topics in waiting if topics]
        if not waiting:
            return out
        dates = [r.item.published or now for _, r, _ in waiting]
        matched = self._matched_in_window(dates, {t for *_, ts in waiting for t in ts})
        for (position, report, topics), published in zip(waiting, dates, strict=True):
            foreign = report.language not in ENGLISH
            others = [
                article
                for article, its_topics in matched
                if (article.language in ENGLISH) == foreign
                and its_topics & set(topics)
                and abs(article.published - published) <= stories.WINDOW
            ]
            if not others:
                continue
            try:
                out[position] = self._link_one(report, published, others)
            except Exception:  # a missing model or a damaged vector: the report alerts alone
                log.exception(
                    "story across languages: %r left in a story of its own", report.item.title[:60]
                )
        return out

    def _link_one(
        self, report: NewReport, published: datetime, others: Sequence[Article]
    ) -> StoryLink:
        item = report.item
        # a pair that shares no telling name would need a multilingual cosine of at least the
        # threshold (0.97) to join; no pair of the development set came near (highest 0.88 of
        # 12,980 pairs): such reports are not worth embedding
        names = stories_across.telling(story_names.names_in(item.title, item.text))
        close = [
            a
            for a in others
            if names & stories_across.telling(story_names.names_in(a.title, a.text))
        ]
        if not close:
            return StoryLink()
        mine = self._evidence_of_new(report, published)
        match = stories_across.best_match(mine, self._evidence(close))
        if match is None:
            return StoryLink()
        log.info(
            "story across languages: new %s report %r joins article %d",
            report.language,
            item.title[:60],
            match.key,
        )
        return StoryLink(stored=match.key, adds_facts=self._adds(report, match))

    def _matched_in_window(
        self, dates: Sequence[datetime], topics: set[str]
    ) -> list[tuple[Article, set[str]]]:
        """Stored reports that matched any of ``topics``, published within the story window of
        any of ``dates``, each with the topics it matched (newest first, at most
        ``CANDIDATES`` matches: a window of a busy topic is read once per round, not per report)."""
        rows = self._store.matched_in_window(
            sorted(topics), min(dates) - stories.WINDOW, max(dates) + stories.WINDOW, CANDIDATES
        )
        topics_of: dict[int, set[str]] = {}
        for article_id, topic in rows:
            topics_of.setdefault(article_id, set()).add(topic)
        articles = self._store.articles_by_ids(sorted(topics_of))
        return [(articles[i], topics_of[i]) for i in sorted(topics_of) if i in articles]

    def _evidence_of_new(self, report: NewReport, published: datetime) -> Evidence:
        item = report.item
        if report.language in ENGLISH:
            [gist] = self._lead_vectors([(item.title, item.text, report.content_hash)])
        else:
            gist = stories.gist(report.vectors)
        return Evidence.of(-1, item.title, item.text, gist, published)

    def _evidence(self, articles: Sequence[Article]) -> list[Evidence]:
        english = [a for a in articles if a.language in ENGLISH]
        leads = self._lead_vectors([(a.title, a.text, a.content_hash) for a in english])
        gists = {a.id: lead for a, lead in zip(english, leads, strict=True)}
        for article in articles:
            if article.id not in gists:
                _, vectors = self._store.article_vectors(article.id, self._embedder().name)
                gists[article.id] = stories.gist(vectors) if len(vectors) else np.zeros(1)
        return [Evidence.of(a.id, a.title, a.text, gists[a.id], a.published) for a in articles]

    def _lead_vectors(self, reports: Sequence[tuple[str, str, str]]) -> list[np.ndarray]:
        """English reports' leads (title, text, content hash) in the multilingual space: from
        the cache when stored, the others embedded in one batch and cached."""
        embedder = self._embedder()
        model = f"{embedder.name}:lead"
        out: list[np.ndarray | None] = []
        missing: list[int] = []
        for *_, content_hash in reports:
            cached = self._store.cached_seed_chunks(content_hash, model)
            if cached is not None and len(cached[1]):
                out.append(np.asarray(cached[1][0], np.float32))
            else:
                missing.append(len(out))
                out.append(None)
        if missing:
            leads = [stories_across.english_lead(*reports[i][:2]) for i in missing]
            vectors = embedder.encode(leads)
            self.lead_embeddings += len(missing)
            for i, lead, vector in zip(missing, leads, vectors, strict=True):
                self._store.cache_seed_chunks(reports[i][2], model, [lead], vector[None])
                out[i] = np.asarray(vector, np.float32)
        return [v for v in out if v is not None]

    def _adds(self, report: NewReport, match: Evidence) -> bool:
        """Whether the new report states a fact (toll, claim, confirmation) that the story's
        English reports did not (facts are read in English only)."""
        stated = stories.facts(report.item.text)
        if not stated:
            return False
        members = self._store.articles_by_ids(sorted(self._store.story_members(match.key)))
        known: set[str] = set()
        for article in members.values():
            known |= stories.facts(article.text)
        return bool(stated - known)
