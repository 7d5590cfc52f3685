"""In-memory vector index over every stored article passage: search and /similar without reading
every vector from SQLite per query.

Each passage vector is kept as int8 codes with one float scale per row (a quarter of float32's
memory: 1M × 384 dims is 384 MB). A query scores every row on the int8 codes in one integer
matrix product, keeps the best ``candidates`` rows, reads those rows' float32 vectors back from
the store and ranks them exactly. Scores are therefore exact cosines; only which rows reach the
re-rank is approximate, and int8 error (about 0.004 in cosine) only matters between near-ties at
the cut.

The index loads itself from the store on first use and then follows it: before each query it
reads the passages saved since the last rowid it saw (rowids only grow), so articles saved by
the poll cycle — in this process or another one — are searchable at once, with no full reload.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from bot.store import Store

PAGE = 50_000  # rows read from the store per query while loading or catching up
CANDIDATES = 256  # rows re-ranked exactly per query (at least; more when many share an article)
BLOCK = 65_536  # rows per block in the numpy fallback


@dataclass(frozen=True)
class IndexHit:
    article_id: int
    score: float  # exact cosine of the article's best passage (best over the query vectors)
    passage: str


def quantize(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """int8 codes and per-row scales with vectors ≈ codes * scales[:, None]."""
    vectors = np.asarray(vectors, np.float32)
    peak = np.abs(vectors).max(axis=1) if vectors.size else np.zeros(len(vectors), np.float32)
    scales = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
    codes = np.clip(np.rint(vectors / scales[:, None]), -127, 127).astype(np.int8)
    return codes, scales


class VectorIndex:
    """Every stored passage vector of one model (``model`` is the embedder's name)."""

    def __init__(self, store: Store, model: str, *, candidates: int = CANDIDATES):
        self.store = store
        self.model = model
        self.candidates = candidates
        self._lock = threading.Lock()
        self._size = 0
        self._last_rowid = 0
        self._codes = np.zeros((0, 0), np.int8)
        self._scales = np.zeros(0, np.float32)
        self._rowids = np.zeros(0, np.int64)
        self._article_ids = np.zeros(0, np.int64)
        self._int_mm: Callable[[Any, Any], Any] | None = None

    def __len__(self) -> int:
        return self._size

    # --- keeping in step with the store ----------------------------------------------------------
    def sync(self) -> int:
        """Read passages saved since the last sync (all of them the first time); returns how many
        were added."""
        with self._lock:
            return self._catch_up()

    def _catch_up(self) -> int:
        added = 0
        while True:
            rowids, article_ids, vectors = self.store.chunk_vectors_after(
                self.model, self._last_rowid, PAGE
            )
            if len(rowids) == 0:
                return added
            self._append(rowids, article_ids, vectors)
            added += len(rowids)

    def _append(self, rowids: np.ndarray, article_ids: np.ndarray, vectors: np.ndarray) -> None:
        codes, scales = quantize(vectors)
        end = self._size + len(rowids)
        if self._codes.shape[1] != codes.shape[1] and self._size == 0:
            self._codes = np.zeros((0, codes.shape[1]), np.int8)
        if end > len(self._codes):  # grow by a quarter at least: amortised O(1) per row
            capacity = max(end, len(self._codes) + len(self._codes) // 4, 1024)
            self._codes = _grow(self._codes, capacity)
            self._scales = _grow(self._scales, capacity)
            self._rowids = _grow(self._rowids, capacity)
            self._article_ids = _grow(self._article_ids, capacity)
        self._codes[self._size : end] = codes
        self._scales[self._size : end] = scales
        self._rowids[self._size : end] = rowids
        self._article_ids[self._size : end] = article_ids
        self._size, self._last_rowid = end, int(rowids[-1])

    # --- queries ---------------------------------------------------------------------------------
    def search(
        self, queries: np.ndarray, *, limit: int, exclude: int | None = None
    ) -> list[IndexHit]:
        """The ``limit`` articles whose best passage is most similar to any of the query vectors
        (rows of ``queries``, L2-normalised), best first, leaving out article ``exclude``."""
        queries = np.atleast_2d(np.asarray(queries, np.float32))
        with self._lock:
            self._catch_up()
            size = self._size
            if size == 0 or len(queries) == 0:
                return []
            approx = self._approximate(queries, size)
            want = max(self.candidates, limit * 8)
            while True:
                rows = _top(approx, min(want, size))
                best = self._rerank(rows, queries, exclude)
                if len(best) >= limit or want >= size:
                    break
                want *= 4  # many candidates were passages of the same few articles: widen
        ranked = sorted(best.items(), key=lambda kv: (-kv[1][0], kv[0]))[:limit]
        passages = self.store.chunk_passages([rowid for _, (_, rowid) in ranked])
        return [IndexHit(aid, score, passages.get(rowid, "")) for aid, (score, rowid) in ranked]

    def _approximate(self, queries: np.ndarray, size: int) -> np.ndarray:
        """Approximate best cosine per row over the query vectors, from the int8 codes."""
        codes, scales = quantize(queries)
        if codes.shape[1] != self._codes.shape[1]:
            raise ValueError(
                f"query vectors have {codes.shape[1]} dims, the index {self._codes.shape[1]}"
            )
        products = self._products(codes, size)  # (size, len(queries)) int32
        # per query column its own scale; per row the row's scale
        return (products * scales[None, :]).max(axis=1) * self._scales[:size]

    def _products(self, codes: np.ndarray, size: int) -> np.ndarray:
        int_mm = self._int_matmul()
        if int_mm is not None:
            import torch

            out = int_mm(torch.from_numpy(self._codes[:size]), torch.from_numpy(codes.T.copy()))
            return np.asarray(out.numpy(), np.float32)
        query = codes.T.astype(np.float32)
        return np.vstack(
            [
                self._codes[start : min(start + BLOCK, size)].astype(np.float32) @ query
                for start in range(0, size, BLOCK)
            ]
        )

    def _int_matmul(self) -> Callable[[Any, Any], Any] | None:
        """torch's int8 × int8 → int32 matrix product (VNNI on CPUs that have it), if this torch
        build has one that works; else None and numpy does the product in float32 blocks."""
        if self._int_mm is None:
            try:
                import torch

                probe = torch.ones((2, 8), dtype=torch.int8)
                if int(torch._int_mm(probe, probe.T.contiguous())[0, 0]) != 8:
                    raise RuntimeError("int8 product is wrong")
                self._int_mm = torch._int_mm
            except Exception:  # no torch, or no int8 product on this build: use numpy
                self._int_mm = _no_int_mm
        return None if self._int_mm is _no_int_mm else self._int_mm

    def _rerank(
        self, rows: np.ndarray, queries: np.ndarray, exclude: int | None
    ) -> dict[int, tuple[float, int]]:
        """Exact scores of the candidate rows from their stored float32 vectors: the best
        (score, rowid) per article."""
        rowids, article_ids, vectors = self.store.chunk_vectors_by_rowid(
            self.model, self._rowids[rows].tolist()
        )
        best: dict[int, tuple[float, int]] = {}
        if len(rowids) == 0:
            return best
        exact = (vectors @ queries.T).max(axis=1)
        for rowid, aid, score in zip(
            rowids.tolist(), article_ids.tolist(), exact.tolist(), strict=True
        ):
            if aid == exclude:
                continue
            if aid not in best or (score, -rowid) > (best[aid][0], -best[aid][1]):
                best[aid] = (score, rowid)
        return best


def _no_int_mm(a: Any, b: Any) -> Any:
    raise NotImplementedError


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    if k >= len(scores):
        return np.arange(len(scores))
    return np.argpartition(-scores, k - 1)[:k]


def _grow(array: np.ndarray, capacity: int) -> np.ndarray:
    grown = np.zeros((capacity, *array.shape[1:]), array.dtype)
    grown[: len(array)] = array
    return grown
