"""Linking new articles to stored stories compares only reports whose gist is close enough
to reach the threshold, from the stored reports the linker keeps between rounds: the links equal
those of reading every stored report in the window from the store and comparing them all (real
texts from the development corpus, the real store and cycle)."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.core.models import FeedItem
from bot.core.records import NewArticle
from bot.core.settings import Settings
from bot.pipeline.cycle import Pipeline, StoryLink
from bot.pipeline.story_links import StoryLinker
from bot.relevance import stories
from bot.relevance.embed import HashingEmbedder
from bot.relevance.scoring import embed_documents
from bot.store import Store
from bot.store.articles import STORY_CANDIDATES

CORPUS = Path(__file__).resolve().parents[3] / "data" / "dev_corpus.jsonl"
NOW = datetime(2026, 3, 2, 10, tzinfo=UTC)


def reference(
    store: Store, model: str, entries: list, limit: int = STORY_CANDIDATES
) -> list[StoryLink]:
    """Every stored report in the window, read from the store, compared with every new one."""
    dates = [item.published or NOW for item, _ in entries]
    earlier = [
        stories.Report(
            aid, sid, stories.gist(opening), stories.specifics(title, text), published, text
        )
        for aid, sid, opening, title, text, published in store.story_candidates(
            min(dates) - stories.WINDOW, model, stories.GIST_PASSAGES, limit
        )
    ]
    links = []
    for position, ((item, doc), published) in enumerate(zip(entries, dates, strict=True)):
        report = stories.Report(-(position + 1), None, stories.gist(doc.vectors),
                                stories.specifics(item.title, item.text), published, item.text)  # fmt: skip
        match = stories.best_story(report, earlier)
        if match is None:
            links.append(StoryLink())
        else:
            same = [r.text for r in earlier
                    if r is match or (r.story_id and r.story_id == match.story_id)]  # fmt: skip
            adds = stories.adds_facts(item.text, same)
            links.append(StoryLink(stored=match.key, adds_facts=adds) if match.key >= 0
                         else StoryLink(in_batch=-match.key - 1, adds_facts=adds))  # fmt: skip
        earlier.append(report)
    return links


def save(store: Store, model: str, batch: list, links: list[StoryLink]) -> None:
    store.save_articles(
        [NewArticle(item, None, item.guid, doc.passages, doc.vectors, link.stored,
                    link.in_batch, link.adds_facts)
         for (item, doc), link in zip(batch, links, strict=True)],
        [], model=model, now=NOW,
    )  # fmt: skip


def test_links_equal_comparing_every_stored_report(
    tmp_path: Path, open_test_store: Callable[[str], Store]
) -> None:
    rows = [json.loads(line) for line in CORPUS.read_text().splitlines()]
    embedder = HashingEmbedder(384)
    store = open_test_store("t")
    pipeline = Pipeline(Settings(db=tmp_path / "t.db"), store, None, embedder, list, lambda: NOW)  # type: ignore[arg-type]

    def entries(chunk: list[dict]) -> list:
        items = [FeedItem(r["id"], None, r["title"] or "", r["text"], NOW - timedelta(hours=i))
                 for i, r in enumerate(chunk)]  # fmt: skip
        docs = embed_documents(embedder, [(i.title, i.text) for i in items])
        return list(zip(items, docs, strict=True))

    for start in range(0, 120, 40):  # save in batches, so later ones link to stored stories
        batch = entries(rows[start : start + 40])
        links = pipeline._link_stories(batch)
        assert links == reference(store, embedder.name, batch)
        save(store, embedder.name, batch, links)
    linked = [link for link in pipeline._link_stories(entries(rows[120:])) if link != StoryLink()]
    assert any(link.stored is not None for link in linked)  # stored stories were joined


@pytest.mark.parametrize("limit", [6, 25])
def test_kept_reports_link_as_reading_the_store_every_round(
    tmp_path: Path, limit: int, open_test_store: Callable[[str], Store]
) -> None:
    # A window cut at a few reports, so the linker must keep the right ones (and forgets some);
    # republished copies of the reports at the edge of the window and of recent ones, whose
    # scores tie; reports published in the same second (order decides); batches older than the
    # ones before (the window starts earlier); articles saved by someone other than the linker.
    rows = [json.loads(line) for line in CORPUS.read_text().splitlines()]
    embedder, rng = HashingEmbedder(384), random.Random(limit)
    store = open_test_store("t")
    linker = StoryLinker(store, limit=limit)
    recent: list[tuple[str, str, str]] = []
    found: list[StoryLink] = []
    for n, start in enumerate(range(0, len(rows), 8)):
        when = NOW - timedelta(days=4 * (n % 3))  # every third batch is the newest
        window = store.story_candidates(
            when - timedelta(hours=3) - stories.WINDOW, embedder.name, stories.GIST_PASSAGES
        )
        edge = [
            (f"{aid}/{n}", title, text)
            for aid, _, _, title, text, _ in window[limit - 2 : limit + 2]
        ]
        originals = [(r["id"], r["title"] or "", r["text"]) for r in rows[start : start + 8]]
        copies = edge + [(f"{guid}/{n}", title, text)
                         for guid, title, text in rng.sample(recent, min(6, len(recent)))]  # fmt: skip
        items = [FeedItem(guid, None, title, text, when - timedelta(hours=k % 4))
                 for k, (guid, title, text) in enumerate(originals + copies)]  # fmt: skip
        docs = embed_documents(embedder, [(i.title, i.text) for i in items])
        batch = list(zip(items, docs, strict=True))
        links = linker.link(batch, model=embedder.name, now=NOW)
        assert links == reference(store, embedder.name, batch, limit)
        found += links
        save(store, embedder.name, batch, links)
        recent = (recent + originals + copies)[-3 * limit :]
    assert sum(link.stored is not None for link in found) >= 5
    assert any(link.in_batch is not None for link in found)


def test_a_growing_story_is_not_read_again_for_every_new_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, open_test_store: Callable[[str], Store]
) -> None:
    # Reports that all join one story, each stating a new toll. Whether one adds facts depends
    # on the story's earlier reports; finding their facts again for every new report made a
    # big story quadratic (20,000 near-identical items took a load run's cycle past 15 minutes).
    embedder = HashingEmbedder(384)
    store = open_test_store("t")
    linker = StoryLinker(store)
    found: list[str] = []
    real_facts = stories.facts

    def facts(text: str) -> set[str]:
        found.append(text)
        return real_facts(text)

    links: list[StoryLink] = []
    for start in range(0, 150, 10):
        items = [
            FeedItem(f"g{n}", None, "Militia rockets hit Harir base in Erbil",
                     f"Militia fighters fired rockets at the Harir base in Erbil; {n} wounded, "
                     "officials in Baghdad said.", NOW - timedelta(minutes=150 - n))
            for n in range(start, start + 10)
        ]  # fmt: skip
        batch = list(zip(items, embed_documents(embedder, [(i.title, i.text) for i in items]), strict=True))  # fmt: skip
        monkeypatch.setattr(stories, "facts", facts)
        batch_links = linker.link(batch, model=embedder.name, now=NOW)
        monkeypatch.setattr(stories, "facts", real_facts)
        assert batch_links == reference(store, embedder.name, batch)
        save(store, embedder.name, batch, batch_links)
        links += batch_links
    # one story, joined 140 times: through a stored report (at least each batch's first) or,
    # where scores tie, through the newest earlier report of its own batch
    assert all(link != StoryLink() for link in links[10:])
    assert sum(link.stored is not None for link in links[10:]) >= 14
    assert all(link.adds_facts for link in links[1:])  # each states a toll not stated before
    # each report's facts are found a few times at most (as the new report, as the batch report
    # another joins, once when kept): linear. Reading the story again for every join found
    # them about 150²/2 ≈ 11,000 times.
    assert len(found) <= 3 * len(links)
