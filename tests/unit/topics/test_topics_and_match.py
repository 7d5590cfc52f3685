"""Topics from config, seed caching by (model, content hash), and the match stage."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from bot.core.errors import BadArgument, ConfigError
from bot.core.models import Topic
from bot.relevance.embed import HashingEmbedder, passages
from bot.relevance.match import TopicIndex, score_article
from bot.store import Store
from bot.topics.config import load_topics_file, sync_from_config
from bot.topics.registry import build_indexes
from bot.topics.seeds import seed_title

NOW = datetime(2026, 11, 21, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[3]


class CountingEmbedder(HashingEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    def encode(self, texts):  # type: ignore[no-untyped-def]
        self.texts += list(texts)
        return super().encode(texts)


def test_shipped_config_loads_and_keeps_the_five_seed_files(
    tmp_path: Path, open_test_store: Callable[[str], Store]
) -> None:
    store = open_test_store("t")
    sync_from_config(store, REPO / "config", REPO / "seeds", NOW)
    topic = store.topic("militia-attacks-us-forces")
    assert topic.enabled and 0 < topic.threshold < 1
    origins = sorted(s.origin for s in store.seeds(topic.name, kind="positive"))
    assert origins == sorted(p.name for p in (REPO / "seeds" / topic.name).glob("*.txt"))
    assert len(origins) >= 5
    sync_from_config(store, REPO / "config", REPO / "seeds", NOW)  # idempotent
    assert len(store.seeds(topic.name, kind="positive")) == len(origins)


def test_seed_vectors_are_cached_and_a_new_seed_embeds_only_itself(
    tmp_path: Path, open_test_store: Callable[[str], Store]
) -> None:
    store = open_test_store("t")
    sync_from_config(store, REPO / "config", REPO / "seeds", NOW)
    embedder = CountingEmbedder()
    build_indexes(store, embedder)
    first = len(embedder.texts)
    assert first > 0
    build_indexes(store, embedder)
    assert len(embedder.texts) == first  # everything came from the cache
    seeds_dir = tmp_path / "seeds" / "militia-attacks-us-forces"
    seeds_dir.mkdir(parents=True)
    (seeds_dir / "new.txt").write_text(
        "Militia drones hit a US base\n\nA drone struck the base in Syria today."
    )
    sync_from_config(store, REPO / "config", tmp_path / "seeds", NOW)
    build_indexes(store, embedder)
    assert embedder.texts[first:] == [
        "Militia drones hit a US base A drone struck the base in Syria today."
    ]


def test_bad_topics_file_is_a_clear_config_error(tmp_path: Path) -> None:
    (tmp_path / "topics.toml").write_text('[[topic]]\nname = "Bad Name!"\nthreshold = 0.5\n')
    with pytest.raises(ConfigError, match="bad topic"):
        load_topics_file(tmp_path / "topics.toml")
    (tmp_path / "topics.toml").write_text("[[topic]\n")
    with pytest.raises(ConfigError):
        load_topics_file(tmp_path / "topics.toml")


def test_seed_title_skips_date_stamps_and_urls() -> None:
    text = " date 2023-10-29 https://x.example/a\n\nPresident Biden warned Thursday that it would respond"
    assert seed_title(text, "f") == "President Biden warned Thursday that it would respond"
    assert (
        seed_title("in ,\n\nPro-Assad alliance warns US military", "f")
        == "Pro-Assad alliance warns US military"
    )


def test_long_articles_are_chunked_not_truncated() -> None:
    sentence = "Rockets struck the base near the airport overnight. "
    text = sentence * 200  # 1,600 words
    parts = passages("Title here", text, max_words=160)
    assert len(parts) >= 10
    assert all(len(p.split()) <= 160 for p in parts)
    assert sum(len(p.split()) for p in parts) == 2 + 8 * 200
    assert passages("Only a title", "") == ["Only a title"]


def test_score_explains_with_best_passage_and_nearest_seed() -> None:
    embedder = HashingEmbedder()
    seeds = ["militia rockets attack us base in syria", "central bank raises interest rates"]
    index = TopicIndex(
        Topic("t", "", 0.5), embedder.name, embedder.encode(seeds), (7, 8), ("rockets", "rates")
    )
    article = [
        "the football match ended in a draw",
        "militia rockets attack us base in syria overnight",
    ]
    result = score_article(embedder.encode(article), article, index)
    assert result.seed_id == 7 and result.seed_title == "rockets"
    assert result.passage == article[1]
    assert result.is_match and result.score > 0.8
    empty = TopicIndex(Topic("t", "", 0.5), embedder.name, np.zeros((0, 256), np.float32), (), ())
    assert score_article(embedder.encode(article), article, empty).score == 0.0


def test_bad_topic_name_is_refused() -> None:
    from bot.core.models import validate_topic_name

    with pytest.raises(BadArgument):
        validate_topic_name("../etc")
