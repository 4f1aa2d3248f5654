"""What the API and the reconciler do to documents and their jobs, under the one rule that ties them:
an ingest job's document follows its job.

Queueing an ingest job marks the document `queued` first, then names the job on it (a queueing that fails
fails the document, `queue_unavailable`); a job that ends without its saga finishing the document leaves
it `cancelled` or `failed`; deleting a document hides it at once and cancels its ingest job.
See docs/architecture.md#the-ingestion-saga-and-its-invariants.
"""

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import suppress

import orchestrator.ingest.passwords as passwords
from contracts import ChunkOptions
from orchestrator.catalog import BlobMissing, Document, DocumentError, DocumentStatus, generations
from orchestrator.clients import Clients
from orchestrator.core.ids import new_id, now_ms
from orchestrator.errors import Conflict, IllegalTransition, NotFound, OrchErrorCode
from orchestrator.jobs import Enqueued, Job, JobStatus, JobType, Priority
from orchestrator.vectors import InvalidMetadata

log = logging.getLogger(__name__)

INGEST_TYPES = frozenset({JobType.ingest, JobType.reingest})
# A delete has hidden its document or collection already: cancelling it would leave that hidden forever.
DELETE_TYPES = frozenset({JobType.delete_document, JobType.delete_collection})
LOST = DocumentError(code=OrchErrorCode.job_lost, message="its ingest job ended without finishing it")
NEVER_QUEUED = DocumentError(code=OrchErrorCode.job_lost, message="it waited for a job that was never queued")
NOT_QUEUED = DocumentError(code=OrchErrorCode.queue_unavailable, message="its job could not be queued")
CANCELLED_BEFORE_RUN = DocumentError(code="cancelled", message="the job was cancelled before it ran")


def _is_ingest(job: Job) -> bool:
    return job.type in INGEST_TYPES and job.document_id is not None


async def queue_for_document(
    clients: Clients, document_id: str, enqueue: Callable[[], Awaitable[Job]]
) -> Job:
    """The first rule: the document waits for the job that `enqueue` queues."""
    try:
        before = await generations.mark_queued(clients.redis, document_id)
    except NotFound:
        raise Conflict(f"document {document_id} is gone") from None
    try:
        job = await enqueue()
    except InvalidMetadata:  # a refused request changes nothing: the document is as it was
        await generations.restore_unqueued(clients.redis, before)
        raise
    except BaseException:
        await _unqueue(clients, document_id)
        raise
    await generations.attach_job(clients.redis, document_id, job.id)
    return job


async def _unqueue(clients: Clients, document_id: str) -> None:
    """Best effort, on a way out that is already raising: the document queued for a job that was not
    queued is failed (its searchable generation stays), so that it can be queued again. Only while no
    job is named on it: one that was queued after all (a lost reply) and began owns it."""
    try:
        await generations.finish_unready(clients.redis, document_id, None, DocumentStatus.failed, NOT_QUEUED)
    except Exception as exc:  # the reconciler fails it after the grace
        log.warning("document %s stays queued with no job for now: %r", document_id, exc)


async def settle_document(clients: Clients, document_id: str, job_id: str, job: Job | None) -> bool:
    """The second rule: ends the document of an ingest job that ended (or is gone) without finishing it.
    False when the document moved on meanwhile (another job owns it, or it was deleted)."""
    status = (
        DocumentStatus.cancelled
        if job is not None and job.status is JobStatus.cancelled
        else DocumentStatus.failed
    )
    if job is not None and job.error is not None:
        error = DocumentError(code=job.error.code, message=job.error.message)
    elif status is DocumentStatus.cancelled:
        error = CANCELLED_BEFORE_RUN  # a job cancelled while it ran rolls its document back itself
    else:
        error = LOST
    return await generations.finish_unready(clients.redis, document_id, job_id, status, error) is not None


