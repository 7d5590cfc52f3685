"""extract: teaser detection, offline main-text extraction, merge."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.models import FeedItem
from bot.ingest.extract import (
    extract_main_text,
    merge_full_text,
    needs_full_text,
    word_count,
)

URL = "https://news.example.org/2026/02/17/drones-hit-fuel-depot"

PARAGRAPHS = [
    "Drones struck a fuel depot near the border early on Tuesday, the regional governor said, "
    "setting off a fire that burned for several hours before emergency crews contained it.",
    "Officials counted 14 injured people, three of them seriously, and said two storage tanks "
    "were destroyed. Residents of nearby villages were told to keep their windows closed.",
    "The defence ministry said air defences shot down 27 drones overnight over four regions, "
    "but did not say how many had reached their targets or what else had been hit.",
    "It was the third attack on energy infrastructure in the region this month. Analysts said "
    "the strikes were meant to disrupt fuel supplies to units stationed along the front line.",
]
NAV = "Home World Politics Business Sport Weather Subscribe Sign in"
FOOTER = "Copyright 2026 Example News Group. All rights reserved. Privacy policy. Contact us."


def article_page(charset: str = "utf-8", paragraphs: list[str] = PARAGRAPHS) -> bytes:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    links = "".join(f'<li><a href="/{w.lower()}">{w}</a></li>' for w in NAV.split())
    page = (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="{charset}">'
        "<title>Drones hit fuel depot | Example News</title>"
        "<script>window.analytics = {track: function(){}};</script><style>p{margin:0}</style>"
        f"</head><body><header><nav><ul>{links}</ul></nav></header>"
        '<main><article><h1>Drones hit fuel depot near border</h1><p class="byline">By A. Writer'
        f"</p>{body}</article>"
        '<aside class="related"><h2>Most read</h2><ul><li><a href="/x">Celebrity chef opens '
        "new restaurant</a></li></ul></aside></main>"
        f'<footer><p>{FOOTER}</p></footer><div id="comments"><p>Great article!!!</p></div>'
        "</body></html>"
    )
    return page.encode(charset)


def item(text: str, url: str | None = URL) -> FeedItem:
    return FeedItem(
        guid="g1",
        url=url,
        title="Drones hit fuel depot",
        text=text,
        published=datetime(2026, 2, 17, tzinfo=UTC),
    )


# --- word_count / needs_full_text -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("", 0),
        ("one two  three\n\nfour", 4),
        ("U.S. strikes: 14 killed, 3 hurt.", 7),
        ("Kyiv's mayor — Vitali Klitschko", 5),
        ("外交部发言人", 6),  # each ideograph counts: no spaces between words
    ],
)
def test_word_count(text: str, count: int) -> None:
    assert word_count(text) == count


def test_needs_full_text_thresholds() -> None:
    assert needs_full_text(item("word " * 149))
    assert not needs_full_text(item("word " * 150))
    assert needs_full_text(item("short teaser"), min_words=3)
    assert not needs_full_text(item("three word teaser"), min_words=3)
    assert not needs_full_text(item("short", url=None))
    assert not needs_full_text(item("short", url="mailto:desk@example.org"))
    assert needs_full_text(item("short", url="HTTP://EXAMPLE.ORG/a"))


# --- extract_main_text ----------------------------------------------------------------------------


def test_extracts_article_paragraphs_not_chrome() -> None:
    text = extract_main_text(article_page(), url=URL)
    assert text is not None
    for paragraph in PARAGRAPHS:
        assert paragraph in text
    assert text.count("\n\n") >= len(PARAGRAPHS) - 1  # paragraph breaks kept
    for noise in (
        "Subscribe",
        "All rights reserved",
        "Celebrity chef",
        "Great article",
        "analytics",
    ):
        assert noise not in text


def test_meta_charset_is_honoured() -> None:
    cyrillic = [
        "Беспилотники атаковали нефтебазу у границы во вторник рано утром, сообщил губернатор "
        "области, пожар тушили несколько часов, пострадали четырнадцать человек. " * 2
    ] * 3
    page = article_page("windows-1251", cyrillic)
    text = extract_main_text(page, url=URL)
    assert text is not None and "Беспилотники атаковали нефтебазу" in text


def test_http_charset_wins_over_missing_meta() -> None:
    page = article_page("utf-8").replace(b'<meta charset="utf-8">', b"")
    latin = page.decode("utf-8").replace("governor", "gouverneur à").encode("latin-1")
    text = extract_main_text(latin, url=URL, charset="iso-8859-1")
    assert text is not None and "gouverneur à" in text


def test_undecodable_bytes_are_replaced_not_fatal() -> None:
    page = article_page().replace(b"Drones struck", b"Drones \xff\xfe struck")
    text = extract_main_text(page, url=URL)
    assert text is not None and "\ufffd" in text


@pytest.mark.parametrize(
    "page",
    [
        b"",
        b"   ",
        b"\x00\x01\x02\xff garbage <<<>>> &&&",
        b"<html><body><nav>Home | World</nav><p>Subscribe to read.</p></body></html>",
        b"<html><body>" + b"<div>" * 5000 + b"deep" + b"</div>" * 5000 + b"</body></html>",
        b"<?xml version='1.0'?><rss><channel><title>not html</title></channel></rss>",
        b'{"json": true}',
    ],
)
def test_garbage_or_stub_pages_give_none(page: bytes) -> None:
    assert extract_main_text(page, url=URL) is None


def test_short_extraction_is_rejected() -> None:
    page = article_page(paragraphs=["Only a short note about the drone strike on the depot."])
    assert extract_main_text(page, url=URL) is None


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=600))
def test_never_raises(page: bytes) -> None:
    result = extract_main_text(page, url=URL)
    assert result is None or isinstance(result, str)


# --- merge_full_text ------------------------------------------------------------------------------


def test_merge_keeps_teaser_when_extraction_failed_or_is_shorter() -> None:
    teaser = item("Drones struck a fuel depot near the border, officials said.")
    assert merge_full_text(teaser, None) is teaser
    assert merge_full_text(teaser, "") is teaser
    assert merge_full_text(teaser, "Drones struck.") is teaser


def test_merge_takes_longer_page_text() -> None:
    teaser = item("Drones struck a fuel depot.")
    full = "\n\n".join(PARAGRAPHS)
    merged = merge_full_text(teaser, full)
    assert merged.text == full
    assert (merged.guid, merged.url, merged.title, merged.published) == (
        teaser.guid,
        teaser.url,
        teaser.title,
        teaser.published,
    )
    assert teaser.text == "Drones struck a fuel depot."  # frozen input untouched
