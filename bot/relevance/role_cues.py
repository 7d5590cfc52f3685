"""Readings that change what a relation means, beside bot/relevance/roles.py.

- **Background**: a sentence that recalls earlier events ("last month", "since October", "has
  carried out more than 150 attacks") tells the news's history, not the news.
- A **partner** of the attacked side is not the attacked side: "Iran-backed tribal forces
  attacked the US-backed SDF" is a fight between local forces, and a topic about attacks on US
  forces counts it only where its own words say so. A target mention whose words call it backed
  by, or partnered with, the attacked side ("US-backed SDF", "coalition-partnered forces") is
  read as a partner.
- A **host** is where the attacked side is: "rockets landed at Ain al-Asad air base, which hosts
  US troops" attacks the troops the base hosts, as "rockets hit an Iraqi base housing US
  forces" does.
- A **denial** cancels the act it denies: "The United States has not conducted air strikes in
  Iraq today", "the US military denied responsibility". Where the attacked side denies acting,
  the article's reports of its strikes ("the PMF alleged a US strike") are claims it rejected,
  not a response to read as the topic's news.

Pure functions, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

# "US-backed", "U.S.-partnered", "coalition-backed", "backed by the US": a partner force
_PARTNER = re.compile(
    r"(?:\b(?:u\.?s\.?|american|coalition|washington)[\s-]+(?:backed|partnered|allied|supported|"
    r"trained)\b|\b(?:backed|supported) by (?:the )?(?:u\.?s\.?|united states|americans?|"
    r"coalition|washington)\b)",
    re.IGNORECASE,
)

# right after a target mention: "Coalition partnered forces", "…, backed by the US"
_BACKED_BY = re.compile(
    r"[\s-]+(?:backed|partnered|supported)\b|,?\s+(?:(?:which|who|that) (?:is|are) )?"
    r"(?:backed|supported|trained) by (?:the )?(?:u\.?s\.?|united states|americans?|coalition|"
    r"washington)\b",
    re.IGNORECASE,
)

# the attacked side saying it did not act: "denied responsibility", "has not conducted",
# "those reports are not true", "no US strike"
_DENIAL = re.compile(
    r"\b(?:den(?:y|ies|ied|ying)\s+(?:any\s+|all\s+)?(?:responsibility|involvement|"
    r"(?:carrying|conducting)|(?:that\s+)?(?:it|they|the\s+\w+)\s+(?:had\s+)?(?:conducted|"
    r"carried|launched|struck))|"
    r"(?:has|have|had|did)\s+not\s+(?:conducted|carried\s+out|launched|struck|conduct|carry\s+out"
    r"|launch|strike)|reports?\s+(?:are|were|is|was)\s+(?:not\s+true|false|untrue)|"
    r"no\s+(?:u\.?s\.?|american|coalition)\s+(?:air\s*)?strikes?\b)",
    re.IGNORECASE,
)


_BACKGROUND = re.compile(
    r"(?<![\w])(?:last (?:week|month|year|spring|summer|autumn|fall|winter)|earlier this "
    r"(?:week|month|year)|since (?:mid-|late |early )?(?:january|february|march|april|may|june|"
    r"july|august|september|october|november|december|oct\.|nov\.|dec\.|\d{4}|the start|"
    r"the onset|the beginning|the outbreak|then|last)|previously|"
    r"in the past|(?:more than|over|at least|nearly|some) \d+ (?:attacks|times|strikes|rocket)|"
    r"dozens of (?:attacks|strikes)|(?:ha[sd]|have) (?:carried out|launched|claimed|conducted|"
    r"been (?:attacked|targeted|hit)|repeatedly|frequently|long)|series of (?:attacks|strikes)|"
    r"(?<![/\d])\d+ (?:attacks|strikes)|(?:years?|months?) ago|in (?:19|20)\d\d\b|history of|"
    r"campaign of|a wave of|recent (?:weeks|months)|the past (?:week|month|year)|background|"
    r"previous)",
    re.IGNORECASE,
)


def recalls_earlier(sentence: str) -> bool:
    """Whether the sentence recalls earlier events rather than reporting this one."""
    return _BACKGROUND.search(sentence) is not None


# "…, which hosts", "housing", "that is home to": the place hosting the party after it
_HOST = re.compile(
    r",?\s*(?:(?:which|that)\s+)?(?:hosts|houses|housed|hosting|housing|"
    r"(?:is\s+|was\s+)?home\s+to)\s+(?:(?:the|some|about|nearly|\d[\d,]*)\s+)?$",
    re.IGNORECASE,
)


def without_host(span: str) -> str:
    """The words between an act and a party after it, without a closing hosting phrase: in
    "fired at the base, which houses US troops" the act reaches the troops through the base."""
    host = _HOST.search(span)
    return span[: host.start()] if host else span


def read_kind(kind: str, sentence: str, start: int, end: int) -> str:
    """The kind of a slot mention at sentence[start:end]: a target mention that names a partner
    of the attacked side is a ``partner``."""
    return "partner" if kind == "target" and partner_words(sentence, start, end) else kind


def is_partner(words: str) -> bool:
    """Whether a target mention's words name a partner of the attacked side ("US-backed SDF")."""
    return _PARTNER.search(words) is not None


def partner_words(sentence: str, start: int, end: int) -> bool:
    """Whether the target mention at sentence[start:end] names a partner of the attacked side:
    its own words ("the US-backed SDF") or the words right after it ("Coalition partnered
    forces", "the SDF, backed by the US"); a partner named beside the side itself ("US forces
    and US-backed fighters") leaves the side's own mention as it is."""
    return is_partner(sentence[start:end]) or _BACKED_BY.match(sentence, end) is not None


def denies(sentence: str) -> bool:
    """Whether the sentence states that someone did not carry out an act."""
    return _DENIAL.search(sentence) is not None


def side_denies(sentences: Sequence[str], names_the_side: Callable[[str], bool]) -> bool:
    """Whether a sentence that names the attacked side denies an act: "The United States has
    not conducted air strikes in Iraq today", "the US military denied responsibility". Its
    strikes the article reports are then claims it rejected, not a response to read as news."""
    return any(denies(s) and names_the_side(s) for s in sentences)
