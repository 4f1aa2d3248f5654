"""A collection's counts, kept instead of scanned for: its documents are the size of its document index;
the chunks of their searchable generations are a field of the collection's hash, moved by each document
change's delta in that change's own transaction, and recounted from the documents where it is missing (a collection older than the counter) and by
the reconciler."""

from collections.abc import Sequence
from typing import NamedTuple

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import WatchError

from orchestrator.catalog.model import Document, DocumentStatus
from orchestrator.core import keys

# Not a Collection field: update_collection rewrites those, and must never write back a stale count.
CHUNKS_FIELD = "searchable_chunks"


class CollectionStats(NamedTuple):
    document_count: int
    chunk_count: int  # chunks of the searchable generations of its documents


def searchable_chunks(document: Document) -> int:
    """What the document adds to its collection's chunk count (search serves exactly these chunks)."""
    return _searchable(document.generation, document.chunk_count, document.status)


def _searchable(generation: int, chunk_count: int, status: str | None) -> int:
    if generation == 0 or status == DocumentStatus.deleting:
        return 0
    return chunk_count


# HINCRBY only where the field exists: on a collection older than the counter, an increment would make
# the field hold just that delta, and the read that recounts a missing field would never come.
_MOVE = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  return redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2])
end
return false
"""
RECOUNT_PAGE = 1_000
RECOUNT_ATTEMPTS = 3  # then the next reconcile tries again: a busy collection must not hold the round


def move(pipe: Pipeline, collection: str, delta: int) -> None:
    """After MULTI: moves the collection's chunk count by delta (exact: the caller watches the document).
    A document exists only in a collection that exists, so this never makes a stub hash."""
    if delta:
        pipe.eval(_MOVE, 1, keys.collection(collection), CHUNKS_FIELD, delta)


async def collections_stats(redis: Redis, names: Sequence[str]) -> list[CollectionStats]:
    async with redis.pipeline(transaction=False) as pipe:
        for name in names:
            pipe.zcard(keys.documents_by_collection(name))
            pipe.hget(keys.collection(name), CHUNKS_FIELD)
        rows = await pipe.execute()
    stats = []
    for name, documents, chunks in zip(names, rows[::2], rows[1::2], strict=True):
        if chunks is None:  # a collection older than the counter (0 until a recount gets through)
            chunks = await recount(redis, name) or 0
        stats.append(CollectionStats(document_count=int(documents), chunk_count=int(chunks)))
    return stats


async def recount(redis: Redis, name: str) -> int | None:
    """Sets the chunk count from the documents, and returns it (0 for a collection that is gone; None when
    writers kept changing it for RECOUNT_ATTEMPTS tries). Exact under concurrent writers: every change of
    the count also changes the watched collection hash, and a change that committed before the watch is
    in what the documents say. Reads a page of documents at a time, three fields each."""
    key = keys.collection(name)
    for _ in range(RECOUNT_ATTEMPTS):
        async with redis.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(key)
                if not await pipe.exists(key):
                    return 0
                total = await _count(redis, name)
                pipe.multi()
                pipe.hset(key, CHUNKS_FIELD, total)
                await pipe.execute()
                return total
            except WatchError:
                continue
    return None


async def _count(redis: Redis, name: str) -> int:
    total, start = 0, 0
    fields = ("generation", "chunk_count", "status")
    while True:
        ids = await redis.zrange(keys.documents_by_collection(name), start, start + RECOUNT_PAGE - 1)
        # Read on another connection than the watching one: one round trip per page.
        async with redis.pipeline(transaction=False) as reads:
            for document_id in ids:
                reads.hmget(keys.document(document_id), fields)
            rows = await reads.execute()
        for generation, chunk_count, status in rows:
            if generation is not None and chunk_count is not None:
                total += _searchable(int(generation), int(chunk_count), status)
        if len(ids) < RECOUNT_PAGE:
            return total
        start += RECOUNT_PAGE
