"""The "feed mix" case of bench/ingest.py: every item of the recorded news feeds and of the
demo's feeds, as parsed (teasers where a feed carries teasers, whole articles where it carries
them), through the poll cycle's embedding stage with the ingest cascade, against a plain fp32
`SentenceTransformer.encode` of every passage of every item.

The recorded news feeds are the English ones bench/relevance.py scores for noise
(tests/data/feeds/news-*.xml but Urdu and German); the demo's feeds (bot/demo/data) carry
development-corpus reports, related ones among them, so the mix has something to alert on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from ceiling import split_gflop

REPO = Path(__file__).resolve().parents[1]
NEWS = REPO / "tests" / "data" / "feeds"
DEMO = REPO / "bot" / "demo" / "data"
NOT_ENGLISH = ("news-bbc-urdu", "news-heise")
QUICK_FEEDS = 3


def feed_documents(quick: bool) -> list[tuple[str, bytes]]:
    paths = [p for p in sorted(NEWS.glob("news-*.xml")) if not p.name.startswith(NOT_ENGLISH)]
    paths += [p for p in sorted(DEMO.iterdir()) if p.suffix in (".xml", ".atom")]
    return [(p.name, p.read_bytes()) for p in (paths[:QUICK_FEEDS] if quick else paths)]


def feed_items(quick: bool) -> list[tuple[str, str]]:
    from bot.ingest.parse import parse_feed

    return [
        (item.title, item.text)
        for name, body in feed_documents(quick)
        for item in parse_feed(body, url=f"https://bench.example/{name}", max_items=1000).items
    ]


def setup_project(quick: bool, over_window: Callable[[list[str]], int]) -> tuple[Callable, dict]:
    import tempfile

    from bot.core.settings import Settings
    from bot.ingest.parse import parse_feed
    from bot.relevance.cascade import PassageCache, embed_with_cascade
    from bot.relevance.embed_choice import make_embedder
    from bot.relevance.language import detect_language
    from bot.relevance.scoring import embed_documents, score_document
    from bot.store import SqliteStore
    from bot.topics.config import sync_from_config
    from bot.topics.registry import build_indexes

    settings = Settings()  # THREATWATCH_EMBED_PRECISION, _CASCADE, _CACHE_PASSAGES
    embedder = make_embedder(
        "sentence-transformers",
        "all-MiniLM-L6-v2",
        precision=settings.embed_precision,
        compile_model=settings.embed_compile,
        cache_dir=settings.model_cache_dir or REPO / "bench" / ".cache" / "models",
    )
    with tempfile.TemporaryDirectory() as tmp:  # the topic index exactly as the app builds it
        store = SqliteStore(Path(tmp) / "bench.db")
        sync_from_config(store, REPO / "config", REPO / "seeds", datetime.now(UTC))
        indexes = build_indexes(store, embedder, background_dir=REPO / "seeds" / "_background")
        store.close()
    documents = feed_documents(quick)
    state: dict = {}

    def run(embed: Any = embedder) -> dict:
        t0 = time.perf_counter()
        items = [
            item
            for name, body in documents
            for item in parse_feed(body, url=f"https://bench.example/{name}", max_items=1000).items
        ]
        [detect_language(item.title, item.text) for item in items]
        t1 = time.perf_counter()
        cache = PassageCache(settings.embed_cache_passages)  # empty: no pass helps the next
        outcome = embed_with_cascade(
            embed,
            [(item.title, item.text) for item in items],
            indexes,
            cache,
            cascade=settings.embed_cascade,
        )
        t2 = time.perf_counter()
        scores = [
            score_document(doc, indexes)
            for doc, stop in zip(outcome.docs, outcome.stopped, strict=True)
            if not stop
        ]
        t3 = time.perf_counter()
        state.update(stopped=sum(outcome.stopped), embedded=cache.misses, hits=cache.hits)
        state["alerts"] = sum(s.is_match for ss in scores for s in ss)
        return {"seconds": t3 - t0, "stages": {"parse+detect": t1 - t0, "embed": t2 - t1,
                                               "match": t3 - t2}}  # fmt: skip

    recorder = Recorder(embedder)
    run(recorder)  # warm-up, and the cascade's figures: what it embeds
    # the alerts every item would get with all its passages embedded (not timed)
    full = embed_documents(embedder, feed_items(quick))
    alerts_plain = sum(s.is_match for doc in full for s in score_document(doc, indexes))
    texts = [p for doc in full for p in doc.passages]
    return run, {
        "texts": state["embedded"],  # texts the project embedded in a pass
        "gflop": round(gflop(recorder.texts), 1),
        "split_gflop": split_gflop(recorder.texts),
        "passages": len(texts),
        "over_window": over_window(texts),
        "runtime": getattr(embedder, "runtime", ""),
        "cascade": int(settings.embed_cascade),
        "stopped_at_lead": state["stopped"],
        "cache_hits": state["hits"],
        "alerts": state["alerts"],
        "alerts_without_cascade": alerts_plain,
    }


def setup_baseline(quick: bool, over_window: Callable[[list[str]], int]) -> tuple[Callable, dict]:
    from sentence_transformers import SentenceTransformer

    from bot.relevance.embed import SentenceTransformerEmbedder, passages

    model = SentenceTransformer(str(SentenceTransformerEmbedder("all-MiniLM-L6-v2").model_path()))
    texts = [p for title, text in feed_items(quick) for p in passages(title, text)]

    def run() -> dict:
        t0 = time.perf_counter()
        model.encode(texts, batch_size=32)
        return {"seconds": time.perf_counter() - t0, "stages": {}}

    model.encode(texts[:32], batch_size=32)
    info = {"texts": len(texts), "passages": len(texts), "over_window": over_window(texts)}
    info["gflop"] = round(gflop(texts), 1)
    info["split_gflop"] = split_gflop(texts)
    return run, info | {"runtime": "torch fp32"}


class Recorder:
    """An embedder that remembers what it was asked to embed."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.name, self.texts = inner, inner.name, []

    def encode(self, texts: list[str]) -> np.ndarray:
        self.texts += list(texts)
        return self.inner.encode(texts)


def gflop(texts: list[str]) -> float:
    """The model's floating-point operations to embed ``texts`` (a multiply-add is 2), from each
    text's word-piece count n (with [CLS] and [SEP], at most the window), padding not counted:
    per layer and token the Q, K, V and output projections (4·H²) and the feed-forward
    (2·H·I) multiply-adds, plus attention's Q·Kᵀ and weights·V (2·n·H)."""
    return sum(split_gflop(texts))
