"""/api/v1/jobs, /api/v1/queue and /api/v1/dlq: list, get, follow (Server-Sent Events), retry, cancel,
queue stats, dead letters and their replay."""

import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response
from fastapi.responses import StreamingResponse

from orchestrator import doc_state, keys, progress
from orchestrator.api.deps import QueueDep, ServicesDep
from orchestrator.api.errors import ApiError
from orchestrator.errors import Conflict, NotFound
from orchestrator.queue import DeadLetter, JobQueue, QueueStats
from orchestrator.records import DocumentError, DocumentStatus, Job, JobStatus, JobType, Page
from orchestrator.services import Services

router = APIRouter(tags=["jobs"])

INGEST_TYPES = (JobType.ingest, JobType.reingest)


async def job_or_404(queue: JobQueue, job_id: str) -> Job:
    try:
        return await queue.get(job_id)
    except NotFound:
        raise ApiError(404, "not_found", f"job {job_id!r} not found") from None


async def _run_again(s: Services, job_id: str) -> Job:
    """Retry (failed) or replay (dead): an ingest job's document waits for it again."""
    job = await job_or_404(s.queue, job_id)
    if job.status not in (JobStatus.failed, JobStatus.dead):
        raise ApiError(
            409, "illegal_transition", f"job {job_id} is {job.status}; only failed or dead jobs run again"
        )
    if job.type in INGEST_TYPES and job.document_id:
        try:
            await doc_state.mark_queued(s.redis, job.document_id)
        except NotFound:
            raise ApiError(409, "conflict", f"document {job.document_id} is gone") from None
        except Conflict as exc:
            raise ApiError(409, "conflict", str(exc)) from None
    job = await s.queue.requeue(job_id)
    if job.type in INGEST_TYPES and job.document_id:
        await doc_state.attach_job(s.redis, job.document_id, job.id)
    return job


@router.get("/jobs", response_model=Page[Job])
async def list_jobs(
    queue: QueueDep,
    status: JobStatus | None = None,
    collection: str | None = None,
    type: JobType | None = None,
    cursor: str | None = None,
    limit: int = Query(50, ge=1, le=1000),
) -> Page[Job]:
    """Newest first; pass `next_cursor` back as `cursor` for the next page."""
    return await queue.list(status=status, collection=collection, type=type, cursor=cursor, limit=limit)


@router.get("/jobs/{job_id}", response_model=Job)
async def get_job(job_id: str, queue: QueueDep) -> Job:
    return await job_or_404(queue, job_id)


@router.get("/jobs/{job_id}/events", response_class=StreamingResponse)
async def job_events(
    job_id: str,
    s: ServicesDep,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> StreamingResponse:
    """Server-Sent Events: `status`, `progress` and `cancel_requested` events, until the job ends.
    Reconnect with `Last-Event-ID` to resume after the last event seen."""
    await job_or_404(s.queue, job_id)

    async def stream() -> AsyncIterator[str]:
        async for event in progress.events(s.redis, job_id, after=last_event_id or "0-0"):
            yield f"id: {event.id}\nevent: {event.type}\ndata: {json.dumps(event.data)}\n\n"

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.post("/jobs/{job_id}/retry", response_model=Job)
async def retry_job(job_id: str, s: ServicesDep) -> Job:
    """Queues a failed (or dead) job again, with a fresh attempt budget."""
    return await _run_again(s, job_id)


@router.post("/jobs/{job_id}/cancel", response_model=Job)
async def cancel_job(job_id: str, s: ServicesDep) -> Job:
    """A waiting job ends `cancelled` at once; a running one stops at its next step (and rolls back)."""
    await job_or_404(s.queue, job_id)
    job = await s.queue.cancel(job_id)
    if job.status is JobStatus.cancelled and job.type in INGEST_TYPES and job.document_id:
        await doc_state.finish_unready(
            s.redis,
            job.document_id,
            job.id,
            DocumentStatus.cancelled,
            DocumentError(code="cancelled", message="the job was cancelled before it ran"),
        )
    return job


@router.get("/queue", response_model=QueueStats)
async def queue_stats(queue: QueueDep) -> QueueStats:
    """Depths by priority (waiting, in flight), delayed retries, dead letters, live workers."""
    return await queue.stats()


@router.get("/dlq", response_model=Page[DeadLetter])
async def dead_letters(
    queue: QueueDep, cursor: str | None = None, limit: int = Query(50, ge=1, le=1000)
) -> Page[DeadLetter]:
    """Dead letters, oldest first, with their reason."""
    return await queue.dead_letters(cursor=cursor, limit=limit)


@router.post("/dlq/{job_id}/replay", response_model=Job)
async def replay_dead_letter(job_id: str, s: ServicesDep) -> Job:
    job = await job_or_404(s.queue, job_id)
    if job.status is not JobStatus.dead:
        raise ApiError(409, "illegal_transition", f"job {job_id} is {job.status}, not dead")
    return await _run_again(s, job_id)


@router.delete("/dlq/{job_id}", status_code=204)
async def purge_dead_letter(job_id: str, s: ServicesDep) -> Response:
    """Drops the job's dead letter (the job record stays `dead`, and can still be replayed)."""
    job = await job_or_404(s.queue, job_id)
    if job.status is not JobStatus.dead:
        raise ApiError(409, "illegal_transition", f"job {job_id} is {job.status}, not dead")
    if job.dead_entry_id:
        async with s.redis.pipeline(transaction=True) as pipe:
            pipe.xdel(keys.DEAD, job.dead_entry_id)
            pipe.hdel(keys.job(job_id), "dead_entry_id")
            await pipe.execute()
    return Response(status_code=204)
