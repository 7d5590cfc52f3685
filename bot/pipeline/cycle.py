"""One poll cycle: due feeds → fetch → parse → full text → dedupe → embed → match → store.

Only new entries flow on from each stage. Feeds are fetched concurrently; each feed's new items
go on to be embedded, matched and saved as soon as its own fetch (and full-text fetches) end, so
a feed that hangs until the fetch timeout delays nobody else's alerts. One consumer takes
whatever feeds have arrived since it last looked (bounded) and embeds them together, so
embedding stays batched. A feed's state (ETag, next check) is written after its new articles
are saved, so a crash mid-cycle re-fetches instead of losing items; the dedupe stage drops
whatever was already saved, including by another feed earlier in the same cycle.

Several processes may run cycles on one database: each feed is leased to one of them while it
is polled, and its results are kept only while the lease holds (bot/pipeline/leases.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from datetime import datetime

from bot.core.errors import ThreatwatchError, error_kind
from bot.core.models import CycleReport, Feed, FeedItem, FetchResult, utcnow
from bot.core.records import NewArticle, NewMatch
from bot.core.settings import Settings
from bot.ingest import dedupe
from bot.ingest.fetch import Fetcher
from bot.ingest.parse import parse_feed
from bot.pipeline.feed_states import FeedOutcome, record_feed_states
from bot.pipeline.full_text import with_full_text
from bot.pipeline.leases import (
    CycleLeases,
    free_dead_neighbours,
    lease_seconds,
    process_owner,
)
from bot.pipeline.matches import new_match
from bot.pipeline.save import save_batch
from bot.pipeline.story_across import AcrossLanguages, NewReport
from bot.pipeline.story_links import StoryLink, StoryLinker
from bot.relevance.cascade import PassageCache, embed_with_cascade
from bot.relevance.embed import Embedder
from bot.relevance.language import detect_language, normalise
from bot.relevance.match import TopicIndex
from bot.relevance.scoring import Embedded, score_document
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
        self.owner = process_owner()  # the name on this process's feed leases
        self.lease_seconds = lease_seconds(settings)
        self.passage_cache = PassageCache(settings.embed_cache_passages)
        self._lock = asyncio.Lock()  # one cycle at a time, whoever triggers it
        self._story_linker = StoryLinker(store)
        # stories across languages need the multilingual model: none without that path
        self._across = (
            AcrossLanguages(store, lambda: multilingual.embedder) if multilingual else None
        )
        self.observers: list[Callable[[CycleReport], None]] = []  # poll cycles: metrics, readiness
        self.push_observers: list[Callable[[CycleReport], None]] = []  # WebSub pushes: metrics

    async def poll_once(self, *, all_feeds: bool = False) -> CycleReport:
        async with self._lock:
            started, t0 = self.clock(), time.perf_counter()
            report = CycleReport()
            free_dead_neighbours(self.store, self.owner, started)
            leases = CycleLeases(self.store, self.owner, self.lease_seconds)
            queue: asyncio.Queue[FeedOutcome | None] = asyncio.Queue()
            room = asyncio.Semaphore(QUEUE_FEEDS)  # released as the consumer takes an outcome

            async def fetch_all() -> None:
                async def one(feed: Feed) -> None:
                    queue.put_nowait(await self._fetch_and_parse(feed, report))

                fetches: list[asyncio.Task[None]] = []
                try:  # due feeds are claimed a few at a time, as there is room to fetch them
                    while claimed := leases.claim(self.clock(), everything=all_feeds):
                        report.feeds_due += len(claimed)
                        for lease in claimed:
                            # room first: a parsed feed waits in memory only if it has a place
                            # in the queue, so at most QUEUE_FEEDS outcomes exist at once
                            await room.acquire()
                            fetches.append(asyncio.create_task(one(lease.feed)))
                        await asyncio.sleep(0)  # let the fetches start before claiming more
                    await asyncio.gather(*fetches)
                finally:
                    for fetch in fetches:
                        fetch.cancel()  # only those still running: the cycle was stopped
                    queue.put_nowait(None)  # the end: every feed's outcome is in

            fetching = asyncio.create_task(fetch_all())
            renewing = asyncio.create_task(leases.keep(self.clock))
            try:
                await self._ingest_as_they_come(queue, room, report, leases)
            finally:  # a failed save ends the cycle: stop fetching, record nothing more
                fetching.cancel()
                renewing.cancel()
                with suppress(asyncio.CancelledError):
                    await renewing
                try:
                    with suppress(asyncio.CancelledError):
                        await fetching  # re-raises a failed claim
                finally:
                    leases.release_all()  # feeds not recorded are free again at once
            report.leases_lost = leases.lost
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
        leases: CycleLeases,
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
            fresh = [(o.feed, item) for o in outcomes for item in o.fresh]
            await self._ingest(fresh, report, leases)
            record_feed_states(self.store, self.settings, outcomes, self.clock(), leases)

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
                fresh = await with_full_text(self.fetcher, self.settings, fresh, report)
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
    async def _ingest(
        self,
        fresh: list[tuple[Feed, FeedItem]],
        report: CycleReport,
        leases: CycleLeases | None = None,
    ) -> None:
        unique, removed = dedupe.unique_in_batch([item for _, item in fresh])
        feed_of = {id(item): feed.id for feed, item in fresh}
        report.duplicates += removed
        # another feed may have saved the same item since this one was fetched
        candidates = self._not_stored(unique, report)
        # oldest first: of two reports of one event in a round, the earlier one opens the story
        # and the later one is its follow-up, whichever feed answered first (undated: last)
        now = self.clock()
        candidates.sort(key=lambda i: (i.published is None, i.published or now))
        for start in range(0, len(candidates), SAVE_BATCH):
            batch = candidates[start : start + SAVE_BATCH]
            feeds = [feed_of.get(id(i)) for i in batch]
            await self.ingest_items(batch, feeds, report, leases=leases)

    async def ingest_items(
        self,
        items: Sequence[FeedItem],
        feed_ids: Sequence[int | None],
        report: CycleReport,
        *,
        leases: CycleLeases | None = None,
    ) -> None:
        """Embed, score and save items (under ``leases``, a poll cycle's, the items of feeds
        whose lease ran out are dropped); also the entry point for items without a feed."""
        hashed: list[tuple[FeedItem, int | None, str]] = []
        seen_hashes: set[str] = set()
        digests = [dedupe.content_hash(item.title, item.text) for item in items]
        stored = self.store.stored_content_hashes(digests)  # one look-up for the batch
        for item, feed_id, digest in zip(items, feed_ids, digests, strict=True):
            if digest in seen_hashes or digest in stored:
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
                space = foreign if in_foreign_space else None
                await self._ingest_in_space(rows, report, space, leases)

    async def _ingest_in_space(
        self,
        rows: Sequence[tuple[tuple[FeedItem, int | None, str], str]],
        report: CycleReport,
        foreign: MultilingualTopics | None,
        leases: CycleLeases | None,
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
        # an article whose lead is clearly unrelated to every topic has no score: no match
        scored = [
            []
            if stop
            else foreign.score(doc, lang, indexes)
            if foreign
            else score_document(doc, indexes)
            for doc, (_, lang), stop in zip(docs, rows, stopped, strict=True)
        ]
        # English reports link by English-model story rules; a non-English one joins a story
        # only across languages (bot/pipeline/story_across.py), as may an English one left alone
        links = (
            [StoryLink()] * len(hashed)
            if foreign
            else self._link_stories([(i, doc) for (i, _, _), doc in zip(hashed, docs, strict=True)])
        )
        if self._across is not None:
            reports = [
                NewReport(item, digest, lang, doc.vectors, scores)
                for (item, _, digest), doc, (_, lang), scores in zip(
                    hashed, docs, rows, scored, strict=True
                )
            ]
            links = await asyncio.to_thread(self._across.link, reports, links, now=self.clock())
        batch: list[NewArticle] = []
        matches: list[NewMatch] = []
        for index, ((item, feed_id, digest), doc, link, (_, language), scores) in enumerate(
            zip(hashed, docs, links, rows, scored, strict=True)
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
            for score in scores:
                if score.is_match:
                    facets = facets_of[score.topic]
                    matches.append(new_match(index, item, score, facets, english=not foreign))
        save_batch(self.store, batch, matches, embedder.name, report, leases, self.clock())

    def _link_stories(self, entries: Sequence[tuple[FeedItem, Embedded]]) -> list[StoryLink]:
        """For each new article: the earlier report (stored, or earlier in this batch) whose story
        it joins, and whether it adds facts to that story."""
        return self._story_linker.link(entries, model=self.embedder.name, now=self.clock())
