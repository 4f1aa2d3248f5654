"""The job queue as producers and operators see it: enqueue, look up, list, cancel, requeue, dead letters.

Jobs wait in one Redis stream per priority, read by the `workers` consumer group (`queue.leases` is the
worker side, sharing the queue's scripts). Every change of a job's status runs in a Lua script (lua/), atomically with the stream
operation it implies.
"""

from collections.abc import Sequence
from typing import Any, NamedTuple

from pydantic import BaseModel
from redis.asyncio import Redis

import orchestrator.jobs.presence as presence
from orchestrator.core import keys
from orchestrator.core.ids import id_floor, new_id, require_record_id
from orchestrator.core.pagination import Page, narrowest_index, paginate, stream_cursor
from orchestrator.core.redis_hashes import encode_fields, pairs
from orchestrator.errors import Conflict, IllegalTransition, NotFound, OrchErrorCode
from orchestrator.jobs.leases import Leases
from orchestrator.jobs.model import PRIORITIES, Job, JobStatus, JobType, Priority, WorkerInfo
from orchestrator.jobs.scripts import Scripts
from orchestrator.jobs.streams import ensure_groups
from orchestrator.settings import Settings


class Enqueued(NamedTuple):
    job: Job
    created: bool  # False: the idempotency key was known, and `job` is the job it made before


class KeyedJob(NamedTuple):
    job: Job
    fingerprint: str  # the request the idempotency key stood for ('' when none was given)


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


def raise_for(result: str, job_id: str, target: JobStatus) -> None:
    """Turns a script's 'missing' or 'illegal:<status>' answer into the matching error."""
    if result == "missing":
        raise NotFound(f"job {job_id!r} not found")
    if result.startswith("illegal:"):
        raise IllegalTransition("job", job_id, result.removeprefix("illegal:"), target)


class JobQueue:
    def __init__(self, redis: Redis, settings: Settings):
        self._redis = redis
        self._settings = settings
        self._scripts = Scripts(redis, settings)
        self.leases = Leases(redis, settings, self._scripts)

    @property
    def redis(self) -> Redis:
        return self._redis

    @property
    def settings(self) -> Settings:
        return self._settings

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
        fingerprint: str = "",
        job_id: str | None = None,
    ) -> Enqueued:
        """Queues a job; with an idempotency key already seen, returns that key's job instead (and keeps
        the key's fingerprint, the request it stood for: see job_for_key). `job_id`: an id chosen
        beforehand (so that what the job needs can be stored under it before any worker sees it)."""
        fields = {
            "id": job_id or new_id(),
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
            fingerprint,
            *flat,
        )
        return Enqueued(Job.from_redis(pairs(record)), bool(created))

    async def get(self, job_id: str) -> Job:
        require_record_id("job", job_id)
        raw = await self._redis.hgetall(keys.job(job_id))
        if not raw:
            raise NotFound(f"job {job_id!r} not found")
        return Job.from_redis(raw)

    async def job_for_key(self, idempotency_key: str) -> KeyedJob | None:
        """The job an idempotency key made, and the fingerprint it was stored with, while the key is
        remembered (idempotency_ttl_s)."""
        job_id, fingerprint = await self._redis.hmget(keys.idempotency(idempotency_key), "job", "fingerprint")
        if job_id is None:
            return None
        try:
            return KeyedJob(await self.get(job_id), fingerprint or "")
        except NotFound:
            return None

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
        index = narrowest_index(
            keys.jobs_by_collection(collection) if collection is not None else None,
            keys.jobs_by_status(status) if status is not None else None,
            everything=keys.JOBS,
        )

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
        require_record_id("job", job_id)
        result = await self._scripts.run("cancel", job_id)
        if isinstance(result, str):
            raise_for(result, job_id, JobStatus.cancelled)
        _, record = result  # the job as the cancel left it: a running one may end a moment later
        return Job.from_redis(pairs(record))

    async def requeue(self, job_id: str) -> Job:
        """Queues a `failed` job again, or replays a `dead` one (leaving the dead-letter stream)."""
        require_record_id("job", job_id)
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
        cursor = stream_cursor(cursor)
        start = f"({cursor}" if cursor else "-"
        rows = await self._redis.xrange(keys.DEAD, min=start, max="+", count=limit)
        letters = [DeadLetter(entry_id=entry_id, job_id=fields["job"], **fields) for entry_id, fields in rows]
        next_cursor = letters[-1].entry_id if len(letters) == limit else None
        return Page(items=letters, next_cursor=next_cursor)

    async def purge_dead_letter(self, job_id: str) -> None:
        """Drops a dead job's entry from the dead-letter stream; the job record stays `dead` (replayable)."""
        job = await self.get(job_id)
        if job.status is not JobStatus.dead:
            raise Conflict(f"job {job_id} is {job.status}, not dead", code=OrchErrorCode.illegal_transition)
        if job.dead_entry_id:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.xdel(keys.DEAD, job.dead_entry_id)
                pipe.hdel(keys.job(job_id), "dead_entry_id")
                await pipe.execute()

    async def lapsed_leases(self, *, count: int = 1000) -> int:
        """Jobs whose lease lapsed (their worker is gone or stalled), up to `count` per priority; the next
        claim by any worker takes them over."""
        lease_ms = round(self._settings.lease_s * 1000)
        total = 0
        for priority in PRIORITIES:
            rows = await self._redis.xpending_range(
                keys.stream(priority), keys.GROUP, min="-", max="+", count=count, idle=lease_ms
            )
            total += len(rows)
        return total

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
