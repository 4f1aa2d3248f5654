"""The ingestion saga's changes to a document record, each one optimistic Redis transaction that watches
the document and its collection, so that a delete (of either) that lands meanwhile wins.

`generation` is the searchable generation (changed only by `commit_ready`; 0: never ready), `status` the
state of the latest work on the document, `latest_generation` the last one any attempt took. Each write
checks the attempt's lease fence (core.fencing) inside its transaction: a lost lease changes nothing.
See docs/architecture.md#the-ingestion-saga-and-its-invariants.
"""

from collections.abc import Callable
from contextlib import suppress
from typing import Any, NamedTuple

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from orchestrator.catalog.model import (
    Collection,
    CollectionStatus,
    Document,
    DocumentError,
    DocumentStatus,
)
from orchestrator.catalog.registry import write_document
from orchestrator.core import keys
from orchestrator.core.fencing import Fence
from orchestrator.errors import Conflict, LeaseLost, NotFound


class Superseded(Conflict):
    """The document was deleted, its collection is being deleted, or a newer job took it over."""


class MetadataMoved(Conflict):
    """A metadata patch landed after the committing attempt wrote metadata onto its vectors: write again."""


Mutation = Callable[[Document, Collection | None], dict[str, Any]]


async def _transact(redis: Redis, document_id: str, mutate: Mutation, fence: Fence | None = None) -> Document:
    """One optimistic transaction over the document, its collection and, with a fence, the job record that
    holds the lease: a change to any of them before the write retries the whole read-check-write."""
    doc_key = keys.document(document_id)

    async def run(pipe: Pipeline) -> Document:
        if fence is not None:
            await pipe.watch(fence.key)
            if not fence.holds(await pipe.hmget(fence.key, list(fence.fields))):
                raise LeaseLost(f"the lease on document {document_id}'s job moved on")
        raw = await pipe.hgetall(doc_key)
        if not raw:
            raise NotFound(f"document {document_id!r} not found")
        current = Document.from_redis(raw)
        collection_key = keys.collection(current.collection)
        await pipe.watch(collection_key)
        raw_collection = await pipe.hgetall(collection_key)
        collection = Collection.from_redis(raw_collection) if raw_collection else None
        return write_document(pipe, raw, mutate(current, collection))

    return await redis.transaction(run, doc_key, value_from_callable=True)


def _require_live(document: Document, collection: Collection | None) -> None:
    if document.status is DocumentStatus.deleting:
        raise Superseded(f"document {document.id} is being deleted")
    if collection is None or collection.status is not CollectionStatus.active:
        raise Superseded(f"collection {document.collection} is gone or being deleted")


async def mark_queued(redis: Redis, document_id: str) -> Document:
    """A re-ingest is about to be queued: the document waits for its job (attach_job names it; the job's
    first attempt takes it over in any case). Only a document with no work in flight can be re-ingested.
    Returns the record as it was before (what restore_unqueued puts back)."""
    before: list[Document] = []

    def mutate(document: Document, collection: Collection | None) -> dict[str, Any]:
        _require_live(document, collection)
        if document.in_flight:
            raise Conflict(f"document {document.id} is already being ingested (job {document.job_id})")
        before[:] = [document]
        return {"status": DocumentStatus.queued, "job_id": None}

    await _transact(redis, document_id, mutate)
    return before[0]


async def restore_unqueued(redis: Redis, before: Document) -> None:
    """Puts back the status, error and job of a document that mark_queued changed for a request refused
    before its job was queued, while it still waits with no job named. Not found or moved on: nothing."""

    def mutate(document: Document, collection: Collection | None) -> dict[str, Any]:
        if document.status is not DocumentStatus.queued or document.job_id is not None:
            raise Superseded(f"document {document.id} moved on")
        return {"status": before.status, "error": before.error, "job_id": before.job_id}

    with suppress(NotFound, Superseded):
        await _transact(redis, before.id, mutate)


