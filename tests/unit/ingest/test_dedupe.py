"""dedupe: content hashing and in-batch duplicate removal."""

from __future__ import annotations

import dataclasses
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.models import FeedItem
from bot.ingest.dedupe import (
    DedupeKeys,
    content_hash,
    keys_for,
    normalise_for_hash,
    unique_in_batch,
)

# Letters (ASCII and accented Latin), digits, punctuation, spaces: case mapping is stable here
# (unlike e.g. Turkish dotless i, whose upper-case folds to a different letter).
_ALPHABET = st.sampled_from(
    list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZéüçñ0123456789 .,;:!?'\"-—()")
)
_text = st.text(alphabet=_ALPHABET, max_size=80)


def _respace(text: str, spaces: list[str]) -> str:
    words = text.split()
    out = []
    for i, word in enumerate(words):
        out.append(word)
        out.append(spaces[i % len(spaces)] if spaces else " ")
    return "".join(out)


@given(
    _text, _text, st.lists(st.sampled_from([" ", "  ", "\n", "\t", "\n\n", "\u00a0"]), max_size=5)
)
def test_hash_stable_under_whitespace_and_case(title: str, text: str, spaces: list[str]) -> None:
    variant_title = "  " + _respace(title.upper(), spaces) + "\n"
    variant_text = _respace(text.swapcase(), spaces)
    assert content_hash(variant_title, variant_text) == content_hash(title, text)


@given(_text, st.integers(0, 10_000), st.integers(0, 10_000))
def test_hash_differs_when_digits_differ(text: str, a: int, b: int) -> None:
    if a == b:
        return
    assert content_hash("Strike", f"{text} {a} killed") != content_hash(
        "Strike", f"{text} {b} killed"
    )


def test_punctuation_and_quotes_do_not_matter() -> None:
    assert content_hash("U.S. strikes “targets”", "Kyiv—Moscow talks.") == content_hash(
        'US strikes "targets"', "Kyiv - Moscow talks"
    )


def test_title_and_text_boundary_matters() -> None:
    assert content_hash("a b", "c") != content_hash("a", "b c")


def test_normalised_form() -> None:
    assert normalise_for_hash("  Hello,   WORLD! ", "12 killed; 3 hurt.\n\nMore") == (
        "hello world | 12 killed 3 hurt more"
    )


def test_empty_still_hashes() -> None:
    assert re.fullmatch(r"[0-9a-f]{64}", content_hash("", ""))


def _item(guid: str, url: str | None, title: str, text: str = "") -> FeedItem:
    return FeedItem(guid=guid, url=url, title=title, text=text, published=None)


def test_keys_for() -> None:
    item = _item("g", "https://e.example/a", "Title", "Body")
    keys = keys_for(item)
    assert keys == DedupeKeys("g", "https://e.example/a", content_hash("Title", "Body"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        keys.guid = "x"  # type: ignore[misc]


def test_unique_in_batch_first_wins() -> None:
    items = [
        _item("g1", "https://e.example/1", "One", "first body"),
        _item("g1", "https://e.example/other", "Other", "other body"),  # same guid
        _item("g2", "https://e.example/1", "Two", "second body"),  # same url
        _item("g3", "https://wire.example/3", "ONE", "First   body."),  # same content
        _item("g4", "https://e.example/4", "Four", "fourth body"),
    ]
    unique, removed = unique_in_batch(items)
    assert [i.guid for i in unique] == ["g1", "g4"]
    assert removed == 3
    assert unique[0] is items[0]


def test_link_only_items_are_not_merged_by_their_empty_hash() -> None:
    items = [_item(f"g{i}", f"https://e.example/{i}", "") for i in range(3)]
    unique, removed = unique_in_batch(items)
    assert len(unique) == 3 and removed == 0


@given(st.lists(st.tuples(st.sampled_from("abc"), st.sampled_from("xyz"), _text), max_size=12))
def test_unique_in_batch_properties(specs: list[tuple[str, str, str]]) -> None:
    items = [_item(g, f"https://e.example/{u}", t) for g, u, t in specs]
    unique, removed = unique_in_batch(items)
    assert len(unique) + removed == len(items)
    assert len({i.guid for i in unique}) == len(unique)
    assert len({i.url for i in unique}) == len(unique)
    assert unique_in_batch(unique) == (unique, 0)
