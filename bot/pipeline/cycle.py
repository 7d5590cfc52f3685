"""One poll cycle: due feeds → fetch → parse → full text → dedupe → embed → match → store.

Only new entries flow on from each stage. Feeds are fetched concurrently; each feed's new items
go on to be embedded, matched and saved as soon as its own fetch (and full-text fetches) end, so
a feed that hangs until the fetch timeout delays nobody else's alerts. One consumer takes
whatever feeds have arrived since it last looked (bounded) and embeds them together, so
embedding stays batched. A feed's state (ETag, next check) is written after its new articles
are saved, so a crash mid-cycle re-fetches instead of losing items; the dedupe stage drops
whatever was already saved, including by another feed earlier in the same cycle.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from bot.core.errors import ThreatwatchError, error_kind
from bot.core.facets import Facet
from bot.core.models import CycleReport, Feed, FeedItem, FetchResult, TopicScore, utcnow
from bot.core.records import NewArticle, NewMatch
from bot.core.settings import Settings
from bot.ingest import dedupe, extract
from bot.ingest.fetch import HTML_ACCEPT, Fetcher
from bot.ingest.parse import parse_feed
from bot.pipeline.feed_states import FeedOutcome, record_feed_states
from bot.pipeline.story_links import StoryLink, StoryLinker
from bot.relevance.cascade import PassageCache, embed_with_cascade
from bot.relevance.embed import Embedder
from bot.relevance.language import detect_language, normalise
from bot.relevance.match import TopicIndex
from bot.relevance.role_line import role_line
from bot.relevance.scoring import Embedded, score_document
from bot.relevance.summary import summarize
from bot.store import Store
from bot.topics.multilingual import MultilingualTopics

log = logging.getLogger(__name__)

SAVE_BATCH = 64
INGEST_MAX_ITEMS = 4 * SAVE_BATCH  # the most items one consumer round takes from the queue
QUEUE_FEEDS = 64  # feeds being fetched or waiting to be ingested at once (bounds memory)


class Pipeline:
    """Runs poll cycles. Built once by ``compose`` and shared by the scheduler and the CLI."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        fetcher: Fetcher,
        embedder: Embedder,
        indexes: Callable[[], Sequence[TopicIndex]],
        clock: Callable[[], datetime] = utcnow,
        multilingual: MultilingualTopics | None = None,
    ):
        self.settings = settings
        self.store = store
        self.fetcher = fetcher
        self.embedder = embedder
        self.indexes = indexes
        self.clock = clock
        self.multilingual = multilingual  # None: every article takes the English path
        self.passage_cache = PassageCache(settings.embed_cache_passages)
        self._lock = asyncio.Lock()  # one cycle at a time, whoever triggers it
        self._story_linker = StoryLinker(store)
        self.observers: list[Callable[[CycleReport], None]] = []  # poll cycles: metrics, readiness
        self.push_observers: list[Callable[[CycleReport], None]] = []  # WebSub pushes: metrics

    async def poll_once(self, *, all_feeds: bool = False) -> CycleReport:
        async with self._lock:
            started, t0 = self.clock(), time.perf_counter()
            report = CycleReport()
            feeds = self.store.due_feeds(started, include_not_due=all_feeds)
            report.feeds_due = len(feeds)
            queue: asyncio.Queue[FeedOutcome | None] = asyncio.Queue()
            room = asyncio.Semaphore(QUEUE_FEEDS)  # released as the consumer takes an outcome

            async def fetch_all() -> None:
                async def one(feed: Feed) -> None:
                    # room first: a parsed feed waits in memory only if it has a place in the
                    # queue, so at most QUEUE_FEEDS outcomes exist at once, however many feeds
                    await room.acquire()
                    outcome = await self._fetch_and_parse(feed, report)
                    queue.put_nowait(outcome)

                try:
                    await asyncio.gather(*(one(f) for f in feeds))
                finally:
                    queue.put_nowait(None)  # the end: every feed's outcome is in

            fetching = asyncio.create_task(fetch_all())
            try:
                await self._ingest_as_they_come(queue, room, report)
            finally:  # a failed save ends the cycle: stop fetching, record nothing more
                fetching.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await fetching
            report.seconds = time.perf_counter() - t0
            self.store.save_cycle_report(
                started,
                {k: v for k, v in vars(report).items() if k != "errors"}
                | {"errors": report.errors[:20]},
            )
            # the scheduler looks for due feeds every few seconds: an empty look is not news
            log.log(logging.INFO if report.feeds_due else logging.DEBUG, report.line())
            self._tell_observers(report, self.observers)
            return report

    @staticmethod
    def _tell_observers(
        report: CycleReport, observers: Sequence[Callable[[CycleReport], None]]
    ) -> None:
        for observe in observers:
            try:
                observe(report)
            except Exception:  # counting must never fail a cycle
                log.exception("a cycle observer failed")

    async def _ingest_as_they_come(
        self,
        queue: asyncio.Queue[FeedOutcome | None],
        room: asyncio.Semaphore,
        report: CycleReport,
    ) -> None:
        """Take every outcome that has arrived (up to INGEST_MAX_ITEMS items), save their new
        items together, then record those feeds' states; until the end marker (None)."""
        done = False
        while not done:
            outcomes: list[FeedOutcome] = []
            items = 0
            while not done and (not outcomes or (items < INGEST_MAX_ITEMS and not queue.empty())):
                outcome = await queue.get()
                if outcome is None:
                    done = True
                    break
                room.release()
                outcomes.append(outcome)
                items += len(outcome.fresh)
            for outcome in outcomes:
                if outcome.error is not None:
                    report.failed += 1
                    kind = error_kind(outcome.error)
                    report.failed_by[kind] = report.failed_by.get(kind, 0) + 1
                    report.errors.append(f"feed {outcome.feed.id}: {outcome.error}")
                    log.info(
                        "feed %d failed: %s",
                        outcome.feed.id,
                        outcome.error,
                        extra={"feed_id": outcome.feed.id, "feed_url": outcome.feed.url},
                    )
                elif outcome.result is not None and outcome.result.not_modified:
                    report.not_modified += 1
                elif outcome.parsed is not None:
                    report.fetched += 1
            await self._ingest([(o.feed, item) for o in outcomes for item in o.fresh], report)
            record_feed_states(self.store, self.settings, outcomes, self.clock())

    # --- fetch + parse, one feed ----------------------------------------------------------------
    async def _fetch_and_parse(
        self, feed: Feed, report: CycleReport, pushed: FetchResult | None = None
    ) -> FeedOutcome:
        """Fetch (unless a hub ``pushed`` the document) and parse one feed, keep the items not
        stored yet and fetch their full text."""
        try:
            result = pushed or await self.fetcher.fetch(
                feed.url, etag=feed.etag, last_modified=feed.last_modified
            )
            if result.not_modified:
                return FeedOutcome(feed, result=result)
            parsed = await asyncio.to_thread(
                parse_feed,
                result.content,
                url=result.url,
                headers=result.headers,
                max_items=self.settings.max_items_per_feed,
            )
            fresh = self._not_stored(parsed.items, report)
            if fresh and self.settings.fetch_full_text:
                fresh = await self._with_full_text(fresh, report)
            return FeedOutcome(feed, result=result, parsed=parsed, fresh=tuple(fresh))
        except ThreatwatchError as exc:
            return FeedOutcome(feed, error=exc)
        except Exception as exc:  # a bug in one feed's path must not stop the cycle
            log.exception("unexpected error polling feed %s", feed.id, extra={"feed_id": feed.id})
            return FeedOutcome(
                feed, error=ThreatwatchError(f"internal error: {exc.__class__.__name__}")
            )

    async def ingest_pushed(
        self, pushed: Sequence[tuple[Feed, bytes, Mapping[str, str]]]
    ) -> tuple[CycleReport, list[tuple[Feed, ThreatwatchError]]]:
        """Feed documents WebSub hubs pushed, (feed, body, headers) each: every one parsed as a
        polled one (the feed's own validators and schedule stay as they are), then their new
        items deduped, embedded, matched and queued together, in batches as a poll round's
        are. Returns the report and the documents that could not be parsed, with why."""
        report, t0 = CycleReport(), time.perf_counter()
        outcomes = await asyncio.gather(
            *(
                self._fetch_and_parse(
                    feed, report, FetchResult(url=feed.url, status=200, content=body, headers=h)
                )
                for feed, body, h in pushed
            )
        )
        failed = [(o.feed, o.error) for o in outcomes if o.error is not None]
        await self._ingest([(o.feed, item) for o in outcomes for item in o.fresh], report)
        report.fetched, report.seconds = len(outcomes) - len(failed), time.perf_counter() - t0
        self._tell_observers(report, self.push_observers)
        return report, failed

    def _not_stored(self, items: Sequence[FeedItem], report: CycleReport) -> list[FeedItem]:
        """The items the store has no copy of, by GUID, URL or content hash (bot/ingest/dedupe.py
        gives the keys). Duplicates are dropped at three points, each for a reason: here before
        full text is fetched (no page is fetched for a known item) and again before saving
        (another feed may have saved it meanwhile); ingest_items then drops a text already
        stored under another identity, once the full text is known."""
        known = self.store.known_items(items)
        fresh = [item for item in items if item.guid not in known]
        report.duplicates += len(items) - len(fresh)
        return fresh

    # --- new items → stored articles and matches --------------------------------------------------
    async def _ingest(self, fresh: list[tuple[Feed, FeedItem]], report: CycleReport) -> None:
        unique, removed = dedupe.unique_in_batch([item for _, item in fresh])
        feed_of = {id(item): feed.id for feed, item in fresh}
        report.duplicates += removed
        # another feed may have saved the same item since this one was fetched
        candidates = self._not_stored(unique, report)
        for start in range(0, len(candidates), SAVE_BATCH):
            batch = candidates[start : start + SAVE_BATCH]
            await self.ingest_items(batch, [feed_of.get(id(i)) for i in batch], report)

    async def ingest_items(
        self, items: Sequence[FeedItem], feed_ids: Sequence[int | None], report: CycleReport
    ) -> None:
        """Embed, score and save items; also the entry point for items that arrive without a feed."""
        hashed: list[tuple[FeedItem, int | None, str]] = []
        seen_hashes: set[str] = set()
        for item, feed_id in zip(items, feed_ids, strict=True):
            digest = dedupe.content_hash(item.title, item.text)
            if digest in seen_hashes or self.store.has_content_hash(digest):
                report.duplicates += 1
                continue
            seen_hashes.add(digest)
            hashed.append((item, feed_id, digest))
        if not hashed:
            return
        languages = await asyncio.to_thread(
            lambda: [detect_language(item.title, item.text) for item, _, _ in hashed]
        )
        foreign = self.multilingual
        for in_foreign_space in (False, True):
            rows = [
                (entry, language)
                for entry, language in zip(hashed, languages, strict=True)
                if (foreign is not None and foreign.handles(language)) == in_foreign_space
            ]
            if rows:
                await self._ingest_in_space(rows, report, foreign if in_foreign_space else None)

    async def _ingest_in_space(
        self,
        rows: Sequence[tuple[tuple[FeedItem, int | None, str], str]],
        report: CycleReport,
        foreign: MultilingualTopics | None,
    ) -> None:
        """Embed, score and save items of one space: English (and undetermined) items with the
        English model against the topics, others (``foreign``) with the multilingual model
        against the topics' multilingual copies."""
        hashed = [entry for entry, _ in rows]
        embedder = foreign.embedder if foreign else self.embedder
        indexes = await asyncio.to_thread(self.indexes)
        if foreign is not None:
            indexes = await asyncio.to_thread(foreign.indexes, indexes)
        # the cascade (leads first) in the English space, whose topics learned lead floors
        embedded = await asyncio.to_thread(
            embed_with_cascade,
            embedder,
            [(normalise(i.title, lang), normalise(i.text, lang)) for (i, _, _), lang in rows],
            indexes,
            self.passage_cache,
            cascade=self.settings.embed_cascade and foreign is None,
        )
        docs, stopped = embedded.docs, embedded.stopped
        report.stopped_at_lead += sum(stopped)
        facets_of = {i.topic.name: i.topic.facets for i in indexes}
        # story thresholds are tuned on English-model cosines: a non-English report starts its
        # own story until stories across languages are calibrated in the multilingual space
        links = (
            [StoryLink()] * len(hashed)
            if foreign
            else self._link_stories([(i, doc) for (i, _, _), doc in zip(hashed, docs, strict=True)])
        )
        batch: list[NewArticle] = []
        matches: list[NewMatch] = []
        for index, ((item, feed_id, digest), doc, link, (_, language)) in enumerate(
            zip(hashed, docs, links, rows, strict=True)
        ):
            batch.append(
                NewArticle(
                    item=item,
                    feed_id=feed_id,
                    content_hash=digest,
                    passages=doc.passages,
                    vectors=doc.vectors,
                    story_of=link.stored,
                    story_of_index=link.in_batch,
                    adds_facts=link.adds_facts,
                    language=language,
                )
            )
            if stopped[index]:  # its lead is clearly unrelated to every topic: no match
                continue
            scores = foreign.score(doc, language, indexes) if foreign else None
            for score in scores if scores is not None else score_document(doc, indexes):
                if score.is_match:
                    facets = facets_of[score.topic]
                    matches.append(_new_match(index, item, score, facets, english=not foreign))
        self._save(batch, matches, embedder.name, report)

    def _save(
        self,
        batch: list[NewArticle],
        matches: list[NewMatch],
        model: str,
        report: CycleReport,
    ) -> None:
        saved, new_matches = self.store.save_articles(batch, matches, model=model, now=self.clock())
        report.new += len(saved)
        report.duplicates += len(batch) - len(saved)
        report.matched += len(new_matches)
        for m in new_matches:
            report.matched_by_topic[m.topic] = report.matched_by_topic.get(m.topic, 0) + 1
            log.info(
                "alert %d: article %d matched %s (%.3f)",
                m.id,
                m.article.id,
                m.topic,
                m.score,
                extra={"alert_id": m.id, "article_id": m.article.id, "topic": m.topic},
            )
        report.queued += sum(self.store.outbox_rows_for(m.id) for m in new_matches)

    def _link_stories(self, entries: Sequence[tuple[FeedItem, Embedded]]) -> list[StoryLink]:
        """For each new article: the earlier report (stored, or earlier in this batch) whose story
        it joins, and whether it adds facts to that story."""
        return self._story_linker.link(entries, model=self.embedder.name, now=self.clock())

    async def _with_full_text(self, items: list[FeedItem], report: CycleReport) -> list[FeedItem]:
        async def one(item: FeedItem) -> FeedItem:
            if not extract.needs_full_text(item, self.settings.full_text_min_words) or not item.url:
                return item
            try:
                page = await self.fetcher.fetch(item.url, accept=HTML_ACCEPT)
            except ThreatwatchError as exc:
                log.info("full text: keeping teaser of %s (%s)", item.url, exc)
                return item
            charset = (
                page.headers.get("content-type", "").partition("charset=")[2].strip(' "') or None
            )
            text = await asyncio.to_thread(
                extract.extract_main_text, page.content, url=page.url, charset=charset
            )
            merged = extract.merge_full_text(item, text)
            if merged is not item and merged.text != item.text:
                report.full_text += 1
            return merged

        return list(await asyncio.gather(*(one(i) for i in items)))


def _new_match(
    index: int, item: FeedItem, s: TopicScore, facets: Sequence[Facet], *, english: bool
) -> NewMatch:
    """A match to save, with what explains it: a non-English alert shows the passage in the
    original instead of a summary, and has no role line (its rules read English sentences)."""
    return NewMatch(
        index,
        s.topic,
        s.score,
        s.threshold,
        s.seed_id,
        s.seed_title,
        s.passage,
        similarity=s.similarity,
        summary=summarize(item.text, facets, title=item.title) if english else "",
        roles=role_line(item.title, item.text, facets) if english else "",
    )
