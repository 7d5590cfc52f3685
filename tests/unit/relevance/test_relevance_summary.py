"""Extractive summaries: 2-3 of the article's own sentences, lead first, who/what/where kept,
clutter and the title skipped, at most 480 characters, never invented text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from relevance_support import item, sample, shipped_facets

from bot.core.facets import Facet
from bot.relevance.facets import split_sentences
from bot.relevance.summary import MAX_CHARS, MIN_WORDS, summarize

FACETS = shipped_facets()


def pieces(summary: str, text: str) -> tuple[list[str], str]:
    """The article sentences the summary is made of, in article order, and whatever is left
    over: all of it when no run of sentences makes it up (only a cut-off sentence ending in '…'
    may be). A sentence that is a prefix of a later one ("U.S." before "U.S. militia …") is
    tried both ways, so it cannot swallow the start of the sentence actually used."""
    sentences = split_sentences(text)

    def made_of(rest: str, start: int) -> list[str] | None:
        for i in range(start, len(sentences)):
            sentence = sentences[i]
            if rest == sentence:
                return [sentence]
            if rest.startswith(sentence + " "):
                after = made_of(rest[len(sentence) :].lstrip(" "), i + 1)
                if after is not None:
                    return [sentence, *after]
        return None

    used = made_of(summary, 0) if summary else []
    return (used, "") if used is not None else ([], summary)


def test_pieces_does_not_let_a_short_sentence_swallow_the_start_of_a_longer_one() -> None:
    text = "U.s. U.S.. U.s. militia militia militia militia militia militia militia."
    assert pieces("U.s. militia militia militia militia militia militia militia.", text) == (
        ["U.s. militia militia militia militia militia militia militia."],
        "",
    )
    assert pieces("Not in it at all.", text) == ([], "Not in it at all.")


def facet(name: str) -> Facet:
    return next(f for f in FACETS if f.name == name)


@pytest.mark.parametrize("row", sample(), ids=lambda r: r["id"])
def test_summary_is_two_or_three_article_sentences_within_the_limit(row: dict) -> None:
    summary = summarize(row["text"], FACETS, title=row["title"] or "")
    used, rest = pieces(summary, row["text"])
    assert len(summary) <= MAX_CHARS
    if rest:  # one long sentence cut at a word boundary
        assert rest.endswith("…") and any(
            s.startswith(rest[:-1]) for s in split_sentences(row["text"])
        )
    assert 2 <= len(used) + bool(rest) <= 3
    assert all(len(s.split()) >= MIN_WORDS for s in used)


@pytest.mark.parametrize("row", sample(label="related"), ids=lambda r: r["id"])
def test_summary_of_an_attack_report_names_who_and_against_whom(row: dict) -> None:
    summary = summarize(row["text"], FACETS, title=row["title"] or "")
    assert facet("target").pattern.search(summary), summary
    assert facet("act").pattern.search(summary) or facet("actor").pattern.search(summary)
    first = split_sentences(summary)[0]
    assert any(f.pattern.search(first) for f in FACETS if f.role != "contrast")


def test_summary_keeps_actor_target_place_and_weapon_of_a_real_report() -> None:
    summary = summarize(item("dev-rel-008")["text"], FACETS, title=item("dev-rel-008")["title"])
    assert "pro-Iranian fighters" in summary  # who
    assert "U.S. personnel" in summary  # against whom
    assert "Ain al-Asad" in summary and "Iraq" in summary  # where
    assert "rockets" in summary.lower()  # with what


def test_summary_skips_bylines_captions_and_dates() -> None:
    reuters = summarize(item("dev-rel-009")["text"], FACETS, title=item("dev-rel-009")["title"])
    assert "By Alex Horton" not in reuters
    ap = summarize(item("dev-rel-001")["text"], FACETS, title=item("dev-rel-001")["title"])
    assert "(AP Photo" not in ap and "Posted at" not in ap


def test_summary_does_not_start_mid_sentence_after_a_month_abbreviation() -> None:
    row = item("dev-hn-039")  # "The U.S. military on Thursday, Oct. 5, shot down a Turkish drone"
    summary = summarize(row["text"], FACETS, title=row["title"])
    assert "Oct. 5, shot down a Turkish drone" in summary
    assert not summary[0].isdigit()


def test_summary_does_not_repeat_the_title() -> None:
    title = "Rockets hit Iraqi air base hosting U.S. troops, officials say"
    text = (
        f"{title}\nSeveral rockets fired by an Iran-backed militia hit the Ain al-Asad air base "
        "in western Iraq on Monday, U.S. officials said. Two U.S. service members were wounded "
        "in the attack, the Pentagon said. The base hosts American troops advising Iraqi forces."
    )
    summary = summarize(text, FACETS, title=title)
    assert title not in summary and summary.startswith("Several rockets")


def test_without_facets_the_summary_is_the_opening_sentences() -> None:
    text = item("dev-neg-012")["text"]
    eligible = [s for s in split_sentences(text) if len(s.split()) >= MIN_WORDS]
    summary = summarize(text, ())
    used, _ = pieces(summary, text)
    assert used and used == eligible[: len(used)]


def test_a_text_of_short_fragments_has_no_summary() -> None:
    assert summarize("Rockets hit. Base hit. Iraq.\nU.S. forces safe.", FACETS) == ""
    assert summarize("", FACETS) == ""


def test_an_overlong_single_sentence_is_cut_at_a_word_with_an_ellipsis() -> None:
    sentence = "A militia fired rockets at U.S. forces near Erbil " + "and then again " * 60 + "."
    summary = summarize(sentence, FACETS)
    assert len(summary) <= MAX_CHARS and summary.endswith("…")
    assert sentence.startswith(summary[:-1]) and sentence[len(summary) - 1] == " "


WORDS = st.sampled_from(
    [
        "militia",
        "rockets",
        "U.S.",
        "forces",
        "base",
        "Iraq",
        "Syria",
        "drone",
        "attack",
        "officials",
        "said",
        "Monday",
        "the",
        "a",
        "of",
        "in",
        "at",
        "Kataib",
        "Hezbollah",
        "wounded",
        "troops",
        "coalition",
        "Israel",
        "markets",
        "rose",
        "golf",
    ]
)
SENTENCES = st.builds(
    lambda first, rest, end: " ".join([first.capitalize(), *rest]) + end,
    WORDS,
    st.lists(WORDS, min_size=0, max_size=30),
    st.sampled_from([".", "!", "?"]),
)


@given(sentences=st.lists(SENTENCES, min_size=0, max_size=12), title=st.sampled_from(["", "X"]))
def test_summary_never_contains_text_that_is_not_in_the_article(
    sentences: list[str], title: str
) -> None:
    text = " ".join(sentences)
    summary = summarize(text, FACETS, title=title)
    used, rest = pieces(summary, text)
    assert len(summary) <= MAX_CHARS
    assert len(used) <= 3
    if rest:
        assert not used and rest.endswith("…")
        assert any(s.startswith(rest[:-1]) for s in split_sentences(text))
