"""A collection's counts, kept instead of scanned for: its documents are the size of its document index;
the chunks of their searchable generations are a field of the collection's hash, moved by each document
change's delta in that change's own transaction, and recounted from the documents where it is missing."""

from collections.abc import Sequence
from typing import NamedTuple

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from orchestrator.catalog.model import Document, DocumentStatus
from orchestrator.core import keys

# Not a Collection field: update_collection rewrites those, and must never write back a stale count.
CHUNKS_FIELD = "searchable_chunks"


class CollectionStats(NamedTuple):
    document_count: int
    chunk_count: int  # chunks of the searchable generations of its documents


def searchable_chunks(document: Document) -> int:
    """What the document adds to its collection's chunk count (search serves exactly these chunks)."""
    if document.generation == 0 or document.status is DocumentStatus.deleting:
        return 0
    return document.chunk_count


def move(pipe: Pipeline, collection: str, delta: int) -> None:
    """After MULTI: moves the collection's chunk count by delta (exact: the caller watches the document).
    A document exists only in a collection that exists, so this never makes a stub hash."""
    if delta:
        pipe.hincrby(keys.collection(collection), CHUNKS_FIELD, delta)


async def collections_stats(redis: Redis, names: Sequence[str]) -> list[CollectionStats]:
    async with redis.pipeline(transaction=False) as pipe:
        for name in names:
            pipe.zcard(keys.documents_by_collection(name))
            pipe.hget(keys.collection(name), CHUNKS_FIELD)
        rows = await pipe.execute()
    stats = []
    for name, documents, chunks in zip(names, rows[::2], rows[1::2], strict=True):
        if chunks is None:  # a collection older than the counter
            chunks = await recount(redis, name)
        stats.append(CollectionStats(document_count=int(documents), chunk_count=int(chunks)))
    return stats


async def recount(redis: Redis, name: str) -> int:
    """Sets the chunk count from the documents, and returns it (0 for a collection that is gone). Exact
    under concurrent writers: every change of the count also changes the watched collection hash, and a
    change that committed before the watch is in what the documents say."""
    key = keys.collection(name)

    async def count(pipe: Pipeline) -> int:
        if not await pipe.exists(key):
            return 0
        ids = await pipe.zrange(keys.documents_by_collection(name), 0, -1)
        # Read on another connection: commands on the watching one run at once, one round trip each.
        async with redis.pipeline(transaction=False) as reads:
            for document_id in ids:
                reads.hgetall(keys.document(document_id))
            rows = await reads.execute()
        total = sum(searchable_chunks(Document.from_redis(raw)) for raw in rows if raw)
        pipe.multi()
        pipe.hset(key, CHUNKS_FIELD, total)
        return total

    return await redis.transaction(count, key, value_from_callable=True)
