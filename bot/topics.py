"""Watch topics: load config/topics.toml and seeds/<topic>/ into the store, and build the
per-topic seed indexes that the match stage scores against.

Seed vectors are cached in the store by (model, content hash): a new seed embeds only itself.
"""

from __future__ import annotations

import re
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from bot.errors import BadArgument, ConfigError
from bot.models import Seed, Topic
from bot.pipeline.dedupe import content_hash
from bot.pipeline.embed import Embedder, passages
from bot.pipeline.match import TopicIndex
from bot.relevance.facets import parse_facets
from bot.store import Store
from bot.topic_training import UNTRAINED_THRESHOLD, ensure_current

TOPIC_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
COUNTER_DIR = "counter"
BACKGROUND_DIR = "_background"  # unrelated news every topic's scorer learns to tell apart


def validate_topic_name(name: str) -> str:
    if not TOPIC_NAME.match(name):
        raise BadArgument(
            f"bad topic name {name[:70]!r}: use 1-63 lower-case letters, digits, '-' or '_'"
        )
    return name


def load_topics_file(path: Path) -> list[Topic]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"topics file not found: {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    topics = []
    for entry in data.get("topic", []):
        try:
            topics.append(
                Topic(
                    name=validate_topic_name(str(entry["name"])),
                    description=str(entry.get("description", "")),
                    threshold=_threshold(entry["threshold"]),
                    threshold_mode="auto" if entry["threshold"] == "auto" else "manual",
                    enabled=bool(entry.get("enabled", True)),
                    facets=parse_facets(
                        entry.get("facets", {}), where=f"{path}: topic {entry.get('name')!r}"
                    ),
                )
            )
        except (KeyError, ValueError, BadArgument) as exc:
            raise ConfigError(f"{path}: bad topic entry {entry!r}: {exc}") from exc
    return topics


def _threshold(value: object) -> float:
    if value == "auto":
        return UNTRAINED_THRESHOLD
    number = float(value)  # type: ignore[arg-type]
    if not 0.0 < number < 1.0:
        raise ValueError('threshold must be between 0 and 1, or "auto"')
    return number


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


def sync_from_config(store: Store, config_dir: Path, seeds_dir: Path, now: datetime) -> None:
    """Insert topics and seed files that the database does not have yet. Admin edits made at run
    time are kept: a topic already in the database is not overwritten, and a seed an admin
    removed is not brought back. Facets, which only config defines, follow config."""
    for topic in load_topics_file(config_dir / "topics.toml"):
        if not store.upsert_topic_default(topic, now):
            store.set_config_facets(topic.name, topic.facets, now)
        folder = seeds_dir / topic.name
        for kind, pattern in (("positive", "*.txt"), ("counter", f"{COUNTER_DIR}/*.txt")):
            for path in sorted(folder.glob(pattern)):
                seed = seed_from_text(
                    topic.name,
                    path.read_text(encoding="utf-8", errors="replace"),
                    origin=path.name,
                    kind=kind,
                )
                store.add_seed(seed, now, revive=False)


def load_feeds_file(path: Path) -> list[tuple[str, str | None]]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    return [(str(f["url"]), f.get("name")) for f in data.get("feed", []) if f.get("url")]


def load_default_feeds(store: Store, config_dir: Path, now: datetime) -> int:
    """Add config/feeds.toml to a database once; afterwards the database is the truth."""
    if store.meta("default_feeds_loaded"):
        return 0
    added = 0
    for url, name in load_feeds_file(config_dir / "feeds.toml"):
        _, created = store.add_feed(url, name, now)
        added += created
    store.set_meta("default_feeds_loaded", now.isoformat())
    return added


def seed_passages(
    store: Store, embedder: Embedder, seeds: list[Seed]
) -> dict[str, tuple[list[str], np.ndarray]]:
    """Passages and vectors of each seed, from the cache or embedded once and cached."""
    out: dict[str, tuple[list[str], np.ndarray]] = {}
    missing: list[Seed] = []
    for seed in seeds:
        cached = store.cached_seed_chunks(seed.content_hash, embedder.name)
        if cached is None:
            missing.append(seed)
        else:
            out[seed.content_hash] = cached
    for seed in missing:
        parts = passages(seed.title, seed.text)
        vectors = embedder.encode(parts)
        store.cache_seed_chunks(seed.content_hash, embedder.name, parts, vectors)
        out[seed.content_hash] = (parts, vectors)
    return out


def build_indexes(
    store: Store,
    embedder: Embedder,
    *,
    enabled_only: bool = True,
    only: str | None = None,
    background_dir: Path | None = None,
    now: datetime | None = None,
) -> list[TopicIndex]:
    """One TopicIndex per topic: its current positive seeds and its trained scorer (trained and
    recorded as a new version first if its examples or threshold changed)."""
    indexes = []
    for topic in store.topics(enabled_only=enabled_only):
        if only and topic.name != only:
            continue
        outcome = ensure_current(store, embedder, topic, background_dir, now or datetime.now(UTC))
        topic = outcome.topic
        seeds = store.seeds(topic.name, kind="positive")
        cached = seed_passages(store, embedder, seeds)
        rows: list[np.ndarray] = []
        ids: list[int] = []
        titles: list[str] = []
        for seed in seeds:
            _, vectors = cached[seed.content_hash]
            rows.append(vectors)
            ids += [seed.id] * len(vectors)
            titles += [seed.title] * len(vectors)
        matrix = np.vstack(rows) if rows else np.zeros((0, 1), np.float32)
        indexes.append(
            TopicIndex(
                topic=topic,
                model=embedder.name,
                vectors=matrix,
                seed_ids=tuple(ids),
                seed_titles=tuple(titles),
                scorer=outcome.scorer,
            )
        )
    return indexes
