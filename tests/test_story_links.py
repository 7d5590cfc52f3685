"""Linking new articles to stored stories compares only reports whose lead vector is close enough
to reach the threshold: the links equal those of comparing every stored report (real texts from
the development corpus, the real store and cycle)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.cycle import Pipeline, StoryLink
from bot.models import FeedItem
from bot.pipeline.embed import HashingEmbedder
from bot.relevance import stories
from bot.scoring import embed_documents
from bot.settings import Settings
from bot.store import Store
from bot.store.store import NewArticle

CORPUS = Path(__file__).resolve().parents[1] / "data" / "dev_corpus.jsonl"
NOW = datetime(2026, 3, 2, 10, tzinfo=UTC)


def reference(pipeline: Pipeline, entries: list) -> list[StoryLink]:
    """Every stored report in the window compared with every new one."""
    dates = [item.published or NOW for item, _ in entries]
    earlier = [
        stories.Report(aid, sid, vec, stories.specifics(title, text), published, text)
        for aid, sid, vec, title, text, published in pipeline.store.story_candidates(
            min(dates) - stories.WINDOW, pipeline.embedder.name
        )
    ]
    links = []
    for position, ((item, doc), published) in enumerate(zip(entries, dates, strict=True)):
        report = stories.Report(-(position + 1), None, doc.vectors[0],
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


def test_links_equal_comparing_every_stored_report(tmp_path: Path) -> None:
    rows = [json.loads(line) for line in CORPUS.read_text().splitlines()]
    embedder = HashingEmbedder(384)
    store = Store(tmp_path / "t.db")
    pipeline = Pipeline(Settings(db=tmp_path / "t.db"), store, None, embedder, list, lambda: NOW)  # type: ignore[arg-type]

    def entries(chunk: list[dict]) -> list:
        items = [FeedItem(r["id"], None, r["title"] or "", r["text"], NOW - timedelta(hours=i))
                 for i, r in enumerate(chunk)]  # fmt: skip
        docs = embed_documents(embedder, [(i.title, i.text) for i in items])
        return list(zip(items, docs, strict=True))

    for start in range(0, 120, 40):  # save in batches, so later ones link to stored stories
        batch = entries(rows[start : start + 40])
        links = pipeline._link_stories(batch)
        assert links == reference(pipeline, batch)
        store.save_articles(
            [NewArticle(item, None, item.guid, doc.passages, doc.vectors, link.stored,
                        link.in_batch, link.adds_facts)
             for (item, doc), link in zip(batch, links, strict=True)],
            [], model=embedder.name, now=NOW,
        )  # fmt: skip
    linked = [link for link in pipeline._link_stories(entries(rows[120:])) if link != StoryLink()]
    assert any(link.stored is not None for link in linked)  # stored stories were joined
