"""Facets: phrase matching (word start, optional dots, apostrophes and hyphens, '*'), config
errors, sentence splitting around abbreviations, and the features the scorer reads."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from relevance_support import item, shipped_facets

from bot.core.errors import ConfigError
from bot.core.facets import Facet, facets_from_json, facets_to_json
from bot.relevance.facets import (
    LEAD_SENTENCES,
    MAX_TERMS,
    best_sentences,
    facet_features,
    facet_hits,
    feature_names,
    parse_facets,
    split_sentences,
)


def finds(term: str, text: str) -> bool:
    return Facet("f", "core", (term,)).pattern.search(text) is not None


# --- phrase matching ----------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["attack", "attacks on bases", "they attacked", "ATTACKERS"])
def test_term_matches_from_the_start_of_a_word(text: str) -> None:
    assert finds("attack", text)


@pytest.mark.parametrize("text", ["a counterattack", "the_attack", "reattacked"])
def test_term_does_not_match_inside_a_word(text: str) -> None:
    assert not finds("attack", text)


@pytest.mark.parametrize("text", ["U.S. forces", "US forces", "u.s forces", "US-forces"])
def test_dots_in_a_term_are_optional(text: str) -> None:
    assert finds("u.s. forces", text)


def test_dotted_term_still_needs_its_letters() -> None:
    assert not finds("u.s. forces", "UK forces")
    assert not finds("u.s. forces", "Russian forces")


@pytest.mark.parametrize("text", ["Kata'ib Hezbollah", "Kataib Hezbollah", "Kata’ib Hezbollah"])
def test_apostrophe_in_a_term_matches_any_apostrophe_or_none(text: str) -> None:
    assert finds("kata'ib", text)


@pytest.mark.parametrize("text", ["Iran-backed militia", "Iran backed militia", "Iranbacked"])
def test_hyphen_in_a_term_matches_a_space_or_nothing(text: str) -> None:
    assert finds("iran-backed", text)


def test_star_stands_for_any_word_characters() -> None:
    assert finds("shoot* down", "jets shooting down drones")
    assert finds("shoot* down", "it shoots down")
    assert finds("shoot* down", "shoot down")
    assert not finds("shoot* down", "shot down")
    assert not finds("shoot* down", "shooting at the base down the road")


def test_regex_characters_in_terms_are_literal() -> None:
    assert finds("k-1 base", "rockets hit the K-1 base near Kirkuk")
    assert finds("(pmf)", "the Popular Mobilization Forces (PMF) said")
    assert not finds("(pmf)", "the PMF said")


@given(
    term=st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=12),
    flips=st.lists(st.booleans(), min_size=12, max_size=12),
    before=st.sampled_from(["", "the ", "(", "— ", "\n"]),
    after=st.sampled_from(["", "s", " said", ".", "ed by"]),
)
def test_term_matching_ignores_case(term: str, flips: list[bool], before: str, after: str) -> None:
    cased = "".join(c.upper() if flip else c for c, flip in zip(term, flips, strict=False))
    assert finds(term, before + cased + after)
    assert finds(term.upper(), before + term + after)


# --- config --------------------------------------------------------------------------------------


def test_parse_facets_reads_roles_and_strips_terms() -> None:
    facets = parse_facets(
        {
            "actor": {"role": "core", "terms": [" militia ", "kata'ib"]},
            "place": {"terms": ["iraq"]},
        },
        where="topics.toml",
    )
    assert facets == (
        Facet("actor", "core", ("militia", "kata'ib")),
        Facet("place", "support", ("iraq",)),
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (["militia"], "must be a table"),
        ({"role": "main", "terms": ["militia"]}, "role must be one of core, support, contrast"),
        ({"role": "core", "terms": []}, "non-empty list"),
        ({"role": "core"}, "non-empty list"),
        ({"role": "core", "terms": "militia"}, "non-empty list"),
        ({"role": "core", "terms": ["militia", "  "]}, "non-empty list"),
        ({"role": "core", "terms": ["militia", 3]}, "non-empty list"),
        ({"role": "core", "terms": ["t"] * (MAX_TERMS + 1)}, f"at most {MAX_TERMS}"),
    ],
)
def test_parse_facets_refuses_bad_specs_naming_the_facet(spec: object, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_facets({"actor": spec}, where="cfg/topics.toml: topic 'x'")
    assert message in str(err.value)
    assert "cfg/topics.toml: topic 'x'" in str(err.value) and "'actor'" in str(err.value)


def test_facets_json_round_trip_keeps_names_roles_and_terms() -> None:
    facets = shipped_facets()
    assert facets_from_json(facets_to_json(facets)) == facets


def test_shipped_topic_defines_core_support_and_contrast_facets() -> None:
    roles = {f.name: f.role for f in shipped_facets()}
    assert roles == {
        "actor": "core",
        "target": "core",
        "act": "support",
        "place": "support",
        "elsewhere": "contrast",
        # read by the role extractor only (bot/relevance/roles.py)
        "us_side": "roles",
        "third_party": "roles",
        "host_state": "roles",
    }


def test_shipped_actor_facet_finds_proxies_but_not_proximity() -> None:
    # "US troops in close proximity to a Turkish drone" is no militia: before this term was
    # narrowed from "prox", that sentence counted as actor and target together
    (actor,) = [f for f in shipped_facets() if f.name == "actor"]
    assert actor.pattern.search("Iran's proxies fired rockets")
    assert actor.pattern.search("an Iranian proxy group")
    assert not actor.pattern.search("activity and proximity to U.S. forces in Syria")


# --- sentences ------------------------------------------------------------------------------------


def test_split_sentences_keeps_abbreviations_inside_a_sentence() -> None:
    text = (
        "The U.S. military said Gen. Kurilla visited Al Asad. Col. Marotto said no U.S. "
        "personnel were hurt. Did Mr. Kirby confirm it? He did."
    )
    assert split_sentences(text) == [
        "The U.S. military said Gen. Kurilla visited Al Asad.",
        "Col. Marotto said no U.S. personnel were hurt.",
        "Did Mr. Kirby confirm it?",
        "He did.",
    ]


def test_split_sentences_breaks_on_newlines_quotes_and_numbers() -> None:
    text = 'Rockets hit the base.\n\n"We are assessing," he said. 10 rockets fell.\nNo one was hurt'
    assert split_sentences(text) == [
        "Rockets hit the base.",
        '"We are assessing," he said.',
        "10 rockets fell.",
        "No one was hurt",
    ]


def test_split_sentences_does_not_break_before_lower_case() -> None:
    assert split_sentences("It was fired at 7:20 a.m. on Wednesday.") == [
        "It was fired at 7:20 a.m. on Wednesday."
    ]


def test_split_sentences_keeps_a_date_with_an_abbreviated_month_whole() -> None:
    text = "The U.S. military on Thursday, Oct. 5, shot down a drone. It was seen on Aug. 27, 2023."
    assert split_sentences(text) == [
        "The U.S. military on Thursday, Oct. 5, shot down a drone.",
        "It was seen on Aug. 27, 2023.",
    ]


def test_split_sentences_of_a_real_article_keeps_us_led_coalition_whole() -> None:
    sentences = split_sentences(item("dev-rel-001")["text"])
    lead = next(s for s in sentences if s.startswith("BAGHDAD"))
    assert "U.S.-led coalition in Iraq says at least 10 rockets" in lead
    assert lead.endswith("resulting in at least one death.")


# --- features -------------------------------------------------------------------------------------

ACTOR = Facet("actor", "core", ("militia",))
TARGET = Facet("target", "core", ("u.s. forces",))
ACT = Facet("act", "support", ("rocket",))
ELSEWHERE = Facet("elsewhere", "contrast", ("israel",))
FACETS = (ACTOR, TARGET, ACT, ELSEWHERE)


def features(text: str) -> dict[str, float]:
    values = facet_features(text, FACETS)
    names = feature_names(FACETS)
    assert len(values) == len(names)
    return dict(zip(names, values.tolist(), strict=True))


def test_core_facets_count_only_when_they_meet_in_one_sentence() -> None:
    apart = features("A militia held a parade. U.S. forces stayed on base.")
    together = features("A militia fired at U.S. forces. Nothing else happened.")
    assert apart["facet:actor"] > 0 and apart["facet:target"] > 0
    assert apart["core-together"] == 0 and apart["core-together-in-lead"] == 0
    assert together["core-together"] == pytest.approx(np.log1p(1))
    assert together["core-together-in-lead"] == 1.0
    assert together["core-together+support"] == 0  # no rocket in that sentence


def test_support_facet_counts_with_core_in_the_same_sentence() -> None:
    f = features("A militia fired a rocket at U.S. forces. A militia threatened U.S. forces.")
    assert f["core-together"] == pytest.approx(np.log1p(2))
    assert f["core-together+support"] == pytest.approx(np.log1p(1))


@pytest.mark.parametrize(
    "text",
    [
        "The US-led coalition against Israel's enemies said nothing.",
        "Coalition officials briefed reporters on anti-Israel operations.",
        "Troops hunting down the remnants of Israel's army stayed put.",
    ],
)
def test_a_contrast_term_named_as_the_side_being_fought_does_not_count(text: str) -> None:
    f = features(text)
    assert f["facet:elsewhere"] == 0 and f["lead:elsewhere"] == 0


@pytest.mark.parametrize(
    "text",
    [
        "The militia launched drone attacks against Israel on Monday.",
        "Israel struck a militia convoy near the border.",
    ],
)
def test_a_contrast_term_as_a_party_to_the_news_still_counts(text: str) -> None:
    assert features(text)["facet:elsewhere"] > 0


def test_contrast_terms_in_the_shipped_topic_skip_the_coalition_against_isis() -> None:
    elsewhere = next(f for f in shipped_facets() if f.name == "elsewhere")
    fought = facet_features(
        "Rockets hit a base hosting the US-led coalition against ISIS.", [elsewhere]
    )
    acting = facet_features("ISIS fighters attacked an Iraqi army post.", [elsewhere])
    assert fought[0] == 0 and acting[0] > 0


def test_lead_features_look_only_at_the_opening_sentences() -> None:
    filler = " ".join(f"Paragraph {i} says nothing." for i in range(LEAD_SENTENCES))
    late = features(filler + " A militia fired at U.S. forces.")
    assert late["core-together"] > 0
    assert late["core-together-in-lead"] == 0 and late["lead:actor"] == 0
    assert late["facet:actor"] > 0


def test_facet_counts_are_log_of_sentences_mentioning_them() -> None:
    f = features("Israel said so. Israel said more. Israel said it again.")
    assert f["facet:elsewhere"] == pytest.approx(np.log1p(3))
    assert f["lead:elsewhere"] == 1.0 and f["facet:actor"] == 0


def test_no_facets_means_no_features() -> None:
    assert facet_features("A militia fired at U.S. forces.", ()).shape == (0,)
    assert feature_names(()) == []


def test_without_core_facets_there_are_no_co_occurrence_features() -> None:
    facets = (ACT, ELSEWHERE)
    assert len(facet_features("A rocket hit Israel.", facets)) == len(feature_names(facets)) == 4


def test_facet_hits_is_a_sentence_by_facet_table() -> None:
    hits = facet_hits(["A militia fired.", "Israel replied.", "Quiet."], FACETS)
    assert hits.shape == (3, 4)
    assert hits.tolist() == [
        [True, False, False, False],
        [False, False, False, True],
        [False, False, False, False],
    ]


def test_best_sentences_count_facets_but_not_contrast_ones() -> None:
    ranked = best_sentences("Israel fired a rocket at a militia. Markets rose.", FACETS)
    assert ranked == [(0, "Israel fired a rocket at a militia.", 2), (1, "Markets rose.", 0)]


def test_real_attack_report_has_actor_and_target_in_one_sentence() -> None:
    facets = shipped_facets()
    names = feature_names(facets)
    attack = dict(zip(names, facet_features(item("dev-rel-008")["text"], facets), strict=True))
    eilat = dict(zip(names, facet_features(item("dev-hn-024")["text"], facets), strict=True))
    golf = dict(zip(names, facet_features(item("dev-neg-001")["text"], facets), strict=True))
    assert attack["core-together"] > 0 and attack["core-together+support"] > 0
    assert eilat["facet:elsewhere"] > attack["facet:elsewhere"]
    assert eilat["lead:elsewhere"] == 1.0
    assert golf["facet:actor"] == golf["facet:target"] == golf["core-together"] == 0
