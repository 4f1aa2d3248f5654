"""Collections and documents in the registry: CRUD, the state machine, indexes and cursor pagination."""

import pytest
from redis.asyncio import Redis

from orchestrator.catalog.model import Collection, CollectionStatus, Document, DocumentStatus
from orchestrator.catalog.registry import Registry
from orchestrator.core import keys
from orchestrator.core.ids import new_id
from orchestrator.errors import Conflict, IllegalTransition, NotFound


def document(collection: str = "papers", **fields: object) -> Document:
    defaults = {"filename": "a.pdf", "sha256": new_id(), "size_bytes": 10}
    return Document(collection=collection, **{**defaults, **fields})


@pytest.fixture
async def registry(redis: Redis) -> Registry:
    registry = Registry(redis)
    await registry.create_collection(Collection(name="papers", embedding_model="minilm"))
    return registry


async def test_collections_are_created_once_and_listed_by_name(registry: Registry) -> None:
    with pytest.raises(Conflict):
        await registry.create_collection(Collection(name="papers"))
    for name in ("zeta", "alpha", "mid"):
        await registry.create_collection(Collection(name=name, metadata={"owner": name}))
    first = await registry.list_collections(limit=2)
    assert [c.name for c in first.items] == ["alpha", "mid"]
    second = await registry.list_collections(cursor=first.next_cursor, limit=2)
    assert [c.name for c in second.items] == ["papers", "zeta"]
    assert (await registry.get_collection("zeta")).metadata == {"owner": "zeta"}
    with pytest.raises(NotFound):
        await registry.get_collection("missing")


async def test_a_deleting_collection_takes_no_documents_and_is_removed_when_empty(
    registry: Registry, redis: Redis
) -> None:
    doc = await registry.add_document(document())
    await registry.update_collection("papers", status=CollectionStatus.deleting)
    with pytest.raises(IllegalTransition):
        await registry.update_collection("papers", status=CollectionStatus.active)
    with pytest.raises(Conflict):
        await registry.add_document(document())
    with pytest.raises(Conflict):
        await registry.remove_collection("papers")  # still has a document
    await registry.remove_document(doc.id)
    await registry.remove_collection("papers")
    with pytest.raises(NotFound):
        await registry.get_collection("papers")
    assert await redis.zcard(keys.COLLECTIONS) == 0
    with pytest.raises(NotFound):
        await registry.add_document(document("nowhere"))


async def test_document_status_changes_follow_the_state_machine(registry: Registry) -> None:
    doc = await registry.add_document(document())
    processing = await registry.update_document(doc.id, status=DocumentStatus.processing, job_id="j1")
    again = await registry.update_document(doc.id, status=DocumentStatus.processing)  # a repeated step
    assert (processing.status, again.job_id) == (DocumentStatus.processing, "j1")
    ready = await registry.update_document(
        doc.id, status=DocumentStatus.ready, generation=1, chunk_count=12, pages=3
    )
    assert (ready.generation, ready.chunk_count, ready.pages) == (1, 12, 3)
    with pytest.raises(IllegalTransition) as refused:
        await registry.update_document(doc.id, status=DocumentStatus.processing)
    assert (refused.value.current, refused.value.target) == ("ready", "processing")
    assert (await registry.get_document(doc.id)).status is DocumentStatus.ready
    with pytest.raises(ValueError):
        await registry.update_document(doc.id, collection="elsewhere")
    failed = await registry.update_document(
        doc.id, status=DocumentStatus.queued, error={"code": "x", "message": "y"}
    )
    cleared = await registry.update_document(doc.id, error=None)
    assert failed.error is not None and cleared.error is None
    assert (await registry.get_document(doc.id)).error is None


async def test_documents_list_by_collection_and_status_newest_first(registry: Registry) -> None:
    await registry.create_collection(Collection(name="other"))
    docs = [await registry.add_document(document()) for _ in range(5)]
    await registry.add_document(document("other"))
    for doc in docs[:3]:
        await registry.update_document(doc.id, status=DocumentStatus.processing)

    page = await registry.list_documents(collection="papers", limit=2)
    assert [d.id for d in page.items] == [docs[4].id, docs[3].id]
    rest = await registry.list_documents(collection="papers", cursor=page.next_cursor, limit=10)
    assert [d.id for d in rest.items] == [docs[2].id, docs[1].id, docs[0].id]
    assert rest.next_cursor is None

    processing = await registry.list_documents(collection="papers", status=DocumentStatus.processing, limit=2)
    more = await registry.list_documents(
        collection="papers", status=DocumentStatus.processing, cursor=processing.next_cursor
    )
    assert [d.id for d in processing.items + more.items] == [docs[2].id, docs[1].id, docs[0].id]
    queued = await registry.list_documents(status=DocumentStatus.queued)
    assert {d.collection for d in queued.items} == {"papers", "other"} and len(queued.items) == 3
    assert len((await registry.list_documents()).items) == 6


async def test_documents_list_by_creation_time(registry: Registry) -> None:
    docs = [await registry.add_document(document(id=f"{ms:012x}000000000000")) for ms in (1000, 2000, 3000)]
    window = await registry.list_documents(created_after_ms=2000, created_before_ms=3000)
    assert [d.id for d in window.items] == [docs[1].id]
    since = await registry.list_documents(created_after_ms=2000)
    assert [d.id for d in since.items] == [docs[2].id, docs[1].id]


async def test_duplicates_are_found_by_sha256_and_forgotten_on_removal(
    registry: Registry, redis: Redis
) -> None:
    doc = await registry.add_document(document(sha256="abc"))
    found = await registry.find_by_sha256("papers", "abc")
    assert found is not None and found.id == doc.id
    assert await registry.find_by_sha256("papers", "def") is None
    await registry.remove_document(doc.id)
    assert await registry.find_by_sha256("papers", "abc") is None
    with pytest.raises(NotFound):
        await registry.get_document(doc.id)
    for index in (keys.DOCUMENTS, keys.documents_by_collection("papers")):
        assert await redis.zcard(index) == 0
