"""The in-memory vector index: on real news texts (the development corpus) its results equal a
brute-force scan of every stored vector, also when only a few rows reach the exact re-rank; it
follows the store as articles are saved, without reloading; search and /similar use it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from bot.models import FeedItem
from bot.pipeline.embed import Embedder, HashingEmbedder, SentenceTransformerEmbedder
from bot.pipeline.fetch import Fetcher, FetchLimits
from bot.scoring import embed_documents
from bot.service import BotService
from bot.settings import Settings
from bot.store import Store
from bot.store.store import NewArticle
from bot.vectorindex import VectorIndex, _no_int_mm, quantize

CORPUS = Path(__file__).resolve().parents[1] / "data" / "dev_corpus.jsonl"
NOW = datetime(2026, 3, 2, 10, tzinfo=UTC)
QUERIES = [
    "rocket attack on a base housing US troops in Iraq",
    "drone strike on American forces in eastern Syria",
    "Iran-backed militia threatens to resume attacks",
    "election results and the new parliament",
    "football match ends in a draw",
]


def corpus(n: int) -> list[dict]:
    return [json.loads(line) for line in CORPUS.read_text().splitlines()[:n]]


def save(store: Store, embedder: Embedder, rows: list[dict]) -> list[int]:
    docs = embed_documents(embedder, [(r["title"] or "", r["text"]) for r in rows])
    batch = [
        NewArticle(
            item=FeedItem(
                r["id"], f"https://news.example/{r['id']}", r["title"] or "", r["text"], NOW
            ),
            feed_id=None,
            content_hash=r["id"],
            passages=doc.passages,
            vectors=doc.vectors,
        )
        for r, doc in zip(rows, docs, strict=True)
    ]
    saved, _ = store.save_articles(batch, [], model=embedder.name, now=NOW)
    return [a.id for a in saved]


def brute_force(
    store: Store, model: str, queries: np.ndarray, limit: int, exclude: int | None = None
) -> list[tuple[int, float]]:
    """Every stored vector scored exactly: the best passage per article, best articles first."""
    vectors, article_ids, _ = store.chunk_matrix(model)
    scores = (vectors @ np.atleast_2d(queries).T).max(axis=1)
    best: dict[int, float] = {}
    for row in np.argsort(-scores, kind="stable"):
        aid = int(article_ids[row])
        if aid != exclude and aid not in best:
            best[aid] = float(scores[row])
    return sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]


def assert_same(hits: list, expected: list[tuple[int, float]]) -> None:
    assert [h.article_id for h in hits] == [aid for aid, _ in expected]
    assert [round(h.score, 5) for h in hits] == [round(s, 5) for _, s in expected]


@pytest.fixture(scope="module")
def hashing_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    store = Store(tmp_path_factory.mktemp("idx") / "t.db")
    save(store, HashingEmbedder(), corpus(157))
    return store


@pytest.mark.parametrize("candidates", [8, 32, 10_000])
def test_search_equals_brute_force_on_the_dev_corpus(hashing_store: Store, candidates: int) -> None:
    embedder = HashingEmbedder()
    index = VectorIndex(hashing_store, embedder.name, candidates=candidates)
    for query in QUERIES:
        vector = embedder.encode([query])[0]
        for limit in (1, 5, 10):
            expected = brute_force(hashing_store, embedder.name, vector, limit)
            assert_same(index.search(vector, limit=limit), expected)


def test_similar_equals_brute_force_and_leaves_the_article_out(hashing_store: Store) -> None:
    embedder = HashingEmbedder()
    index = VectorIndex(hashing_store, embedder.name, candidates=16)
    for article_id in (1, 40, 120):
        _, vectors = hashing_store.article_vectors(article_id, embedder.name)
        hits = index.search(vectors, limit=5, exclude=article_id)
        assert article_id not in [h.article_id for h in hits]
        assert_same(hits, brute_force(hashing_store, embedder.name, vectors, 5, article_id))


def test_hits_carry_their_best_passage(hashing_store: Store) -> None:
    embedder = HashingEmbedder()
    index = VectorIndex(hashing_store, embedder.name)
    vector = embedder.encode([QUERIES[0]])[0]
    for hit in index.search(vector, limit=5):
        passages, vectors = hashing_store.article_vectors(hit.article_id, embedder.name)
        assert hit.passage == passages[int(np.argmax(vectors @ vector))]


def test_the_numpy_fallback_gives_the_same_results(hashing_store: Store) -> None:
    embedder = HashingEmbedder()
    fast = VectorIndex(hashing_store, embedder.name, candidates=8)
    slow = VectorIndex(hashing_store, embedder.name, candidates=8)
    slow._int_mm = _no_int_mm
    vector = embedder.encode([QUERIES[1]])[0]
    assert fast.search(vector, limit=10) == slow.search(vector, limit=10)


def test_quantization_error_is_small_on_real_vectors(hashing_store: Store) -> None:
    vectors, _, _ = hashing_store.chunk_matrix(HashingEmbedder().name)
    codes, scales = quantize(vectors)
    assert codes.dtype == np.int8
    assert np.abs(codes * scales[:, None] - vectors).max() <= scales.max() / 2 + 1e-7
    approx = (codes * scales[:, None]) @ vectors[0]
    assert np.abs(approx - vectors @ vectors[0]).max() < 0.01


def test_the_index_follows_the_store_without_reloading(tmp_path: Path) -> None:
    rows = corpus(60)
    embedder = HashingEmbedder()
    store = Store(tmp_path / "t.db")
    save(store, embedder, rows[:40])
    index = VectorIndex(store, embedder.name, candidates=8)
    loaded = index.sync()
    assert loaded == len(index) == len(store.chunk_matrix(embedder.name)[1]) > 40
    assert index.sync() == 0  # nothing new: nothing read
    new_ids = save(store, embedder, rows[40:])
    added = index.sync()
    assert added == len(store.chunk_matrix(embedder.name)[1]) - loaded > 0
    assert len(index) == loaded + added
    for row, new_id in zip(rows[40:45], new_ids[:5], strict=True):
        vector = embedder.encode([f"{row['title']}\n{row['text']}"])[0]
        hits = index.search(vector, limit=10)
        assert_same(hits, brute_force(store, embedder.name, vector, 10))
        assert new_id in [h.article_id for h in hits]


async def test_service_search_and_similar_see_articles_saved_after_the_first_query(
    tmp_path: Path,
) -> None:
    rows = corpus(30)
    embedder = HashingEmbedder()
    settings = Settings(db=tmp_path / "t.db", embedder="hashing", load_default_feeds=False)
    store = Store(settings.db)
    async with Fetcher(FetchLimits()) as fetcher:
        service = BotService(settings, store, embedder, fetcher, lambda: NOW)
        assert service.search("bakery") == []  # nothing stored yet
        save(store, embedder, rows[:20])
        first = service.search(rows[0]["text"][:1500], limit=3)
        assert first[0].article.guid == rows[0]["id"]
        [late_id] = save(store, embedder, rows[25:26])
        late = service.search(rows[25]["text"][:1500], limit=3)
        assert late[0].article.id == late_id  # saved after the index loaded, found at once
        label, similar = await service.similar(f"https://news.example/{rows[25]['id']}", limit=4)
        assert label == rows[25]["title"] and len(similar) == 4
        assert late_id not in [h.article.id for h in similar]
        vectors = store.article_vectors(late_id, embedder.name)[1]
        expected = brute_force(store, embedder.name, vectors, 4, late_id)
        assert [(h.article.id, h.score) for h in similar] == [
            (aid, round(s, 4)) for aid, s in expected
        ]


@pytest.mark.model
def test_search_equals_brute_force_with_the_real_model(tmp_path: Path) -> None:
    embedder = SentenceTransformerEmbedder("all-MiniLM-L6-v2")
    store = Store(tmp_path / "t.db")
    save(store, embedder, corpus(157)[::3])
    index = VectorIndex(store, embedder.name, candidates=16)
    for query in QUERIES:
        vector = embedder.encode([query])[0]
        assert_same(index.search(vector, limit=10), brute_force(store, embedder.name, vector, 10))
