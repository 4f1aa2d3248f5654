"""The lexical follower against a real Redis and a real Chroma: documents are committed, re-ingested and
deleted through the real registry (whose transactions write the change stream), their vectors written
through the real vector store, and the index is checked by searching it."""

import asyncio
import uuid
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from redis.asyncio import Redis

from orchestrator.catalog import Collection, Document, DocumentStatus, changes, generations
from orchestrator.clients import Clients
from orchestrator.core import keys
from orchestrator.core.ids import new_id
from orchestrator.search.lexical import LexicalCollector, LexicalFollower, LexicalIndex, query_terms
from orchestrator.settings import Settings
from orchestrator.vectors import vector_id
from tests.support.chroma_server import ChromaServer
from tests.support.job_queue import wait_until
from tests.support.lexical import (
    BLOCK_MS,
    applied_everything,
    build_clients,
    close_clients,
    ingest,
    make_collection,
    search,
    write_vectors,
)


async def test_a_fresh_index_is_built_and_a_commit_is_applied(
    clients: Clients, redis: Redis, index: LexicalIndex, follower: LexicalFollower
) -> None:
    await wait_until(lambda: _async(follower.caught_up), what="the initial catch-up")
    assert follower.counters.rebuilds == 1  # a new index always starts from the source

    collection = await make_collection(clients)
    document = await ingest(clients, collection, ["The compressor seal XK-2207b leaks.", "Nothing else."])
    await applied_everything(follower, redis)

    assert await search(index, "XK-2207b", collection.name) == [
        vector_id(document.id, document.generation, 0)
    ]
    hits = await asyncio.to_thread(index.search, [collection.name], query_terms("compressor"), 10)
    assert (hits[0].heading_path, hits[0].pages, hits[0].collection) == (
        ["Manual", "Café"],
        [1],
        collection.name,
    )
    assert follower.counters.changes_applied >= 1
    assert index.cursor == follower.applied_id == (await changes.head(redis)).last_id


async def test_a_reingest_replaces_the_old_text(
    clients: Clients, redis: Redis, index: LexicalIndex, follower: LexicalFollower
) -> None:
    collection = await make_collection(clients)
    first = await ingest(clients, collection, ["albatross sightings", "albatross counts"])
    await applied_everything(follower, redis)
    assert len(await search(index, "albatross", collection.name)) == 2

    second = await ingest(clients, collection, ["pelican sightings"], document=first)
    await applied_everything(follower, redis)

    assert second.generation > first.generation
    assert await search(index, "albatross", collection.name) == []
    assert await search(index, "pelican", collection.name) == [vector_id(first.id, second.generation, 0)]


async def test_a_document_delete_removes_it(
    clients: Clients, redis: Redis, index: LexicalIndex, follower: LexicalFollower
) -> None:
    collection = await make_collection(clients)
    gone = await ingest(clients, collection, ["walrus colony notes"])
    kept = await ingest(clients, collection, ["walrus feeding notes"])
    await applied_everything(follower, redis)
    assert len(await search(index, "walrus", collection.name)) == 2

    await clients.registry.update_document(gone.id, status=DocumentStatus.deleting)
    await applied_everything(follower, redis)

    assert await search(index, "walrus", collection.name) == [vector_id(kept.id, kept.generation, 0)]


async def test_a_collection_delete_removes_its_chunks(
    clients: Clients, redis: Redis, index: LexicalIndex, follower: LexicalFollower
) -> None:
    doomed, other = await make_collection(clients), await make_collection(clients)
    await ingest(clients, doomed, ["heron nesting"])
    survivor = await ingest(clients, other, ["heron feeding"])
    await applied_everything(follower, redis)

    await clients.registry.update_collection(doomed.name, status="deleting")
    await applied_everything(follower, redis)

    assert await search(index, "heron", doomed.name, other.name) == [
        vector_id(survivor.id, survivor.generation, 0)
    ]


