"""Write the shipped examples' vectors in the multilingual space into the package.

    python scripts/ship_seed_vectors.py [--check]

Trains the shipped topics' multilingual copies as the bot does (config/topics.toml, seeds/, a
fresh SQLite database, the real multilingual engine), keeping every example's passages and
vectors in a temporary seed-vectors folder, then packs that folder into
bot/relevance/data/seed-vectors/<space>.npz (bot/relevance/vector_files.py reads it). Run it after
changing seeds/ or the multilingual engine; tests/unit/topics/test_shipped_seed_vectors.py fails
while a shipped example is missing from the bundle. It takes a few minutes: the engine embeds
about three passages a second. ``--check`` only says which shipped examples the bundle lacks.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bot.relevance.embed import HashingEmbedder  # noqa: E402
from bot.relevance.multilingual import MultilingualEmbedder  # noqa: E402
from bot.relevance.vector_files import (  # noqa: E402
    SHIPPED,
    VectorFiles,
    read_bundle,
    space_folder,
    write_bundle,
)
from bot.store import SqliteStore, Store  # noqa: E402
from bot.topics.config import sync_from_config  # noqa: E402
from bot.topics.multilingual import MultilingualTopics  # noqa: E402
from bot.topics.multilingual_examples import example_seeds  # noqa: E402
from bot.topics.registry import build_indexes  # noqa: E402
from bot.topics.training import gather  # noqa: E402

SEEDS = REPO / "seeds"
CONFIG = REPO / "config"


def space_of(embedder: MultilingualEmbedder) -> str:
    # as bot/topics/seeds.py names it: model, runtime, recipe (this engine has one of each)
    return "|".join([embedder.name, "", ""])


def shipped_hashes(store: Store, embedder: MultilingualEmbedder) -> set[str]:
    """Content hashes of every example a shipped topic's multilingual copy trains on."""
    out: set[str] = set()
    for topic in store.topics():
        ids = gather(store, embedder, topic, SEEDS / "_background", with_vectors=False)
        out |= {*ids.positives, *ids.counters, *ids.background}
        out |= {e.seed.content_hash for e in example_seeds(SEEDS, topic.name)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        store = SqliteStore(tmp / "ship.db")
        sync_from_config(store, CONFIG, SEEDS, datetime.now(UTC))
        embedder = MultilingualEmbedder()
        bundle = SHIPPED / f"{space_folder(space_of(embedder))}.npz"
        wanted = shipped_hashes(store, embedder)
        have = read_bundle(bundle) if bundle.is_file() else {}
        if args.check:
            missing = sorted(wanted - set(have))
            print(f"{bundle}: {len(have)} texts, {len(missing)} shipped examples missing")
            raise SystemExit(1 if missing else 0)
        files = VectorFiles(tmp / "seed-vectors", shipped=None)  # embed everything afresh
        embedder.vector_files = files
        # the English side only has to exist: the hashing embedder builds it in a moment
        english = build_indexes(store, HashingEmbedder(), background_dir=SEEDS / "_background")
        MultilingualTopics(store, embedder, SEEDS).indexes(english)
        entries = {h: got for h in wanted if (got := files.get(space_of(embedder), h))}
        if len(entries) != len(wanted):
            raise SystemExit(f"{len(wanted) - len(entries)} examples were not embedded")
        write_bundle(bundle, entries)
        passages = sum(len(parts) for parts, _ in entries.values())
        size = bundle.stat().st_size / 1e6
        print(f"{bundle}: {len(entries)} texts, {passages} passages, {size:.1f} MB")


if __name__ == "__main__":
    main()