async def attach_job(redis: Redis, document_id: str, job_id: str) -> None:
    """Names the document's job, unless its job already started (and named itself) or it is gone."""

    def mutate(document: Document, collection: Collection | None) -> dict[str, Any]:
        return {"job_id": job_id} if document.job_id is None else {}

    try:
        await _transact(redis, document_id, mutate)
    except NotFound:
        pass


class Begun(NamedTuple):
    document: Document  # as it was before this attempt began
    generation: int  # this attempt's own
    committed: bool  # an earlier attempt of this job already made its generation ready


async def begin(redis: Redis, document_id: str, job_id: str, fence: Fence | None = None) -> Begun:
    """Starts an attempt: the document is `processing` at a new generation of its own (or, when an earlier
    attempt of this job already committed, that one). Raises Superseded if the job no longer owns the
    document, LeaseLost if the fence no longer holds."""
    chosen: list[int] = []
    committed: list[bool] = [False]
    before: list[Document] = []

    def mutate(document: Document, collection: Collection | None) -> dict[str, Any]:
        _require_live(document, collection)
        if document.job_id not in (None, job_id):
            raise Superseded(f"document {document.id} belongs to job {document.job_id} now")
        before[:] = [document]
        if (
            document.status is DocumentStatus.ready
            and document.latest_generation_job == job_id
            and document.generation == document.latest_generation
        ):
            chosen[:], committed[0] = [document.generation], True
            return {}
        generation = document.latest_generation + 1
        chosen[:] = [generation]
        return {
            "status": DocumentStatus.processing,
            "job_id": job_id,
            "latest_generation": generation,
            "latest_generation_job": job_id,
        }

    await _transact(redis, document_id, mutate, fence)
    return Begun(before[0], chosen[0], committed[0])


async def commit_ready(
    redis: Redis,
    document_id: str,
    job_id: str,
    generation: int,
    *,
    chunk_count: int,
    pages: int | None,
    format: str | None,
    extracted: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    fence: Fence | None = None,
) -> Document:
    """The one step that makes a generation searchable; refused (Superseded) if the document was deleted,
    its collection is being deleted, or another job or attempt took it over meanwhile (LeaseLost when the
    fence no longer holds). `metadata`: the user metadata the generation's vectors carry; MetadataMoved
    when the document's differs by now (a patch landed meanwhile)."""

    def mutate(document: Document, collection: Collection | None) -> dict[str, Any]:
        _require_live(document, collection)
        if document.job_id != job_id or document.latest_generation != generation:
            raise Superseded(f"document {document.id} moved on to job {document.job_id}")
        if document.status is not DocumentStatus.processing:
            raise Superseded(f"document {document.id} is {document.status}")
        if metadata is not None and document.metadata != metadata:
            raise MetadataMoved(f"document {document.id}'s metadata changed during its ingest")
        return {
            "status": DocumentStatus.ready,
            "generation": generation,
            "chunk_count": chunk_count,
            "pages": pages,
            "format": format,
            "extracted": extracted,
            "error": None,
        }

    return await _transact(redis, document_id, mutate, fence)


async def finish_unready(
    redis: Redis,
    document_id: str,
    job_id: str | None,
    status: DocumentStatus,
    error: DocumentError,
    *,
    generation: int | None = None,
    fence: Fence | None = None,
) -> Document | None:
    """Marks an in-flight document failed or cancelled with the error; its searchable `generation`, if
    any, stays. None (nothing changed) when it is gone, settled already, owned by another job, or, for an
    attempt (`generation`, `fence`), when a newer attempt took it over or the fence no longer holds."""

    def mutate(document: Document, collection: Collection | None) -> dict[str, Any]:
        _require_live(document, collection)
        if document.job_id not in (None, job_id):
            raise Superseded(f"document {document.id} belongs to job {document.job_id} now")
        if generation is not None and document.latest_generation != generation:
            raise Superseded(f"document {document.id} moved on to generation {document.latest_generation}")
        if not document.in_flight:
            raise Superseded(f"document {document.id} is {document.status} already")
        return {"status": status, "error": error}

    try:
        return await _transact(redis, document_id, mutate, fence)
    except (Superseded, NotFound, LeaseLost):
        return None
