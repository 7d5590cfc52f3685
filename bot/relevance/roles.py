"""Roles: who did what to whom, where, and whether the sentence is today's news.

Facets see that a topic's words meet in one sentence; a relation needs their order. "Iran-backed
militias attacked US forces" and "US forces struck Iran-backed militias" share every word. This
module reads each sentence as a news sentence is usually written:

- active voice: the actor before the act, the target after it ("militants fired rockets at
  the base"); passive voice and "by"-agents: the target before, the actor after "by" ("the base
  was hit by rockets fired by Kataib Hezbollah"); nominal acts: "X's attack on Y", "an attack
  on Y claimed by X", "Y came under attack";
- attachment: with no actor of the other side named, a party after the act is its target only
  when the act's object words reach it ("rockets struck near US troops"), not across a comma, a
  quotation or a new clause ("these strikes prove that the US military…");
- background: a sentence that recalls earlier events ("last month", "since October", "has
  carried out more than 150 attacks") is marked as such, so the news is told from its history;
- partners and denials (bot/relevance/role_cues.py): "the US-backed SDF" is a partner of the
  attacked side, not that side; a strike the attacked side denies is no response.

Which words name which side comes from the topic's facets, by their ``slot``: ``actor`` (the
attacking side), ``target`` (the side attacked), ``other`` (third parties: Israel, Turkey, ISIS),
``state`` (the host state) and ``place``. Acts are plain English news verbs and nouns, the same
for every topic. Pure functions, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bot.core.facets import Facet
from bot.relevance.facets import LEAD_SENTENCES, split_sentences
from bot.relevance.role_cues import read_kind, recalls_earlier, side_denies, without_host

# act kind → phrases (matched from the start of a word, like facet terms)
_ACTS: dict[str, str] = {
    "attack": r"retaliatory (?:air |drone )?(?:strik\w*|attack\w*|raids?)|attack\w*|assault\w*"
    r"|(?:military |security )?operations against|escalation against|fired|fires?\b|firing"
    r"|launch\w*|shell\w*|bomb\w*|rocket\w*|mortar\w*|ied\b|ieds\b|explosi\w*|blast\w*|detonat\w*"
    r"|ambush\w*|raid\w*|hit\b|hits\b|targeted|targeting|struck|strik\w*|airstrike\w*"
    r"|air strike\w*|drone strike\w*|shot down|shoot\w* down|downed|killed|killing|kills?\b",
    "threat": r"threat\w*|warn\w*|vow\w*|will regret|retaliat\w*|revenge|avenge\w*|ultimatum",
    "politics": r"vote[sd]?\b|voting|parliament\w*|resolution|legislat\w*|agreement|agreed|deal\b"
    r"|negotiat\w*|talks\b|timetable|withdraw\w*|pull\w* out|end\w* the (?:us |u\.s\. )?(?:combat )?"
    r"(?:mission|presence)|sanction\w*",
}
_ACT = re.compile(
    r"(?<![\w])(?:(?:drone|rocket|missile|mortar|air|suicide)[\s-])?(?:"
    + "|".join(f"(?P<{kind}>{pattern})" for kind, pattern in _ACTS.items())
    + ")",
    re.IGNORECASE,
)
HOSTILE = ("attack", "threat")
# an attacker the text does not name
_UNKNOWN = re.compile(
    r"(?<![\w])(?:unidentified|unknown|unclaimed|an enemy|enemy|suspected|unmanned|gunmen|"
    r"militants|assailants|attackers)\b[\w\s-]{0,20}?",
    re.IGNORECASE,
)
_VAGUE = ("unidentified", "unknown", "unclaimed", "suspected", "unmanned")
_PASSIVE = re.compile(
    r"\b(?:was|were|been|being|is|are|be|got|get|gets|came under|come under|comes under|"
    r"coming under|under)\s+(?:\w+ly\s+)?(?:(?:a|an|the)\s+)?(?:\w+\s+)?$",
    re.IGNORECASE,
)
_BY = re.compile(
    r"^[^.;]{0,80}?\b(?:by|blamed on|claimed by|carried out by|attributed to|from|"
    r"target (?:for|of))\s",
    re.IGNORECASE,
)
# "US service members were injured Monday in a rocket attack": the target suffered the act
_SUFFERED = re.compile(
    r"^[^.;]{0,60}\b(?:was|were|been|are|is)\s+(?:\w+\s+)?(?:injured|wounded|killed|hurt|hit|"
    r"targeted|struck|attacked|shelled)\b[^.;]{0,40}\b(?:in|by|during)\s",
    re.IGNORECASE,
)
_SPEECH = re.compile(
    r"\b(?:says?|said|saying|confirm\w*|report\w*|announc\w*|den(?:y|ies|ied)|told|tells)\b",
    re.IGNORECASE,
)
_CLAIM = re.compile(
    r"\b(?:claimed|claims?|took|takes)\b[^.;]{0,30}\b(?:responsibility|credit)\b", re.IGNORECASE
)
_CLAUSE_END = re.compile(r"[;:]|,\s(?:while|but|and|as|after|which|who)\b|\s(?:but|while)\s")
# between an act and its target: the act's own object words ("fired rockets at"), not a new
# clause or a quotation ("air strikes in Iraq today,” the US military's Central Command said")
_DETACHED = re.compile(r"[,“”\"()]|\bthat\b|\b(?:is|are|was|were|has|have|had)\b")
_OBJECT_WORDS = 6
_AIMED, _AT = re.compile(r"fired|launched", re.I), re.compile(r"\s+(?:at|towards?|into)\s", re.I)


@dataclass(frozen=True)
class Mention:
    kind: str  # slot: actor, target, other, state, place; or "unknown" (an unnamed attacker)
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Roles:
    """One act of one sentence, with its parties in the article's own words."""

    position: int  # the sentence's index in the text
    sentence: str
    act: str  # the act's words ("drone attack", "struck")
    act_kind: str  # attack, threat, politics
    actor: Mention | None
    target: Mention | None
    place: str | None
    background: bool  # the sentence recalls earlier events rather than reporting this one

    def line(self) -> str:
        """ "who → what → whom, where", each part in the article's words; "?" where unsaid."""
        who = self.actor.text if self.actor else "?"
        act = self.act
        if self.actor and self.actor.kind == "unknown" and who.lower() in _VAGUE:
            who, act = "?", f"{who} {act}"  # "suspected rocket attack": the act, no attacker
        whom = self.target.text if self.target else "?"
        where = f", {self.place}" if self.place and self.place.lower() not in whom.lower() else ""
        return f"{who} → {act} → {whom}{where}"


