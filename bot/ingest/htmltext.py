"""HTML fragments and messy feed text → plain text with paragraph breaks. Pure.

Paragraphs are separated by exactly one blank line ("\\n\\n") so later stages (embed, match,
summarize) can split passages; whitespace inside a paragraph is collapsed to single spaces.
A stdlib HTMLParser does the work: it never fetches anything, never builds a tree, and copes
with tag soup; <script>, <style> and friends are dropped with their content.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

# Elements whose start or end is a paragraph boundary.
_BLOCK = frozenset(
    {
        "address", "article", "aside", "blockquote", "dd", "div", "dl", "dt", "figcaption",
        "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li",
        "main", "nav", "ol", "p", "pre", "section", "table", "tbody", "td", "th", "thead",
        "tr", "ul", "caption", "details", "summary",
    }
)  # fmt: skip
# Elements whose text is never article text.
_SKIP = frozenset({"script", "style", "noscript", "template", "svg", "math", "iframe", "object"})

_PARAGRAPH_BREAK = re.compile(r"\n[ \t\r\f\v]*\n\s*")
# Controls, zero-width space, BOM, and lone surrogates (JSON "\ud800" escapes): none are text,
# and a surrogate would make every later UTF-8 encode (SQLite, chat APIs) fail.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b\ufeff\ud800-\udfff]")
_TAG = re.compile(r"<[^>]*>?")
_SPACES = re.compile(r"\s+")


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)  # entities decoded for us
        self.parts: list[str] = []
        self._skipping: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self._skipping.append(tag)
        elif tag == "br":
            self.parts.append("\n")
        elif tag in _BLOCK:
            self.parts.append("\n\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _SKIP:  # <script/> has no content to skip
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in self._skipping:
            while self._skipping and self._skipping.pop() != tag:
                pass
        elif tag in _BLOCK:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            # Whitespace in HTML source is not layout: only tags make breaks.
            self.parts.append(_SPACES.sub(" ", data))


def html_to_text(fragment: str) -> str:
    """Visible text of an HTML fragment, entities decoded, paragraphs kept as "\\n\\n"."""
    if not fragment or not fragment.strip():
        return ""
    if "<" not in fragment:
        # No markup at all: feeds often label plain text as HTML; keep its blank lines.
        return normalise_text(html.unescape(fragment))
    collector = _TextCollector()
    try:
        collector.feed(fragment)
        collector.close()
        text = "".join(collector.parts)
    except Exception:  # HTMLParser has had crash bugs on odd markup: fall back to a regex
        text = html.unescape(_TAG.sub(" ", fragment))
    return _join_paragraphs(text)


def normalise_text(text: str) -> str:
    """Plain text with control characters removed, blank-line paragraphs kept, spaces collapsed."""
    if not text:
        return ""
    return _join_paragraphs(text)


def _join_paragraphs(text: str) -> str:
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    paragraphs = (" ".join(p.split()) for p in _PARAGRAPH_BREAK.split(text))
    return "\n\n".join(p for p in paragraphs if p)
