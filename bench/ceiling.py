"""How fast the int8 path could embed on this CPU at best: the model's work split by the
arithmetic it runs in, and the peak rate of each measured here, on ONNX Runtime's own kernels.

    python bench/ceiling.py [--seconds S]      # prints the measured peaks

The int8 model (bot/relevance/embed_int8.py) runs the Q, K, V and output projections and the
feed-forward (``linear``) as int8 matrix products, and attention's Q·Kᵀ and weights·V in fp32.
So an embedding pass takes at least linear / int8 peak + attention / fp32 peak. Each peak is the
rate of one product of the model's biggest shape (256 tokens × 384 → 1536, the feed-forward of a
full window), the int8 one quantised exactly as the model is (per-channel weights of this CPU's
weight type), run by one single-threaded session per core, all cores at once, as the embedder
runs texts. Smaller products (shorter texts) run slower, so the bound is optimistic: no pass of
the real model can beat it. GELU, layer norms, tokenising and pooling count as free.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

# all-MiniLM-L6-v2's config.json: 6 layers, hidden 384, intermediate 1536, window 256 pieces
LAYERS, HIDDEN, INTERMEDIATE, WINDOW = 6, 384, 1536, 256
SHAPE = (WINDOW, HIDDEN, INTERMEDIATE)  # M × K → N: the feed-forward's first product


def model_tokenizer() -> Any:
    """The model's own tokenizer, every text in all its pieces: without the truncation and the
    padding to 128 pieces that its tokenizer.json sets."""
    from tokenizers import Tokenizer

    from bot.relevance.embed import SentenceTransformerEmbedder

    path = SentenceTransformerEmbedder("all-MiniLM-L6-v2").model_path() / "tokenizer.json"
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


def split_gflop(texts: Sequence[str]) -> tuple[float, float]:
    """(linear, attention) GFLOP to embed ``texts`` (a multiply-add is 2), each text counted by
    its own word pieces with [CLS] and [SEP], at most the window, padding not counted."""
    tokenizer = model_tokenizer()
    linear = attention = 0
    for encoding in tokenizer.encode_batch(list(texts)):
        n = min(len(encoding.ids), WINDOW)
        linear += 2 * LAYERS * n * (4 * HIDDEN * HIDDEN + 2 * HIDDEN * INTERMEDIATE)
        attention += 2 * LAYERS * n * (2 * n * HIDDEN)  # Q·Kᵀ and weights·V over all heads
    return linear / 1e9, attention / 1e9


def _product_model(path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    m, k, n = SHAPE
    weights = np.random.default_rng(0).normal(0, 0.05, (k, n)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["a", "w"], ["y"])],
        "product",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, [m, k])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [m, n])],
        [numpy_helper.from_array(weights, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))


def _rate(path: Path, gflop_per_run: float, seconds: float) -> float:
    """GFLOP/s of one session per core, single-threaded, all running at once."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    a = np.random.default_rng(1).normal(0, 1, SHAPE[:2]).astype(np.float32)
    for _ in range(3):
        session.run(None, {"a": a})
    cores = len(os.sched_getaffinity(0))

    def runs(deadline: float) -> int:
        count = 0
        while time.perf_counter() < deadline:
            session.run(None, {"a": a})
            count += 1
        return count

    start = time.perf_counter()
    with ThreadPoolExecutor(cores) as pool:
        total = sum(pool.map(runs, [start + seconds] * cores))
    return total * gflop_per_run / (time.perf_counter() - start)


def measured_peaks(seconds: float = 2.0) -> dict[str, float]:
    """{"int8": GOP/s, "fp32": GFLOP/s}: the best of three turns each, this CPU's weight type."""
    from bot.relevance.embed import _cpu_flags
    from bot.relevance.embed_int8 import quantize, weight_type

    weights = weight_type(_cpu_flags())
    m, k, n = SHAPE
    gflop = 2 * m * k * n / 1e9
    with tempfile.TemporaryDirectory() as tmp:
        fp32, int8 = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        _product_model(fp32)
        quantize(fp32, int8, weights)  # exactly as the model's products are
        turns = [(_rate(int8, gflop, seconds), _rate(fp32, gflop, seconds)) for _ in range(3)]
    return {
        "int8": round(max(t[0] for t in turns), 1),
        "fp32": round(max(t[1] for t in turns), 1),
        "weights": weights,  # type: ignore[dict-item]
        "shape": "x".join(map(str, SHAPE)),  # type: ignore[dict-item]
    }


def embed_floor_seconds(linear: float, attention: float, peaks: dict[str, float]) -> float:
    """The least time an int8 pass can embed in: each part of its work at its own peak."""
    return linear / peaks["int8"] + attention / peaks["fp32"]


def add_ceilings(rows: list[dict], peaks: dict[str, Any]) -> None:
    """On each int8 row of bench/ingest.py: the least time its embed stage could take on this
    CPU, and the best ratio to the baseline that leaves, with the pass's other stages (parse,
    detect, match) as measured, and with them free."""
    for row in rows:
        if row["path"] == "baseline" or "int8" not in row["runtime"]:
            continue
        floor = embed_floor_seconds(row["linear_gflop"], row["attention_gflop"], peaks)
        other = sum(ms for stage, ms in row["stages_ms"].items() if stage != "embed") / 1000
        embed = row["stages_ms"].get("embed", 0) / 1000 or row["articles"] / row["articles_per_s"]
        row["ceiling"] = {
            "embed_floor_s": round(floor, 2),
            "embed_s": embed,
            "best_ratio": round(row["baseline_seconds"] / (floor + other), 2),
            "best_ratio_embed_only": round(row["baseline_seconds"] / floor, 2),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="per turn and precision")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    print(json.dumps(measured_peaks(args.seconds)))


if __name__ == "__main__":
    main()
