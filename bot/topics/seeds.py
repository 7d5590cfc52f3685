"""Seeds: the example articles a topic is defined by, made from text and embedded once.

Seed vectors are cached in the store by (model, content hash): a new seed embeds only itself.
A real embedder also carries ``vector_files`` (bot/relevance/vector_files.py): the same vectors
on disk, shared by every database on the machine, so a new database does not embed the shipped
seeds again.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bot.core.errors import BadArgument
from bot.core.models import Seed
from bot.ingest.dedupe import content_hash
from bot.relevance.embed import Embedder, passages, vector_space
from bot.relevance.vector_files import VectorFiles
from bot.store import Store

COUNTER_DIR = "counter"
BACKGROUND_DIR = "_background"  # unrelated news every topic's scorer learns to tell apart
SEEDS_PER_CALL = 64  # seeds embedded per call: their passages, a few hundred texts at most


def seed_title(text: str, fallback: str) -> str:
    """The first line that reads like a headline: a few words, not a URL or a date stamp."""
    for line in text.splitlines()[:12]:
        line = line.strip()
        words = line.split()
        if len(words) >= 4 and "://" not in line:
            return line[:160]
    return fallback


def seed_from_text(
    topic: str, text: str, origin: str, *, kind: str = "positive", title: str | None = None
) -> Seed:
    text = text.strip()
    if len(text.split()) < 5:
        raise BadArgument("a seed needs at least a few sentences of text")
    if title is None:
        title = seed_title(text, fallback=Path(origin).stem)
        # the headline leads the first passage anyway (see passages()); keep it out of the body
        lines = text.splitlines()
        for i, line in enumerate(lines):
            if line.strip() == title:
                text = "\n".join(lines[:i] + lines[i + 1 :]).strip()
                break
    return Seed(
        id=0,
        topic=topic,
        title=title,
        text=text,
        content_hash=content_hash(title, text),
        origin=origin,
        kind=kind,
    )


def seed_passages(
    store: Store, embedder: Embedder, seeds: list[Seed]
) -> dict[str, tuple[list[str], np.ndarray]]:
    """Passages and vectors of each seed, from the caches or embedded once and cached."""
    files: VectorFiles | None = getattr(embedder, "vector_files", None)
    space = vector_space(embedder)
    out: dict[str, tuple[list[str], np.ndarray]] = {}
    missing: list[Seed] = []
    for seed in seeds:
        cached = store.cached_seed_chunks(seed.content_hash, embedder.name)
        if cached is None and files is not None:
            cached = files.get(space, seed.content_hash)
            if cached is not None:
                store.cache_seed_chunks(seed.content_hash, embedder.name, *cached)
        if cached is None:
            missing.append(seed)
        else:
            out[seed.content_hash] = cached
    # many seeds' passages per call: the embedder sorts a call's texts by length into batches,
    # so a topic's first training pads less and runs fuller batches than one call per seed
    for start in range(0, len(missing), SEEDS_PER_CALL):
        group = missing[start : start + SEEDS_PER_CALL]
        parts = [passages(seed.title, seed.text) for seed in group]
        vectors = embedder.encode([p for seed_parts in parts for p in seed_parts])
        row = 0
        for seed, seed_parts in zip(group, parts, strict=True):
            seed_vectors = vectors[row : row + len(seed_parts)]
            row += len(seed_parts)
            store.cache_seed_chunks(seed.content_hash, embedder.name, seed_parts, seed_vectors)
            if files is not None:
                files.put(space, seed.content_hash, seed_parts, seed_vectors)
            out[seed.content_hash] = (seed_parts, seed_vectors)
    return out
