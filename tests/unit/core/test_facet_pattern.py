"""A facet's pattern starts with a lookahead on the characters its terms can begin with, so the
matcher passes over most positions of a text at once. It must find exactly what the pattern
without it finds: on the development corpora, on the Arabic and Persian examples the shipped
topic's multilingual copy trains on, and on generated text with the characters case folding
treats specially (the Kelvin sign folds to k, the long s to s)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.facets import Facet, _term_regex
from bot.core.settings import REPO_ROOT
from bot.store import SqliteStore
from bot.topics.config import sync_from_config
from bot.topics.multilingual_examples import example_seeds


def without_lookahead(facet: Facet) -> re.Pattern[str]:
    parts = "|".join(_term_regex(t) for t in facet.terms)
    return re.compile(r"(?<![\w])(?:" + parts + r")", re.IGNORECASE)


def spans(pattern: re.Pattern[str], text: str) -> list[tuple[int, int]]:
    return [m.span() for m in pattern.finditer(text)]


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> list[Facet]:
    store = SqliteStore(tmp_path_factory.mktemp("facets") / "tw.db")
    sync_from_config(store, REPO_ROOT / "config", REPO_ROOT / "seeds", datetime.now(UTC))
    facets = [f for topic in store.topics() for f in topic.facets]
    store.close()
    return facets


def corpus_texts() -> list[str]:
    texts = []
    for name in ("dev_corpus.jsonl", "dev_corpus_2.jsonl"):
        for line in (REPO_ROOT / "data" / name).read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            texts.append(f"{row.get('title') or ''}\n{row['text']}")
    return texts


def test_the_shipped_facets_find_the_same_matches_with_the_lookahead(shipped: list[Facet]) -> None:
    assert all(f.pattern.pattern.startswith("(?=[") for f in shipped)  # every one has it
    arabic = [s.seed.text for s in example_seeds(REPO_ROOT / "seeds", "militia-attacks-us-forces")]
    texts = corpus_texts() + arabic
    assert len(arabic) > 50 and len(texts) > 400
    found = 0
    for facet in shipped:
        reference = without_lookahead(facet)
        for text in texts:
            got = spans(facet.pattern, text)
            assert got == spans(reference, text), (facet.name, text[:80])
            found += len(got)
    assert found > 5000  # the comparison saw real matches, Arabic-script ones among them
    assert any(spans(f.pattern, t) for f in shipped for t in arabic)


def test_a_term_that_may_begin_with_anything_gets_no_lookahead() -> None:
    facet = Facet("f", "core", ("*backed militia", "rockets"))
    assert facet.pattern.pattern.startswith("(?<!")
    assert spans(facet.pattern, "Iran-backed militia fired rockets") == [(5, 19), (26, 33)]


FACET = Facet("f", "core", ("kataib hezbollah", "U.S. forces", "strike*", "قوات", "9/11", "Ks"))


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "kataib",
                "Hezbollah",
                "KATAIB",
                "\u212aataib",
                "U.S.",
                "us",
                "forces",
                "strikes",
                "\u017ftrike",
                "والقوات",
                "بالقوات",
                "قوات",
                "9/11",
                "Ks",
                "\u212a\u017f",
                "x",
                " ",
                "-",
                "\n",
                "'",
                ".",
                "é",
                "İ",
            ]  # fmt: skip
        ),
        max_size=12,
    ).map("".join)
)
def test_generated_text_finds_the_same_matches(text: str) -> None:
    assert FACET.pattern.pattern.startswith("(?=[")
    assert spans(FACET.pattern, text) == spans(without_lookahead(FACET), text)
