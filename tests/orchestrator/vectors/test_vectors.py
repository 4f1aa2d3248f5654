"""The vector store against a real Chroma server (chroma run from .venv/chroma)."""

import asyncio
import math
import socket
import uuid
from collections.abc import AsyncIterator

import pytest

from contracts import Chunk
from orchestrator.errors import (
    VectorCollectionMissing,
    VectorConflict,
    VectorRejected,
    VectorStoreUnavailable,
)
from orchestrator.settings import Settings
from orchestrator.vectors import (
    ChunkMeta,
    VectorStore,
    chunk_metadata,
    flatten_metadata,
    parse_vector_id,
    restore_metadata,
    vector_id,
)
from tests.support.chroma_server import ChromaServer

DIM = 4


def unique_name() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


def unit(*values: float) -> list[float]:
    norm = math.sqrt(sum(v * v for v in values))
    return [v / norm for v in values]


@pytest.fixture
async def store(chroma_url: str) -> AsyncIterator[VectorStore]:
    vector_store = VectorStore.from_settings(Settings(chroma_url=chroma_url, chroma_timeout_s=30))
    yield vector_store
    await vector_store.close()


@pytest.fixture
async def collection(store: VectorStore) -> AsyncIterator[str]:
    name = unique_name()
    await store.create_collection(name, dim=DIM, model="test-model")
    yield name
    await store.delete_collection(name)


def records(
    document_id: str, generation: int, count: int, *, text: str = "chunk"
) -> tuple[list, list, list, list]:
    ids = [vector_id(document_id, generation, i) for i in range(count)]
    embeddings = [unit(1.0, (i % 7) + 1.0, (i % 3) * 0.5, 0.1) for i in range(count)]
    documents = [f"{text} {i} of {document_id}" for i in range(count)]
    metadatas = [
        {
            "document_id": document_id,
            "generation": generation,
            "chunk_index": i,
            "heading_path": ["A", "B"],
            "pages": [1],
        }
        for i in range(count)
    ]
    return ids, embeddings, documents, metadatas


def test_vector_ids_round_trip() -> None:
    assert vector_id("doc:with:colons", 3, 17) == "doc:with:colons:3:17"
    assert parse_vector_id("doc:with:colons:3:17") == ("doc:with:colons", 3, 17)


def test_metadata_is_flattened_to_scalars_and_restored() -> None:
    flat = flatten_metadata(
        {
            "heading_path": ["Intro", "Scope"],
            "pages": [1, 2],
            "n": 3,
            "ok": True,
            "gone": None,
            "extra": {"a": 1},
        }
    )
    assert flat == {
        "heading_path": '["Intro","Scope"]',
        "pages": "[1,2]",
        "n": 3,
        "ok": True,
        "extra": '{"a":1}',
    }
    assert restore_metadata(flat)["heading_path"] == ["Intro", "Scope"]
    assert restore_metadata(flat)["pages"] == [1, 2]


def test_a_chunks_metadata_reads_back_and_user_metadata_cannot_override_it() -> None:
    chunk = Chunk(
        index=3,
        text="t",
        heading_path=["Intro", "Café"],
        pages=[2, 3],
        char_start=0,
        char_end=1,
        token_count=1,
    )
    meta = chunk_metadata(
        chunk,
        document_id="d1",
        generation=2,
        filename="a.pdf",
        collection="docs",
        metadata={"generation": 99, "tags": ["x"], "gone": None},
        ingested_at_ms=7,
    )
    assert meta["generation"] == 2 and meta["tags"] == '["x"]' and "gone" not in meta
    assert all(isinstance(v, str | int | float | bool) for v in meta.values())  # all Chroma can hold
    read = ChunkMeta.read(meta)
    assert (read.document_id, read.generation, read.chunk_index, read.ingested_at_ms) == ("d1", 2, 3, 7)
    assert (read.heading_path, read.pages) == (["Intro", "Café"], [2, 3])
    assert ChunkMeta.read({}).generation == -1 and ChunkMeta.read(None).pages == []  # not a chunk's vector


