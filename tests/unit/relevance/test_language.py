"""Language detection (py3langid, offline), Persian spelling, and facet terms in Arabic script:
attached conjunctions and articles, hamza/yeh/kaf spellings and zero-width non-joiners."""

from __future__ import annotations

import pytest

from bot.core.facets import Facet
from bot.relevance.facets import facet_hits, split_sentences
from bot.relevance.language import (
    UNDETERMINED,
    detect_language,
    is_right_to_left,
    language_name,
    normalise,
)

ARABIC = (
    "استهدفت طائرة مسيرة قاعدة عين الأسد الجوية في محافظة الأنبار غربي العراق، التي تستضيف "
    "قوات أمريكية، وفق ما أفاد مصدر أمني عراقي، دون أن تسفر عن إصابات."
)
PERSIAN = (
    "مقاومت اسلامی عراق اعلام کرد که پایگاه نظامیان آمریکایی در شمال سوریه را با پهپاد هدف "
    "قرار داده است. این گروه گفت که حملات خود را ادامه خواهد داد."
)
ENGLISH = (
    "A drone struck the Ain al-Asad air base in western Iraq, which hosts US forces, an Iraqi "
    "security source said, causing no casualties."
)


@pytest.mark.parametrize(
    ("title", "text", "code"),
    [("", ARABIC, "ar"), ("", PERSIAN, "fa"), ("Drone hits base", ENGLISH, "en")],
)
def test_detects_arabic_persian_and_english(title: str, text: str, code: str) -> None:
    assert detect_language(title, text) == code


@pytest.mark.parametrize("text", ["", "   ", "12 34 56", "OK!", "Breaking:"])
def test_too_little_text_is_undetermined(text: str) -> None:
    assert detect_language("", text) == UNDETERMINED


def test_persian_is_folded_to_one_spelling() -> None:
    # Arabic yeh and kaf typed in Persian text, and a zero-width non-joiner inside a word
    typed = "پايگاه\u200cهاي آمريكا"
    assert normalise(typed, "fa") == "پایگاههای آمریکا"
    assert normalise(typed, "ar") == typed  # Arabic keeps its own letters
    assert normalise(ENGLISH, "fa") == ENGLISH


def test_right_to_left_and_names() -> None:
    assert is_right_to_left("ar") and is_right_to_left("fa")
    assert not is_right_to_left("en") and not is_right_to_left(UNDETERMINED)
    assert language_name("ar") == "Arabic" and language_name("xx") == "xx"


def finds(term: str, text: str) -> bool:
    return Facet("f", "core", (term,)).pattern.search(text) is not None


@pytest.mark.parametrize("text", ["القوات", "والقوات", "بالقوات", "للقوات", "فالقوات", "قوات"])
def test_arabic_term_matches_after_attached_words(text: str) -> None:
    assert finds("قوات", text)


@pytest.mark.parametrize(
    ("term", "text"),
    [
        ("أمريكية", "امريكية"),  # hamza seat left out
        ("آمریکا", "آمريكا"),  # Persian term, Arabic yeh and kaf in the text
        ("پایگاه* آمریکا", "پایگاه\u200cهای آمریکایی"),  # zero-width non-joiner inside
        ("پایگاه* آمریکا", "پایگاههای آمریکایی"),
        ("قاعدة", "قاعده"),  # teh marbuta written as heh
        ("عين الأسد", "عين-الأسد"),
    ],
)
def test_arabic_script_spellings_match(term: str, text: str) -> None:
    assert finds(term, text)


@pytest.mark.parametrize(("term", "text"), [("قوات", "مقوات"), ("عراق", "أعراق")])
def test_arabic_term_does_not_match_inside_a_word(term: str, text: str) -> None:
    assert not finds(term, text)


def test_latin_terms_do_not_match_arabic_and_back() -> None:
    assert not finds("iraq", ARABIC)
    assert not finds("العراق", ENGLISH)


def test_arabic_sentences_split_at_full_stops_and_question_marks() -> None:
    text = "قصفت الفصائل القاعدة. وقال مسؤول إن الهجوم فشل؟ ولم يعلق البنتاغون."
    assert len(split_sentences(text)) == 3


def test_arabic_roles_meet_in_one_sentence() -> None:
    actor = Facet("actor", "core", ("فصائل", "مقاومت اسلامی"))
    target = Facet("target", "core", ("قوات أمريكية", "نظامیان آمریکایی"))
    hits = facet_hits(split_sentences(ARABIC + "\n" + PERSIAN), [actor, target])
    assert hits.tolist() == [[False, True], [True, True], [False, False]]
