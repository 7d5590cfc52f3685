"""The int8 runtime (THREATWATCH_EMBED_PRECISION=int8, and auto on CPUs with AVX2):
the bundled model, exported and quantised on first use, cached with a checksum, gives float32
unit vectors close to fp32's, each text's the same whatever it is embedded with; a model built at
install time (`threatwatch models build`) is used before the cache; a damaged one is passed over
and a damaged cache rebuilt; a model that cannot be built is a clear error (a fallback, where one is given, says
so)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from pydantic import ValidationError

from bot.core.errors import ConfigError
from bot.core.settings import Settings
from bot.relevance.embed import HashingEmbedder, SentenceTransformerEmbedder, _cpu_flags, passages
from bot.relevance.embed_choice import Choice, choose, describe, runtime_embedder
from bot.relevance.embed_int8 import (
    Int8Embedder,
    cached_int8_model,
    file_sha256,
    weight_type,
)

DEV_CORPUS = Path(__file__).parents[3] / "data" / "dev_corpus.jsonl"
EPYC = "fpu avx2 avx512f avx512_vnni avx512_bf16 avx_vnni"
ZEN3 = "fpu sse4_2 avx fma avx2 bmi2"  # AVX2, no int8 dot products, no bfloat16


def test_auto_takes_int8_where_the_cpu_has_avx2_else_bf16_where_native_else_fp32() -> None:
    # int8 runs each text alone (the same vector in any batch) and was the fastest measured
    assert choose("auto", EPYC, int8_installed=True) == Choice(
        "int8", "auto: int8 per text, the CPU has avx512_vnni"
    )
    assert choose("auto", ZEN3, int8_installed=True) == Choice(
        "int8", "auto: int8 per text, the CPU has avx2"
    )
    assert choose("auto", "fpu avx2 amx_bf16 amx_int8", int8_installed=True).precision == "int8"
    # without onnxruntime, or on a CPU where int8 was not measured: torch
    assert choose("auto", EPYC, int8_installed=False) == Choice(
        "bf16", "auto: native bfloat16 (onnxruntime not installed)"
    )
    assert choose("auto", ZEN3, int8_installed=False).precision == "fp32"
    assert choose("auto", "fpu sse4_2 avx", int8_installed=True) == Choice(
        "fp32", "auto: no native bfloat16 (no avx2)"
    )
    assert choose("auto", "", int8_installed=False).precision == "fp32"


def test_int8_weights_are_signed_only_where_the_cpu_has_int8_dot_products() -> None:
    # without VNNI, u8 x s8 products are summed in saturating 16-bit lanes: 7-bit weights there
    assert weight_type(EPYC) == "s8" and weight_type("fpu avx2 amx_int8") == "s8"
    assert weight_type(ZEN3) == "s8r" and weight_type("") == "s8r"


def test_an_explicit_precision_is_kept_and_a_bad_one_refused() -> None:
    assert choose("fp32", EPYC, int8_installed=True).precision == "fp32"
    assert choose("int8", "", int8_installed=True).precision == "int8"
    with pytest.raises(ConfigError, match="needs onnxruntime"):
        choose("int8", EPYC, int8_installed=False)
    with pytest.raises(ConfigError, match="unknown embedding precision 'int4'"):
        choose("int4", EPYC, int8_installed=True)


def test_the_setting_takes_int8_and_refuses_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("THREATWATCH_EMBED_PRECISION", "int8")
    assert Settings(db=tmp_path / "t.db").embed_precision == "int8"
    monkeypatch.setenv("THREATWATCH_EMBED_PRECISION", "int4")
    with pytest.raises(ValidationError):
        Settings(db=tmp_path / "t.db")


def dev_passages(per_label: int = 6) -> list[str]:
    rows = [json.loads(line) for line in DEV_CORPUS.read_text(encoding="utf-8").splitlines()]
    out: list[str] = []
    for label in ("related", "hard_negative", "negative"):
        for row in [r for r in rows if r["label"] == label][:per_label]:
            out.extend(passages(row["title"] or "", row["text"])[:2])
    return out


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("int8")


def model_dir() -> Path:
    return SentenceTransformerEmbedder("all-MiniLM-L6-v2").model_path()


WEIGHTS = weight_type(_cpu_flags())  # the model this machine's embedder builds


@pytest.mark.model
def test_int8_vectors_are_close_to_fp32_and_keep_the_ranking(cache: Path) -> None:
    texts = dev_passages()
    int8 = runtime_embedder("all-MiniLM-L6-v2", precision="int8", cache_dir=cache)
    fp32 = SentenceTransformerEmbedder("all-MiniLM-L6-v2")
    a, b = fp32.encode(texts), int8.encode(texts)
    assert isinstance(int8, Int8Embedder) and int8.name == fp32.name
    assert b.dtype == np.float32 and b.shape == a.shape
    assert np.allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-5)
    cosine = (a * b).sum(axis=1)
    assert cosine.mean() > 0.99 and cosine.min() > 0.98
    # the related passages' five nearest neighbours among all passages: at least four the same
    # (near ties may swap the fifth)
    for query in range(4):
        same = set(np.argsort(-(a @ a[query]))[:5]) & set(np.argsort(-(b @ b[query]))[:5])
        assert len(same) >= 4
    assert (
        describe(int8) == "all-MiniLM-L6-v2 onnxruntime int8 (set by THREATWATCH_EMBED_PRECISION)"
    )


@pytest.mark.model
def test_the_cached_model_is_reused_and_a_damaged_one_rebuilt(cache: Path) -> None:
    first = cached_int8_model(model_dir(), cache, WEIGHTS, installed=())
    stamp = first.stat().st_mtime_ns
    assert cached_int8_model(model_dir(), cache, WEIGHTS, installed=()) == first
    assert first.stat().st_mtime_ns == stamp
    assert file_sha256(first) == first.with_suffix(".sha256").read_text().strip()
    # residual adds with layer norms and GELU's bias are left unfused: faster so (the module's
    # docstring); attention is fused and quantised
    ops = {node.op_type for node in onnx.load(str(first)).graph.node}
    assert "QAttention" in ops and "LayerNormalization" in ops and "Gelu" in ops
    assert not ops & {"SkipLayerNormalization", "BiasGelu"}
    damage(first)
    rebuilt = cached_int8_model(model_dir(), cache, WEIGHTS, installed=())
    assert (
        rebuilt == first
        and file_sha256(rebuilt) == first.with_suffix(".sha256").read_text().strip()
    )
    vectors = Int8Embedder(model_dir(), cache, name="m", weights=WEIGHTS).encode(
        ["rockets hit the base"]
    )
    assert vectors.shape == (1, 384) and abs(float(np.linalg.norm(vectors)) - 1.0) < 1e-5


def damage(path: Path) -> None:
    with path.open("r+b") as handle:  # flip bytes in the middle of the weights
        handle.seek(path.stat().st_size // 2)
        handle.write(b"\x00\xff" * 64)


@pytest.mark.model
def test_a_model_built_at_install_time_is_used_and_a_damaged_one_passed_over(
    cache: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    built = cached_int8_model(model_dir(), cache, WEIGHTS, installed=())
    installed = tmp_path / "share" / "threatwatch" / "models"
    installed.mkdir(parents=True)
    for path in (built, built.with_suffix(".sha256")):
        shutil.copy(path, installed / path.name)
    empty = tmp_path / "model-cache"
    assert cached_int8_model(model_dir(), empty, WEIGHTS, installed=[installed]) == (
        installed / built.name
    )
    assert not empty.exists()  # nothing built, nothing cached
    damage(installed / built.name)
    with caplog.at_level(logging.WARNING, logger="bot.relevance.embed_int8"):
        chosen = cached_int8_model(model_dir(), cache, WEIGHTS, installed=[installed])
    assert chosen == built and "does not match its checksum: not used" in caplog.text


@pytest.mark.model
def test_models_build_checks_a_built_model_and_refuses_bad_arguments(
    cache: Path, tmp_path: Path
) -> None:
    env = {**os.environ, "THREATWATCH_DB": str(tmp_path / "x.db"), "HF_HUB_OFFLINE": "1"}

    def models(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "bot", "models", "build", *args]
        return subprocess.run(
            command, env=env | extra, capture_output=True, text=True, timeout=300, check=False
        )

    if not list(cache.glob("*.onnx")):
        cached_int8_model(model_dir(), cache, WEIGHTS, installed=())
    done = models("--into", str(cache), "--weights", WEIGHTS)
    assert done.returncode == 0, done.stderr
    assert f"({WEIGHTS} weights, sha256 " in done.stdout and "int8 model built" not in done.stderr
    skipped = models("--if-used", THREATWATCH_EMBED_PRECISION="fp32")
    assert skipped.returncode == 0 and "int8 model not needed here: fp32" in skipped.stdout
    bad = models("--weights", "s4")
    assert bad.returncode == 2 and "'s4' is not one of" in bad.stderr
    unknown = models("--into", str(tmp_path / "m"), THREATWATCH_MODEL="no-such-model")
    assert unknown.returncode != 0 and "unknown model 'no-such-model'" in unknown.stderr
    assert not (tmp_path / "m").exists()


@pytest.mark.model
def test_a_texts_int8_vector_does_not_depend_on_what_it_is_embedded_with(cache: Path) -> None:
    texts = dev_passages(per_label=3)
    short = ["Rockets hit a base housing U.S. troops.", "The council approved a budget.", ""]
    embedder = Int8Embedder(model_dir(), cache, name="m", weights=WEIGHTS)
    alone = np.vstack([embedder.encode([text]) for text in texts + short])
    # beside long and short companions, in another order, one at a time or several at once
    together = embedder.encode(texts + short)
    shuffled = embedder.encode(list(reversed(texts + short)))[::-1]
    one_thread = Int8Embedder(model_dir(), cache, name="m", weights=WEIGHTS, threads=1)
    mixed = one_thread.encode(short[:1] + texts[::2] + short[1:])
    assert np.array_equal(alone, together) and np.array_equal(alone, shuffled)
    assert np.array_equal(mixed[0], alone[len(texts)])
    assert np.array_equal(mixed[1 : 1 + len(texts[::2])], alone[: len(texts) : 2])


def broken_model(tmp_path: Path) -> Path:
    folder = tmp_path / "broken-model"
    folder.mkdir()
    (folder / "config.json").write_text('{"model_type": "bert", "hidden_size": 384}')
    (folder / "model.safetensors").write_bytes(b"not weights")
    return folder


@pytest.mark.model
def test_a_model_that_cannot_be_built_is_a_clear_error(tmp_path: Path) -> None:
    embedder = Int8Embedder(broken_model(tmp_path), tmp_path / "cache", name="broken")
    with pytest.raises(ConfigError, match="cannot build the int8 model"):
        embedder.encode(["a text"])
    assert not list((tmp_path / "cache").glob("*.onnx"))  # nothing half-built left as a model


@pytest.mark.model
def test_auto_falls_back_to_torch_when_int8_cannot_be_built(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fallback = HashingEmbedder()
    embedder = Int8Embedder(broken_model(tmp_path), tmp_path / "cache", name="x", fallback=fallback)
    with caplog.at_level(logging.WARNING, logger="bot.relevance.embed_int8"):
        vectors = embedder.encode(["rockets hit the base", "budget approved"])
    assert np.array_equal(vectors, fallback.encode(["rockets hit the base", "budget approved"]))
    assert "int8 model unavailable" in caplog.text and "(int8 failed)" in embedder.runtime


def test_a_cache_directory_that_cannot_be_made_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    embedder = Int8Embedder(model_dir(), blocker / "cache", name="m", installed=())
    with pytest.raises(ConfigError, match="cannot"):
        embedder.encode(["a text"])
