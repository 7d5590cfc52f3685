"""Right-to-left text (Arabic, Persian…) inside left-to-right messages.

An Arabic title in an English alert line makes the client's bidirectional algorithm run the
neutral characters around it (punctuation, "·", digits, the end of a link) into the Arabic run,
so they show up on the wrong side ("#12 · ؟...الهجوم" becomes "...الهجوم · #12" or worse). The
fix the Unicode standard recommends is an isolate: FIRST STRONG ISOLATE (U+2068) before the
text and POP DIRECTIONAL ISOLATE (U+2069) after it. Inside, the text takes its own direction;
outside, it counts as one neutral character, so nothing around it moves.

Isolates are plain characters: they pass through Telegram's HTML escaping and Slack's mrkdwn
escaping untouched, so the renderers need no change. Bidi controls that arrive inside feed text
are removed first: an unbalanced override (U+202E) could otherwise reverse the rest of the
message, including the links and numbers an analyst acts on.
"""

from __future__ import annotations

import re

FSI = "\u2068"
PDI = "\u2069"
# embeddings, overrides, isolates and their terminators; the LRM/RLM/ALM marks are harmless
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
_STRONG_RTL = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufeff]")


def has_rtl(text: str) -> bool:
    return _STRONG_RTL.search(text) is not None


def isolate(text: str) -> str:
    """Text safe to put in a left-to-right line: without stray bidi controls, and wrapped in an
    isolate when it holds right-to-left letters. Left-to-right text comes back as it was."""
    text = _BIDI_CONTROLS.sub("", text)
    return f"{FSI}{text}{PDI}" if has_rtl(text) else text
