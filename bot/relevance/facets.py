"""Facets: named groups of phrases that spell out a topic's definition.

A topic such as "militias attacking US forces" is a conjunction — who (actor), against whom
(target), what (act), where (place). Embeddings see the theme but not the roles: an Iraqi militia
drone hitting Israel, or a Turkish drone near US troops, reads much like the real thing. Facets
let the scorer see whether the roles co-occur in one sentence, which is what the definition asks.

Roles:
- ``core``: must co-occur for the definition to hold (e.g. actor and target);
- ``support``: strengthens a co-occurrence (e.g. the act, the place);
- ``contrast``: marks look-alike reporting (e.g. Israel, Houthis, ISIS) the scorer learns to
  weigh down; a term named as the side being fought ("the coalition against ISIS", "anti-ISIS
  operations") is not counted;
- ``roles``: read only by the role extractor (bot/relevance/roles.py), never a facet feature.

A facet may also name its ``slot`` in the topic's relation (who did what to whom): ``actor``
(the attacking side), ``target`` (the side attacked), ``other`` (third parties), ``state`` (the
host state) or ``place``; see bot/relevance/roles.py.

Terms are plain phrases, matched case-insensitively from the start of a word: ``attack``
matches "attacks" and "attacked" too. ``*`` stands for any word characters; a dot is optional
(``u.s. forces`` finds "US forces");
an apostrophe, hyphen or space in a term also matches its absence (``kata'ib`` finds "Kataib",
"Kata'ib" and "Kata’ib").
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np

from bot.core.errors import ConfigError
from bot.core.facets import ROLES, SLOTS, Facet

LEAD_SENTENCES = 4
MAX_TERMS = 300
# a sentence ends at . ! ? … ؟ before a capital or an Arabic-script letter — but not after "U.S.",
# "Gen." and the like
_ABBREVIATIONS = (
    "U.S.",
    "U.N.",
    "U.K.",
    "Mr.",
    "Mrs.",
    "Dr.",
    "Gen.",
    "Col.",
    "Lt.",
    "Sgt.",
    "Capt.",
    "Maj.",
    "St.",
    "No.",
    "Sen.",
    "Rep.",
    # months before a day ("Oct. 5, shot down…" is no sentence)
    "Jan.",
    "Feb.",
    "Mar.",
    "Apr.",
    "Jun.",
    "Jul.",
    "Aug.",
    "Sep.",
    "Sept.",
    "Oct.",
    "Nov.",
    "Dec.",
)
_SENTENCE_SPLIT = re.compile(
    "".join(f"(?<!{re.escape(a)})" for a in _ABBREVIATIONS)
    + r"(?<=[.!?…؟])\s+(?=[\"'“(A-Z0-9\u0621-\u064a\u067e-\u06cc])|\n+"
)


def parse_facets(data: Mapping[str, object], *, where: str) -> tuple[Facet, ...]:
    """Facets from a topic's ``[topic.facets]`` table: ``name = {role = "core", terms = [...]}``."""
    facets = []
    for name, spec in data.items():
        if not isinstance(spec, Mapping):
            raise ConfigError(f"{where}: facet {name!r} must be a table with role and terms")
        role = str(spec.get("role", "support"))
        terms = spec.get("terms", [])
        if role not in ROLES:
            raise ConfigError(f"{where}: facet {name!r}: role must be one of {', '.join(ROLES)}")
        if (
            not isinstance(terms, list)
            or not terms
            or not all(isinstance(t, str) and t.strip() for t in terms)
        ):
            raise ConfigError(f"{where}: facet {name!r}: terms must be a non-empty list of phrases")
        if len(terms) > MAX_TERMS:
            raise ConfigError(f"{where}: facet {name!r}: at most {MAX_TERMS} terms")
        slot = spec.get("slot")
        if slot is not None and slot not in SLOTS:
            raise ConfigError(f"{where}: facet {name!r}: slot must be one of {', '.join(SLOTS)}")
        facets.append(Facet(str(name), role, tuple(t.strip() for t in terms), slot))
    return tuple(facets)


def _featured(facets: Sequence[Facet]) -> list[Facet]:
    return [f for f in facets if f.role != "roles"]


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_SPLIT.split(text) if s and s.strip()]


# a contrast term named as the side being fought ("the coalition against ISIS", "anti-ISIS
# operations", "counter-Daesh missions", "remnants of the Islamic State") says what the topic's
# own parties do there, not that the look-alike's actor is in the news; "drone attacks against
# Israel" still counts
_FOUGHT = re.compile(
    r"(?:\b(?:anti|counter)[-\s]?|\b(?:(?:coalition|campaign|war|fight|operations?|missions?|"
    r"efforts?)\s+against|fight\w*|defeat\w*|battl\w*|combat\w*|remnants of|resurgence of|"
    r"liberated from|retreating)\s+(?:the\s+)?(?:\w+\s+)?)$",
    re.IGNORECASE,
)


def facet_hits(sentences: Sequence[str], facets: Sequence[Facet]) -> np.ndarray:
    """(len(sentences), len(facets)) booleans: which facet each sentence mentions. A contrast
    facet's term counts only where it is not named as the side being fought."""
    hits = np.zeros((len(sentences), len(facets)), dtype=bool)
    for j, facet in enumerate(facets):
        for i, sentence in enumerate(sentences):
            if facet.role == "contrast":
                hits[i, j] = any(
                    not _FOUGHT.search(sentence[max(0, m.start() - 30) : m.start()])
                    for m in facet.pattern.finditer(sentence)
                )
            else:
                hits[i, j] = facet.pattern.search(sentence) is not None
    return hits


def feature_names(facets: Sequence[Facet]) -> list[str]:
    facets = _featured(facets)
    names = [f"facet:{f.name}" for f in facets] + [f"lead:{f.name}" for f in facets]
    if any(f.role == "core" for f in facets):
        names += ["core-together", "core-together+support", "core-together-in-lead"]
    return names


def facet_features(text: str, facets: Sequence[Facet]) -> np.ndarray:
    """Numeric features of one document: per facet, how many sentences mention it (log) and
    whether the lead does; and how often all core facets meet in one sentence."""
    facets = _featured(facets)
    if not facets:
        return np.zeros(0, np.float32)
    sentences = split_sentences(text) or [text]
    hits = facet_hits(sentences, facets)
    lead = hits[:LEAD_SENTENCES]
    features = list(np.log1p(hits.sum(axis=0))) + list(lead.any(axis=0).astype(float))
    core = [j for j, f in enumerate(facets) if f.role == "core"]
    if core:
        support = [j for j, f in enumerate(facets) if f.role == "support"]
        together = np.asarray(hits[:, core].all(axis=1), dtype=bool)
        with_support = together & (hits[:, support].any(axis=1) if support else True)
        features += [
            np.log1p(together.sum()),
            np.log1p(with_support.sum()),
            float(together[:LEAD_SENTENCES].any()),
        ]
    return np.asarray(features, np.float32)


def best_sentences(text: str, facets: Sequence[Facet]) -> list[tuple[int, str, int]]:
    """(position, sentence, facets mentioned) for every sentence: the summary picks from these."""
    sentences = split_sentences(text)
    if not facets:
        return [(i, s, 0) for i, s in enumerate(sentences)]
    hits = facet_hits(sentences, [f for f in facets if f.role not in ("contrast", "roles")])
    return [(i, s, int(hits[i].sum())) for i, s in enumerate(sentences)]