async def test_create_records_cosine_model_and_dimension(store: VectorStore, collection: str) -> None:
    info = await store.describe(collection)
    assert (info.space, info.model, info.dim) == ("cosine", "test-model", DIM)
    assert collection in await store.list_collection_names()
    assert await store.exists(collection)
    assert await store.count(collection) == 0


async def test_create_twice_is_a_conflict(store: VectorStore, collection: str) -> None:
    with pytest.raises(VectorConflict):
        await store.create_collection(collection, dim=DIM, model="test-model")
    assert (await store.list_collection_names()).count(collection) == 1


async def test_reads_and_writes_never_create_a_collection(store: VectorStore) -> None:
    missing = unique_name()
    before = sorted(await store.list_collection_names())
    assert not await store.exists(missing)
    ids, embeddings, documents, metadatas = records("d", 1, 2)
    attempts = [
        store.count(missing),
        store.get(missing),
        store.query(missing, unit(1, 0, 0, 0), top_k=3),
        store.upsert(missing, ids, embeddings, documents, metadatas),
        store.delete(missing, ids=ids),
        store.update_metadata(missing, ids, [{"x": 1}] * 2),
        store.ids_where(missing, {"document_id": "d"}),
        store.describe(missing),
    ]
    for attempt in attempts:
        with pytest.raises(VectorCollectionMissing):
            await attempt
    assert sorted(await store.list_collection_names()) == before
    await store.delete_collection(missing)  # idempotent: nothing to delete is fine
    assert sorted(await store.list_collection_names()) == before


async def test_upsert_twice_leaves_no_duplicates(store: VectorStore, collection: str) -> None:
    ids, embeddings, documents, metadatas = records("doc", 1, 25)
    await store.upsert(collection, ids, embeddings, documents, metadatas)
    await store.upsert(collection, ids, embeddings, [f"{d} (again)" for d in documents], metadatas)
    assert await store.count(collection) == 25
    got = await store.get(collection, ids=[ids[0]])
    assert got[0].text.endswith("(again)")
    assert got[0].metadata["heading_path"] == '["A","B"]'
    assert restore_metadata(got[0].metadata)["pages"] == [1]


async def test_a_batch_bigger_than_the_servers_limit_is_split(store: VectorStore, collection: str) -> None:
    limit = await store.max_batch_size()
    assert limit > 0 and await store.max_batch_size() == limit
    count = limit + 37
    ids, embeddings, documents, metadatas = records("big", 1, count, text="x")
    await store.upsert(collection, ids, embeddings, documents, metadatas)
    assert await store.count(collection) == count
    assert len(await store.ids_where(collection, {"document_id": "big"})) == count
    await store.delete(collection, ids=ids)  # a delete by ids is split too
    assert await store.count(collection) == 0


async def test_a_wrong_dimension_is_refused_clearly_and_writes_nothing(
    store: VectorStore, collection: str
) -> None:
    ids, embeddings, documents, metadatas = records("doc", 1, 3)
    embeddings[1] = embeddings[1] + [0.0]  # one bad vector in the batch
    with pytest.raises(VectorRejected, match="dimension"):
        await store.upsert(collection, ids, embeddings, documents, metadatas)
    with pytest.raises(VectorRejected, match=f"{DIM}-dimensional"):
        await store.upsert(collection, ["x"], [[1.0, 0.0]], ["short"], [{"document_id": "x"}])
    assert await store.count(collection) == 0


