"""How the lexical follower spends its work: a batch of commits reads Chroma once per collection, and
while no search waits, changes wait for the idle commit interval instead of being committed at once."""

import asyncio

from redis.asyncio import Redis

from orchestrator.catalog import changes
from orchestrator.clients import Clients
from orchestrator.search.lexical import LexicalFollower, LexicalIndex
from orchestrator.search.lexical import follower as follower_module
from orchestrator.vectors import vector_id
from tests.support.lexical import BLOCK_MS, applied_everything, ingest, make_collection, search


async def follow_recording_reads(
    clients: Clients, redis: Redis, index: LexicalIndex, monkeypatch
) -> list[list[str]]:
    """Runs a fresh follower (batches of 64) until it applied everything; the ids of each Chroma read it
    made (the real store, its calls recorded)."""
    reads: list[list[str]] = []
    real_get = clients.vectors.get

    async def counted_get(name: str, **kwargs):
        reads.append(list(kwargs.get("ids") or []))
        return await real_get(name, **kwargs)

    monkeypatch.setattr(clients.vectors, "get", counted_get)
    batched = LexicalFollower(clients, index, batch=64, block_ms=BLOCK_MS)
    await batched.start()
    try:
        await applied_everything(batched, redis)
    finally:
        await batched.stop()
    assert batched.counters.rebuilds == 0  # the batch was applied, not rebuilt
    return reads


async def test_a_batch_of_commits_reads_each_collection_once(
    clients: Clients, redis: Redis, index: LexicalIndex, follower: LexicalFollower, monkeypatch
) -> None:
    first, second = await make_collection(clients), await make_collection(clients)
    await ingest(clients, first, ["puffin"])  # the index's cursor is past the origin: no rebuild below
    await applied_everything(follower, redis)
    await follower.stop()  # the commits pile up, then the restarted follower reads them as one batch
    documents = [await ingest(clients, first, [f"razorbill ledge {i}"]) for i in range(3)]
    documents.append(await ingest(clients, second, ["guillemot ledge"]))
    reingested = await ingest(clients, first, ["razorbill cliff"], document=documents[0])

    reads = await follow_recording_reads(clients, redis, index, monkeypatch)
    assert len(reads) == 2  # one read per collection, for five commits
    # Only the searchable generation of the re-ingested document is read (its first one is gone).
    assert sorted(id_ for ids in reads for id_ in ids) == sorted(
        [vector_id(reingested.id, reingested.generation, 0)]
        + [vector_id(d.id, d.generation, 0) for d in documents[1:]]
    )
    assert sorted(await search(index, "razorbill", first.name)) == sorted(
        vector_id(d.id, d.generation, 0) for d in (reingested, *documents[1:3])
    )
    assert await search(index, "guillemot", second.name) == [
        vector_id(documents[3].id, documents[3].generation, 0)
    ]


async def test_changes_wait_for_the_idle_interval_unless_a_search_waits(
    clients: Clients, redis: Redis, index: LexicalIndex, follower: LexicalFollower, monkeypatch
) -> None:
    collection = await make_collection(clients)
    await ingest(clients, collection, ["fulmar"])
    await applied_everything(follower, redis)
    monkeypatch.setattr(follower_module, "IDLE_COMMIT_S", 60.0)
    await asyncio.sleep(1.5)  # a wait begun before the patch is over: the next one idles for 60 s

    await ingest(clients, collection, ["shearwater"])
    newest = await changes.newest_id(redis)
    await asyncio.sleep(1.0)  # five times COMMIT_EVERY_S: the old pacing would have applied it
    assert changes.newer(newest, follower.applied_id)  # nobody asked: it waits for the idle commit

    assert await follower.wait_applied(newest, 30.0)  # a search asks: it is committed now, not in 60 s
    assert await search(index, "shearwater", collection.name) != []


async def test_a_batch_of_big_documents_is_read_a_few_chunks_at_a_time(
    clients: Clients, redis: Redis, index: LexicalIndex, follower: LexicalFollower, monkeypatch
) -> None:
    """A burst of big documents is never all in memory at once: runs of about FETCH_PAGE chunks."""
    monkeypatch.setattr(follower_module, "FETCH_PAGE", 3)
    collection = await make_collection(clients)
    await ingest(clients, collection, ["puffin"])  # the index's cursor is past the origin: no rebuild below
    await applied_everything(follower, redis)
    await follower.stop()
    documents = [await ingest(clients, collection, [f"gannet {i} nest", "cliff"]) for i in range(3)]

    reads = await follow_recording_reads(clients, redis, index, monkeypatch)
    assert [len(ids) for ids in reads] == [2, 2, 2]  # two chunks each; a run of two documents would hold four
    for i, document in enumerate(documents):
        assert vector_id(document.id, document.generation, 0) in await search(
            index, f"gannet {i}", collection.name
        )
    assert len(await search(index, "cliff", collection.name)) == 3