async def test_a_restarted_follower_replays_what_it_missed(
    clients: Clients, redis: Redis, tmp_path: Path
) -> None:
    path = tmp_path / "slot-0"
    collection = await make_collection(clients)
    removed = await ingest(clients, collection, ["kestrel one"])
    first_index = LexicalIndex.open(path)
    first = LexicalFollower(clients, first_index, batch=2, block_ms=BLOCK_MS)
    await first.start()
    await applied_everything(first, redis)
    await first.stop()
    first_index.close()
    cursor_before = first.applied_id

    # While no follower runs: a new document, a re-ingest's worth of changes, a delete.
    added = await ingest(clients, collection, ["zeppelin hangar"])
    await clients.registry.update_document(removed.id, status=DocumentStatus.deleting)
    for n in range(3):  # more changes than one batch
        await ingest(clients, collection, [f"filler {n}"])

    second_index = LexicalIndex.open(path)
    assert second_index.cursor == cursor_before
    second = LexicalFollower(clients, second_index, batch=2, block_ms=BLOCK_MS)
    await second.start()
    try:
        await applied_everything(second, redis)
        assert await search(second_index, "zeppelin", collection.name) == [
            vector_id(added.id, added.generation, 0)
        ]
        assert await search(second_index, "kestrel", collection.name) == []
        assert second.counters.rebuilds == 0  # it read on from its cursor
        assert second.counters.changes_applied == 5
        assert changes.newer(second.applied_id, cursor_before)
    finally:
        await second.stop()
        second_index.close()


@pytest.mark.parametrize("keep", [0, 1])  # everything trimmed; the cursor's entry and the next ones trimmed
async def test_a_stream_trimmed_past_the_cursor_leads_to_a_rebuild(
    clients: Clients, redis: Redis, tmp_path: Path, keep: int
) -> None:
    path = tmp_path / "slot-0"
    collection = await make_collection(clients)
    deleted = await ingest(clients, collection, ["plover eggs"])
    kept = await ingest(clients, collection, ["plover chicks"])
    first_index = LexicalIndex.open(path)
    first = LexicalFollower(clients, first_index, block_ms=BLOCK_MS)
    await first.start()
    await applied_everything(first, redis)
    await first.stop()
    first_index.close()

    # Changes the follower will never read: the stream forgets them.
    await clients.registry.update_document(deleted.id, status=DocumentStatus.deleting)
    added = await ingest(clients, collection, ["plover fledglings"])
    await redis.xtrim(keys.SEARCH_CHANGES, maxlen=keep, approximate=False)

    second_index = LexicalIndex.open(path)
    second = LexicalFollower(clients, second_index, block_ms=BLOCK_MS)
    await second.start()
    try:
        await applied_everything(second, redis)
        assert second.counters.rebuilds == 1
        assert sorted(await search(second_index, "plover", collection.name)) == sorted(
            [vector_id(kept.id, kept.generation, 0), vector_id(added.id, added.generation, 0)]
        )
        assert second_index.cursor == (await changes.head(redis)).last_id

        # It follows on from there: a change after the rebuild is applied, with no second rebuild.
        later = await ingest(clients, collection, ["plover migration"])
        await applied_everything(second, redis)
        assert vector_id(later.id, later.generation, 0) in await search(
            second_index, "migration", collection.name
        )
        assert second.counters.rebuilds == 1
    finally:
        await second.stop()
        second_index.close()


async def test_chroma_down_delays_a_change_but_loses_none(
    settings: Settings, redis: Redis, own_chroma_server: ChromaServer, tmp_path: Path
) -> None:
    clients = await build_clients(settings, redis, own_chroma_server.url, chroma_timeout_s=2.0)
    index = LexicalIndex.open(tmp_path / "slot-0")
    follower = LexicalFollower(clients, index, block_ms=BLOCK_MS)
    try:
        collection = await make_collection(clients)
        await follower.start()
        await applied_everything(follower, redis)

        # The saga wrote the vectors; Chroma goes down before the follower reads them.
        document = await clients.registry.add_document(
            Document(collection=collection.name, filename="m.txt", sha256=uuid.uuid4().hex, size_bytes=1)
        )
        job_id = new_id()
        begun = await generations.begin(redis, document.id, job_id)
        await write_vectors(clients, collection, document, begun.generation, ["osprey over the estuary"])
        await follower.stop()
        await asyncio.to_thread(own_chroma_server.stop)
        await follower.start()
        await generations.commit_ready(
            redis, document.id, job_id, begun.generation, chunk_count=1, pages=1, format="text"
        )

        await wait_until(
            lambda: _async(follower.counters.failures >= 2), what="the follower to fail and retry"
        )
        assert not follower.caught_up
        assert await search(index, "osprey", collection.name) == []

        await asyncio.to_thread(own_chroma_server.start)
        await applied_everything(follower, redis)
        assert await search(index, "osprey", collection.name) == [vector_id(document.id, begun.generation, 0)]
        assert follower.running
    finally:
        await follower.stop()
        index.close()
        await close_clients(clients)


