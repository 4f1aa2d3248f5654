"""Coalescing, bounded queue in front of the models.

Concurrent /embed requests are gathered and encoded together in one thread off the event loop, so
many small requests cost about what one large one does. The queue counts waiting texts; past its
bound a request is refused at once with `overloaded` (503 + Retry-After) instead of waiting forever.
"""

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from compute import memory
from compute.embedding.model import EmbeddingModel, Encoded
from compute.errors import ComputeError
from contracts import ErrorCode

log = logging.getLogger("compute.embed.queue")
MAX_TEXTS_PER_PASS = 1024  # texts gathered into one encode call
# Freed heap goes back to the OS at most this often: a trim costs a few ms, and without it the resident
# size after mixed-size batches stayed 200-300 MB above what the model needs.
TRIM_INTERVAL_S = 1.0


@dataclass
class _Request:
    model: EmbeddingModel
    texts: list[str]
    kind: str
    future: asyncio.Future = field(repr=False)


class EmbedQueue:
    def __init__(self, max_pending_texts: int, batch_tokens: int, retry_after_s: int):
        self.max_pending_texts = max_pending_texts
        self.batch_tokens = batch_tokens
        self.retry_after_s = retry_after_s
        self.pending_texts = 0
        self._queue: asyncio.Queue[_Request] = asyncio.Queue()
        # One inference thread: torch already uses every core we give it inside one call.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embed")
        self._task: asyncio.Task | None = None
        self._trimmed_at = 0.0

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="embed-queue")

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def embed(self, model: EmbeddingModel, texts: list[str], kind: str) -> Encoded:
        if self.pending_texts + len(texts) > self.max_pending_texts:
            raise ComputeError(
                ErrorCode.overloaded,
                f"{self.pending_texts} texts are waiting to be embedded; retry shortly",
                retry_after_s=self.retry_after_s,
            )
        self.pending_texts += len(texts)
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Request(model, texts, kind, future))
        # Shielded: a client that goes away must not cancel texts coalesced with other requests.
        return await asyncio.shield(future)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            first = await self._queue.get()
            group = [first]
            count = len(first.texts)
            # Coalesce whatever else is already waiting for the same model and kind.
            held: list[_Request] = []
            while not self._queue.empty() and count < MAX_TEXTS_PER_PASS:
                nxt = self._queue.get_nowait()
                if nxt.model is first.model and nxt.kind == first.kind:
                    group.append(nxt)
                    count += len(nxt.texts)
                else:
                    held.append(nxt)
            for req in held:
                self._queue.put_nowait(req)
            texts = [t for req in group for t in req.texts]
            try:
                encoded = await loop.run_in_executor(
                    self._executor, first.model.encode, texts, first.kind, self.batch_tokens
                )
            except Exception as exc:  # a model failure fails these requests, never the queue
                log.exception("embedding failed")
                for req in group:
                    if not req.future.done():
                        req.future.set_exception(ComputeError(ErrorCode.internal, f"embedding failed: {exc}"))
            else:
                start = 0
                for req in group:
                    end = start + len(req.texts)
                    part = Encoded(
                        vectors=encoded.vectors[start:end],
                        truncated=encoded.truncated[start:end],
                        token_counts=encoded.token_counts[start:end],
                    )
                    if not req.future.done():
                        req.future.set_result(part)
                    start = end
            finally:
                self.pending_texts -= count
            if time.monotonic() - self._trimmed_at >= TRIM_INTERVAL_S:
                self._trimmed_at = time.monotonic()
                await loop.run_in_executor(self._executor, memory.trim)


def normalize_rows(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)
