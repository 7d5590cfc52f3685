"""Story grouping: reports of one event from different outlets (wire copy republished,
follow-ups) form one story, so the first report alerts and later ones thread under it.

Two reports are of one story when their openings say nearly the same thing (cosine of their
gists: the mean vector of the first passages) and they name the same specifics (places, names,
numbers), within a few days of each other. A later report that states facts the earlier ones
did not (a death toll, a claim of responsibility, a confirmation) is an update, not a repeat.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

WINDOW = timedelta(days=3)  # reports of one event appear within days of each other
# gist cosine + ENTITY_WEIGHT × specifics overlap. The settings were chosen on the dev corpus
# (docs/BENCHMARKS.md, "Story grouping"); chosen on half its events and judged on the other
# half (bench/relevance_stories.py: 20 random splits), this form gave pairwise precision 0.957 /
# recall 0.831 (over dated pairs, as in the poll cycle: 1.000 / 0.839), where
# specifics that counted sentence-initial capitals gave 0.953 / 0.755 and the lead-passage
# cosine with Jaccard overlap of the first 800 characters 0.935 / 0.646.
SAME_STORY = 0.80
ENTITY_WEIGHT = 0.3
# Without both dates nothing rules out two similar incidents months apart (rocket attacks on
# one base recur), so undated pairs need stronger evidence; a wrong merge hides an alert under
# another story, which is worse than a second alert.
UNDATED_MARGIN = 0.10
GIST_PASSAGES = 3  # the opening passages (up to ~480 words) say what the report is about
LEAD_CHARS = 2000  # specifics are read from the headline and this much of the opening
# Overlap counts shared specifics against the smaller report's (one outlet's short copy names
# fewer than another's long one), but never against fewer than this: two teasers that both
# name only "Iraq" share everything and say nothing.
MIN_SPECIFICS = 8

_SPECIFIC = re.compile(r"\b[A-Z][a-z]{3,}(?:[- ][A-Z][a-z]+)*|\b\d{2,}\b")
# what precedes the first word of a sentence (or of the text, a line or a quotation)
_SENTENCE_START = re.compile(r"(?:^|[.!?:][\"'”’)]*\s+|\n\s*|[\"“(]\s*)$")
_FACT = re.compile(
    r"\b(\d+|one|two|three|four|five|six|seven|eight|nine|ten|dozens?)\s+"
    r"(?:[\w.'’-]+\s+){0,3}(killed|dead|died|wounded|injured|hurt)\b"
    r"|\bclaimed responsibility\b|\bconfirmed\b|\bidentified\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Report:
    """What grouping needs of an article: its gist, specifics and time."""

    key: int  # article id (or a batch position for articles not saved yet)
    story_id: int | None
    gist: np.ndarray  # mean of the first passages' vectors, L2-normalised (see ``gist``)
    specifics: frozenset[str]
    published: datetime | None
    text: str

    @classmethod
    def unsaved(
        cls, key: int, title: str, text: str, gist: np.ndarray, published: datetime | None
    ) -> Report:
        """A report of an article not saved yet (no story), with its ``gist``: specifics read
        from its title and text."""
        return cls(key, None, gist, specifics(title, text), published, text)


def gist(vectors: np.ndarray) -> np.ndarray:
    """What a report says, as one unit vector: the mean of its first ``GIST_PASSAGES`` passage
    vectors. (The first passage alone missed reports whose outlets open differently.)"""
    opening = np.asarray(vectors[:GIST_PASSAGES], np.float32)
    if len(opening) == 1:
        total = opening[0]
    else:
        total = (opening / np.linalg.norm(opening, axis=1, keepdims=True)).sum(axis=0)
    norm = float(np.sqrt(total @ total))
    return total / norm if norm > 0 else total


_WEEKDAYS = frozenset(
    ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
)


def specifics(title: str, text: str) -> frozenset[str]:
    """Names, places and numbers of the headline and opening: what two reports of one event share.

    A single capitalised word counts only where it is not the first word of a sentence: "Rockets",
    "After", "Since" open sentences in reports of every event, and counting them made unrelated
    reports look alike and one event's reports look different. Numbers and multi-word names
    count wherever they stand. (Weekdays are left out: every report has one.)"""
    opening = f"{title}.\n{text[:LEAD_CHARS]}"
    found = set()
    for match in _SPECIFIC.finditer(opening):
        name = match.group(0)
        if name in _WEEKDAYS:
            continue
        single_word = name[0].isalpha() and " " not in name and "-" not in name
        before = opening[max(0, match.start() - 4) : match.start()]
        if single_word and _SENTENCE_START.search(before):
            continue
        found.add(name)
    return frozenset(found)


def similarity(a: Report, b: Report) -> float | None:
    """How alike two reports are, or None when their dates rule out one event."""
    dated = a.published is not None and b.published is not None
    if dated and abs(a.published - b.published) > WINDOW:  # type: ignore[operator]
        return None
    score = float(a.gist @ b.gist) + ENTITY_WEIGHT * overlap(
        len(a.specifics & b.specifics), len(a.specifics), len(b.specifics)
    )
    return score if dated else score - UNDATED_MARGIN


def overlap(shared: int, size_a: int, size_b: int) -> float:
    """Shared specifics as a share of the smaller report's count (at least ``MIN_SPECIFICS``).
    (``story_links`` computes the same for many candidates at once.)"""
    return shared / max(min(size_a, size_b), MIN_SPECIFICS)


def best_story(report: Report, earlier: Sequence[Report]) -> Report | None:
    """The earlier report this one belongs with, if any is close enough."""
    best, best_score = None, SAME_STORY
    for other in earlier:
        score = similarity(report, other)
        if score is not None and score >= best_score:
            best, best_score = other, score
    return best


def facts(text: str) -> set[str]:
    return {" ".join(m.group(0).lower().split()) for m in _FACT.finditer(text)}


def adds_facts(text: str, earlier_texts: Sequence[str]) -> bool:
    """True when this report states a fact (toll, claim, confirmation) none of the earlier did."""
    known: set[str] = set()
    for other in earlier_texts:
        known |= facts(other)
    return bool(facts(text) - known)


def group(reports: Sequence[Report]) -> list[int]:
    """Story labels for a batch in arrival order (each report joins the best earlier one).

    A report without a date can join a story but cannot bridge two: a dated report joins
    through an undated one only if it is within the window of every dated report of that
    story. (In the poll cycle every article has a date, its own or the time it was fetched;
    undated texts come from corpora such as `threatwatch score --stories` reads.)"""
    labels: list[int] = []
    spans: dict[int, tuple[datetime, datetime]] = {}  # story label → first and last dated report
    for i, report in enumerate(reports):
        earlier = [
            other
            for j, other in enumerate(reports[:i])
            if other.published is not None or _within(report.published, spans.get(labels[j]))
        ]
        match = best_story(report, earlier)
        label = labels[reports.index(match)] if match is not None else i
        labels.append(label)
        if report.published is not None:
            first, last = spans.get(label, (report.published, report.published))
            spans[label] = (min(first, report.published), max(last, report.published))
    return labels


def _within(when: datetime | None, span: tuple[datetime, datetime] | None) -> bool:
    if when is None or span is None:
        return True
    return when - span[0] <= WINDOW and span[1] - when <= WINDOW
