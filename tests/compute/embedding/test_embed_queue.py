"""The embed queue on the real model: small passage requests arriving close together linger into one pass,
and a query never waits for passages to gather."""

import asyncio
import time

import numpy as np
import pytest

from compute.embedding import EmbeddingModel, EmbedQueue, default_model_path

TEXTS = [
    f"Maintenance note {i}: the pump in hall {i} was serviced and its seals replaced." for i in range(16)
]


@pytest.fixture(scope="module")
def model():
    loaded = EmbeddingModel("all-MiniLM-L6-v2", default_model_path(), backend="fp32", threads=2)
    passes: list[int] = []
    encode = loaded.encode

    def counting(texts, kind, batch_tokens):
        passes.append(len(texts))
        return encode(texts, kind, batch_tokens)

    loaded.encode = counting  # the real model, its passes counted
    loaded.passes = passes
    return loaded


async def _queue(linger_s: float) -> EmbedQueue:
    queue = EmbedQueue(4096, 2048, 1, linger_s=linger_s, linger_texts=len(TEXTS))
    queue.start()
    return queue


async def test_small_passage_requests_linger_into_one_pass(model):
    queue = await _queue(linger_s=5.0)
    model.passes.clear()
    try:

        async def one(i: int):
            await asyncio.sleep(0.01 * i)  # jobs reaching their embed step one after another
            return await queue.embed(model, TEXTS[2 * i : 2 * i + 2], "passage")

        parts = await asyncio.gather(*(one(i) for i in range(8)))
    finally:
        await queue.close()
    assert model.passes == [16]  # one pass: the group filled up before the linger ran out
    alone = model.model.encode(TEXTS, normalize_embeddings=False)
    got = np.vstack([p.vectors for p in parts])
    cosine = np.sum(got * alone, axis=1) / np.linalg.norm(got, axis=1) / np.linalg.norm(alone, axis=1)
    assert cosine.min() > 0.999


async def test_a_query_does_not_wait_for_passages_to_gather(model):
    queue = await _queue(linger_s=60.0)
    model.passes.clear()
    try:
        lingering = asyncio.ensure_future(queue.embed(model, TEXTS[:2], "passage"))
        await asyncio.sleep(0.05)
        started = time.monotonic()
        query = await asyncio.wait_for(queue.embed(model, ["pump seals"], "query"), 30)
        assert time.monotonic() - started < 30  # far below the passages' 60 s linger
        await asyncio.wait_for(lingering, 30)  # the query ended their wait too
    finally:
        await queue.close()
    assert query.vectors.shape == (1, 384)
    assert sorted(model.passes) == [1, 2]