async def test_commits_whose_vectors_are_gone_index_nothing_and_the_follower_moves_on(
    clients: Clients, redis: Redis, index: LexicalIndex, follower: LexicalFollower
) -> None:
    collection, orphaned = await make_collection(clients), await make_collection(clients)
    await clients.vectors.delete_collection(orphaned.vector_name)  # the registry and Chroma disagree
    await ingest_without_vectors(clients, collection, chunk_count=2)  # chunks Chroma does not hold
    await ingest_without_vectors(clients, orphaned, chunk_count=1)  # a collection Chroma does not hold
    normal = await ingest(clients, collection, ["gannet colony"])
    await applied_everything(follower, redis)

    assert await search(index, "gannet", collection.name, orphaned.name) == [
        vector_id(normal.id, normal.generation, 0)
    ]
    assert follower.counters.failures == 0  # nothing to retry: a later change says what came next


async def ingest_without_vectors(clients: Clients, collection: Collection, *, chunk_count: int) -> Document:
    document = await clients.registry.add_document(
        Document(collection=collection.name, filename="x.txt", sha256=uuid.uuid4().hex, size_bytes=1)
    )
    job_id = new_id()
    begun = await generations.begin(clients.redis, document.id, job_id)
    return await generations.commit_ready(
        clients.redis, document.id, job_id, begun.generation, chunk_count=chunk_count, pages=1, format="text"
    )


async def test_metrics_report_the_index(
    clients: Clients, redis: Redis, index: LexicalIndex, follower: LexicalFollower
) -> None:
    collection = await make_collection(clients)
    await ingest(clients, collection, ["one chunk", "two chunks", "three chunks"])
    await applied_everything(follower, redis)
    follower._stats = None  # the cache would hide the commit for a few seconds

    registry = CollectorRegistry()
    registry.register(LexicalCollector(follower))
    text = generate_latest(registry).decode()

    assert "orchestrator_lexical_chunks 3.0" in text
    assert "orchestrator_lexical_caught_up 1.0" in text
    assert "orchestrator_lexical_rebuilds_total 1.0" in text
    assert f"orchestrator_lexical_changes_applied_total {float(follower.counters.changes_applied)}" in text
    assert "orchestrator_lexical_index_bytes" in text and "orchestrator_lexical_last_rebuild_seconds" in text


async def _async(value: bool) -> bool:
    return value


async def test_a_redis_that_went_back_in_time_leads_to_a_rebuild(
    clients: Clients, redis: Redis, index: LexicalIndex, follower: LexicalFollower
) -> None:
    """Redis restored from an older snapshot (or a lagging replica promoted): the re-ingest the index
    applied is lost, and the stream has seen fewer entries than when the follower reached its cursor,
    although the ids of new entries are larger than the cursor."""
    collection = await make_collection(clients)
    first = await ingest(clients, collection, ["narwhal survey"])
    await ingest(clients, collection, ["beluga pod"], document=first)
    other = await ingest(clients, collection, ["walrus haul-out"])
    await applied_everything(follower, redis)
    assert len(await search(index, "beluga", collection.name)) == 1
    rebuilds = follower.counters.rebuilds
    # The restored data: the document at its first generation again, a stream that starts over.
    await redis.delete(keys.SEARCH_CHANGES)
    await redis.hset(keys.document(first.id), mapping={"generation": 1, "latest_generation": 1})
    await clients.registry.update_document(other.id, status=DocumentStatus.deleting)  # a new entry

    await wait_until(lambda: _async(follower.counters.rebuilds > rebuilds), what="a rebuild")
    await applied_everything(follower, redis)
    assert await search(index, "beluga", collection.name) == []
    assert await search(index, "narwhal", collection.name) == [vector_id(first.id, 1, 0)]
    assert await search(index, "walrus", collection.name) == []