def slots_of(facets: Sequence[Facet]) -> dict[str, list[Facet]]:
    out: dict[str, list[Facet]] = {}
    for facet in facets:
        if facet.slot:
            out.setdefault(facet.slot, []).append(facet)
    return out


def mentions(sentence: str, slots: dict[str, list[Facet]]) -> list[Mention]:
    """Every slot phrase in the sentence, longest first where two overlap."""
    found: list[Mention] = []
    for kind, facets in slots.items():
        for facet in facets:
            for m in facet.pattern.finditer(sentence):
                if _cut_short(sentence, m):
                    continue
                end = _word_end(sentence, m.end(), extend=kind != "place")
                # a place's words are shown whole ("Iraqi air base") but it claims only its
                # own word, so "Iraqi soldiers" stays a party
                shown = _place_end(sentence, end) if kind == "place" else end
                read = read_kind(kind, sentence, m.start(), end)  # "US-backed SDF": a partner
                found.append(Mention(read, m.start(), end, sentence[m.start() : shown]))
    found += [
        Mention("unknown", u.start(), u.end(), u.group(0).strip())
        for u in _UNKNOWN.finditer(sentence)
    ]
    found.sort(key=lambda x: (x.start, -(x.end - x.start)))
    kept: list[Mention] = []
    for mention in found:
        if kept and mention.start < kept[-1].end:
            continue
        kept.append(mention)
    return kept


_PLACE_TAIL = re.compile(
    r"\s+(?:air ?base|base|province|governorate|border|airport|(?P<name>[A-Z][\w’'-]*))"
)


def _place_end(text: str, i: int) -> int:
    """A place's words: "Iraqi air base", "Euphrates River", never "Iraqi Shiite militia"."""
    headline = _title_case(text)
    for _ in range(3):
        m = _PLACE_TAIL.match(text, i)
        if not m or (m.group("name") and (headline or _ACT.fullmatch(m.group("name")))):
            break
        if m.group("name") and text[m.end() : m.end() + 1] == " " and _HEAD.match(text, m.end()):
            break  # "Iraqi Shiite militia": a party's name, not the place's
        i = m.end()
    return i


def _title_case(text: str) -> bool:
    words = re.findall(r"[A-Za-z][\w'’-]*", text)
    long_words = [w for w in words if len(w) > 3]
    return len(long_words) >= 3 and sum(w[0].isupper() for w in long_words) > 0.7 * len(long_words)


def _cut_short(text: str, m: re.Match[str]) -> bool:
    """A match of three letters or fewer inside a longer word ("us" in "using") is no name."""
    letters = sum(ch.isalnum() for ch in m.group(0))
    return letters <= 3 and m.end() < len(text) and text[m.end()].isalnum()


