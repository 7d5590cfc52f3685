"""Which language an article is written in, and the Persian/Arabic spelling it is compared in.

Detection uses py3langid (a naive Bayes model over byte n-grams; its 4.6 MB model ships inside
the wheel, nothing is fetched at run time). On the development files (313 English reports, 65
Arabic and 24 Persian ones) it named every article's language from title + text, in ~0.4 ms an
article (from the first 400 characters); langdetect did as well but several times slower
(bench/language.py measures both).

The answer is an ISO 639-1 code, or ``"und"`` when the text is too short or the model unsure:
the poll cycle treats "und" like English (the path it has always taken), so only articles the
model is sure are Arabic, Persian, … go to the multilingual embedder.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from bot.core.languages import LANGUAGE_NAMES, RIGHT_TO_LEFT, language_name

__all__ = [
    "LANGUAGE_NAMES",
    "RIGHT_TO_LEFT",
    "language_name",
]  # names live in bot/core/languages.py

UNDETERMINED = "und"
# below this many letters a headline alone is often misread (short English titles came out as
# Nigerian Pidgin), so such texts are "und"
MIN_LETTERS = 20
# py3langid's normalised probability below which the answer is "und" (one Arabic report with a
# Persian dateline scored 0.72, every other development article over 0.99)
MIN_CONFIDENCE = 0.5
# enough text to decide, and every article pays for it: on the development files the first 400
# characters named all 402 languages right, as 2000 did, in 40% of the time (0.7 vs 1.8 ms)
MAX_CHARS = 400


_LETTER = re.compile(r"[^\W\d_]")
_lock = threading.Lock()
_identifier: Any = None

# Persian written with Arabic code points (common in Arabic-keyboard copy) and zero-width
# non-joiners that some outlets use and others omit: compare in one spelling.
_PERSIAN_FOLD = str.maketrans(
    {
        "\u064a": "\u06cc",  # Arabic yeh → Persian yeh
        "\u0649": "\u06cc",  # alef maksura → Persian yeh
        "\u0643": "\u06a9",  # Arabic kaf → keheh
        "\u200c": None,  # zero-width non-joiner ("پایگاه‌های" → "پایگاههای")
        "\u0640": None,  # tatweel (kashida)
    }
)


def _model() -> Any:
    global _identifier
    with _lock:
        if _identifier is None:
            from py3langid.langid import MODEL_FILE, LanguageIdentifier

            _identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        return _identifier


def detect_language(title: str, text: str) -> str:
    """ISO 639-1 code of the article's language, or "und" when unsure."""
    sample = f"{title or ''}\n{text or ''}".strip()[:MAX_CHARS]
    if len(_LETTER.findall(sample)) < MIN_LETTERS:
        return UNDETERMINED
    code, probability = _model().classify(sample)
    if float(probability) < MIN_CONFIDENCE or not re.fullmatch(r"[a-z]{2}", str(code)):
        return UNDETERMINED
    return str(code)


def normalise(text: str, language: str) -> str:
    """The spelling an article is embedded and matched in: Persian folds Arabic yeh/kaf into
    Persian ones and drops zero-width non-joiners; other languages are left as they are."""
    if language == "fa":
        return text.translate(_PERSIAN_FOLD)
    return text


def is_right_to_left(language: str) -> bool:
    return language in RIGHT_TO_LEFT