async def test_query_scores_are_cosine_similarities_best_first(store: VectorStore, collection: str) -> None:
    vectors = {
        "same": unit(1, 0, 0, 0),
        "close": unit(1, 1, 0, 0),
        "far": unit(0, 0, 1, 0),
        "opposite": unit(-1, 0, 0, 0),
    }
    await store.upsert(
        collection,
        list(vectors),
        list(vectors.values()),
        [f"text {k}" for k in vectors],
        [{"document_id": k, "kind": "a" if k != "close" else "b"} for k in vectors],
    )
    hits = await store.query(collection, unit(1, 0, 0, 0), top_k=10)
    assert [h.id for h in hits] == ["same", "close", "far", "opposite"]
    expected = [1.0, 1 / math.sqrt(2), 0.0, -1.0]
    assert [h.score for h in hits] == pytest.approx(expected, abs=1e-3)
    assert hits[0].text == "text same" and hits[0].metadata["document_id"] == "same"
    filtered = await store.query(collection, unit(1, 0, 0, 0), top_k=10, where={"kind": "b"})
    assert [h.id for h in filtered] == ["close"]
    assert [h.id for h in await store.query(collection, unit(1, 0, 0, 0), top_k=2)] == ["same", "close"]


async def test_delete_by_where_and_by_ids(store: VectorStore, collection: str) -> None:
    for document_id, generation in (("a", 1), ("a", 2), ("b", 1)):
        await store.upsert(collection, *records(document_id, generation, 5))
    assert await store.count(collection) == 15
    # Older generations of one document, as the saga deletes them.
    await store.delete(collection, where={"$and": [{"document_id": "a"}, {"generation": {"$lt": 2}}]})
    assert sorted(await store.ids_where(collection, {"document_id": "a"})) == sorted(
        vector_id("a", 2, i) for i in range(5)
    )
    await store.delete(collection, ids=[vector_id("b", 1, 0), "no-such-id"])
    assert await store.count(collection) == 9
    await store.delete(collection, ids=[])  # deletes nothing
    with pytest.raises(ValueError):
        await store.delete(collection)  # neither ids nor where: never "everything"
    assert await store.count(collection) == 9
    with pytest.raises(VectorRejected):
        await store.delete(collection, where={"$nonsense": 1})


async def test_get_pages_and_update_metadata_merges(store: VectorStore, collection: str) -> None:
    ids, embeddings, documents, metadatas = records("doc", 1, 10)
    await store.upsert(collection, ids, embeddings, documents, metadatas)
    page = await store.get(collection, where={"document_id": "doc"}, limit=4, offset=8)
    assert len(page) == 2
    await store.update_metadata(collection, ids[:2], [{"title": "New", "tags": ["x", "y"]}] * 2)
    got = {r.id: r for r in await store.get(collection, ids=ids[:3])}
    assert got[ids[0]].metadata["title"] == "New"
    assert got[ids[0]].metadata["tags"] == '["x","y"]'
    assert got[ids[0]].metadata["document_id"] == "doc"  # merged, not replaced
    assert "title" not in got[ids[2]].metadata
    await store.update_metadata(collection, [ids[0]], [{"title": None}])  # None removes a key
    (first,) = await store.get(collection, ids=[ids[0]])
    assert "title" not in first.metadata and first.metadata["tags"] == '["x","y"]'


async def test_a_collection_deleted_and_created_again_is_found_again(
    store: VectorStore, chroma_url: str
) -> None:
    name = unique_name()
    other = VectorStore(chroma_url, timeout_s=30)
    try:
        await store.create_collection(name, dim=DIM, model="m1")
        assert await store.count(name) == 0  # store now holds a handle on it
        await other.delete_collection(name)
        assert not await store.exists(name)  # asked of the server, not of store's cache
        await other.create_collection(name, dim=DIM, model="m2")
        await other.upsert(name, *records("d", 1, 3))
        assert await store.count(name) == 3
        assert (await store.describe(name)).model == "m2"
        # Once more, with another dimension, behind the back of a store that holds a handle on the old one.
        await other.delete_collection(name)
        await other.create_collection(name, dim=3, model="m3")
        assert await store.count(name) == 0  # its stale handle fails, the name is looked up again
        await store.describe(name)  # (a handle on the new one, and then once more a stale one:)
        await other.delete_collection(name)
        await other.create_collection(name, dim=3, model="m3")
        await store.upsert(name, ["x"], [unit(1, 2, 3)], ["three dims"], [{"document_id": "x"}])
        assert await store.count(name) == 1
        with pytest.raises(VectorCollectionMissing):
            await store.count(unique_name())
    finally:
        await other.delete_collection(name)
        await other.close()


