"""TopicRegistry: every topic's scored index, built once and rebuilt only when the topic changes.

The poll cycle asks for the indexes on every batch; reading every topic's seeds and versions and
re-checking its training each time would cost more than scoring. A topic is rebuilt when its row
(threshold, facets, active version, enabled) or its set of live seeds differs from the one its
index was built from: that covers admin edits, feedback applied, rollbacks and config sync, in
this process or in another one sharing the database. Background news files are read when a
topic is (re)built; they change with an upgrade, which restarts the process.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from bot.core.models import Topic
from bot.relevance.embed import Embedder
from bot.relevance.match import TopicIndex
from bot.store import Store
from bot.topics.seeds import seed_passages
from bot.topics.training import ensure_current


class TopicRegistry:
    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        *,
        background_dir: Path | None,
        clock: Callable[[], datetime],
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.background_dir = background_dir
        self.clock = clock
        self._built: dict[str, tuple[tuple[Topic, tuple[int, ...]], TopicIndex]] = {}
        self._lock = threading.Lock()  # indexes are built off the event loop, in worker threads
        self.builds = 0  # how many topic indexes were (re)built: the cost the registry saves

    def indexes(self, *, only: str | None = None, enabled_only: bool = True) -> list[TopicIndex]:
        """The current index of each (enabled) topic, or of the topic ``only``."""
        with self._lock:
            live = self.store.live_seed_ids()
            out = []
            for topic in self.store.topics(enabled_only=enabled_only):
                if only and topic.name != only:
                    continue
                key = (topic, live.get(topic.name, ()))
                built = self._built.get(topic.name)
                if built is None or built[0] != key:
                    built = self._build(topic)
                    self._built[topic.name] = built
                out.append(built[1])
            return out

    def invalidate(self, topic: str | None = None) -> None:
        """Forget a topic's index (all with None): the next call rebuilds it."""
        with self._lock:
            if topic is None:
                self._built.clear()
            else:
                self._built.pop(topic, None)

    def _build(self, topic: Topic) -> tuple[tuple[Topic, tuple[int, ...]], TopicIndex]:
        index = build_index(self.store, self.embedder, topic, self.background_dir, self.clock())
        self.builds += 1
        # keyed by the state after training: a version recorded by this build is not a change
        key = (index.topic, self.store.live_seed_ids().get(topic.name, ()))
        return key, index


def build_index(
    store: Store, embedder: Embedder, topic: Topic, background_dir: Path | None, now: datetime
) -> TopicIndex:
    """A topic's index: its current positive seeds and its trained scorer (trained and recorded
    as a new version first if its examples or threshold changed)."""
    outcome = ensure_current(store, embedder, topic, background_dir, now)
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
    return TopicIndex(
        topic=topic,
        model=embedder.name,
        vectors=matrix,
        seed_ids=tuple(ids),
        seed_titles=tuple(titles),
        scorer=outcome.scorer,
    )


def build_indexes(
    store: Store,
    embedder: Embedder,
    *,
    only: str | None = None,
    enabled_only: bool = True,
    background_dir: Path | None = None,
    now: datetime | None = None,
) -> list[TopicIndex]:
    """Every topic's index built afresh, for one-off callers (the CLI's scoring, benches)."""
    at = now or datetime.now(UTC)
    registry = TopicRegistry(store, embedder, background_dir=background_dir, clock=lambda: at)
    return registry.indexes(only=only, enabled_only=enabled_only)
