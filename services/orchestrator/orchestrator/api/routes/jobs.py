"""/api/v1/jobs, /api/v1/queue and /api/v1/dlq: list, get, follow (Server-Sent Events), retry, cancel,
queue stats, dead letters, their replay and purge."""

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import StreamingResponse

import orchestrator.api.ratelimit as ratelimit
from orchestrator.api.deps import ClientsDep, EventHubDep, JobId, QueueDep
from orchestrator.api.errors import ApiError
from orchestrator.api.event_stream import EventStreamResponse
from orchestrator.core.ids import STREAM_ID_PATTERN, is_stream_id
from orchestrator.core.pagination import Page
from orchestrator.ingest import operations
from orchestrator.jobs import DeadLetter, Job, JobStatus, JobType, QueueStats

router = APIRouter(tags=["jobs"])


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
async def get_job(job_id: JobId, queue: QueueDep) -> Job:
    return await queue.get(job_id)


@router.get(
    "/jobs/{job_id}/events",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}},
        429: {"description": "too many event streams open (per API key or on this server); see Retry-After"},
    },
)
async def stream_job_events(
    job_id: JobId,
    queue: QueueDep,
    hub: EventHubDep,
    request: Request,
    last_event_id: Annotated[
        str | None, Header(alias="Last-Event-ID", pattern=STREAM_ID_PATTERN, description="resume after it")
    ] = None,
) -> StreamingResponse:
    """Server-Sent Events: `status`, `progress` and `cancel_requested` events, until the job ends, with
    a comment line every ORCH_SSE_HEARTBEAT_S in quiet times. Reconnect with `Last-Event-ID` to resume
    after the last event seen."""
    if last_event_id is not None and not is_stream_id(last_event_id):  # checked before the 200 starts
        raise ApiError(422, "invalid_request", "Last-Event-ID is not an event id this stream sent")
    await queue.get(job_id)
    subscription = hub.subscribe(job_id, ratelimit.client_id(request), after=last_event_id or "0-0")
    return EventStreamResponse(subscription, heartbeat_s=queue.settings.sse_heartbeat_s)


@router.post("/jobs/{job_id}/retry", response_model=Job, dependencies=[Depends(ratelimit.uploads)])
async def retry_job(job_id: JobId, clients: ClientsDep) -> Job:
    """Queues a failed (or dead) job again, with a fresh attempt budget."""
    return await operations.run_again(clients, job_id)


@router.post("/jobs/{job_id}/cancel", response_model=Job)
async def cancel_job(job_id: JobId, clients: ClientsDep) -> Job:
    """A waiting job ends `cancelled` at once; a running one stops at its next step (and rolls back)."""
    return await operations.cancel_job(clients, job_id)


@router.get("/queue", response_model=QueueStats)
async def get_queue_stats(queue: QueueDep) -> QueueStats:
    """Depths by priority (waiting, in flight), delayed retries, dead letters, live workers."""
    return await queue.stats()


@router.get("/dlq", response_model=Page[DeadLetter])
async def list_dead_letters(
    queue: QueueDep, cursor: str | None = None, limit: int = Query(50, ge=1, le=1000)
) -> Page[DeadLetter]:
    """Dead letters, oldest first, with their reason."""
    return await queue.dead_letters(cursor=cursor, limit=limit)


@router.post("/dlq/{job_id}/replay", response_model=Job, dependencies=[Depends(ratelimit.uploads)])
async def replay_dead_letter(job_id: JobId, clients: ClientsDep) -> Job:
    return await operations.run_again(clients, job_id, dead_only=True)


@router.delete("/dlq/{job_id}", status_code=204)
async def purge_dead_letter(job_id: JobId, queue: QueueDep) -> Response:
    """Drops the job's dead letter (the job record stays `dead`, and can still be replayed)."""
    await queue.purge_dead_letter(job_id)
    return Response(status_code=204)
