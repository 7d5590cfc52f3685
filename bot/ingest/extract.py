"""extract: full article text for items whose feed carries only a teaser. Pure.

The fetch stage downloads the article page; this module only decides *whether* that is worth
doing (``needs_full_text``), turns the page bytes into main text offline with trafilatura
(``extract_main_text``; it is given a string, so it never fetches), and keeps whichever of
teaser and page text is longer (``merge_full_text``). A bad page returns None: it never
breaks a cycle.
"""

from __future__ import annotations

import codecs
import dataclasses
import re

from bot.core.models import FeedItem
from bot.ingest.htmltext import normalise_text

MIN_EXTRACTED_WORDS = 40  # below this the "article" is a cookie wall, a login page or a stub
_MAX_HTML_BYTES = 8 * 1024 * 1024  # bigger pages are not news articles, and cost seconds
_SNIFF_BYTES = 4096  # the HTML spec looks for <meta charset> in the first 1024; be generous

# A word is a run of letters/digits; each CJK ideograph or kana counts as one word, since those
# scripts do not put spaces between words and a teaser in Chinese would otherwise look empty.
_WORD = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[^\W_]+")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.I)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def word_count(text: str) -> int:
    """Number of words in ``text`` (see ``_WORD``)."""
    return len(_WORD.findall(text or ""))


def needs_full_text(item: FeedItem, min_words: int = 150) -> bool:
    """True when the item's text is a teaser (< ``min_words``) and it links to a web page."""
    url = (item.url or "").lower()
    return url.startswith(("http://", "https://")) and word_count(item.text) < min_words


def extract_main_text(
    html: bytes,
    *,
    url: str,
    charset: str | None = None,
    min_words: int = MIN_EXTRACTED_WORDS,
) -> str | None:
    """Main text of an article page, paragraphs separated by blank lines, or None.

    ``charset`` is the one from the HTTP Content-Type, if any; otherwise a BOM or
    ``<meta charset>`` decides, else UTF-8 (undecodable bytes replaced). Navigation, comments
    and tables are left out. None when the page yields fewer than ``min_words`` words.
    """
    if not html or not html.strip() or len(html) > _MAX_HTML_BYTES:
        return None
    document = _decode(html, charset)
    import trafilatura  # ~0.1 s to import: paid by the first full text, not by every start

    try:
        extracted = trafilatura.extract(
            document,
            url=url,
            include_comments=False,
            include_tables=False,
            include_images=False,
            include_links=False,
            with_metadata=False,
            deduplicate=False,
        )
    except MemoryError:
        raise
    except Exception:
        # trafilatura and lxml fail in many ways on broken markup (ValueError, lxml errors,
        # AttributeError deep inside); one bad page must not break a cycle: keep the teaser.
        return None
    if not extracted:
        return None
    # trafilatura writes one paragraph per line; our convention is a blank line between them.
    text = normalise_text("\n\n".join(extracted.splitlines()))
    return text if word_count(text) >= min_words else None


def merge_full_text(item: FeedItem, extracted: str | None) -> FeedItem:
    """The item with the page text when it is longer than the teaser; otherwise unchanged."""
    if not extracted or word_count(extracted) <= word_count(item.text):
        return item
    return dataclasses.replace(item, text=extracted)


def _decode(html: bytes, charset: str | None) -> str:
    for bom, encoding in _BOMS:
        if html.startswith(bom):
            return html[len(bom) :].decode(encoding, errors="replace")
    match = _META_CHARSET.search(html[:_SNIFF_BYTES])
    for candidate in (charset, match.group(1).decode("ascii") if match else None):
        known = _known_encoding(candidate)
        if known:
            return html.decode(known, errors="replace")
    return html.decode("utf-8", errors="replace")


def _known_encoding(label: str | None) -> str | None:
    if not label:
        return None
    try:
        name = codecs.lookup(label.strip()).name
    except LookupError:
        return None
    # An ASCII page declaring UTF-16 is lying (the declaration itself was readable as ASCII);
    # "iso-8859-1" on the web means windows-1252 (WHATWG), which also maps 0x80-0x9f sensibly.
    if name.startswith("utf-16") or name.startswith("utf-32"):
        return "utf-8"
    return "cp1252" if name in ("latin-1", "iso8859-1", "ascii") else name
