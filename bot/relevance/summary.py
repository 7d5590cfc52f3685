"""Extractive summaries: 2-3 sentences of the article itself, never invented text.

The lead sentence says what happened in most news; the sentences that mention the most of the
topic's facets (actor, target, act, place) carry the who/what/where. Sentences are kept in
article order, captions, bylines and datelines-only lines skipped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.relevance.facets import Facet, best_sentences
from bot.relevance.role_line import role_sentence

MAX_SENTENCES = 3
MAX_CHARS = 480
MIN_WORDS = 7
_CLUTTER = re.compile(
    r"^(posted|updated|published|photo|image|file photo|by |\(ap photo|getty|reuters photo)|"
    r"\((ap|afp|reuters) photo|"
    # photo credits end captions: "… - Thaier al-Sudani/Reuters", "… (Getty Images)"
    r"/\s*(reuters|ap|afp|epa|getty images|anadolu)\W*$|\(getty images\)\W*$",
    re.IGNORECASE,
)


def summarize(text: str, facets: Sequence[Facet], *, title: str = "") -> str:
    candidates = [
        (pos, sentence, hits)
        for pos, sentence, hits in best_sentences(text, facets)
        if len(sentence.split()) >= MIN_WORDS
        and not _CLUTTER.search(sentence)
        and sentence.strip() != title.strip()
    ]
    if not candidates:
        return ""
    # the lead: the first sentence that mentions a facet among the opening ones (a caption or a
    # link to another story often comes first), else the first sentence
    lead = next((c for c in candidates[:4] if c[2] > 0), candidates[0])
    # the sentence that states who did what to whom (the alert's role line) comes next
    stating = role_sentence(text, facets)
    ranked = sorted(
        (c for c in candidates if c is not lead),
        key=lambda c: (c[1] != stating, -c[2], c[0]),
    )
    chosen = [lead]
    length = len(lead[1])
    for candidate in ranked:
        if len(chosen) == MAX_SENTENCES or (facets and candidate[2] == 0 and len(chosen) >= 2):
            break
        if length + len(candidate[1]) + 1 > MAX_CHARS:
            continue
        chosen.append(candidate)
        length += len(candidate[1]) + 1
    summary = " ".join(s for _, s, _ in sorted(chosen))
    return (
        summary if len(summary) <= MAX_CHARS else summary[: MAX_CHARS - 1].rsplit(" ", 1)[0] + "…"
    )
