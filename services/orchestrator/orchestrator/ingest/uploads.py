"""An upload becomes a queued document and its ingest job. Duplicates (the same sha256 in the collection)
follow the upload's `on_duplicate`. An `Idempotency-Key` binds the request: scoped to the API key and the
collection, and hashed into the Redis key (so no user key can name an internal one), it remembers the job
it made and the request's fingerprint (the file's sha256 and the options). The same key again with the
same request returns that job without a second document; with another request it is 409
idempotency_key_reused. Concurrent repeats of one key wait for the first (a lock in Redis, held across the
body's read, since the fingerprint is known only once the body is in).

The file arrives already written to a staged blob (`NewUpload.staged`): it becomes the document's original
only when the upload is accepted, and is discarded on every other way out."""

import asyncio
import hashlib
import json
import posixpath
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from contracts.errors import ErrorCode
from orchestrator.catalog import Collection, Document, DocumentStatus, StagedBlob, generations
from orchestrator.clients import Clients
from orchestrator.core import keys
from orchestrator.errors import Conflict, NotFound, OrchErrorCode, OrchestratorError
from orchestrator.ingest.operations import enqueue_ingest, reingest
from orchestrator.jobs import Job, JobType

LOCK_WAIT_S = 30.0
LOCK_POLL_S = 0.05


class OnDuplicate(StrEnum):
    reject = "reject"  # 409 with the existing document's id
    skip = "skip"  # 200 with the existing document
    replace = "replace"  # re-ingest the existing document


@dataclass
class NewUpload:
    filename: str | None
    staged: StagedBlob  # the file, written to the blob store under a staging name
    sha256: str
    metadata: dict[str, Any] = field(default_factory=dict)
    chunking: dict[str, Any] = field(default_factory=dict)
    on_duplicate: OnDuplicate = OnDuplicate.reject
    password: str | None = field(default=None, repr=False)  # for this upload's job only

    @property
    def fingerprint(self) -> str:
        """What an idempotency key binds: the file and the options (never the password)."""
        options = {"metadata": self.metadata, "chunking": self.chunking, "on_duplicate": self.on_duplicate}
        canonical = json.dumps(options, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(f"{self.sha256}\n{canonical}".encode()).hexdigest()


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


def scoped_key(scope: str, collection_name: str, idempotency_key: str) -> str:
    """The Redis name of a user's key: its API key's scope, the collection and the key, hashed (so a key
    like `X:lock` is just another key, and no user key meets an internal one such as `delete_document:*`)."""
    digest = hashlib.sha256("\0".join((scope, collection_name, idempotency_key)).encode()).hexdigest()
    return f"upload:{digest}"


async def upload(
    clients: Clients,
    collection_name: str,
    read: Callable[[], Awaitable[NewUpload]],
    *,
    idempotency_key: str | None = None,
    scope: str = "",
) -> Accepted:
    """Checks the collection, then calls `read` for the upload (so a body is read only for a live
    collection, and under the key's lock), then registers and queues it. `scope`: who is asking (a hash
    of the API key), so that two clients' keys never meet."""
    collection = await clients.registry.get_active_collection(collection_name)
    if not idempotency_key:
        new = await read()
        async with _discarded_unless_committed(clients, new):
            return await _register(clients, collection, new, None)
    key = scoped_key(scope, collection_name, idempotency_key)
    async with _key_lock(clients, key):
        new = await read()
        async with _discarded_unless_committed(clients, new):
            known = await clients.queue.job_for_key(key)
            if known is not None:
                return _repeat(known.job, known.fingerprint, new)
            return await _register(clients, collection, new, key)


def _repeat(job: Job, stored_fingerprint: str, new: NewUpload) -> Accepted:
    """The answer to a key seen before: its job, if this is the same request."""
    if stored_fingerprint != new.fingerprint:
        raise Conflict(
            "this Idempotency-Key was used with another file or other options",
            code=OrchErrorCode.idempotency_key_reused,
            details={"job_id": job.id},
        )
    return Accepted(job.document_id or "", job.id)


@asynccontextmanager
async def _discarded_unless_committed(clients: Clients, new: NewUpload) -> AsyncIterator[None]:
    try:
        yield
    finally:
        await clients.blobs.discard(new.staged)  # a no-op once it became an original


@asynccontextmanager
async def _key_lock(clients: Clients, key: str) -> AsyncIterator[None]:
    """Holds the key's lock, waiting for a concurrent request with the same key to finish first."""
    lock = keys.idempotency_lock(key)
    deadline = time.monotonic() + LOCK_WAIT_S
    while not await clients.redis.set(lock, "1", nx=True, px=round(LOCK_WAIT_S * 1000)):
        if time.monotonic() > deadline:
            raise Conflict("a request with this Idempotency-Key is still running", retryable=True)
        await asyncio.sleep(LOCK_POLL_S)
    try:
        yield
    finally:
        await clients.redis.delete(lock)


async def _register(clients: Clients, collection: Collection, new: NewUpload, key: str | None) -> Accepted:
    if new.staged.size_bytes == 0:
        raise OrchestratorError("the uploaded file is empty", code=ErrorCode.empty_document)
    existing = await clients.registry.find_by_sha256(collection.name, new.sha256)
    if existing is not None and existing.status is not DocumentStatus.deleting:
        return await _duplicate(clients, existing, new, key)
    document = Document(
        collection=collection.name,
        filename=safe_filename(new.filename),
        sha256=new.sha256,
        size_bytes=new.staged.size_bytes,
        metadata=new.metadata,
    )
    await clients.blobs.commit(new.staged, document.id)
    try:
        await clients.registry.add_document(document)
    except (NotFound, Conflict) as exc:  # the collection went away since the check
        await clients.blobs.delete(document.id)
        raise NotFound(f"collection {collection.name!r} not found ({exc})") from None
    enqueued = await enqueue_ingest(
        clients,
        JobType.ingest,
        document,
        new.chunking,
        password=new.password,
        idempotency_key=key,
        fingerprint=new.fingerprint,
    )
    if not enqueued.created:  # the same key raced this request: its document is the one
        await clients.blobs.delete(document.id)
        await clients.registry.remove_document(document.id)
        known = await clients.queue.job_for_key(key or "")
        return _repeat(enqueued.job, known.fingerprint if known else "", new)
    await generations.attach_job(clients.redis, document.id, enqueued.job.id)
    return Accepted(document.id, enqueued.job.id)


async def _duplicate(clients: Clients, existing: Document, new: NewUpload, key: str | None) -> Accepted:
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
    await clients.blobs.commit(new.staged, existing.id)  # the same bytes: also back if it was not kept
    if new.metadata:
        await clients.registry.update_document(existing.id, metadata={**existing.metadata, **new.metadata})
    job = await reingest(
        clients,
        existing,
        new.chunking,
        password=new.password,
        idempotency_key=key,
        fingerprint=new.fingerprint,
    )
    return Accepted(existing.id, job.id, duplicate=True)
