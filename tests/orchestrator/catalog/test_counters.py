"""A collection's document and chunk counts are kept with the registry's changes, not scanned for: they
stay right through upload, ready, re-ingest, a failed re-ingest, delete, and concurrent writers."""

import asyncio

import pytest
from redis.asyncio import Redis

from orchestrator.catalog import generations
from orchestrator.catalog.counts import CHUNKS_FIELD, RECOUNT_PAGE, CollectionStats
from orchestrator.catalog.model import Collection, Document, DocumentError, DocumentStatus
from orchestrator.catalog.registry import Registry
from orchestrator.core import keys
from orchestrator.core.ids import new_id


@pytest.fixture
async def registry(redis: Redis) -> Registry:
    registry = Registry(redis)
    await registry.create_collection(Collection(name="papers"))
    return registry


def _document() -> Document:
    return Document(collection="papers", filename="a.md", sha256=new_id(), size_bytes=1)


async def _ingest(redis: Redis, document_id: str, chunks: int) -> None:
    job_id = new_id()
    await generations.attach_job(redis, document_id, job_id)
    begun = await generations.begin(redis, document_id, job_id)
    await generations.commit_ready(
        redis, document_id, job_id, begun.generation, chunk_count=chunks, pages=1, format="md"
    )


async def _stats(registry: Registry) -> CollectionStats:
    kept = await registry.collection_stats("papers")
    # The kept count must be what a scan of the documents finds (recount scans, and sets the same).
    assert await registry.recount("papers") == kept.chunk_count
    return kept


async def test_counts_follow_upload_ready_reingest_failure_and_delete(
    registry: Registry, redis: Redis
) -> None:
    assert await _stats(registry) == (0, 0)
    a = await registry.add_document(_document())
    b = await registry.add_document(_document())
    assert await _stats(registry) == (2, 0)  # uploaded, nothing searchable yet

    await _ingest(redis, a.id, 5)
    await _ingest(redis, b.id, 3)
    assert await _stats(registry) == (2, 8)

    # Re-ingest of a: queued and processing keep the old generation searchable, the commit swaps counts.
    await generations.mark_queued(redis, a.id)
    assert await _stats(registry) == (2, 8)
    await _ingest(redis, a.id, 7)
    assert await _stats(registry) == (2, 10)

    # A failed re-ingest of b leaves its searchable generation (and its chunks) as they were.
    await generations.mark_queued(redis, b.id)
    job_id = new_id()
    await generations.begin(redis, b.id, job_id)
    error = DocumentError(code="corrupt_document", message="bad")
    await generations.finish_unready(redis, b.id, job_id, DocumentStatus.failed, error)
    assert (await registry.get_document(b.id)).status is DocumentStatus.failed
    assert await _stats(registry) == (2, 10)

    # Deleting hides a document's chunks at once; removing it forgets the document.
    await registry.update_document(a.id, status=DocumentStatus.deleting)
    assert await _stats(registry) == (2, 3)
    await registry.remove_document(a.id)
    assert await _stats(registry) == (1, 3)
    await registry.remove_document(b.id)  # removed without `deleting` first: its chunks leave too
    assert await _stats(registry) == (0, 0)


async def test_counts_stay_exact_under_concurrent_commits(registry: Registry, redis: Redis) -> None:
    documents = [await registry.add_document(_document()) for _ in range(20)]
    await asyncio.gather(*(_ingest(redis, d.id, i + 1) for i, d in enumerate(documents)))
    assert await _stats(registry) == (20, sum(range(1, 21)))


async def test_a_collection_older_than_the_counter_is_counted_once_then_kept(
    registry: Registry, redis: Redis
) -> None:
    document = await registry.add_document(_document())
    await _ingest(redis, document.id, 4)
    await redis.hdel(keys.collection("papers"), CHUNKS_FIELD)  # as a collection made before counters
    # A write before the first read must not make the field hold only its own delta.
    await _ingest(redis, (await registry.add_document(_document())).id, 3)
    assert await redis.hget(keys.collection("papers"), CHUNKS_FIELD) is None
    assert (await registry.collection_stats("papers")).chunk_count == 7
    assert await redis.hget(keys.collection("papers"), CHUNKS_FIELD) == "7"
    await _ingest(redis, (await registry.add_document(_document())).id, 2)
    assert (await registry.collection_stats("papers")).chunk_count == 9


async def test_recount_pages_through_a_large_collection(registry: Registry, redis: Redis) -> None:
    count = RECOUNT_PAGE * 2 + 5
    for _ in range(count):
        await _ingest(redis, (await registry.add_document(_document())).id, 1)
    await redis.hset(keys.collection("papers"), CHUNKS_FIELD, 0)  # drifted, as a hand edit would
    assert await registry.recount("papers") == count
    assert (await registry.collection_stats("papers")).chunk_count == count


async def test_listing_reads_no_document(registry: Registry, redis: Redis) -> None:
    """Stats of a page of collections are two reads each, whatever their documents."""
    for _ in range(30):
        await _ingest(redis, (await registry.add_document(_document())).id, 2)
    await registry.create_collection(Collection(name="empty"))
    before = await _record_reads(redis)
    stats = await registry.collections_stats(["papers", "empty"])
    after = await _record_reads(redis)
    assert stats == [(30, 60), (0, 0)]
    assert after - before == 2  # the two collections' counters: no document was read


async def _record_reads(redis: Redis) -> int:
    """Calls so far of the commands that read a document's hash."""
    stats = await redis.info("commandstats")
    return sum(int(stats.get(f"cmdstat_{c}", {}).get("calls", 0)) for c in ("hgetall", "hmget", "hget"))
