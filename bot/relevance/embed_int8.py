"""The same sentence-transformers model run as int8 by ONNX Runtime, one text per run.

The int8 model is built from the installed model package's own weights, never downloaded: the
transformer is exported to ONNX (opset 17), its embeddings and attention are fused by ONNX
Runtime's transformer optimiser, and its matrix multiplications are quantised to int8 with
per-channel weight scales and dynamic activation scales. Residual adds with layer norms, and bias
adds with GELU, are left unfused, in the file and in the session: ONNX Runtime 1.31's fused
SkipLayerNormalization took 14% of a text's time on one core where Add + LayerNormalization take
3%, and BiasGelu is slower than Add + Gelu (a run of 128 tokens: 21.8 ms against 25.6 ms fused;
docs/BENCHMARKS.md, "The first cycle at 2×, and int8 v3"). The result is cached under the cache
directory, named by a key of the source weights, this recipe and the weight type, with a sha256
beside it; a file whose checksum does not match is rebuilt, never used. ``make install`` builds it
once into the environment (``threatwatch models build``: ``<prefix>/share/threatwatch/models``),
where every process looks first, so a first start does not spend ~20 s building it.

Each text runs alone (a batch of one, no padding). Dynamic quantisation takes one activation
scale over the whole input tensor, so in a batch a text's vector moved with the texts beside it
(cosine ~0.99 to itself); alone, its scale is its own and its vector is the same bit for bit
whatever it is embedded with. Speed comes from running several texts at once, one intra-op
thread each, instead of batching: on a 2-core AVX2 CPU that is as fast as batches of 32
(docs/BENCHMARKS.md, "Ingest int8").

Weights are signed int8 where the CPU has int8 dot products (VNNI, AMX). Elsewhere (AVX2 without
VNNI) ONNX Runtime's u8 x s8 kernels sum pairs of products in saturating 16-bit lanes, which
cost a text up to 0.02 of cosine to fp32 with full 8-bit weights; so there the weights are signed
7-bit (``s8r``: quantised with a reduced range, |w| <= 64, so that 2 x 255 x 64 stays below
32767 and nothing saturates). u8 x u8 (``u8``, the build before) does not saturate either, but
its kernels ran 26% slower on a 2-core AVX2 CPU, at a mean cosine to fp32 of 0.9952 against
s8r's 0.9939 (bench/embed_agreement.py).

Pooling and normalisation are the model's own (mean over the tokens, L2), done here in float32,
so the vectors live in the fp32 model's space (cosine ~0.994 to fp32, worst 0.977; measured in
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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from bot.core.errors import ConfigError
from bot.relevance.embed import Embedder, _cpu_flags, int8_dot_products

log = logging.getLogger(__name__)

RECIPE = "onnx17-fused-int8-per-channel-v3"  # change it whenever the build below changes
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
WEIGHT_TYPES = ("s8", "s8r", "u8")
# fusions ONNX Runtime would otherwise apply again when it loads the file (see above)
UNFUSED = ("SkipLayerNormFusion", "BiasGeluFusion")


def weight_type(cpu_flags: str) -> str:
    """s8 where the CPU has int8 dot products (they do not saturate), else s8r (see above)."""
    return "s8" if int8_dot_products(cpu_flags) else "s8r"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def source_key(model_dir: Path, weights: str) -> str:
    """What the int8 file is built from: the model's weights and config, the recipe, the weight
    type, the runtime."""
    import onnxruntime

    digest = hashlib.sha256(f"{RECIPE}|{weights}|{onnxruntime.__version__}".encode())
    for name in ("config.json", "model.safetensors", "pytorch_model.bin"):
        if (model_dir / name).is_file():
            digest.update(name.encode() + file_sha256(model_dir / name).encode())
    return digest.hexdigest()[:16]


def installed_models() -> Path:
    """Where ``threatwatch models build`` puts int8 models at install time: in the Python
    environment the bot is installed in (the venv of ``make install``, the image's /opt/venv),
    which every data directory on the machine shares."""
    return Path(sys.prefix) / "share" / "threatwatch" / "models"


def model_file_name(model_dir: Path, weights: str) -> str:
    if weights not in WEIGHT_TYPES:
        raise ConfigError(f"unknown int8 weight type {weights!r}: use {', '.join(WEIGHT_TYPES)}")
    return f"{model_dir.name}-int8{weights}-{source_key(model_dir, weights)}.onnx"


def recorded_sha256(path: Path) -> str:
    """The checksum written beside a built model (raises OSError or UnicodeDecodeError)."""
    return path.with_suffix(".sha256").read_text(encoding="ascii").strip()


def intact(path: Path) -> bool:
    """Whether ``path`` and its checksum file exist and agree (a mismatch is logged)."""
    if not (path.is_file() and path.with_suffix(".sha256").is_file()):
        return False
    try:
        if file_sha256(path) == recorded_sha256(path):
            return True
    except (OSError, UnicodeDecodeError):
        pass
    log.warning("int8 model %s does not match its checksum: not used", path)
    return False


def cached_int8_model(
    model_dir: Path,
    cache_dir: Path,
    weights: str = "s8",
    *,
    installed: Sequence[Path] | None = None,
) -> Path:
    """The int8 ONNX file for this model: one built at install time (``installed``, by default
    installed_models()) or in the cache, whichever is intact first; else built into the cache."""
    name = model_file_name(model_dir, weights)
    for folder in (installed_models(),) if installed is None else installed:
        if intact(folder / name):
            return folder / name
    target = cache_dir / name
    if intact(target):
        return target
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the model cache {cache_dir}: {exc}") from exc
    logging.disable(logging.INFO)  # the exporter and quantiser log every node they touch
    try:
        with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".build-") as work:
            built = _build_in_child(model_dir, Path(work), weights)
            digest = file_sha256(built)
            os.replace(built, target)  # atomic: a reader sees the old file or the whole new one
    finally:
        logging.disable(logging.NOTSET)
    target.with_suffix(".sha256").write_text(digest + "\n", encoding="ascii")
    log.info("int8 model built from %s: %s (sha256 %s)", model_dir, target, digest[:16])
    return target


STAGES = ("export", "fuse", "quantize")


def _build_in_child(model_dir: Path, work: Path, weights: str) -> Path:
    """Build in child processes, one per stage, so the embedding process never keeps a build's
    peak as its high-water mark, and no stage holds another's: exporting holds torch and the
    model (790 MB measured), fusing ONNX Runtime's optimiser (860 MB), quantising 490 MB; in one
    process they reached 1.1-1.4 GB."""
    env = os.environ | {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    for stage in STAGES:
        command = [
            sys.executable,
            "-m",
            "bot.relevance.embed_int8",
            stage,
            str(model_dir),
            str(work),
            weights,
        ]
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{stage}: exit {done.returncode}: {done.stderr.strip()[-600:]}")
    built = work / "int8.onnx"
    if not built.is_file():
        raise RuntimeError(f"no model written in {work}")
    return built


def build_stage(stage: str, model_dir: Path, work: Path, weights: str) -> None:
    """One stage of the build, reading the previous stage's file in ``work``."""
    if stage == "export":
        _export(model_dir, work / "fp32.onnx")
    elif stage == "fuse":
        from onnxruntime.transformers.fusion_options import FusionOptions
        from onnxruntime.transformers.optimizer import optimize_model

        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
        options = FusionOptions("bert")
        options.enable_skip_layer_norm = False  # slower fused than not (see above)
        options.enable_bias_gelu = False
        fused = optimize_model(
            str(work / "fp32.onnx"),
            model_type="bert",
            num_heads=int(config["num_attention_heads"]),
            hidden_size=int(config["hidden_size"]),
            opt_level=1,
            optimization_options=options,
        )
        fused.save_model_to_file(str(work / "fused.onnx"))
    elif stage == "quantize":
        quantize(work / "fused.onnx", work / "int8.onnx", weights)
    else:
        raise ValueError(f"unknown build stage {stage!r}")


def quantize(source: Path, target: Path, weights: str) -> None:
    """Quantise the float model ``source`` into ``target``: per-channel int8 weights of type
    ``weights``, activation scales taken at run time (bench/ceiling.py measures the peak of the
    same kernels)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        source,
        target,
        weight_type=QuantType.QUInt8 if weights == "u8" else QuantType.QInt8,
        per_channel=True,
        reduce_range=weights == "s8r",  # 7-bit weights: no saturation without VNNI
        # fused operators are in another domain, which shape inference cannot type
        extra_options={"DefaultTensorType": 1},  # onnx.TensorProto.FLOAT
    )


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

    Each text runs alone; ``threads`` texts run at once, one intra-op thread each (a text's
    result does not depend on the thread count either: one thread per run, the same kernels).
    ``fallback`` (the torch embedder ``auto`` would otherwise have picked) takes over, with a
    warning, where the int8 model cannot be built; without one that is a ConfigError."""

    precision = "int8"

    def __init__(
        self,
        model_dir: Path,
        cache_dir: Path,
        *,
        name: str,
        threads: int | None = None,
        max_tokens: int = 256,
        weights: str | None = None,
        fallback: Embedder | None = None,
        installed: Sequence[Path] | None = None,  # folders of models built at install time
    ):
        self.name = name
        self.model_dir = model_dir
        self.cache_dir = cache_dir
        self.threads = threads or len(os.sched_getaffinity(0))
        self.max_tokens = max_tokens
        self.weights = weights or weight_type(_cpu_flags())
        self.fallback = fallback
        self.installed = installed
        self.runtime = "onnxruntime int8"
        # what its vectors come from, beyond the runtime's name: seed vectors kept on disk
        # (bot/relevance/vector_files.py) are not shared with another build of the int8 model
        self.recipe = f"{RECIPE}-{self.weights}"
        self._session: Any = None
        self._tokenizer: Any = None
        self._dimension = 0
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

        path = cached_int8_model(
            self.model_dir, self.cache_dir, self.weights, installed=self.installed
        )
        log.info("int8 model: %s", path)  # built at install time, or in the model cache
        options = onnxruntime.SessionOptions()
        # one thread per run: a text of 40 tokens is too little work to split across cores
        # (two intra-op threads on one text ran at 0.6x of two texts at once, measured)
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        session = onnxruntime.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"], disabled_optimizers=UNFUSED
        )
        tokenizer = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
        tokenizer.enable_truncation(self.max_tokens)
        tokenizer.no_padding()  # each text runs alone: padding would only add work
        config = json.loads((self.model_dir / "config.json").read_text(encoding="utf-8"))
        self._dimension = int(config["hidden_size"])
        return session, tokenizer

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.load()
        if self._session is None and self.fallback is not None:
            return self.fallback.encode(texts)
        encodings = self._tokenizer.encode_batch(list(texts)) if texts else []
        # longest first, so that the runs left at the end are short and the threads end together
        order = sorted(range(len(encodings)), key=lambda i: -len(encodings[i].ids))
        vectors = np.zeros((len(encodings), self._dimension), np.float32)
        workers = min(self.threads, len(order))
        if workers <= 1:
            for i in order:
                vectors[i] = self._encode_one(encodings[i])
        else:  # ONNX Runtime releases the GIL while it runs, and a session may run in threads
            with ThreadPoolExecutor(workers, thread_name_prefix="int8") as pool:
                done = pool.map(lambda i: self._encode_one(encodings[i]), order)
                for i, vector in zip(order, done, strict=True):
                    vectors[i] = vector
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms > 0, norms, 1.0)

    def _encode_one(self, encoding: Any) -> np.ndarray:
        ids = np.array([encoding.ids], dtype=np.int64)
        feeds = {
            "input_ids": ids,
            "attention_mask": np.ones_like(ids),
            "token_type_ids": np.array([encoding.type_ids], dtype=np.int64),
        }
        (hidden,) = self._session.run(None, feeds)
        return hidden[0].mean(axis=0, dtype=np.float32)  # mean pooling: every token is real


if (
    __name__ == "__main__"
):  # a child of _build_in_child: python -m bot.relevance.embed_int8 STAGE DIR WORK WEIGHTS
    logging.disable(logging.INFO)
    build_stage(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4])
