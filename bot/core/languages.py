"""Languages as the product shows them: readable names for ISO 639-1 codes, and which ones are
written right to left (their text is isolated inside left-to-right alerts)."""

from __future__ import annotations

LANGUAGE_NAMES = {
    "en": "English",
    "ar": "Arabic",
    "fa": "Persian",
    "ur": "Urdu",
    "ps": "Pashto",
    "ku": "Kurdish",
    "tr": "Turkish",
    "fr": "French",
    "de": "German",
    "ru": "Russian",
    "he": "Hebrew",
}

RIGHT_TO_LEFT = frozenset({"ar", "fa", "ur", "ps", "he", "ku", "yi", "dv", "sd", "ug"})


def language_name(code: str) -> str:
    """A readable name for a code ("ar" → "Arabic"); unknown codes are shown as they are."""
    return LANGUAGE_NAMES.get(code, code)
