"""The change feed (catalog.changes) against a real Redis: each change of what search returns writes
exactly one entry and one version bump, in the transaction that makes it, and nothing else writes any."""

import uuid

from redis.asyncio import Redis

from orchestrator.catalog import (
    Collection,
    CollectionStatus,
    Document,
    DocumentError,
    DocumentStatus,
    changes,
    generations,
)
from orchestrator.catalog.registry import Registry
from orchestrator.core import keys
from orchestrator.core.ids import new_id


async def entries(redis: Redis) -> list[changes.Change]:
    return await changes.read(redis, changes.ORIGIN, count=1000)


async def version(redis: Redis, collection: str) -> int:
    return (await changes.snapshot(redis, [collection])).versions[collection]


async def commit(redis: Redis, document: Document, chunks: int = 2) -> Document:
    job_id = new_id()
    begun = await generations.begin(redis, document.id, job_id)
    return await generations.commit_ready(
        redis, document.id, job_id, begun.generation, chunk_count=chunks, pages=None, format="text"
    )


async def test_each_change_of_what_search_returns_writes_one_entry_and_one_bump(redis: Redis) -> None:
    registry = Registry(redis)
    await registry.create_collection(Collection(name="feed"))
    document = await registry.add_document(
        Document(collection="feed", filename="a.txt", sha256=uuid.uuid4().hex, size_bytes=1)
    )
    assert await entries(redis) == [] and await version(redis, "feed") == 0  # not searchable yet

    first = await commit(redis, document)
    [entry] = await entries(redis)
    assert (entry.op, entry.document_id, entry.generation, entry.chunk_count) == (
        changes.ChangeOp.commit,
        document.id,
        first.generation,
        2,
    )
    assert await version(redis, "feed") == 1

    # A re-ingest that fails changes nothing search returns: no entry.
    await generations.mark_queued(redis, document.id)
    job_id = new_id()
    begun = await generations.begin(redis, document.id, job_id)
    await generations.finish_unready(
        redis,
        document.id,
        job_id,
        DocumentStatus.failed,
        DocumentError(code="x", message="x"),
        generation=begun.generation,
    )
    assert len(await entries(redis)) == 1 and await version(redis, "feed") == 1

    await registry.update_document(document.id, metadata={"team": "a"})
    assert [e.op for e in await entries(redis)][-1] is changes.ChangeOp.metadata
    assert await version(redis, "feed") == 2
    await registry.update_document(document.id, metadata={"team": "a"})  # the same again: no change
    assert await version(redis, "feed") == 2

    await registry.update_document(document.id, status=DocumentStatus.deleting)
    assert [e.op for e in await entries(redis)][-1] is changes.ChangeOp.delete_document
    await registry.remove_document(document.id)  # no longer searchable already: nothing more
    assert len(await entries(redis)) == 3 and await version(redis, "feed") == 3


async def test_a_collection_delete_is_one_change_however_many_documents_it_removes(redis: Redis) -> None:
    registry = Registry(redis)
    await registry.create_collection(Collection(name="many"))
    documents = []
    for i in range(5):
        added = await registry.add_document(
            Document(collection="many", filename=f"{i}.txt", sha256=uuid.uuid4().hex, size_bytes=1)
        )
        documents.append(await commit(redis, added))
    before = len(await entries(redis))
    await registry.update_collection("many", status=CollectionStatus.deleting)
    for document in documents:
        await registry.remove_document(document.id)
    await registry.remove_collection("many")
    after = await entries(redis)
    assert [e.op for e in after[before:]] == [changes.ChangeOp.delete_collection]
    # The version survives the collection: one made again under the name never meets older answers.
    assert await version(redis, "many") == 6
    await registry.create_collection(Collection(name="many"))
    assert await version(redis, "many") == 6


async def test_the_head_tells_a_follower_what_it_cannot_catch_up_on(redis: Redis) -> None:
    assert (await changes.head(redis)).missed(changes.ORIGIN)  # never applied anything
    for i in range(3):
        await changes.record_now(redis, "c", changes.ChangeOp.metadata, document_id=str(i))
    head = await changes.head(redis)
    assert (head.entries_added, head.length) == (3, 3)
    [_, second, third] = [e.id for e in await entries(redis)]
    assert not head.missed(second)
    await redis.xdel(keys.SEARCH_CHANGES, third)
    assert (await changes.head(redis)).missed(second)  # an entry after it was deleted
    assert (await changes.head(redis)).missed("99999999999999-0")  # ahead of this Redis: another timeline
