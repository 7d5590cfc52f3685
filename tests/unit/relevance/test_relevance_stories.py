"""Story grouping: similarity within a date window, joining the best earlier report, new facts
as updates; and the same in the poll cycle and the store (story ids, first/repeat/update roles)
and in `threatwatch score --stories`. Real news texts; the hashing embedder for speed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from relevance_support import REPO, TOPIC, item, sample, write_topic

from bot.app.compose import App, compose
from bot.core.models import CycleReport, FeedItem
from bot.core.settings import Settings
from bot.relevance.stories import (
    ENTITY_WEIGHT,
    GIST_PASSAGES,
    MIN_SPECIFICS,
    SAME_STORY,
    WINDOW,
    Report,
    adds_facts,
    best_story,
    facts,
    gist,
    group,
    similarity,
    specifics,
)
from bot.relevance.summary import summarize

DAY = datetime(2024, 8, 5, 18, tzinfo=UTC)


def unit(*xs: float) -> np.ndarray:
    v = np.array(xs, np.float32)
    return v / np.linalg.norm(v)


def report(key: int, vector: np.ndarray, names: set[str], when: datetime | None = DAY) -> Report:
    return Report(key, None, vector, frozenset(names), when, "")


# --- pure grouping ------------------------------------------------------------------------------


def test_specifics_are_capitalised_names_and_numbers() -> None:
    found = specifics(
        "Rockets hit Anbar base",
        "At 7:20 on Wednesday 10 rockets struck Ain al-Asad, Marotto said. Islamic Resistance "
        'claimed it. Officials said "Baghdad knew." 2024 was worse.',
    )
    assert {"Anbar", "Marotto", "10", "20", "Islamic Resistance", "2024"} <= found
    # every report has a weekday; short words, small numbers and lower-case words say nothing
    assert "Wednesday" not in found
    assert "Ain" not in found and "7" not in found and "hit" not in found
    # a single capitalised word opening a sentence, the headline or a quotation is no name
    assert not {"Rockets", "Officials", "Baghdad"} & found


def test_a_name_opening_one_sentence_counts_where_it_stands_inside_another() -> None:
    found = specifics("", "Marotto said so. Later, Marotto said more.")
    assert "Marotto" in found and "Later" not in found


def test_similarity_is_gist_cosine_plus_weighted_share_of_shared_specifics() -> None:
    # shared specifics count against the smaller report's: a short copy whose names all
    # appear in a longer report of the same event shares everything
    short = report(1, unit(1, 0), {f"Name{i}" for i in range(10)})
    long = report(2, unit(1, 1), {f"Name{i}" for i in range(20)})
    assert similarity(short, long) == pytest.approx(2**-0.5 + ENTITY_WEIGHT * 10 / 10, abs=1e-6)
    assert similarity(short, long) == similarity(long, short)


def test_reports_naming_few_specifics_share_them_against_a_floor() -> None:
    # two teasers that both name only "Anbar" and "Asad" say little: 2 of at least MIN_SPECIFICS
    a = report(1, unit(1, 0), {"Anbar", "Asad", "Marotto"})
    b = report(2, unit(1, 1), {"Anbar", "Asad", "Kirby"})
    assert similarity(a, b) == pytest.approx(2**-0.5 + ENTITY_WEIGHT * 2 / MIN_SPECIFICS, abs=1e-6)


def test_gist_is_the_unit_mean_of_the_opening_passages() -> None:
    vectors = np.array([unit(1, 0, 0), unit(0, 1, 0), unit(0, 0, 1), unit(1, 1, 1)])
    assert GIST_PASSAGES == 3  # the fourth passage is past the opening
    assert np.allclose(gist(vectors), unit(1, 1, 1))
    assert np.allclose(gist(vectors[:1]), unit(1, 0, 0))


def test_reports_further_apart_than_the_window_are_never_one_story() -> None:
    a = report(1, unit(1, 0), {"Anbar"})
    assert similarity(a, report(2, unit(1, 0), {"Anbar"}, DAY + WINDOW)) is not None
    assert (
        similarity(a, report(2, unit(1, 0), {"Anbar"}, DAY + WINDOW + timedelta(hours=1))) is None
    )
    assert similarity(a, report(2, unit(1, 0), {"Anbar"}, None)) is not None  # undated: maybe


def test_best_story_takes_the_closest_earlier_report_above_the_bar() -> None:
    new = report(9, unit(1, 0, 0), {"Anbar", "Asad"})
    near = report(1, unit(1, 0.1, 0), {"Anbar", "Asad"})
    nearer = report(2, unit(1, 0.01, 0), {"Anbar", "Asad"})
    far = report(3, unit(0, 1, 0), {"Erbil"})
    assert best_story(new, [near, far, nearer]) is nearer
    assert best_story(new, [far]) is None
    assert similarity(new, far) < SAME_STORY


def test_group_labels_each_report_with_its_story_first_position() -> None:
    reports = [
        report(0, unit(1, 0, 0), {"Anbar", "Asad"}),
        report(1, unit(0, 1, 0), {"Erbil"}),
        report(2, unit(1, 0.05, 0), {"Anbar", "Asad"}),
        report(3, unit(0, 1, 0.05), {"Erbil"}),
        report(4, unit(1, 0, 0), {"Anbar", "Asad"}, DAY + 2 * WINDOW),  # same words, weeks later
    ]
    assert group(reports) == [0, 1, 0, 1, 4]


def test_an_undated_report_joins_a_story_but_does_not_bridge_two_dates() -> None:
    lead, names = unit(1, 0, 0), {"Baghdad", "Green", "Zone"}
    reports = [
        report(0, lead, names),  # dated
        report(1, lead, names, None),  # undated: joins the closest dated story
        report(2, lead, names, DAY + 3 * WINDOW),  # the same words, months later
    ]
    assert group(reports) == [0, 0, 2]
    # without the guard the later report would have joined through the undated one
    assert similarity(reports[2], reports[1]) is not None
    assert similarity(reports[2], reports[1]) >= SAME_STORY
    # an undated report still joins a story whose dated reports are close together
    close = [
        report(0, lead, names),
        report(1, lead, names, DAY + WINDOW / 2),
        report(2, lead, names, None),
    ]
    assert group(close) == [0, 0, 0]


def test_a_new_toll_or_claim_is_a_new_fact() -> None:
    earlier = [item("dev-rel-009")["text"]]  # several troops hurt, number unknown
    assert adds_facts("Five U.S. personnel hurt. Two soldiers later died.", earlier)
    assert adds_facts("Kataib Hezbollah claimed responsibility for the attack.", earlier)


def test_repeating_known_facts_or_stating_none_adds_nothing() -> None:
    earlier = ["Two soldiers were killed in the attack, officials said."]
    assert not adds_facts("TWO  SOLDIERS were\nkilled, a spokesman repeated.", earlier)
    assert not adds_facts("Rockets struck the base on Monday night.", earlier)
    assert facts("Officials CONFIRMED it.") == {"confirmed"}


def test_a_toll_of_us_troops_is_a_fact() -> None:
    assert facts("Three U.S. troops were killed in the drone attack.")


# --- the poll cycle and the store ---------------------------------------------------------------


def feed_item(
    row: dict,
    guid: str,
    *,
    title: str | None = None,
    text: str | None = None,
    published: datetime = DAY,
) -> FeedItem:
    return FeedItem(
        guid=guid,
        url=f"https://news.example/{guid}",
        title=row["title"] if title is None else title,
        text=row["text"] if text is None else text,
        published=published,
        source="Example News",
    )


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[App]:
    config, seeds = write_topic(
        tmp_path,
        positives=sample(label="related"),
        counters=sample(label="hard_negative"),
        background=sample(label="negative"),
        threshold="0.5",
    )
    settings = Settings(
        db=tmp_path / "tw.db",
        config_dir=config,
        seeds_dir=seeds,
        embedder="hashing",
        load_default_feeds=False,
    )
    application = compose(settings, clock=lambda: DAY + timedelta(hours=1))
    yield application
    await application.aclose()


async def ingest(app: App, *items: FeedItem) -> CycleReport:
    report = CycleReport()
    await app.pipeline.ingest_items(list(items), [None] * len(items), report)
    return report


def roles(app: App) -> dict[str, tuple[int | None, str]]:
    """guid → (story id, story role) of every stored match."""
    return {
        m.article.guid: (m.article.story_id, m.story_role)
        for m in app.store.latest_matches(topic=TOPIC, limit=100)
    }


ATTACK = item("dev-rel-008")  # rockets injure 5 U.S. personnel at Ain al-Asad
UPDATE = ATTACK["text"] + "\n\nTwo soldiers later died of their wounds, the Pentagon said."


async def test_wire_copy_elsewhere_is_a_repeat_of_the_first_report(app: App) -> None:
    await ingest(app, feed_item(ATTACK, "first"))
    await ingest(
        app, feed_item(ATTACK, "copy", title="Rockets hit Iraqi air base, 5 Americans hurt")
    )
    got = roles(app)
    assert got["first"][1] == "first" and got["copy"][1] == "repeat"
    assert got["first"][0] == got["copy"][0] is not None


async def test_a_report_with_new_casualty_facts_is_an_update(app: App) -> None:
    await ingest(app, feed_item(ATTACK, "first"))
    await ingest(
        app,
        feed_item(ATTACK, "later", title="Two U.S. soldiers die after Iraq attack", text=UPDATE),
    )
    got = roles(app)
    assert got["later"] == (got["first"][0], "update")


async def test_reports_in_one_batch_join_one_story(app: App) -> None:
    report = await ingest(
        app,
        feed_item(ATTACK, "a"),
        feed_item(ATTACK, "b", title="Pro-Iran fighters' rockets injure U.S. troops in Iraq"),
    )
    assert report.new == 2 and report.matched == 2
    got = roles(app)
    assert got["a"][0] == got["b"][0] and (got["a"][1], got["b"][1]) == ("first", "repeat")


async def test_different_events_and_late_copies_start_their_own_stories(app: App) -> None:
    erbil = item("dev-rel-018")
    await ingest(app, feed_item(ATTACK, "first"), feed_item(erbil, "erbil"))
    await ingest(
        app,
        feed_item(
            ATTACK,
            "weeks-later",
            title="Rocket attack at Ain al-Asad (archive)",
            published=DAY + 3 * WINDOW,
        ),
    )
    got = roles(app)
    assert len({got["first"][0], got["erbil"][0], got["weeks-later"][0]}) == 3
    assert {got["erbil"][1], got["weeks-later"][1]} == {"first"}


async def test_an_article_stored_before_stories_existed_starts_one_when_joined(app: App) -> None:
    await ingest(app, feed_item(ATTACK, "old"))
    with app.store.transaction() as conn:
        conn.execute("UPDATE articles SET story_id = NULL")
    await ingest(app, feed_item(ATTACK, "new", title="U.S. personnel hurt at Iraqi base"))
    old, new = app.store.article(1), app.store.article(2)
    assert old.story_id is not None and old.story_id == new.story_id


async def test_every_stored_article_gets_a_story_even_without_a_match(app: App) -> None:
    golf = item("dev-neg-001")
    report = await ingest(app, feed_item(golf, "golf"))
    assert report.new == 1 and report.matched == 0
    assert app.store.article(1).story_id is not None


async def test_alerts_carry_the_extractive_summary_of_their_article(app: App) -> None:
    await ingest(app, feed_item(ATTACK, "first"))
    (match,) = app.store.latest_matches(topic=TOPIC)
    facets = app.store.topic(TOPIC).facets
    assert match.summary == summarize(ATTACK["text"], facets, title=ATTACK["title"])
    assert match.summary and match.summary.split(". ")[0] in ATTACK["text"]


async def test_service_groups_texts_as_the_cycle_does(app: App) -> None:
    erbil = item("dev-rel-018")
    labels = app.service.queries.group_stories(
        [
            (ATTACK["title"], ATTACK["text"]),
            (erbil["title"], erbil["text"]),
            ("Rockets hit Iraqi air base, 5 Americans hurt", ATTACK["text"]),
        ],
        [DAY, DAY, DAY + timedelta(days=1)],
    )
    assert labels == [0, 1, 0]


async def test_service_scores_equal_the_scores_alerts_stored(app: App) -> None:
    rows = sample(label="related")[:4] + sample(label="hard_negative")[:2]
    await ingest(app, *(feed_item(r, r["id"]) for r in rows))
    stored = {m.article.guid: m.score for m in app.store.latest_matches(topic=TOPIC, limit=50)}
    scored = app.service.queries.score_documents(
        [(r["title"], r["text"]) for r in rows], topic=TOPIC
    )
    assert stored
    for row, (score,) in zip(rows, scored, strict=True):
        assert score.is_match == (row["id"] in stored)
        if row["id"] in stored:
            assert score.score == stored[row["id"]]


# --- the CLI ------------------------------------------------------------------------------------------


def test_score_stories_command_groups_by_text_and_date(tmp_path: Path) -> None:
    erbil = item("dev-rel-018")
    lines = [
        {"id": "a", "title": ATTACK["title"], "text": ATTACK["text"], "published": "2024-08-05"},
        {"id": "b", "title": erbil["title"], "text": erbil["text"], "published": "2024-08-05"},
        {
            "id": "c",
            "title": "Americans hurt at Iraq base",
            "text": ATTACK["text"],
            "published": "2024-08-06",
        },
        {"id": "d", "title": ATTACK["title"], "text": ATTACK["text"], "published": "2024-09-20"},
    ]
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    env = {
        **os.environ,
        "THREATWATCH_DB": str(tmp_path / "tw.db"),
        "THREATWATCH_EMBEDDER": "hashing",
        "THREATWATCH_LOAD_DEFAULT_FEEDS": "false",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "score", "--stories", "--input", str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(x) for x in proc.stdout.splitlines()]
    assert out == [
        {"id": "a", "story": 0},
        {"id": "b", "story": 1},
        {"id": "c", "story": 0},
        {"id": "d", "story": 3},
    ]