async def enqueue_ingest(
    clients: Clients,
    type: JobType,
    document: Document,
    chunking: ChunkOptions | None,
    *,
    password: str | None = None,
    idempotency_key: str | None = None,
    fingerprint: str = "",
) -> Enqueued:
    """Queues an ingest or re-ingest job of the document; its password, if any, is stored under the job's
    id before the job is queued (and forgotten again if the idempotency key had made a job already)."""
    job_id = new_id()
    try:
        if password:
            await passwords.keep(clients.redis, job_id, password, clients.settings.job_secret_ttl_s)
        enqueued = await clients.queue.enqueue(
            type,
            {"document_id": document.id, "chunking": (chunking or ChunkOptions()).model_dump(mode="json")},
            collection=document.collection,
            document_id=document.id,
            idempotency_key=idempotency_key,
            fingerprint=fingerprint,
            job_id=job_id,
        )
    except BaseException:
        if password:  # no job will end and delete it: forget it now (the TTL is the backstop)
            await forget_password(clients, job_id)
        raise
    if password and not enqueued.created:
        await passwords.forget(clients.redis, job_id)
    return enqueued


async def forget_password(clients: Clients, job_id: str) -> None:
    """Best effort: forgets a job's password on a way out that is already raising."""
    try:
        await passwords.forget(clients.redis, job_id)
    except Exception as exc:
        log.warning("could not forget the password of job %s (its TTL will): %r", job_id, exc)


async def reingest(
    clients: Clients,
    document: Document,
    chunking: ChunkOptions | None,
    *,
    password: str | None = None,
    idempotency_key: str | None = None,
    fingerprint: str = "",
) -> Job:
    """Queues a re-ingest of a document from its kept original; the old generation serves until it is
    done. 409 original_not_kept when the original is gone (ORCH_KEEP_ORIGINALS=false)."""
    if not await clients.blobs.exists(document.id):
        raise Conflict(
            f"the original of document {document.id} is not kept: upload it again",
            code=OrchErrorCode.original_not_kept,
        )

    async def enqueue() -> Job:
        enqueued = await enqueue_ingest(
            clients,
            JobType.reingest,
            document,
            chunking,
            password=password,
            idempotency_key=idempotency_key,
            fingerprint=fingerprint,
        )
        return enqueued.job

    return await queue_for_document(clients, document.id, enqueue)


async def reingest_document(
    clients: Clients, document_id: str, chunking: ChunkOptions | None, *, password: str | None = None
) -> Job:
    document = await live_document(clients, document_id)
    return await reingest(clients, document, chunking, password=password)


async def run_again(clients: Clients, job_id: str, *, dead_only: bool = False) -> Job:
    """Retries a failed job or replays a dead one (`dead_only`: a dead one only), with a fresh attempt
    budget; an ingest job's document waits for it again."""
    job = await clients.queue.get(job_id)
    allowed = (JobStatus.dead,) if dead_only else (JobStatus.failed, JobStatus.dead)
    if job.status not in allowed:
        why = "not dead" if dead_only else "only failed or dead jobs run again"
        raise Conflict(f"job {job_id} is {job.status}; {why}", code=OrchErrorCode.illegal_transition)
    if _is_ingest(job):
        return await queue_for_document(clients, job.document_id or "", lambda: clients.queue.requeue(job_id))
    return await clients.queue.requeue(job_id)


async def cancel_job(clients: Clients, job_id: str) -> Job:
    """A waiting job ends `cancelled` at once (and so does its document); a running one stops at its next
    step, and its saga rolls the document back. A delete cannot be cancelled (409 illegal_transition)."""
    if (await clients.queue.get(job_id)).type in DELETE_TYPES:
        raise Conflict(
            f"job {job_id} is a delete: what it deletes is hidden already, so it cannot be cancelled",
            code=OrchErrorCode.illegal_transition,
        )
    job = await clients.queue.cancel(job_id)
    if job.status is JobStatus.cancelled and _is_ingest(job):
        await settle_document(clients, job.document_id or "", job.id, job)
    return job


async def fail_if_stuck(clients: Clients, document: Document, *, grace_s: float | None = None) -> bool:
    """For the reconciler: settles a queued or processing document whose job has ended, or is gone,
    without finishing it, or that is `queued` with no job named for longer than `grace_s` (default:
    settings.reconcile_grace_s); True if it did."""
    if document.job_id is None:
        return await _fail_if_never_queued(clients, document, grace_s)
    job = (await clients.queue.get_many([document.job_id]))[0]
    if job is not None and (not job.final or job.status is JobStatus.succeeded):
        return False  # still running, or its commit decided: nothing stuck
    return await settle_document(clients, document.id, document.job_id, job)


