"""What changed between two versions of a topic, in words, from their snapshots
(``topic_training`` records them): the reason a version gives in ``topics versions``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def describe_change(
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any],
    *,
    threshold_in_use: float | None = None,
) -> str:
    """What ``after`` changes from ``before``, e.g. "+1 seed, threshold 0.71 (auto) → 0.70
    (auto)". ``threshold_in_use``: the topic's threshold when ``after`` was made; where nothing
    else changed it can still differ from the version's (a rollback before such rollbacks were
    refused restored an old auto threshold beside a newer scorer), and setting it right is the
    change."""
    if before is None:
        base = "first version"
        if after["scorer"] is None:
            return base + " (similarity only: not enough examples to train)"
        return base
    parts = []
    for key, word in (
        ("positives", "seed"),
        ("counters", "counter-example"),
        ("feedback", "feedback"),
    ):
        added = len(set(after[key]) - set(before[key]))
        removed = len(set(before[key]) - set(after[key]))
        if added:
            parts.append(f"+{added} {word}")
        if removed:
            parts.append(f"-{removed} {word}")
    # the background is kept as a count (it is shared by every topic, not the topic's own)
    grown = after["background"] - before.get("background", after["background"])
    if grown:
        parts.append(f"{grown:+d} background")
    parts += _facet_changes(before, after)
    if before["signature"] != after["signature"] and not parts:
        parts.append("model, facets or background changed")
    if (
        abs(before["threshold"] - after["threshold"]) > 1e-9
        or before["threshold_mode"] != after["threshold_mode"]
    ):
        parts.append(
            f"threshold {before['threshold']:.2f} ({before['threshold_mode']}) → "
            f"{after['threshold']:.2f} ({after['threshold_mode']})"
        )
    in_use = after["threshold"] if threshold_in_use is None else threshold_in_use
    if not parts and abs(in_use - after["threshold"]) > 1e-9:
        parts.append(f"threshold {in_use:.2f} → {after['threshold']:.2f}, the version's own")
    return ", ".join(parts) or "no change"


def _facet_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """One entry per facet that changed, e.g. "facet target +2 -1 terms"."""
    old, new = _facets_of(before), _facets_of(after)
    if old is None or new is None:
        return []  # a similarity-only version of a topic without them: nothing to compare
    out = []
    for name in sorted(old.keys() | new.keys()):
        if name not in old or name not in new:
            out.append(f"{'+' if name in new else '-'}facet {name}")
            continue
        (role_was, terms_was, slot_was), (role, terms, slot) = old[name], new[name]
        change = [f"+{len(terms - terms_was)}"] if terms - terms_was else []
        change += [f"-{len(terms_was - terms)}"] if terms_was - terms else []
        words = [" ".join(change) + " terms"] if change else []
        words += [f"{role_was} → {role}"] if role != role_was else []
        words += [f"slot {slot_was or 'none'} → {slot or 'none'}"] if slot != slot_was else []
        if words:
            out.append(f"facet {name} " + ", ".join(words))
    return out


def _facets_of(snapshot: Mapping[str, Any]) -> dict[str, tuple[str, set[str], str | None]] | None:
    # versions recorded before snapshots kept facets have them in their scorer
    facets = snapshot.get("facets", (snapshot.get("scorer") or {}).get("facets"))
    if facets is None:
        return None
    return {f["name"]: (f["role"], set(f["terms"]), f.get("slot")) for f in facets}
