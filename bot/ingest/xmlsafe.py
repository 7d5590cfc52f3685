"""Byte hygiene before any XML parser sees a feed body. Pure.

* ``inflate``: a mislabelled server can send a body that is still gzip; httpx has already
  undone Content-Encoding, so we gunzip it ourselves, with a hard cap on the output.
* ``to_utf8``: transcode with feedparser's own rules (HTTP charset, BOM, XML declaration,
  windows-1252 fallback) so the scrub below sees exactly the bytes the parser will see,
  whatever the encoding (UTF-16, EBCDIC...). A DTD hidden in UTF-16 is still found.
* ``scrub_prolog``: keep the XML declaration and the document from its root element on; drop
  DOCTYPE (with its internal subset), ENTITY declarations, comments, PIs and junk text.
  feedparser re-inserts the "safe" entity declarations it finds before the root element (its
  regexes even look inside prolog comments), which is how the 100 KB quadratic-blowup sample
  still cost ~300 MB. With the prolog scrubbed, entity references stay literal text.
"""

from __future__ import annotations

import re
import zlib
from typing import Any

import feedparser
from feedparser.encodings import convert_to_utf8

from bot.core.errors import FeedInvalid

MAX_INFLATED_BYTES = 10 * 1024 * 1024
_GZIP_MAGIC = b"\x1f\x8b"

# One prolog token: the XML declaration, another PI, a comment, a declaration, or the root.
_PROLOG_TOKEN = re.compile(rb"\s*(<\?xml\s|<\?|<!--|<!|<[A-Za-z_:\x80-\xff])")
# Inside <!DOCTYPE …>: things that can hide a ">" (literals, comments, PIs) and subset brackets.
_DECL_TOKEN = re.compile(rb"<!--|<\?|[\"'\[\]>]")
_DECL_CLOSERS = {b'"': b'"', b"'": b"'", b"<!--": b"-->", b"<?": b"?>"}


_XML_DECLARATION = re.compile(rb"^\s*<\?xml[^>]*>")


def inflate(content: bytes, limit: int = MAX_INFLATED_BYTES) -> tuple[bytes, bool]:
    """Gunzip ``content`` if it starts with the gzip magic. Returns (body, was_gzip).

    Raises FeedInvalid when it does not inflate or would inflate past ``limit`` bytes
    (a gzip bomb is refused after reading at most ``limit`` + 1 bytes of output).
    """
    if not content.startswith(_GZIP_MAGIC):
        return content, False
    out = bytearray()
    data = content
    try:
        while data.startswith(_GZIP_MAGIC):  # concatenated gzip members are legal
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            out += inflater.decompress(data, limit + 1 - len(out))
            if len(out) > limit or inflater.unconsumed_tail:
                raise FeedInvalid(f"gzip body inflates past {limit} bytes")
            data = inflater.unused_data
    except zlib.error as exc:
        raise FeedInvalid(f"body looks gzip-compressed but does not inflate: {exc}") from exc
    return bytes(out), True


def to_utf8(body: bytes, content_type: str | None) -> tuple[bytes, str | None]:
    """UTF-8 bytes that start with ``<?xml version='1.0' encoding='utf-8'?>``, plus a warning
    when the declared encoding was wrong (e.g. undeclared Latin-1 read as windows-1252)."""
    stripped = body.lstrip(b" \t\r\n")
    if stripped.startswith(b"<?xml"):
        body = stripped  # a newline before <?xml makes expat reject the whole document
    # No Content-Type: say XML, so the XML default (UTF-8) applies rather than HTTP's Latin-1.
    headers = {"content-type": content_type or "application/xml"}
    result: dict[str, Any] = {}
    try:
        data = convert_to_utf8(headers, body, result)
    except (UnicodeError, ValueError, LookupError) as broken:
        # feedparser decodes the declared encoding's name as UTF-8 and the body with it: bytes
        # that are no name, or a NUL, raise. Drop the declaration and read the body without it.
        body = _XML_DECLARATION.sub(b"", body, count=1)
        result = {}
        try:
            data = convert_to_utf8(headers, body, result)
        except (UnicodeError, ValueError, LookupError) as still:
            raise FeedInvalid(f"undecodable feed body: {still}") from still
        return data, f"unreadable XML declaration dropped ({type(broken).__name__})"
    exc = result.get("bozo_exception")
    if exc is None or isinstance(exc, feedparser.NonXMLContentType):
        return data, None  # servers label feeds text/html all the time: not worth a warning
    return data, f"{type(exc).__name__}: {exc}"


def scrub_prolog(data: bytes) -> tuple[bytes, bool]:
    """Keep the XML declaration and everything from the root element on.

    Returns (clean bytes, whether a DOCTYPE or other ``<!…>`` declaration was removed).
    """
    declaration = b""
    dropped = False
    pos = 0
    while True:
        match = _PROLOG_TOKEN.match(data, pos)
        if match is None:  # junk text before the root element: skip to the next "<"
            nxt = data.find(b"<", pos + 1)
            if nxt < 0:
                return declaration, dropped
            pos = nxt
            continue
        token, start = match.group(1), match.start(1)
        if token.startswith(b"<?"):
            end = _find_end(data, b"?>", start + 2)
            if token.startswith(b"<?xml") and not declaration:
                declaration = data[start:end] + b"\n"
        elif token == b"<!--":
            end = _find_end(data, b"-->", start + 4)
        elif token == b"<!":
            end = _declaration_end(data, start)
            dropped = True
        else:
            return declaration + data[start:], dropped
        pos = end


def _find_end(data: bytes, closer: bytes, pos: int) -> int:
    found = data.find(closer, pos)
    return len(data) if found < 0 else found + len(closer)


def _declaration_end(data: bytes, start: int) -> int:
    """Index just past ``<!DOCTYPE … [ … ]>`` (or any ``<!…>``), honouring literals, comments.

    An unterminated declaration runs to the end of the document and is dropped whole: a
    truncated DTD never reaches a parser (fail closed).
    """
    depth = 0
    pos = start + 2
    while True:
        match = _DECL_TOKEN.search(data, pos)
        if match is None:
            return len(data)
        token, pos = match.group(0), match.end()
        if token in _DECL_CLOSERS:  # a literal, comment or PI may contain "]" or ">"
            pos = _find_end(data, _DECL_CLOSERS[token], pos)
        elif token == b"[":
            depth += 1
        elif token == b"]":
            depth = max(0, depth - 1)
        elif depth == 0:  # ">" outside the internal subset
            return pos
