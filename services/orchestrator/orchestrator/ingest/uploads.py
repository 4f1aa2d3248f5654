"""An upload becomes a queued document and its ingest job. The staged file becomes the original only once
accepted. Duplicates (the same sha256 in the collection) follow `on_duplicate`, found up front and again
atomically by the registry's add. An `Idempotency-Key` (scoped to the API key and collection) remembers
its job and the request's fingerprint: the same request again returns that job, another is 409
idempotency_key_reused; concurrent repeats wait on a lock held only for the check and the registration.
See docs/architecture.md#how-a-request-travels.
"""

import hashlib
import json
import logging
import posixpath
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from contracts import ChunkOptions
from contracts.errors import ErrorCode
from orchestrator.catalog import Collection, Document, DocumentStatus, StagedBlob, generations
from orchestrator.catalog.registry import DuplicateDocument
from orchestrator.clients import Clients
from orchestrator.core import keys
from orchestrator.core.locks import owned_lock
from orchestrator.errors import Conflict, NotFound, OrchErrorCode, OrchestratorError
from orchestrator.ingest.metadata import merge_patch, merged_metadata, sync_vector_metadata
from orchestrator.ingest.operations import enqueue_ingest, queue_for_document
from orchestrator.jobs import Job, JobType

log = logging.getLogger(__name__)

LOCK_WAIT_S = 30.0  # how long a repeat waits for the request that holds its key
LOCK_TTL_S = 30.0  # the lock covers a fingerprint check and a registration: milliseconds
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
    chunking: ChunkOptions = field(default_factory=ChunkOptions)
    on_duplicate: OnDuplicate = OnDuplicate.reject
    password: str | None = field(default=None, repr=False)  # for this upload's job only

    @property
    def fingerprint(self) -> str:
        """What an idempotency key binds: the file and the options (never the password)."""
        options = {
            "metadata": self.metadata,
            "chunking": self.chunking.model_dump(mode="json"),
            "on_duplicate": self.on_duplicate,
        }
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
    collection), then registers and queues it. With an idempotency key, the key's lock is taken only once
    the body is staged: it covers the fingerprint check and the registration. `scope`: who is asking (a
    hash of the API key), so that two clients' keys never meet."""
    collection = await clients.registry.get_active_collection(collection_name)
    new = await read()
    async with _discarded_unless_committed(clients, new):
        if not idempotency_key:
            return await _register(clients, collection, new, None)
        key = scoped_key(scope, collection_name, idempotency_key)
        async with _key_lock(clients, key):
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
    busy = Conflict("a request with this Idempotency-Key is still running", retryable=True)
    async with owned_lock(
        clients.redis,
        keys.idempotency_lock(key),
        ttl_s=LOCK_TTL_S,
        wait_s=LOCK_WAIT_S,
        poll_s=LOCK_POLL_S,
        busy=busy,
    ):
        yield


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
    added = False  # may be: a failure after the write (a lost reply) leaves it unknown, so remove it
    try:
        await clients.blobs.commit(new.staged, document.id)
        try:
            added = True
            await clients.registry.add_document(document)
        except DuplicateDocument as exc:  # a concurrent upload of the same bytes registered first
            added = False
            accepted = await _duplicate(clients, exc.existing, new, key, original_of=document.id)
            await _undo_register(clients, document.id, committed=True, added=False)
            return accepted
        except (NotFound, Conflict) as exc:  # the collection went away since the check
            added = False
            raise NotFound(f"collection {collection.name!r} not found ({exc})") from None
        # Its password, if any, is forgotten by enqueue_ingest itself when the enqueue raises.
        enqueued = await enqueue_ingest(
            clients,
            JobType.ingest,
            document,
            new.chunking,
            password=new.password,
            idempotency_key=key,
            fingerprint=new.fingerprint,
        )
    except BaseException:
        await _undo_register(clients, document.id, committed=new.staged.committed, added=added)
        raise
    if not enqueued.created:  # the same key raced this request: its document is the one
        await _undo_register(clients, document.id, committed=True, added=True)
        known = await clients.queue.job_for_key(key or "")
        return _repeat(enqueued.job, known.fingerprint if known else "", new)
    # The job is queued: the upload is accepted. Naming the job on the document is a convenience (the
    # job's first attempt names itself), so a failure here does not undo the upload.
    try:
        await generations.attach_job(clients.redis, document.id, enqueued.job.id)
    except Exception as exc:
        log.warning("document %s: naming its job %s failed: %r", document.id, enqueued.job.id, exc)
    return Accepted(document.id, enqueued.job.id)


async def _sync_searchable(clients: Clients, document_id: str) -> None:
    """The merged metadata onto the vectors searchable until the re-ingest commits (its own get it at its
    commit). Best effort: the reconciler writes it if this fails."""
    try:
        await sync_vector_metadata(clients, document_id)
    except Exception as exc:
        log.warning("document %s: its vectors keep the old metadata for now: %r", document_id, exc)


async def _undo_register(clients: Clients, document_id: str, *, committed: bool, added: bool) -> None:
    """Best effort, on a way out: removes the original and the record a refused registration made (or
    may have made: removing a record that is not there is a no-op). Its own failures are logged, never
    raised over the error that brought it here."""
    if committed:
        try:
            await clients.blobs.delete(document_id)
        except Exception as exc:
            log.error("upload of document %s refused; its original is left behind: %r", document_id, exc)
    if added:
        try:
            await clients.registry.remove_document(document_id)
        except Exception as exc:
            log.error("upload of document %s refused; its record is left behind: %r", document_id, exc)


async def _duplicate(
    clients: Clients, existing: Document, new: NewUpload, key: str | None, *, original_of: str | None = None
) -> Accepted:
    """Applies `on_duplicate` against `existing`. The new bytes are `new.staged`, or, after a lost race,
    already the original of the refused document `original_of` (the same bytes: the same sha256)."""
    if new.on_duplicate is OnDuplicate.reject:
        raise DuplicateDocument(existing)
    if new.on_duplicate is OnDuplicate.skip:
        return Accepted(existing.id, existing.job_id, duplicate=True, queued=False)
    # replace: every check that can refuse comes before anything is written.
    if existing.in_flight:
        raise Conflict(f"document {existing.id} is being ingested now", details={"document_id": existing.id})
    merged_metadata(
        existing.metadata, new.metadata
    )  # refuses too many keys or bytes (merge_patch checks again)

    async def keep_original() -> None:
        if original_of is None:
            await clients.blobs.commit(new.staged, existing.id)
        elif not await clients.blobs.exists(existing.id):  # the same bytes: a copy only when it is gone
            await clients.blobs.put(existing.id, await clients.blobs.open(original_of))

    async def enqueue() -> Job:
        # The document is ours now (queued, nothing else in flight): the same bytes become its original
        # (back, if it was not kept), its metadata is merged, and its job is queued.
        await keep_original()
        if new.metadata:  # merged into the current record: a patch meanwhile is kept
            await merge_patch(clients, existing.id, new.metadata)
            await _sync_searchable(clients, existing.id)
        enqueued = await enqueue_ingest(
            clients,
            JobType.reingest,
            existing,
            new.chunking,
            password=new.password,
            idempotency_key=key,
            fingerprint=new.fingerprint,
        )
        return enqueued.job

    # mark_queued refuses (409) a document that went in flight or away since `existing` was read; then
    # nothing was committed, and the staged blob is discarded on the way out.
    job = await queue_for_document(clients, existing.id, enqueue)
    return Accepted(existing.id, job.id, duplicate=True)