def _word_end(text: str, i: int, *, extend: bool) -> int:
    while i < len(text) and (text[i].isalnum() or text[i] in "-'’"):
        i += 1
    # a place stays a place: "Iraqi soldiers" is a party, named by the longer match
    return _phrase_end(text, i) if extend else i


_HEAD = re.compile(
    r"\s+(?:militia\w*|coalition|forces?|troops?|groups?|fighters?|factions?|bases?|air ?base|personnel|"
    r"soldiers?|servicemembers?|service members?|embassy|consulate|convoys?|positions?|sites?|"
    r"facilit\w+|compound|headquarters|camp|airport|garrison|officials?|commanders?|leaders?|"
    r"movement|brigades?|militants?|paramilitar\w*|members|gunmen|(?:in|of)(?= [A-Z])|"
    r"(?P<name>[A-Z][\w’'-]*))",
)


def _phrase_end(text: str, i: int) -> int:
    """Extend a matched phrase over the words that finish it: "Iran-backed" → "Iran-backed
    militias", "Islamic Resistance" → "Islamic Resistance in Iraq"; never over an act, and
    not over capitalised words in a headline, where every word is capitalised."""
    headline = _title_case(text)
    for _ in range(4):
        m = _HEAD.match(text, i)
        if not m or _ACT.fullmatch(m.group(0).strip()) or (headline and m.group("name")):
            break
        i = m.end()
    while text[i - 1 : i] in (" ", "-"):
        i -= 1
    dangling = re.search(r"\s(?:in|of)$", text[:i])  # "… in" whose place is a mention of its own
    return dangling.start() if dangling else i


def sentence_roles(position: int, sentence: str, slots: dict[str, list[Facet]]) -> list[Roles]:
    """The acts of one sentence, each with its actor, target and place."""
    found = mentions(sentence, slots)
    parties = [m for m in found if m.kind != "place"]
    places = [m.text for m in found if m.kind == "place"]
    background = recalls_earlier(sentence)
    out = []
    for act in _ACT.finditer(sentence):
        kind = next(k for k in _ACTS if act.group(k))
        actor, target = _parties(sentence, act, parties)
        if kind == "threat" and target is None and actor and actor.kind == "target":
            # "the US will regret…", "occupation forces will face revenge": the threatened
            # side stands first; the speaker is the attacking side named in the sentence
            target = actor
            actor = next((m for m in parties if m.kind == "actor"), None)
        if actor and target and actor.kind == target.kind:
            actor = None  # "US strikes … the US said": one side cannot be both
        out.append(
            Roles(position, sentence, act.group(0), kind, actor, target, _place(places), background)
        )
    return out


def _place(places: list[str]) -> str | None:
    return re.sub(r"['’]s$", "", places[0]) if places else None


def _parties(
    sentence: str, act: re.Match[str], parties: list[Mention]
) -> tuple[Mention | None, Mention | None]:
    before = [m for m in parties if m.end <= act.start()]
    after = [m for m in parties if m.start >= act.end()]
    before = _same_clause(sentence, before, act.start(), backwards=True)
    after = _same_clause(sentence, after, act.end(), backwards=False)
    # "US says troops hurt in attack": a speaker is not the actor
    before = [m for m in before if not _SPEECH.search(sentence[m.end : act.start()])]
    named = [m for m in before if m.kind != "unknown"]
    by_agent = None
    rest = sentence[act.end() :]
    by = _BY.match(rest)
    if by:
        cut = act.end() + by.end()
        by_agent = next((m for m in after if m.start >= cut and m.start - cut < 40), None)
    passive = (
        _PASSIVE.search(sentence[: act.start()]) is not None
        or (by_agent is not None and act.group(0).lower().endswith(("ed", "struck", "hit", "down")))
        or (bool(named) and _SUFFERED.search(sentence[named[-1].end : act.start()]) is not None)
    )
    claim = _CLAIM.search(sentence[: act.start()])
    if passive:  # "the base was hit by rockets fired by X": target before, actor after "by"
        actor = by_agent or (before[-1] if before and before[-1].kind == "unknown" else None)
        aimed = None  # "rockets were fired at the airport, which houses the U.S. consulate"
        if _AIMED.fullmatch(act.group(0)) and _AT.match(sentence, act.end()):
            aimed = _target_after(sentence, act, after, by_agent, None)
        target = aimed or (
            named[-1] if named else _target_after(sentence, act, after, by_agent, actor)
        )
        return actor, target
    if claim:  # "X claimed responsibility for the attack on Y"
        claimers = [m for m in before if m.end <= claim.start()]
        actor = claimers[-1] if claimers else by_agent
    else:
        actor = by_agent or (before[-1] if before else None)
    return actor, _target_after(sentence, act, after, by_agent, actor)