async def _fail_if_never_queued(clients: Clients, document: Document, grace_s: float | None) -> bool:
    """A document marked queued whose job was never queued (the process died, or Redis failed, between
    the two) waits forever. A fresh one may be between mark_queued and attach_job: only one older than
    the grace is failed. Its job, if it was queued after all and began, is named on it (processing):
    finish_unready re-checks that no job is named and, by generation, that no attempt began meanwhile."""
    if document.status is not DocumentStatus.queued:
        return False
    grace_s = clients.settings.reconcile_grace_s if grace_s is None else grace_s
    if now_ms() - document.updated_at_ms < grace_s * 1000:
        return False
    failed = await generations.finish_unready(
        clients.redis,
        document.id,
        None,
        DocumentStatus.failed,
        NEVER_QUEUED,
        generation=document.latest_generation,
    )
    return failed is not None


async def resume_delete(
    clients: Clients,
    key: str,
    enqueue: Callable[[str | None], Awaitable[Job]],
    *,
    since_ms: int,
    grace_s: float,
) -> bool:
    """For the reconciler: a document or collection left `deleting` (since `since_ms`) with no delete job
    that will finish it (the enqueue failed after the status write, or its job ended without succeeding)
    gets its delete queued again; `enqueue(key)` queues one under an idempotency key (None: a fresh one).
    True if it did."""
    if since_ms > now_ms() - grace_s * 1000:
        return False  # its delete is being queued right now, or has just been
    known = await clients.queue.job_for_key(key)
    job = known.job if known is not None else None
    if job is None:
        await enqueue(key)
    elif not job.final:
        return False
    elif job.status in (JobStatus.failed, JobStatus.dead):
        await clients.queue.requeue(job.id)
    else:  # cancelled (before deletes refused it), or succeeded and yet the record stayed: a new job
        await enqueue(None)
    return True


async def resume_document_delete(clients: Clients, document: Document, *, grace_s: float) -> bool:
    async def enqueue(key: str | None) -> Job:
        return await _enqueue_document_delete(clients, document, key)

    return await resume_delete(
        clients, _delete_key(document.id), enqueue, since_ms=document.updated_at_ms, grace_s=grace_s
    )


def _delete_key(document_id: str) -> str:
    return f"delete_document:{document_id}"


async def _enqueue_document_delete(clients: Clients, document: Document, key: str | None) -> Job:
    enqueued = await clients.queue.enqueue(
        JobType.delete_document,
        {"document_id": document.id},
        priority=Priority.high,
        collection=document.collection,
        document_id=document.id,
        idempotency_key=key,
    )
    return enqueued.job


async def delete_document(clients: Clients, document_id: str) -> Job:
    """Hidden at once (`deleting`: search and its chunks skip it), then a job removes its vectors, its
    original and its record. Deleting it again returns the same job."""
    document = await clients.registry.get_document(document_id)
    if document.status is not DocumentStatus.deleting:
        with suppress(IllegalTransition):  # a concurrent delete got there first
            await clients.registry.update_document(document_id, status=DocumentStatus.deleting)
        if document.job_id and document.in_flight:
            # Its commit would be refused anyway: save the work. A job that ended meanwhile is fine.
            with suppress(NotFound, IllegalTransition):
                await clients.queue.cancel(document.job_id)
    # A crash (or Redis going away) right here leaves it `deleting` with no job: the reconciler queues it.
    return await _enqueue_document_delete(clients, document, _delete_key(document_id))


async def live_document(clients: Clients, document_id: str) -> Document:
    """The document, or NotFound when it does not exist or is being deleted."""
    document = await clients.registry.get_document(document_id)
    if document.status is DocumentStatus.deleting:
        raise NotFound(f"document {document_id!r} is being deleted")
    return document


async def original(clients: Clients, document_id: str) -> tuple[Document, AsyncIterator[bytes]]:
    """The document and its uploaded bytes as a stream; 409 original_not_kept once they are gone."""
    document = await clients.registry.get_document(document_id)
    try:
        return document, await clients.blobs.open(document_id)
    except BlobMissing:
        raise Conflict(
            f"the original of document {document_id!r} is not kept", code=OrchErrorCode.original_not_kept
        ) from None
