"""Coalescing, bounded queue in front of the models.

Concurrent /embed requests are gathered and encoded together in one thread off the event loop, so
many small requests cost about what one large one does. Passages wait up to `linger_s` for more to
gather when a pass would be small: during an ingest of small documents every job sends one or two texts,
and passes of two texts cost the model about twice as much per text as passes of ten. Queries never
wait (a search's latency is one query). The queue counts waiting texts; past its
bound a request is refused at once with `overloaded` (503 + Retry-After) instead of waiting forever.
"""

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from compute import memory
from compute.embedding.model import EmbeddingModel, Encoded
from compute.errors import ComputeError
from contracts import ErrorCode

log = logging.getLogger("compute.embed.queue")
MAX_TEXTS_PER_PASS = 1024  # texts gathered into one encode call
# Freed heap goes back to the OS at most this often: a trim costs a few ms, and without it the resident
# size after mixed-size batches stayed 200-300 MB above what the model needs.
TRIM_INTERVAL_S = 1.0
LINGER_POLL_S = 0.002


@dataclass
class _Request:
    model: EmbeddingModel
    texts: list[str]
    kind: str
    future: asyncio.Future = field(repr=False)


class EmbedQueue:
    def __init__(
        self,
        max_pending_texts: int,
        batch_tokens: int,
        retry_after_s: int,
        linger_s: float = 0.0,
        linger_texts: int = 32,
        on_pass: Callable[[int], None] | None = None,
    ):
        self.max_pending_texts = max_pending_texts
        self.linger_s = linger_s
        self.linger_texts = linger_texts  # a group this big goes at once
        self._on_pass = on_pass  # told the size of every group the model encodes (a metric)
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
            group, count = await self._gather(first)
            texts = [t for req in group for t in req.texts]
            try:
                if self._on_pass is not None:
                    self._on_pass(len(texts))
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

    async def _gather(self, first: _Request) -> tuple[list[_Request], int]:
        """`first` and the waiting requests for the same model and kind; passages linger for more."""
        group, count = [first], len(first.texts)
        held: list[_Request] = []
        linger = self.linger_s if first.kind == "passage" else 0.0
        deadline = time.monotonic() + linger
        while count < MAX_TEXTS_PER_PASS:
            if self._queue.empty():
                left_s = deadline - time.monotonic()
                if count >= self.linger_texts or left_s <= 0:
                    break
                # Short sleeps rather than a cancelled get(): a get cancelled at its timeout could drop
                # the request it had just taken.
                await asyncio.sleep(min(left_s, LINGER_POLL_S))
                continue
            nxt = self._queue.get_nowait()
            if nxt.model is first.model and nxt.kind == first.kind:
                group.append(nxt)
                count += len(nxt.texts)
            else:
                held.append(nxt)
                if nxt.kind != "passage":
                    deadline = 0.0  # a query waits behind this group: no lingering for it
        for req in held:
            self._queue.put_nowait(req)
        return group, count
