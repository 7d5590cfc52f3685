"""What survives translation: canonical names and counts read alike from Arabic, Persian and
English reports, and the rule that weighs them with the multilingual cosine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from bot.relevance import stories_across
from bot.relevance.stories_across import Evidence
from bot.relevance.story_names import names_in, numbers_in

WHEN = datetime(2024, 8, 5, 12, tzinfo=UTC)


def test_places_actors_and_weapons_read_alike_in_three_languages() -> None:
    english = names_in(
        "Drone attack on Ain al-Asad", "Kataib Hezbollah launched a drone at the base in Anbar."
    )
    arabic = names_in(
        "هجوم بطائرة مسيرة على قاعدة عين الأسد",
        "أطلقت كتائب حزب الله طائرة مسيّرة على القاعدة في الأنبار.",
    )
    persian = names_in("حمله پهپادی به عین الاسد", "کتائب حزب الله با پهپاد به پایگاه حمله کرد.")
    assert {"Ain al-Asad", "Kataib Hezbollah", "drone"} <= english & arabic & persian
    assert "Anbar" in english & arabic


def test_sadr_is_not_read_into_the_arabic_verb_for_issued() -> None:
    assert "Sadr" not in names_in("بيان", "صدر بيان عن وزارة الدفاع العراقية")
    assert "Sadr" in names_in("", "اقتحم أنصار التيار الصدري المنطقة الخضراء")


def test_counts_in_any_script_but_not_years_or_times() -> None:
    assert numbers_in("", "أصيب ٥ جنود في هجوم يوم 5 أغسطس 2024 الساعة 10:30") == {5}
    assert numbers_in("", "پنج سرباز آمریکایی زخمی شدند") == {5}
    assert numbers_in("Five hurt", "Two rockets, 3.5 km away, in 2024") == {2, 5}


def evidence(key: int, title: str, text: str, vector: list[float], days: float = 0) -> Evidence:
    gist = np.asarray(vector, np.float32)
    return Evidence.of(key, title, text, gist / np.linalg.norm(gist), WHEN + timedelta(days=days))


def test_shared_names_lift_a_pair_over_the_line_and_dates_rule_out() -> None:
    arabic = evidence(1, "هجوم على عين الأسد", "صواريخ كاتيوشا على قاعدة عين الأسد", [1, 0.1])
    same = evidence(2, "Rockets hit Ain al-Asad", "Katyusha rockets hit Ain al-Asad", [1, 0.12])
    other = evidence(3, "Drone hits Harir", "A drone hit Harir base near Erbil", [1, 0.12])
    later = evidence(4, "Rockets hit Ain al-Asad", "Katyusha rockets hit Ain al-Asad", [1, 0.1], 4)
    assert stories_across.best_match(arabic, [other, same, later]) == same
    assert stories_across.best_match(arabic, [other]) is None
    assert stories_across.similarity(arabic, later) is None  # four days apart
    alike = stories_across.similarity(arabic, same)
    apart = stories_across.similarity(arabic, other)
    assert alike is not None and apart is not None and alike - apart > 0.15
