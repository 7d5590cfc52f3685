"""Query texts → vectors for search: on a worker thread of their own, with one torch thread, and
remembered (LRU) so a repeated query does not run the model again.

One short text gains nothing from intra-op threads, and when other processes keep the cores busy
those threads wait on each other: on this project's 2-core machine under load, one query took
0.3–1.3 s with torch's default 2 threads and 30–50 ms with 1. torch's OpenMP thread count is
per OS thread, so limiting the worker leaves the poll cycle's batch encoding as it was.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from bot.relevance.embed import Embedder

CACHE_SIZE = 512  # query vectors remembered (1.5 KB each at 384 dims)
QUERY_THREADS = 1  # torch intra-op threads for one query


class QueryEncoder:
    def __init__(self, embedder: Embedder, *, cache_size: int = CACHE_SIZE):
        self.embedder = embedder
        self.cache_size = cache_size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._limited = False  # the worker's torch threads are limited

    async def encode(self, text: str) -> np.ndarray:
        """The L2-normalised vector of ``text``; waits (off the event loop) for the model to load
        if it has not yet."""
        with self._lock:
            vector = self._cache.get(text)
            if vector is not None:
                self._cache.move_to_end(text)
                return vector
            if self._executor is None:
                self._executor = ThreadPoolExecutor(1, thread_name_prefix="query-encoder")
        loop = asyncio.get_running_loop()
        vector = await loop.run_in_executor(self._executor, self._encode, text)
        with self._lock:
            self._cache[text] = vector
            self._cache.move_to_end(text)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return vector

    def _encode(self, text: str) -> np.ndarray:
        self._limit_threads()  # the model may not be loaded (torch not imported) yet: then after
        vector = np.asarray(self.embedder.encode([text])[0], np.float32)
        self._limit_threads()
        vector.setflags(write=False)  # shared through the cache
        return vector

    def _limit_threads(self) -> None:
        """On the worker thread: one torch thread for this thread only (OpenMP builds; other
        builds share one count across the process, which is left alone)."""
        torch = sys.modules.get("torch")
        if self._limited or torch is None:
            return
        self._limited = True
        if "parallel backend: OpenMP" in torch.__config__.parallel_info():
            torch.set_num_threads(QUERY_THREADS)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
