"""The registry of collections and documents: create, read, update through the state machine, list, remove.

Each change is one optimistic transaction (WATCH the record, check, MULTI/EXEC the record and its indexes
together), so indexes never disagree with records and a concurrent writer makes the change re-run. A
collection's sha256 index names at most one live document per content (DuplicateDocument). Counts are
kept, not scanned for (catalog.counts); `recount` sets one from the documents, as the reconciler's check.
"""

from collections.abc import Callable, Sequence
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

import orchestrator.catalog.changes as feed
import orchestrator.catalog.counts as counts
from orchestrator.catalog.counts import CollectionStats
from orchestrator.catalog.model import Collection, CollectionStatus, Document, DocumentStatus
from orchestrator.catalog.transitions import check_collection, check_document
from orchestrator.core import keys
from orchestrator.core.ids import now_ms, require_record_id
from orchestrator.core.pagination import Page, narrowest_index, paginate
from orchestrator.errors import Conflict, NotFound, OrchErrorCode

# Keys of the indexes depend on these, so they never change after registration.
_IMMUTABLE_DOCUMENT_FIELDS = frozenset({"id", "collection", "sha256", "created_at_ms"})

# What a change of a record is made of, computed from its current one (see Registry.change_document).
DocumentChange = Callable[[Document], dict[str, Any]]
CollectionChange = Callable[[Collection], dict[str, Any]]


class DuplicateDocument(Conflict):
    """The collection already holds these bytes as a document that is not being deleted."""

    def __init__(self, existing: Document):
        super().__init__(
            f"this file is already document {existing.id}",
            code=OrchErrorCode.duplicate,
            details={"document_id": existing.id},
        )
        self.existing = existing


class TooManyCollections(Conflict):
    """The deployment holds its cap of collections (those being deleted count until removed)."""

    def __init__(self, max_collections: int):
        super().__init__(
            f"the deployment holds its limit of {max_collections} collections (ORCH_MAX_COLLECTIONS): "
            "delete one first",
            code=OrchErrorCode.too_many_collections,
        )