async def test_chroma_down_is_unavailable_and_the_store_reconnects(own_chroma_server: ChromaServer) -> None:
    store = VectorStore(own_chroma_server.url, timeout_s=5)
    try:
        name = unique_name()
        await store.create_collection(name, dim=DIM, model="m")
        await store.upsert(name, *records("d", 1, 3))
        own_chroma_server.stop()
        assert not await store.heartbeat()
        with pytest.raises(VectorStoreUnavailable) as caught:
            await store.count(name)
        assert caught.value.retryable
        own_chroma_server.start()
        assert await store.heartbeat()
        assert await store.count(name) == 3
    finally:
        await store.close()


async def test_chroma_killed_in_the_middle_of_an_upsert(own_chroma_server: ChromaServer) -> None:
    """Acknowledged batches survive a crash; the failed upsert raises a retryable error; retrying it with
    the same ids completes the set without duplicates."""
    store = VectorStore(own_chroma_server.url, timeout_s=10)
    try:
        name = unique_name()
        await store.create_collection(name, dim=DIM, model="m")
        batch = 50
        store._max_batch = batch  # several batches without thousands of records
        ids, embeddings, documents, metadatas = records("d", 1, 4 * batch)
        writes = 0
        original = store._on_collection

        async def crash_before_second_batch(collection_name, op):
            nonlocal writes
            writes += 1
            if writes == 2:
                own_chroma_server.kill()
            return await original(collection_name, op)

        store._on_collection = crash_before_second_batch  # type: ignore[method-assign]
        with pytest.raises(VectorStoreUnavailable):
            await store.upsert(name, ids, embeddings, documents, metadatas)
        store._on_collection = original  # type: ignore[method-assign]
        own_chroma_server.start()
        assert await store.count(name) == batch  # the first, acknowledged batch
        await store.upsert(name, ids, embeddings, documents, metadatas)
        assert await store.count(name) == 4 * batch
    finally:
        await store.close()


async def test_an_unreachable_server_is_unavailable_not_a_hang() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    store = VectorStore(f"http://127.0.0.1:{port}", timeout_s=2)
    try:
        assert not await store.heartbeat()
        with pytest.raises(VectorStoreUnavailable):
            await store.exists("anything")
    finally:
        await store.close()


async def test_a_server_that_never_answers_times_out() -> None:
    # Listening (the kernel completes the handshake) but never reading: only our timeout ends the call.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        store = VectorStore(f"http://127.0.0.1:{sock.getsockname()[1]}", timeout_s=0.5)
        try:
            assert not await asyncio.wait_for(store.heartbeat(), timeout=30)
            with pytest.raises(VectorStoreUnavailable):
                await asyncio.wait_for(store.count("anything"), timeout=30)
        finally:
            await store.close()


def test_a_client_inherited_from_a_closed_event_loop_is_replaced(chroma_url: str) -> None:
    """chromadb caches its httpx client per hash(event loop); a new loop can inherit a dead loop's hash,
    as pytest's per-test loops may. The store drops that client (one retryable error), then works."""
    from chromadb.api.async_fastapi import AsyncFastAPI

    dead: dict[str, int] = {}

    async def first() -> None:
        await VectorStore(chroma_url, timeout_s=10).list_collection_names()  # left open on purpose
        dead["hash"] = hash(asyncio.get_running_loop())

    async def second() -> None:
        AsyncFastAPI._clients[hash(asyncio.get_running_loop())] = AsyncFastAPI._clients.pop(dead["hash"])
        store = VectorStore(chroma_url, timeout_s=10)
        try:
            with pytest.raises(VectorStoreUnavailable):
                await store.list_collection_names()
            assert isinstance(await store.list_collection_names(), list)
        finally:
            await store.close()

    asyncio.run(first())
    asyncio.run(second())
