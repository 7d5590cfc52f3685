"""dedupe: identity keys for articles and duplicate removal within one batch. Pure, no SQL.

An article is "the same" when its guid, its canonical URL or its content hash matches. The
content hash catches wire copy (Reuters/AP) republished by several outlets under their own
guids and URLs. Checking against articles already stored is the store's job; this module
only computes the keys and collapses repeats inside one batch.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from bot.core.models import FeedItem

# Separates title from text in the hashed form; it is a symbol, so it cannot survive in either
# normalised part, which keeps ("a b", "c") and ("a", "b c") apart.
_SEPARATOR = " | "
# Dashes and slashes separate words ("Kyiv—Moscow", "and/or"); other punctuation and symbols
# are dropped so "U.S." == "US" and curly vs straight quotes do not matter.
_WORD_SEPARATORS = frozenset("/\\")


@dataclass(frozen=True)
class DedupeKeys:
    guid: str
    url: str | None
    content_hash: str


def normalise_for_hash(title: str, text: str) -> str:
    """Case-folded, NFKC, punctuation-free, whitespace-collapsed title and text.

    Digits are kept on purpose: "12 killed" and "21 killed" are different reports.
    """
    return _normalise(title) + _SEPARATOR + _normalise(text)


def content_hash(title: str, text: str) -> str:
    """Hex SHA-256 of ``normalise_for_hash(title, text)`` (defined for empty input too)."""
    return hashlib.sha256(normalise_for_hash(title, text).encode("utf-8")).hexdigest()


def keys_for(item: FeedItem) -> DedupeKeys:
    hashed = content_hash(item.title, item.text)
    return DedupeKeys(guid=item.guid, url=item.url, content_hash=hashed)


def unique_in_batch(items: Iterable[FeedItem]) -> tuple[list[FeedItem], int]:
    """Items with repeats removed (same guid, URL or content hash; first wins), and how many
    were removed. Items with no title and no text share the empty hash, so that hash is not
    used to match: link-only items are told apart by guid and URL alone."""
    empty = content_hash("", "")
    seen: set[tuple[str, str]] = set()
    unique: list[FeedItem] = []
    removed = 0
    for item in items:
        keys = _key_set(keys_for(item), empty)
        if keys & seen:
            removed += 1
            continue
        seen |= keys
        unique.append(item)
    return unique, removed


def _key_set(keys: DedupeKeys, empty_hash: str) -> set[tuple[str, str]]:
    found = {("guid", keys.guid)}
    if keys.url:
        found.add(("url", keys.url))
    if keys.content_hash != empty_hash:
        found.add(("hash", keys.content_hash))
    return found


def _normalise(value: str) -> str:
    folded = unicodedata.normalize("NFKC", value or "").casefold()
    chars = []
    for char in folded:
        category = unicodedata.category(char)
        if char.isspace() or category == "Pd" or char in _WORD_SEPARATORS:
            chars.append(" ")
        elif category[0] in "PS" or category in ("Cc", "Cf"):
            continue  # punctuation, symbols, controls, zero-width and format characters
        else:
            chars.append(char)
    return " ".join("".join(chars).split())
