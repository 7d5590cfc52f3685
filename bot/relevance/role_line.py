"""The role line an alert states under its title: "who → what → whom, where", drawn from the
article's own words by bot/relevance/roles.py; and the sentence the summary keeps for it."""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.facets import Facet
from bot.relevance.roles import RELATIONS, Roles, matches, text_roles


def headline_roles(text: str, facets: Sequence[Facet]) -> Roles | None:
    """The relation an alert states: the first news sentence where the attacking side acts on
    the side attacked (or the attacked side strikes back), preferring one with both parties."""
    found = [r for r in text_roles(text, facets) if not r.background]
    ranked = [
        ("actor→target", True),
        ("target→actor", True),
        ("unknown→target", True),
        ("actor→target", False),
        ("unknown→target", False),  # "? → hit → U.S.-led coalition base": the attacker unsaid
    ]
    by_name = {r[0]: r for r in RELATIONS}
    for name, both in ranked:
        for roles in found:
            if matches(roles, by_name[name]) and (not both or (roles.actor and roles.target)):
                return roles
    return None


ROLE_LINE_CHARS = 200


def role_line(title: str, text: str, facets: Sequence[Facet]) -> str:
    """The one line an alert states under its title: "who → what → whom, where", in the
    article's own words; "" when no sentence states the topic's relation."""
    found = headline_roles(f"{title.strip()}\n{text}" if title.strip() else text, facets)
    if found is None:
        return ""
    line = " ".join(found.line().split())
    return line if len(line) <= ROLE_LINE_CHARS else line[: ROLE_LINE_CHARS - 1] + "…"


def role_sentence(text: str, facets: Sequence[Facet]) -> str | None:
    """The sentence of ``text`` that states the alert's relation: the summary keeps it."""
    found = headline_roles(text, facets)
    return found.sentence if found else None
