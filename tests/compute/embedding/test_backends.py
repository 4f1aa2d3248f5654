"""The int8 (ONNX Runtime) backend: export and cache, agreement with fp32, selection under `auto`, and
the service run with COMPUTE_EMBED_BACKEND=int8. The export runs once per session into a temp cache."""

import os
import shutil
import time

import httpx
import numpy as np
import pytest
from sentence_transformers import SentenceTransformer

from compute.embedding import (
    BackendRefused,
    EmbeddingModel,
    agreement,
    default_model_path,
    has_vnni,
    onnx_export,
)
from compute.embedding import model as model_mod
from tests.support import ComputeServer

NAME = "all-MiniLM-L6-v2"
TEXTS = [
    "Docling converts PDF documents into structured text.",
    "A short one.",
    "Vector search finds passages whose meaning is close to the question, even without shared words. " * 3,
    "Die Katze schläft auf dem warmen Fensterbrett.",
    "word " * 600,  # truncated
]


@pytest.fixture(scope="session")
def int8_cache(tmp_path_factory):
    cache = tmp_path_factory.mktemp("int8-cache")
    path, exported = onnx_export.ensure_int8(
        default_model_path(), cache, onnx_export.options_for_cpu(has_vnni())
    )
    assert exported and path.is_file()
    return cache


@pytest.fixture(scope="module")
def reference():
    model = SentenceTransformer(str(default_model_path()), device="cpu")
    model.max_seq_length = 256
    return model


@pytest.fixture
def short_probe(monkeypatch):
    """A 2-text speed probe: the tests check the decision logic, not this machine's speed."""
    monkeypatch.setattr(model_mod, "SPEED_PROBE_TEXTS", 2)


@pytest.fixture(scope="module")
def int8_model(int8_cache):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(model_mod, "SPEED_PROBE_TEXTS", 2)
        return EmbeddingModel(NAME, default_model_path(), backend="int8", threads=2, cache_dir=int8_cache)


def _unit(v):
    v = np.asarray(v, dtype=np.float32)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def test_cache_is_reused_not_exported_again(int8_cache):
    options = onnx_export.options_for_cpu(has_vnni())
    first = onnx_export.cached(int8_cache, onnx_export.cache_key(default_model_path(), options))
    mtime_ns = first.stat().st_mtime_ns
    path, exported = onnx_export.ensure_int8(default_model_path(), int8_cache, options)
    assert not exported and path == first and path.stat().st_mtime_ns == mtime_ns


def test_cache_key_changes_with_options():
    path = default_model_path()
    keys = {onnx_export.cache_key(path, onnx_export.QuantOptions(reduce_range=r)) for r in (True, False)}
    assert len(keys) == 2


def test_cache_key_covers_every_weight_shard(tmp_path):
    model = tmp_path / "sharded"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "model.safetensors.index.json").write_text("{}")
    for shard in ("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"):
        (model / shard).write_bytes(b"weights")
    options = onnx_export.QuantOptions()
    before = onnx_export.cache_key(model, options)
    (model / "model-00002-of-00002.safetensors").write_bytes(b"retrained")
    assert onnx_export.cache_key(model, options) != before


