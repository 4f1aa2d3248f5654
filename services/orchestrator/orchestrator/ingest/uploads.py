"""An upload becomes a queued document and its ingest job. Duplicates (the same sha256 in the collection)
follow the upload's `on_duplicate`; an `Idempotency-Key` seen before returns the job it made, without a
second document, and concurrent repeats of one key wait for the first (a lock in Redis)."""

import asyncio
import posixpath
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from contracts.errors import ErrorCode
from orchestrator.catalog import Collection, Document, DocumentStatus, generations
from orchestrator.clients import Clients
from orchestrator.core import keys
from orchestrator.errors import Conflict, NotFound, OrchErrorCode, OrchestratorError
from orchestrator.ingest.operations import reingest
from orchestrator.jobs import JobType

LOCK_WAIT_S = 30.0
LOCK_POLL_S = 0.05


class OnDuplicate(StrEnum):
    reject = "reject"  # 409 with the existing document's id
    skip = "skip"  # 200 with the existing document
    replace = "replace"  # re-ingest the existing document


@dataclass
class NewUpload:
    filename: str | None
    data: bytes | bytearray
    sha256: str
    metadata: dict[str, Any] = field(default_factory=dict)
    chunking: dict[str, Any] = field(default_factory=dict)
    on_duplicate: OnDuplicate = OnDuplicate.reject


@dataclass(frozen=True)
class Accepted:
    document_id: str
    job_id: str | None
    duplicate: bool = False  # the bytes matched a document already in the collection
    queued: bool = True  # False: nothing was queued (on_duplicate=skip)


def safe_filename(raw: str | None) -> str:
    """A filename is metadata only: its last path component, without control characters."""
    name = posixpath.basename((raw or "").replace("\\", "/"))
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name[:255] or "document"


async def upload(
    clients: Clients,
    collection_name: str,
    read: Callable[[], Awaitable[NewUpload]],
    *,
    idempotency_key: str | None = None,
) -> Accepted:
    """Checks the collection, then calls `read` for the upload (so a body is read only for a live
    collection, and under the key's lock), then registers and queues it."""
    collection = await clients.registry.get_active_collection(collection_name)
    if not idempotency_key:
        return await _register(clients, collection, await read(), None)
    scoped_key = f"upload:{collection_name}:{idempotency_key}"
    async with _key_lock(clients, scoped_key) as known:
        if known is not None:
            return known
        return await _register(clients, collection, await read(), scoped_key)


async def _known(clients: Clients, scoped_key: str) -> Accepted | None:
    job = await clients.queue.job_for_key(scoped_key)
    return Accepted(job.document_id or "", job.id) if job is not None else None


@asynccontextmanager
async def _key_lock(clients: Clients, scoped_key: str) -> AsyncIterator[Accepted | None]:
    """Holds the key's lock; yields what the key already made, if anything."""
    lock = keys.idempotency_lock(scoped_key)
    deadline = time.monotonic() + LOCK_WAIT_S
    while not await clients.redis.set(lock, "1", nx=True, px=round(LOCK_WAIT_S * 1000)):
        # The same key is being handled right now: answer with its job once it has one.
        if known := await _known(clients, scoped_key):
            yield known
            return
        if time.monotonic() > deadline:
            raise Conflict("a request with this Idempotency-Key is still running", retryable=True)
        await asyncio.sleep(LOCK_POLL_S)
    try:
        yield await _known(clients, scoped_key)
    finally:
        await clients.redis.delete(lock)


async def _register(
    clients: Clients, collection: Collection, new: NewUpload, scoped_key: str | None
) -> Accepted:
    if not new.data:
        raise OrchestratorError("the uploaded file is empty", code=ErrorCode.empty_document)
    existing = await clients.registry.find_by_sha256(collection.name, new.sha256)
    if existing is not None and existing.status is not DocumentStatus.deleting:
        return await _duplicate(clients, existing, new, scoped_key)
    document = Document(
        collection=collection.name,
        filename=safe_filename(new.filename),
        sha256=new.sha256,
        size_bytes=len(new.data),
        metadata=new.metadata,
    )
    await clients.blobs.put(document.id, bytes(new.data))
    try:
        await clients.registry.add_document(document)
    except (NotFound, Conflict) as exc:  # the collection went away since the check
        await clients.blobs.delete(document.id)
        raise NotFound(f"collection {collection.name!r} not found ({exc})") from None
    enqueued = await clients.queue.enqueue(
        JobType.ingest,
        {"document_id": document.id, "chunking": new.chunking},
        collection=collection.name,
        document_id=document.id,
        idempotency_key=scoped_key,
    )
    if not enqueued.created:  # the same key raced this request: its document is the one
        await clients.blobs.delete(document.id)
        await clients.registry.remove_document(document.id)
        return Accepted(enqueued.job.document_id or "", enqueued.job.id)
    await generations.attach_job(clients.redis, document.id, enqueued.job.id)
    return Accepted(document.id, enqueued.job.id)


async def _duplicate(
    clients: Clients, existing: Document, new: NewUpload, scoped_key: str | None
) -> Accepted:
    if new.on_duplicate is OnDuplicate.reject:
        raise Conflict(
            f"this file is already document {existing.id}",
            code=OrchErrorCode.duplicate,
            details={"document_id": existing.id},
        )
    if new.on_duplicate is OnDuplicate.skip:
        return Accepted(existing.id, existing.job_id, duplicate=True, queued=False)
    if existing.in_flight:
        raise Conflict(f"document {existing.id} is being ingested now", details={"document_id": existing.id})
    await clients.blobs.put(existing.id, bytes(new.data))
    if new.metadata:
        await clients.registry.update_document(existing.id, metadata={**existing.metadata, **new.metadata})
    job = await reingest(clients, existing, new.chunking, idempotency_key=scoped_key)
    return Accepted(existing.id, job.id, duplicate=True)
