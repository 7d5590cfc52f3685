"""Arabic and Persian examples that a topic's multilingual copy trains on beside its English
ones (the English scorer never sees them, so English relevance stays as it is).

    seeds/<topic>/multilingual/*.txt            reports of the topic (positives)
    seeds/<topic>/multilingual/counter/*.txt    look-alike reporting (hard negatives)
    seeds/_background/multilingual/*.txt        unrelated news, shared by every topic

Files are "<event>__<name>.txt" where several reports of one event exist, so cross-validation
keeps an event in one fold, as for curated English examples. A file's first line is its title.
Persian text is folded to one spelling (bot/relevance/language.py) as articles are.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from bot.core.errors import BadArgument
from bot.core.models import Seed
from bot.relevance.language import detect_language, normalise
from bot.topics.seeds import BACKGROUND_DIR, COUNTER_DIR, seed_from_text

log = logging.getLogger(__name__)

EXAMPLES_DIR = "multilingual"


@dataclass(frozen=True)
class LabeledSeed:
    seed: Seed
    label: bool
    ref: str  # "ml-positive:<file>", "ml-counter:<file>", "ml-background:<file>"
    language: str  # as detected


def example_seeds(seeds_dir: Path | None, topic: str) -> tuple[LabeledSeed, ...]:
    """The topic's multilingual example files, read again only when one changes."""
    if seeds_dir is None:
        return ()
    stamp = tuple(
        (str(path), kind, path.stat().st_mtime_ns)
        for folder, kind in _folders(seeds_dir, topic)
        for path in sorted(folder.glob("*.txt"))
    )
    return _read(topic, stamp)


def _folders(seeds_dir: Path, topic: str) -> tuple[tuple[Path, str], ...]:
    own = seeds_dir / topic / EXAMPLES_DIR
    return (
        (own, "ml-positive"),
        (own / COUNTER_DIR, "ml-counter"),
        (seeds_dir / BACKGROUND_DIR / EXAMPLES_DIR, "ml-background"),
    )


@lru_cache(maxsize=16)
def _read(topic: str, stamp: tuple[tuple[str, str, int], ...]) -> tuple[LabeledSeed, ...]:
    out = []
    for name, kind, _ in stamp:
        path = Path(name)
        text = path.read_text(encoding="utf-8", errors="replace")
        title, _, body = text.partition("\n")
        language = detect_language(title, body)
        try:
            seed = seed_from_text(  # no title line: the first headline-like line, as for seeds
                topic,
                normalise(body, language),
                origin=path.name,
                kind="positive" if kind == "ml-positive" else "counter",
                title=normalise(title.strip(), language) or None,
            )
        except BadArgument as exc:  # one unusable file must not stop the topic
            log.warning("multilingual example %s skipped: %s", path, exc)
            continue
        out.append(LabeledSeed(seed, kind == "ml-positive", f"{kind}:{path.name}", language))
    return tuple(out)
