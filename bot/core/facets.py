"""A topic's facets as data: named phrase groups with a role, and the pattern that finds them.

What facets mean for scoring, and how a topic's config declares them, is bot/relevance/facets.py;
this module is the plain value the models, the store and the scorer all carry.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

from bot.core.arabic_terms import ARABIC_SCRIPT_CLASS, arabic_term_regex, is_arabic_script

ROLES = ("core", "support", "contrast", "roles")
# a facet's place in the topic's relation, who did what to whom (bot/relevance/roles.py)
SLOTS = ("actor", "target", "other", "state", "place")


@dataclass(frozen=True)
class Facet:
    name: str
    role: str
    terms: tuple[str, ...]
    slot: str | None = None

    @cached_property
    def pattern(self) -> re.Pattern[str]:
        parts = [_term_regex(t) for t in self.terms]
        # the lookahead on the characters a term can start with lets the matcher pass over most
        # positions at once instead of trying every term there: half the time of reading a text
        # (the same matches: tests/unit/core/test_facet_pattern.py)
        ahead = f"(?=[{starts}])" if (starts := _first_characters(self.terms)) else ""
        return re.compile(ahead + r"(?<![\w])(?:" + "|".join(parts) + r")", re.IGNORECASE)


def _first_characters(terms: Sequence[str]) -> str | None:
    """A character class (inside brackets, matched case-insensitively as the terms are) of every
    character a match of one of ``terms`` can begin with; None where one can begin with any."""
    out: set[str] = set()
    for term in terms:
        first = term.strip()[:1]
        if not first.isalnum():  # "*", an apostrophe, a hyphen or a space may match nothing
            return None
        out.add(re.escape(first))
        if is_arabic_script(term):  # attached clitics and spelling variants: the same script
            out.add(ARABIC_SCRIPT_CLASS)
    return "".join(sorted(out))


def _term_regex(term: str) -> str:
    # apostrophes and hyphens vary between outlets: Kata'ib / Kata’ib / Kataib, Iran-backed / Iran backed
    if is_arabic_script(term):  # attached prefixes, hamza/yeh/kaf variants, zero-width joiners
        return arabic_term_regex(term.strip())
    out = []
    for ch in term.strip():
        if ch == "*":
            out.append(r"\w*")
        elif ch in "'’":
            out.append(r"['’]?")
        elif ch in "- ":
            out.append(r"[\s-]?")
        elif ch == ".":  # "u.s." finds "US" and "U.S."
            out.append(r"\.?")
        else:
            out.append(re.escape(ch))
    return "".join(out)


def facets_to_json(facets: Sequence[Facet]) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for f in facets:
        entry: dict[str, object] = {"name": f.name, "role": f.role, "terms": list(f.terms)}
        if f.slot:
            entry["slot"] = f.slot
        out.append(entry)
    return out


def facets_from_json(data: Sequence[Mapping[str, object]]) -> tuple[Facet, ...]:
    return tuple(
        Facet(str(d["name"]), str(d["role"]), tuple(d["terms"]), d.get("slot"))  # type: ignore[arg-type]
        for d in data
    )
