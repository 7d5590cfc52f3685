"""The same sentence-transformers model run as int8 by ONNX Runtime.

The int8 model is built from the installed model package's own weights, never downloaded: the
transformer is exported to ONNX (opset 17), its attention, GELU and layer norms are fused by
ONNX Runtime's transformer optimiser, and its matrix multiplications are quantised to int8 with
per-channel weight scales (dynamic: each batch's activations get their own scale). The result is
cached under the cache directory, named by a key of the source weights and this recipe, with a
sha256 beside it; a file whose checksum does not match is rebuilt, never used.

Pooling and normalisation are the model's own (mean over the attention mask, L2), done here in
float32, so the vectors live in the fp32 model's space (cosine ~0.99 to fp32; measured in
docs/BENCHMARKS.md) and the embedder keeps the model's name.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bot.core.errors import ConfigError
from bot.relevance.embed import Embedder, batch_sizes

log = logging.getLogger(__name__)

RECIPE = "onnx17-fused-int8-per-channel-v1"  # change it whenever the build below changes
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def source_key(model_dir: Path) -> str:
    """What the int8 file is built from: the model's weights and config, the recipe, the runtime."""
    import onnxruntime

    digest = hashlib.sha256(f"{RECIPE}|{onnxruntime.__version__}".encode())
    for name in ("config.json", "model.safetensors", "pytorch_model.bin"):
        if (model_dir / name).is_file():
            digest.update(name.encode() + file_sha256(model_dir / name).encode())
    return digest.hexdigest()[:16]


def cached_int8_model(model_dir: Path, cache_dir: Path) -> Path:
    """The int8 ONNX file for this model: from the cache when its checksum holds, else built."""
    target = cache_dir / f"{model_dir.name}-int8-{source_key(model_dir)}.onnx"
    checksum = target.with_suffix(".sha256")
    if target.is_file() and checksum.is_file():
        if file_sha256(target) == checksum.read_text(encoding="ascii").strip():
            return target
        log.warning("int8 model %s does not match its checksum: building it again", target)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the model cache {cache_dir}: {exc}") from exc
    logging.disable(logging.INFO)  # the exporter and quantiser log every node they touch
    try:
        with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".build-") as work:
            built = _build_in_child(model_dir, Path(work))
            digest = file_sha256(built)
            os.replace(built, target)  # atomic: a reader sees the old file or the whole new one
    finally:
        logging.disable(logging.NOTSET)
    checksum.write_text(digest + "\n", encoding="ascii")
    log.info("int8 model built from %s: %s (sha256 %s)", model_dir, target, digest[:16])
    return target


