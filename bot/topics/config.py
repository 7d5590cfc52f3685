"""Topics and feeds as config/ declares them, loaded into the store at start-up.

Config seeds a database; afterwards the database is the truth for everything an admin can edit.
Facets, which only config defines, follow config.
"""

from __future__ import annotations

import tomllib
from datetime import datetime
from pathlib import Path

from bot.core.errors import BadArgument, ConfigError
from bot.core.models import Topic, validate_topic_name
from bot.relevance.facets import parse_facets
from bot.store import Store
from bot.topics.seeds import COUNTER_DIR, seed_from_text


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
        # the scorer's training only when a topic is read: listing feeds needs none of it
        from bot.topics.training import UNTRAINED_THRESHOLD

        return UNTRAINED_THRESHOLD
    number = float(value)  # type: ignore[arg-type]
    if not 0.0 < number < 1.0:
        raise ValueError('threshold must be between 0 and 1, or "auto"')
    return number


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