class Registry:
    def __init__(self, redis: Redis):
        self._redis = redis

    # Collections.

    async def create_collection(
        self, collection: Collection, *, max_collections: int | None = None
    ) -> Collection:
        """Registers a collection; Conflict when the name is taken, TooManyCollections when the registry
        already holds `max_collections` (counted in the transaction, so concurrent creates never pass it)."""
        key = keys.collection(collection.name)

        async def create(pipe: Pipeline) -> Collection:
            if await pipe.exists(key):
                raise Conflict(f"collection {collection.name} exists")
            if max_collections is not None and await pipe.zcard(keys.COLLECTIONS) >= max_collections:
                raise TooManyCollections(max_collections)
            pipe.multi()
            pipe.hset(key, mapping={**collection.to_redis(), counts.CHUNKS_FIELD: 0})
            pipe.zadd(keys.COLLECTIONS, {collection.name: 0})
            return collection

        return await self._redis.transaction(create, key, keys.COLLECTIONS, value_from_callable=True)

    async def count_collections(self) -> int:
        """Every registered collection, those being deleted included (what max_collections bounds)."""
        return await self._redis.zcard(keys.COLLECTIONS)

    async def get_collection(self, name: str) -> Collection:
        raw = await self._redis.hgetall(keys.collection(name))
        if not raw:
            raise NotFound(f"collection {name!r} not found")
        return Collection.from_redis(raw)

    async def get_active_collection(self, name: str) -> Collection:
        """The collection, or NotFound: one being deleted is hidden at once."""
        collection = await self.get_collection(name)
        if collection.status is not CollectionStatus.active:
            raise NotFound(f"collection {name!r} not found (it is being deleted)")
        return collection

    async def list_collections(
        self, *, cursor: str | None = None, limit: int = 50, active_only: bool = False
    ) -> Page[Collection]:
        """Collections by name; with active_only, those being deleted are left out (as users see them)."""

        async def load(names: Sequence[str]) -> list[Collection | None]:
            rows = await self._hgetall_many([keys.collection(n) for n in names])
            return [Collection.from_redis(raw) if raw else None for raw in rows]

        def keep(collection: Collection) -> bool:
            return not active_only or collection.status is CollectionStatus.active

        return await paginate(
            self._redis, keys.COLLECTIONS, load, keep=keep, cursor=cursor, limit=limit, newest_first=False
        )

    async def update_collection(self, name: str, **changes: Any) -> Collection:
        """Changes fields; a new `status` must be a legal transition."""
        return await self.change_collection(name, lambda _: changes)

    async def change_collection(self, name: str, change: CollectionChange) -> Collection:
        """Like update_collection, with the changes computed by `change` from the current record inside
        the transaction (a metadata merge that a concurrent writer re-runs); `change` may raise to refuse,
        and then nothing is written."""
        key = keys.collection(name)

        async def update(pipe: Pipeline) -> Collection:
            raw = await pipe.hgetall(key)
            if not raw:
                raise NotFound(f"collection {name!r} not found")
            current = Collection.from_redis(raw)
            changes = change(current)
            if "status" in changes:
                check_collection(name, current.status, CollectionStatus(changes["status"]))
            updated = Collection.model_validate(
                {**current.model_dump(), **changes, "updated_at_ms": now_ms()}
            )
            pipe.multi()
            pipe.hset(key, mapping=updated.to_redis())
            if current.status is not updated.status and updated.status is CollectionStatus.deleting:
                feed.record(pipe, name, feed.ChangeOp.delete_collection)
            return updated

        return await self._redis.transaction(update, key, value_from_callable=True)

    async def remove_collection(self, name: str) -> None:
        """Forgets a collection that is being deleted; its documents must be removed first."""
        key = keys.collection(name)

        async def remove(pipe: Pipeline) -> None:
            raw = await pipe.hgetall(key)
            if not raw:
                return
            if Collection.from_redis(raw).status is not CollectionStatus.deleting:
                raise Conflict(f"collection {name} is not being deleted")
            if await pipe.zcard(keys.documents_by_collection(name)):
                raise Conflict(f"collection {name} still has documents")
            pipe.multi()
            pipe.delete(key, keys.documents_by_sha256(name))
            pipe.zrem(keys.COLLECTIONS, name)

        await self._redis.transaction(remove, key, keys.documents_by_collection(name))

    async def collection_stats(self, name: str) -> CollectionStats:
        """Its documents, and the chunks of their searchable generations (documents being deleted aside)."""
        return (await self.collections_stats([name]))[0]

    async def collections_stats(self, names: Sequence[str]) -> list[CollectionStats]:
        """collection_stats of many collections in one round trip (two reads each, whatever their size)."""
        return await counts.collections_stats(self._redis, names)

    async def recount(self, name: str) -> int | None:
        """Sets the collection's chunk count from its documents (see catalog.counts); returns it, or None
        when writers kept changing it."""
        return await counts.recount(self._redis, name)

    # Documents.

    async def add_document(self, document: Document) -> Document:
        """Registers a document in an active collection; DuplicateDocument when its sha256 already names
        another document of the collection that is not being deleted (both read in the transaction, so
        of two concurrent uploads of the same bytes only one is registered)."""
        collection_key = keys.collection(document.collection)
        sha_index = keys.documents_by_sha256(document.collection)

        async def add(pipe: Pipeline) -> Document:
            status = await pipe.hget(collection_key, "status")
            if status is None:
                raise NotFound(f"collection {document.collection!r} not found")
            if status != CollectionStatus.active:
                raise Conflict(f"collection {document.collection} is {status}")
            owner_id = await pipe.hget(sha_index, document.sha256)
            if owner_id is not None and owner_id != document.id:
                owner_key = keys.document(owner_id)
                await pipe.watch(owner_key)  # it may start being deleted: then these bytes are free
                raw = await pipe.hgetall(owner_key)
                owner = Document.from_redis(raw) if raw else None
                if owner is not None and owner.status is not DocumentStatus.deleting:
                    raise DuplicateDocument(owner)
            pipe.multi()
            pipe.hset(keys.document(document.id), mapping=document.to_redis())
            pipe.zadd(keys.DOCUMENTS, {document.id: 0})
            pipe.zadd(keys.documents_by_collection(document.collection), {document.id: 0})
            pipe.zadd(keys.documents_by_status(document.status), {document.id: 0})
            pipe.hset(sha_index, document.sha256, document.id)
            counts.move(pipe, document.collection, counts.searchable_chunks(document))
            return document

        return await self._redis.transaction(add, collection_key, sha_index, value_from_callable=True)

    async def get_document(self, document_id: str) -> Document:
        require_record_id("document", document_id)
        raw = await self._redis.hgetall(keys.document(document_id))
        if not raw:
            raise NotFound(f"document {document_id!r} not found")
        return Document.from_redis(raw)

    async def get_documents(self, document_ids: Sequence[str]) -> dict[str, Document | None]:
        """Many documents in one round trip; None for an id the registry does not hold."""
        rows = await self._hgetall_many([keys.document(i) for i in document_ids])
        return {
            i: Document.from_redis(raw) if raw else None for i, raw in zip(document_ids, rows, strict=True)
        }

    async def find_by_sha256(self, collection: str, sha256: str) -> Document | None:
        """The collection's document with these bytes, for the duplicate policy."""
        document_id = await self._redis.hget(keys.documents_by_sha256(collection), sha256)
        if document_id is None:
            return None
        raw = await self._redis.hgetall(keys.document(document_id))
        return Document.from_redis(raw) if raw else None

    async def list_documents(
        self,
        *,
        collection: str | None = None,
        status: DocumentStatus | None = None,
        cursor: str | None = None,
        limit: int = 50,
        created_after_ms: int | None = None,
        created_before_ms: int | None = None,
        filename_contains: str | None = None,
        metadata_equals: dict[str, str] | None = None,
    ) -> Page[Document]:
        """Documents newest first; pass the returned next_cursor back for the next page. `filename_contains`
        is case-insensitive; `metadata_equals` compares user metadata values as text ("true", "3")."""
        index = narrowest_index(
            keys.documents_by_collection(collection) if collection is not None else None,
            keys.documents_by_status(status) if status is not None else None,
            everything=keys.DOCUMENTS,
        )

        needle = filename_contains.lower() if filename_contains else None
        wanted = metadata_equals or {}

        async def load(ids: Sequence[str]) -> list[Document | None]:
            rows = await self._hgetall_many([keys.document(i) for i in ids])
            return [Document.from_redis(raw) if raw else None for raw in rows]

        def keep(document: Document) -> bool:
            return (
                (status is None or document.status == status)
                and (needle is None or needle in document.filename.lower())
                and all(_as_text(document.metadata.get(k)) == v for k, v in wanted.items())
            )

        return await paginate(
            self._redis,
            index,
            load,
            keep=keep,
            cursor=cursor,
            limit=limit,
            created_after_ms=created_after_ms,
            created_before_ms=created_before_ms,
        )

    async def update_document(self, document_id: str, **changes: Any) -> Document:
        """Changes fields in one transaction; a new `status` must be a legal transition (the same
        status again is no transition, so that handlers can repeat a step)."""
        return await self.change_document(document_id, lambda _: changes)

    async def change_document(self, document_id: str, change: DocumentChange) -> Document:
        """Like update_document, with the changes computed by `change` from the current record inside the
        transaction (a read-modify-write, such as a metadata merge, that a concurrent writer re-runs
        instead of overwriting). `change` may raise to refuse; then nothing is written."""
        require_record_id("document", document_id)
        key = keys.document(document_id)

        async def update(pipe: Pipeline) -> Document:
            raw = await pipe.hgetall(key)
            if not raw:
                raise NotFound(f"document {document_id!r} not found")
            changes = change(Document.from_redis(raw))
            if fixed := _IMMUTABLE_DOCUMENT_FIELDS & changes.keys():
                raise ValueError(f"document fields {sorted(fixed)} cannot change")
            return write_document(pipe, raw, changes)

        return await self._redis.transaction(update, key, value_from_callable=True)

    async def remove_document(self, document_id: str) -> None:
        """Forgets a document (its vectors are the caller's to delete first)."""
        key = keys.document(document_id)

        async def remove(pipe: Pipeline) -> None:
            raw = await pipe.hgetall(key)
            if not raw:
                return
            document = Document.from_redis(raw)
            sha_index = keys.documents_by_sha256(document.collection)
            collection_key = keys.collection(document.collection)
            await pipe.watch(sha_index, collection_key)
            owner = await pipe.hget(sha_index, document.sha256)
            # A collection being deleted recorded one change for all its documents: one each would flood
            # the change stream (and push followers past its trimming into rebuilds).
            collection_going = await pipe.hget(collection_key, "status") != CollectionStatus.active
            pipe.multi()
            pipe.delete(key)
            pipe.zrem(keys.DOCUMENTS, document_id)
            pipe.zrem(keys.documents_by_collection(document.collection), document_id)
            pipe.zrem(keys.documents_by_status(document.status), document_id)
            if owner == document_id:
                pipe.hdel(sha_index, document.sha256)
            counts.move(pipe, document.collection, -counts.searchable_chunks(document))
            if not collection_going:
                feed.record_document_change(pipe, document, None)

        await self._redis.transaction(remove, key)

    async def record_vectors_changed(self, collection: str, document_id: str) -> None:
        """Records that a document's vectors now carry other metadata (what filters read): a change of
        what search returns, made outside the registry (catalog.changes)."""
        await feed.record_now(self._redis, collection, feed.ChangeOp.metadata, document_id=document_id)

    async def _hgetall_many(self, record_keys: Sequence[str]) -> list[dict[str, str]]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in record_keys:
                pipe.hgetall(key)
            return await pipe.execute()


def _as_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def write_document(pipe: Pipeline, raw: dict, changes: dict[str, Any]) -> Document:
    """Inside a WATCHed transaction: check the status change, then queue (after MULTI) the document's new
    fields, the fields it clears and its move between status indexes. Returns the updated record."""
    current = Document.from_redis(raw)
    target = DocumentStatus(changes.get("status", current.status))
    if target != current.status:
        check_document(current.id, current.status, target)
    updated = Document.model_validate({**current.model_dump(), **changes, "updated_at_ms": now_ms()})
    cleared = [f for f in Document.model_fields if f in raw and getattr(updated, f) is None]
    key = keys.document(current.id)
    pipe.multi()
    pipe.hset(key, mapping=updated.to_redis())
    if cleared:
        pipe.hdel(key, *cleared)
    if target != current.status:
        pipe.zrem(keys.documents_by_status(current.status), current.id)
        pipe.zadd(keys.documents_by_status(target), {current.id: 0})
    counts.move(
        pipe, current.collection, counts.searchable_chunks(updated) - counts.searchable_chunks(current)
    )
    feed.record_document_change(pipe, current, updated)
    return updated