def test_truncated_cache_file_is_rebuilt(int8_cache, tmp_path):
    options = onnx_export.options_for_cpu(has_vnni())
    cache = tmp_path / "cache"
    shutil.copytree(int8_cache, cache)
    original = onnx_export.cached(cache, onnx_export.cache_key(default_model_path(), options))
    with open(original, "r+b") as fh:  # as a crash halfway through a copy would leave it
        fh.truncate(original.stat().st_size // 2)
    path, exported = onnx_export.ensure_int8(default_model_path(), cache, options)
    assert (
        exported and onnx_export.cached(cache, onnx_export.cache_key(default_model_path(), options)) == path
    )
    assert not any(p.name.startswith("int8-export-") for p in cache.iterdir())  # no temp dir left


def test_fixed_pairs_rank_their_own_passage_in_fp32(reference):
    vectors = reference.encode(agreement.pair_texts())
    assert list(agreement.top1(vectors)) == list(range(len(agreement.PAIRS)))


def test_int8_agrees_with_fp32_and_ranks_the_pairs(int8_model, reference):
    assert (int8_model.backend, int8_model.dtype) == ("onnxruntime", "int8")
    assert "requested" in int8_model.selection and "top-1 10/10" in int8_model.selection
    got = int8_model.encode(TEXTS, "passage", batch_tokens=2048)
    want = reference.encode(TEXTS, normalize_embeddings=True)
    cos = np.sum(_unit(got.vectors) * want, axis=1)
    assert cos.min() >= agreement.MIN_COSINE
    assert got.truncated == [False, False, False, False, True]
    pairs = int8_model.encode(agreement.pair_texts(), "query", batch_tokens=512).vectors
    assert list(agreement.top1(pairs)) == list(range(len(agreement.PAIRS)))


def test_int8_keeps_token_counts(int8_model):
    assert int8_model.token_lengths(["hello world"]) == [4]
    assert int8_model.encode(["hello world"], "query", 2048).token_counts == [4]


def test_auto_without_bf16_picks_int8_when_it_agrees_and_is_faster(int8_cache, short_probe, monkeypatch):
    monkeypatch.setattr(model_mod, "INT8_MIN_SPEEDUP", 0.0)
    m = EmbeddingModel(
        NAME, default_model_path(), backend="auto", threads=2, cache_dir=int8_cache, cpu_bf16=False
    )
    assert m.dtype == "int8" and m.selection.startswith("int8 (auto)")


def test_auto_stays_fp32_when_int8_is_not_faster(int8_cache, short_probe, monkeypatch):
    monkeypatch.setattr(model_mod, "INT8_MIN_SPEEDUP", 1000.0)
    m = EmbeddingModel(
        NAME, default_model_path(), backend="auto", threads=2, cache_dir=int8_cache, cpu_bf16=False
    )
    assert (m.backend, m.dtype) == ("torch", "float32") and "only" in m.selection


def test_auto_stays_fp32_and_forced_int8_refuses_when_the_check_fails(int8_cache, short_probe, monkeypatch):
    monkeypatch.setattr(agreement, "MIN_COSINE", 1.01)  # no int8 vector can pass
    m = EmbeddingModel(
        NAME, default_model_path(), backend="auto", threads=2, cache_dir=int8_cache, cpu_bf16=False
    )
    assert m.dtype == "float32" and "disagrees" in m.selection
    with pytest.raises(BackendRefused, match="disagrees"):
        EmbeddingModel(NAME, default_model_path(), backend="int8", threads=2, cache_dir=int8_cache)


@pytest.fixture(scope="module")
def int8_server(int8_cache, tmp_path_factory):
    log = tmp_path_factory.mktemp("compute-int8") / "compute.log"
    server = ComputeServer(log, COMPUTE_EMBED_BACKEND="int8", COMPUTE_MODEL_CACHE_DIR=str(int8_cache)).start()
    yield server
    server.stop()


def test_service_with_int8_reports_and_embeds(int8_server, reference):
    with httpx.Client(base_url=int8_server.url, timeout=120) as client:
        info = client.get("/models").json()
        model = info["models"][0]
        assert (model["backend"], model["dtype"]) == ("onnxruntime", "int8")
        assert model["selection"].startswith("int8 (requested)")
        assert info["cpu_vnni"] is has_vnni()
        body = client.post("/embed", json={"texts": TEXTS[:4]}).json()
    want = reference.encode(TEXTS[:4], normalize_embeddings=True)
    got = np.asarray(body["embeddings"], dtype=np.float32)
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-3)
    assert np.sum(got * want, axis=1).min() >= agreement.MIN_COSINE
    assert not any(
        p.name.startswith("int8-export-") for p in os.scandir(int8_server.env["COMPUTE_MODEL_CACHE_DIR"])
    )


def test_unusable_cache_dir_exports_into_a_temp_dir(tmp_path, short_probe):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    m = EmbeddingModel(NAME, default_model_path(), backend="int8", threads=2, cache_dir=blocker / "cache")
    assert m.dtype == "int8" and blocker.is_file()


def test_speedup_reads_the_undisturbed_runs():
    """Runs slowed by something else on the cores (here 10x) do not move the ratio."""

    def runs(seconds: list[float]):
        queue = iter(seconds)
        return lambda: time.sleep(next(queue))

    # The first run is the warm-up; the reference is disturbed in two rounds of four, so the median of
    # per-round ratios would read 11x where the undisturbed runs say 2x.
    reference = runs([0.04, 0.4, 0.4, 0.04, 0.04])
    candidate = runs([0.02, 0.02, 0.02, 0.02, 0.02])
    assert 1.6 < agreement.speedup(reference, candidate, repeats=4) < 2.4


def test_a_short_text_beside_a_long_one_is_not_padded_to_it(int8_model, monkeypatch):
    """A small document's title and abstract: two passes, not one with the title padded 10x."""
    passes: list[int] = []
    forward = int8_model._forward

    def counted(texts, prompt_name=None):  # the real forward pass, its batch sizes recorded
        passes.append(len(texts))
        return forward(texts, prompt_name)

    monkeypatch.setattr(int8_model, "_forward", counted)
    abstract = "Blood pressure fell in the treated cohort over twelve weeks of follow-up. " * 12
    apart = int8_model.encode(["A title.", abstract], "passage", 2048)
    assert passes == [1, 1]
    passes.clear()
    together = int8_model.encode([abstract, abstract + " Again."], "passage", 2048)
    assert passes == [2]  # alike lengths share a pass
    # int8 quantizes activations per pass, so a text's vector moves a little with its companions.
    assert float(_unit(apart.vectors[1]) @ _unit(together.vectors[0])) > 0.99