def _build_in_child(model_dir: Path, work: Path) -> Path:
    """Build in a child process: exporting holds the torch model and the ONNX graphs (~1 GB at
    its peak), which the embedding process should not keep as its high-water mark."""
    env = os.environ | {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    command = [sys.executable, "-m", "bot.relevance.embed_int8", str(model_dir), str(work)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    built = work / "int8.onnx"
    if done.returncode != 0 or not built.is_file():
        raise RuntimeError(f"exit {done.returncode}: {done.stderr.strip()[-600:]}")
    return built


def build_int8_model(model_dir: Path, work: Path) -> Path:
    """Export, fuse and quantise; returns the int8 file inside ``work``."""
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    exported = _export(model_dir, work / "fp32.onnx")
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers.optimizer import optimize_model

    fused = optimize_model(
        str(exported),
        model_type="bert",
        num_heads=int(config["num_attention_heads"]),
        hidden_size=int(config["hidden_size"]),
        opt_level=1,
    )
    fused.save_model_to_file(str(work / "fused.onnx"))
    quantize_dynamic(
        work / "fused.onnx",
        work / "int8.onnx",
        weight_type=QuantType.QInt8,
        per_channel=True,
        # fused operators are in another domain, which shape inference cannot type
        extra_options={"DefaultTensorType": 1},  # onnx.TensorProto.FLOAT
    )
    return work / "int8.onnx"


def _export(model_dir: Path, out: Path) -> Path:
    import torch
    from transformers import AutoModel, AutoTokenizer

    # eager attention exports as plain operators, which the optimiser fuses into one Attention
    model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    sample = tokenizer(
        ["an example", "and a longer example text"], padding=True, return_tensors="pt"
    )

    class LastHidden(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = model

        def forward(self, ids: Any, mask: Any, types: Any) -> Any:
            return self.inner(input_ids=ids, attention_mask=mask, token_type_ids=types)[0]

    axes = {name: {0: "batch", 1: "tokens"} for name in (*INPUTS, "hidden")}
    with torch.inference_mode(), warnings.catch_warnings():
        # the TorchScript exporter is deprecated in favour of one that needs onnxscript; it
        # exports this encoder exactly (checked by cosine to fp32 in tests/test_embed_int8.py)
        warnings.simplefilter("ignore")
        torch.onnx.export(
            LastHidden(),
            tuple(sample[name] for name in INPUTS),
            str(out),
            input_names=list(INPUTS),
            output_names=["hidden"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )
    return out


class Int8Embedder:
    """An Embedder on ONNX Runtime with the int8 model, built or loaded on first use.

    ``fallback`` (the torch embedder ``auto`` would otherwise have picked) takes over, with a
    warning, where the int8 model cannot be built; without one that is a ConfigError."""

    precision = "int8"

    def __init__(
        self,
        model_dir: Path,
        cache_dir: Path,
        *,
        name: str,
        batch_size: int = 32,
        threads: int | None = None,
        max_tokens: int = 256,
        fallback: Embedder | None = None,
    ):
        self.name = name
        self.model_dir = model_dir
        self.cache_dir = cache_dir
        self.batch_size = batch_size
        self.threads = threads or len(os.sched_getaffinity(0))
        self.max_tokens = max_tokens
        self.fallback = fallback
        self.runtime = "onnxruntime int8"
        self._session: Any = None
        self._tokenizer: Any = None
        self._failed = False
        self._lock = threading.Lock()

    def load(self) -> None:
        with self._lock:
            if self._session is not None or self._failed:
                return
            try:
                self._session, self._tokenizer = self._open()
            except Exception as exc:  # export and quantisation fail in many ways
                reason = f"{exc.__class__.__name__}: {str(exc)[:300]}"
                if self.fallback is None:
                    raise ConfigError(f"cannot build the int8 model: {reason}") from exc
                # a model that the fallback cannot load either is the real fault: say that one
                self.fallback.encode(["threatwatch start-up check"])
                self._failed = True
                self.runtime = f"{getattr(self.fallback, 'runtime', 'torch')} (int8 failed)"
                log.warning("int8 model unavailable (%s): using %s", reason, self.runtime)

    def _open(self) -> tuple[Any, Any]:
        import onnxruntime
        from tokenizers import Tokenizer

        path = cached_int8_model(self.model_dir, self.cache_dir)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        session = onnxruntime.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"]
        )
        tokenizer = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
        tokenizer.enable_truncation(self.max_tokens)
        tokenizer.enable_padding(pad_id=tokenizer.token_to_id("[PAD]") or 0)
        return session, tokenizer

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.load()
        if self._session is None and self.fallback is not None:
            return self.fallback.encode(texts)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))  # like lengths together
        vectors = np.zeros((len(texts), self._dimension()), np.float32)
        start = 0
        for size in batch_sizes(len(texts), self.batch_size):
            rows = order[start : start + size]
            vectors[rows] = self._encode_batch([texts[i] for i in rows])
            start += size
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms > 0, norms, 1.0)

    def _dimension(self) -> int:
        config = json.loads((self.model_dir / "config.json").read_text(encoding="utf-8"))
        return int(config["hidden_size"])

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        types = np.array([e.type_ids for e in encodings], dtype=np.int64)
        (hidden,) = self._session.run(
            None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        )
        weights = mask[..., None].astype(np.float32)  # mean pooling over real tokens
        return (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)


if (
    __name__ == "__main__"
):  # the child of _build_in_child: python -m bot.relevance.embed_int8 DIR WORK
    logging.disable(logging.INFO)
    build_int8_model(Path(sys.argv[1]), Path(sys.argv[2]))
