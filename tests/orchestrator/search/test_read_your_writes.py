"""Read-your-writes: a lexical search waits for this process's index to apply the changes made before
it began (LexicalFollower.wait_applied), bounded by ORCH_SEARCH_FRESHNESS_WAIT_S."""

import asyncio

from redis.asyncio import Redis

from orchestrator.catalog import changes
from orchestrator.clients import Clients
from orchestrator.search.engine import SearchEngine, SearchMode, SearchQuery
from orchestrator.search.lexical import LexicalFollower, LexicalIndex
from orchestrator.settings import Settings
from orchestrator.vectors import vector_id
from tests.support.lexical import applied_everything, build_clients, close_clients, ingest, make_collection


async def test_wait_applied_returns_once_the_change_is_committed_or_at_its_timeout(
    clients: Clients, redis: Redis, index: LexicalIndex, follower: LexicalFollower
) -> None:
    collection = await make_collection(clients)
    await applied_everything(follower, redis)
    assert await follower.wait_applied(follower.applied_id, 0.0)  # already applied: no wait at all
    await follower.stop()
    await ingest(clients, collection, ["kittiwake colony"])
    newest = await changes.newest_id(redis)

    started = asyncio.get_running_loop().time()
    assert not await follower.wait_applied(newest, 0.3)  # nobody applies it: gives up at its timeout
    assert 0.3 <= asyncio.get_running_loop().time() - started < 2.0
    assert follower.counters.waits_timed_out == 1

    waiting = asyncio.create_task(follower.wait_applied(newest, 30.0))
    await asyncio.sleep(0.2)
    assert not waiting.done()
    await follower.start()
    assert await waiting  # woken by the commit, long before its timeout
    assert not changes.newer(newest, follower.applied_id)
    assert follower.counters.searches_waited == 2


async def test_a_search_finds_a_document_committed_before_it_began_though_the_index_lagged(
    settings: Settings, redis: Redis, chroma_url: str, index: LexicalIndex, follower: LexicalFollower
) -> None:
    """Read-your-writes: `ready` means searchable in every mode, even on an API process whose index has
    not applied the commit yet (the follower is stopped here to make it lag for certain)."""
    clients = await build_clients(settings, redis, chroma_url, search_freshness_wait_s=30.0)
    try:
        engine = SearchEngine(clients, index=index, follower=follower)
        collection = await make_collection(clients)
        await applied_everything(follower, redis)
        await follower.stop()
        document = await ingest(clients, collection, ["The puffin burrow was flooded."])
        query = SearchQuery(query="puffin burrow", collections=[collection.name], mode=SearchMode.lexical)

        searching = asyncio.create_task(engine.search(query, use_cache=False))
        await asyncio.sleep(0.3)
        assert not searching.done()  # it waits for the index rather than answer without the document
        await follower.start()
        hits = await searching
        assert [h.chunk_id for h in hits] == [vector_id(document.id, document.generation, 0)]

        # An index that never catches up costs a search its wait, and no more.
        await follower.stop()
        await ingest(clients, collection, ["A second puffin burrow, dry."])
        impatient = await build_clients(settings, redis, chroma_url, search_freshness_wait_s=0.2)
        try:
            hits = await SearchEngine(impatient, index=index, follower=follower).search(
                query, use_cache=False
            )
            assert [h.chunk_id for h in hits] == [vector_id(document.id, document.generation, 0)]
            assert follower.counters.waits_timed_out == 1
        finally:
            await close_clients(impatient)
    finally:
        await close_clients(clients)
