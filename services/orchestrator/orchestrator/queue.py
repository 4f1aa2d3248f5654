"""The job queue as producers and operators see it: enqueue, look up, list, cancel, requeue, dead letters.

Jobs wait in one Redis stream per priority, read by the `workers` consumer group (see leases.py for the
worker side). Every change of a job's status runs in a Lua script (lua/), atomically with the stream
operation it implies.
"""

from collections.abc import Sequence
from typing import Any, NamedTuple

from pydantic import BaseModel
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from orchestrator import keys, presence
from orchestrator.errors import IllegalTransition, NotFound
from orchestrator.pagination import paginate
from orchestrator.records import (
    PRIORITIES,
    Job,
    JobStatus,
    JobType,
    Page,
    Priority,
    WorkerInfo,
    encode_fields,
    id_floor,
    new_id,
    pairs,
)
from orchestrator.scripts import Scripts
from orchestrator.settings import Settings


class Enqueued(NamedTuple):
    job: Job
    created: bool  # False: the idempotency key was known, and `job` is the job it made before


class DeadLetter(BaseModel):
    entry_id: str
    job_id: str
    type: str
    reason: str
    code: str
    message: str
    attempts: int
    at_ms: int


class StreamDepth(BaseModel):
    waiting: int  # not yet delivered to any worker
    in_flight: int  # delivered, not yet acknowledged


class QueueStats(BaseModel):
    streams: dict[Priority, StreamDepth]
    delayed: int
    dead: int
    workers: list[WorkerInfo]


async def ensure_groups(redis: Redis) -> None:
    """Creates the consumer group on each priority stream, from the stream's start so no entry is skipped."""
    for priority in PRIORITIES:
        try:
            await redis.xgroup_create(keys.stream(priority), keys.GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise


def raise_for(result: str, job_id: str, target: JobStatus) -> None:
    """Turns a script's 'missing' or 'illegal:<status>' answer into the matching error."""
    if result == "missing":
        raise NotFound(f"job {job_id} not found")
    if result.startswith("illegal:"):
        raise IllegalTransition("job", job_id, result.removeprefix("illegal:"), target)


class JobQueue:
    def __init__(self, redis: Redis, settings: Settings):
        self._redis = redis
        self._settings = settings
        self._scripts = Scripts(redis, settings)

    async def setup(self) -> None:
        await ensure_groups(self._redis)

    async def enqueue(
        self,
        type: JobType,
        payload: dict[str, Any] | None = None,
        *,
        priority: Priority = Priority.normal,
        collection: str | None = None,
        document_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> Enqueued:
        """Queues a job; with an idempotency key already seen, returns that key's job instead."""
        fields = {
            "id": new_id(),
            "type": type,
            "payload": payload or {},
            "collection": collection,
            "document_id": document_id,
            "idempotency_key": idempotency_key,
            "attempts": 0,
        }
        present = {k: v for k, v in fields.items() if v is not None}
        flat = [part for pair in encode_fields(present, Job.JSON_FIELDS).items() for part in pair]
        created, record = await self._scripts.run(
            "enqueue",
            fields["id"],
            idempotency_key or "",
            self._settings.idempotency_ttl_s,
            collection or "",
            priority,
            *flat,
        )
        return Enqueued(Job.from_redis(pairs(record)), bool(created))

    async def get(self, job_id: str) -> Job:
        raw = await self._redis.hgetall(keys.job(job_id))
        if not raw:
            raise NotFound(f"job {job_id} not found")
        return Job.from_redis(raw)

    async def get_many(self, job_ids: Sequence[str]) -> list[Job | None]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for job_id in job_ids:
                pipe.hgetall(keys.job(job_id))
            rows = await pipe.execute()
        return [Job.from_redis(raw) if raw else None for raw in rows]

    async def list(
        self,
        *,
        status: JobStatus | None = None,
        collection: str | None = None,
        type: JobType | None = None,
        cursor: str | None = None,
        limit: int = 50,
        created_after_ms: int | None = None,
        created_before_ms: int | None = None,
    ) -> Page[Job]:
        """Jobs newest first, filtered; pass the returned next_cursor back for the next page."""
        if collection is not None:
            index = keys.jobs_by_collection(collection)
        elif status is not None:
            index = keys.jobs_by_status(status)
        else:
            index = keys.JOBS

        def keep(job: Job) -> bool:
            return (status is None or job.status == status) and (type is None or job.type == type)

        return await paginate(
            self._redis,
            index,
            self.get_many,
            keep=keep,
            cursor=cursor,
            limit=limit,
            created_after_ms=created_after_ms,
            created_before_ms=created_before_ms,
        )

    async def cancel(self, job_id: str) -> Job:
        """A waiting job ends `cancelled` now; a running one is flagged and stops between its steps."""
        raise_for(await self._scripts.run("cancel", job_id), job_id, JobStatus.cancelled)
        return await self.get(job_id)

    async def requeue(self, job_id: str) -> Job:
        """Queues a `failed` job again, or replays a `dead` one (leaving the dead-letter stream)."""
        raise_for(await self._scripts.run("requeue", job_id), job_id, JobStatus.queued)
        return await self.get(job_id)

    async def forget_finished(self, finished_before_ms: int, batch: int = 500) -> int:
        """Forgets succeeded, failed and cancelled jobs that ended at or before `finished_before_ms` (record,
        events, index entries); returns how many. Only jobs created before the cutoff can have ended by it,
        and ids sort by creation time, so each status index is read only up to there."""
        forgotten = 0
        high = f"({id_floor(finished_before_ms + 1)}"
        for status in (JobStatus.succeeded, JobStatus.failed, JobStatus.cancelled):
            low = "-"
            while True:
                ids = await self._redis.zrange(
                    keys.jobs_by_status(status), low, high, bylex=True, offset=0, num=batch
                )
                if ids:
                    forgotten += await self._scripts.run("forget", finished_before_ms, *ids)
                if len(ids) < batch:
                    break
                low = f"({ids[-1]}"  # those kept (ended after the cutoff) are not read again
        return forgotten

    async def dead_letters(self, *, cursor: str | None = None, limit: int = 50) -> Page[DeadLetter]:
        """Dead letters oldest first; the cursor is the last entry id seen."""
        start = f"({cursor}" if cursor else "-"
        rows = await self._redis.xrange(keys.DEAD, min=start, max="+", count=limit)
        letters = [DeadLetter(entry_id=entry_id, job_id=fields["job"], **fields) for entry_id, fields in rows]
        next_cursor = letters[-1].entry_id if len(letters) == limit else None
        return Page(items=letters, next_cursor=next_cursor)

    async def stats(self) -> QueueStats:
        streams: dict[Priority, StreamDepth] = {}
        for priority in PRIORITIES:
            groups = await self._redis.xinfo_groups(keys.stream(priority))
            group = next((g for g in groups if g["name"] == keys.GROUP), None)
            in_flight = int(group["pending"]) if group else 0
            # Acknowledged entries are deleted, so the stream holds exactly the waiting and in-flight ones.
            length = await self._redis.xlen(keys.stream(priority))
            streams[priority] = StreamDepth(waiting=length - in_flight, in_flight=in_flight)
        return QueueStats(
            streams=streams,
            delayed=await self._redis.zcard(keys.DELAYED),
            dead=await self._redis.xlen(keys.DEAD),
            workers=await presence.list_workers(self._redis),
        )
