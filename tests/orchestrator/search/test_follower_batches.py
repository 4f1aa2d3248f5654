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


async def test_a_batch_of_commits_reads_each_collection_once(
    clients: Clients, redis: Redis, index: LexicalIndex, follower: LexicalFollower
) -> None:
    first, second = await make_collection(clients), await make_collection(clients)
    await applied_everything(follower, redis)
    await follower.stop()  # the commits pile up, then the restarted follower reads them as one batch
    documents = [await ingest(clients, first, [f"razorbill ledge {i}"]) for i in range(3)]
    documents.append(await ingest(clients, second, ["guillemot ledge"]))
    reingested = await ingest(clients, first, ["razorbill cliff"], document=documents[0])

    reads: list[list[str]] = []
    real_get = clients.vectors.get

    async def counted_get(name: str, **kwargs):  # the real store, with its calls recorded
        reads.append(list(kwargs.get("ids") or []))
        return await real_get(name, **kwargs)

    clients.vectors.get = counted_get  # type: ignore[method-assign]
    batched = LexicalFollower(clients, index, batch=64, block_ms=BLOCK_MS)
    await batched.start()
    try:
        await applied_everything(batched, redis)
    finally:
        await batched.stop()

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
    monkeypatch.setattr(follower_module, "IDLE_COMMIT_S", 60.0)
    collection = await make_collection(clients)
    await ingest(clients, collection, ["fulmar"])
    await applied_everything(follower, redis)  # a commit just now: the next one waits its turn

    await ingest(clients, collection, ["shearwater"])
    newest = await changes.newest_id(redis)
    await asyncio.sleep(1.0)  # five times COMMIT_EVERY_S: the old pacing would have applied it
    assert changes.newer(newest, follower.applied_id)  # nobody asked: it waits for the idle commit

    waited = asyncio.get_running_loop().time()
    assert await follower.wait_applied(newest, 30.0)  # a search asks: it is committed now
    assert asyncio.get_running_loop().time() - waited < 30.0
    assert await search(index, "shearwater", collection.name) != []