def _target_after(
    sentence: str,
    act: re.Match[str],
    after: list[Mention],
    by_agent: Mention | None,
    actor: Mention | None,
) -> Mention | None:
    """The first party after the act; unless an actor of another side is named, only one the
    act's object words reach: an act standing alone is often a noun whose clause moves on
    ("these strikes prove that the US military…"), and the party after it is then no target."""
    return next(
        (
            m
            for m in after
            if m is not by_agent
            and ((actor is not None and actor.kind != m.kind) or _attached(sentence, act, m))
        ),
        None,
    )


def _same_clause(sentence: str, found: list[Mention], at: int, *, backwards: bool) -> list[Mention]:
    out = []
    for m in found:
        span = sentence[m.end : at] if backwards else without_host(sentence[at : m.start])
        if not _CLAUSE_END.search(span):
            out.append(m)
    return out


def _attached(sentence: str, act: re.Match[str], m: Mention) -> bool:
    """Whether the words between an act and a party after it are the act's own object words."""
    span = without_host(sentence[act.end() : m.start])  # "at a base, which hosts US troops"
    return not _DETACHED.search(span) and len(span.split()) <= _OBJECT_WORDS


def text_roles(text: str, facets: Sequence[Facet]) -> list[Roles]:
    """Every act of every sentence of the text."""
    slots = slots_of(facets)
    if not slots:
        return []
    sentences = split_sentences(text) or [text]
    found = [r for i, s in enumerate(sentences) for r in sentence_roles(i, s, slots)]
    if side_denies(sentences, lambda s: any(m.kind == "target" for m in mentions(s, slots))):
        found = [r for r in found if not (_kind(r.actor) == "target" and r.act_kind == "attack")]
    return found


# relation features: (name, actor kinds, act kinds, target kinds, background)
RELATIONS: tuple[tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...], bool], ...] = (
    ("actor→target", ("actor",), HOSTILE, ("target",), False),
    ("unknown→target", ("unknown", "?"), HOSTILE, ("target",), False),
    ("any→target, background", ("actor", "unknown", "?"), HOSTILE, ("target",), True),
    ("target→actor", ("target",), ("attack",), ("actor", "unknown"), False),
    ("other→actor", ("other", "unknown", "?"), ("attack",), ("actor",), False),
    ("any→state", ("actor", "other", "unknown", "?", "target"), HOSTILE, ("state",), False),
    ("actor→other", ("actor",), HOSTILE, ("other",), False),
    ("other→target", ("other",), HOSTILE, ("target",), False),
)
LEAD_RELATIONS = ("actor→target", "unknown→target", "target→actor")


def role_feature_names() -> list[str]:
    return (
        [f"role:{r[0]}" for r in RELATIONS]
        + [f"role-lead:{name}" for name in LEAD_RELATIONS]
        + ["role:politics", "role:news-share"]
    )


def _kind(m: Mention | None) -> str:
    return m.kind if m else "?"


def matches(roles: Roles, relation: tuple) -> bool:
    _, actors, acts, targets, background = relation
    return (
        roles.act_kind in acts
        and _kind(roles.actor) in actors
        and _kind(roles.target) in targets
        and roles.background == background
    )


def role_features(text: str, facets: Sequence[Facet]) -> np.ndarray:
    """Per relation, how many sentences state it (log); whether the lead states the main ones;
    whether a sentence about the target side carries politics and no hostile act; and the share
    of hostile acts against the target side told as news rather than background."""
    found = text_roles(text, facets)
    out = []
    for relation in RELATIONS:
        sentences = {r.position for r in found if matches(r, relation)}
        out.append(np.log1p(len(sentences)))
    by_name = {r[0]: r for r in RELATIONS}
    for name in LEAD_RELATIONS:
        out.append(
            float(any(matches(r, by_name[name]) and r.position < LEAD_SENTENCES for r in found))
        )
    hostile = {r.position for r in found if r.act_kind in HOSTILE}
    politics = {
        r.position
        for r in found
        if r.act_kind == "politics" and "target" in (_kind(r.actor), _kind(r.target))
    }
    out.append(np.log1p(len(politics - hostile)))
    against = [r for r in found if r.act_kind in HOSTILE and _kind(r.target) == "target"]
    out.append(sum(not r.background for r in against) / len(against) if against else 0.0)
    return np.asarray(out, np.float32)


def uses_roles(facets: Sequence[Facet]) -> bool:
    return any(f.slot in ("actor", "target") for f in facets)
