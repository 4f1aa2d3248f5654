"""Enqueue, idempotency, cancel, requeue and the fenced claim/finish cycle, driven directly."""

import asyncio

import pytest
from redis.asyncio import Redis

from orchestrator.core import keys
from orchestrator.errors import IllegalTransition, NotFound
from orchestrator.jobs.job_queue import JobQueue
from orchestrator.jobs.leases import Lease, LeaseState
from orchestrator.jobs.model import JobStatus, JobType, Priority
from orchestrator.jobs.outcomes import SUCCEEDED
from orchestrator.settings import Settings


async def test_enqueue_records_the_job_and_its_stream_entry(queue: JobQueue, redis: Redis) -> None:
    job, created = await queue.enqueue(
        JobType.ingest, {"document_id": "d1"}, collection="c1", document_id="d1"
    )
    assert created
    assert (job.status, job.priority, job.attempts) == (JobStatus.queued, Priority.normal, 0)
    assert job.payload == {"document_id": "d1"} and job.created_at_ms is not None
    entries = await redis.xrange(keys.stream(Priority.normal))
    assert entries == [(job.entry_id, {"job": job.id})]
    assert (await queue.list(collection="c1")).items == [job]
    assert (await queue.list(status=JobStatus.queued)).items == [job]


async def test_idempotency_key_returns_the_same_job(queue: JobQueue, redis: Redis) -> None:
    first, created_first = await queue.enqueue(JobType.ingest, idempotency_key="upload-42")
    second, created_second = await queue.enqueue(JobType.ingest, idempotency_key="upload-42")
    assert (created_first, created_second) == (True, False)
    assert second.id == first.id
    assert await redis.xlen(keys.stream(Priority.normal)) == 1
    other, _ = await queue.enqueue(JobType.ingest, idempotency_key="upload-43")
    assert other.id != first.id


async def test_cancel_a_queued_job_removes_its_entry(queue: JobQueue, redis: Redis) -> None:
    job, _ = await queue.enqueue(JobType.ingest)
    cancelled = await queue.cancel(job.id)
    assert cancelled.status is JobStatus.cancelled and cancelled.finished_at_ms is not None
    assert await redis.xlen(keys.stream(Priority.normal)) == 0
    with pytest.raises(IllegalTransition):
        await queue.cancel(job.id)
    with pytest.raises(NotFound):
        await queue.cancel("nope")


async def test_finished_jobs_refuse_illegal_transitions(
    queue: JobQueue, redis: Redis, settings: Settings
) -> None:
    leases = JobQueue(redis, settings).leases
    job, _ = await queue.enqueue(JobType.ingest)
    (claimed,) = (await leases.claim("w1", 1)).jobs
    assert await leases.finish(Lease.for_job(claimed, "w1"), SUCCEEDED)
    with pytest.raises(IllegalTransition) as refused:
        await queue.requeue(job.id)
    assert (refused.value.current, refused.value.target) == ("succeeded", "queued")
    with pytest.raises(IllegalTransition):
        await queue.cancel(job.id)
    assert (await queue.get(job.id)).status is JobStatus.succeeded


async def test_a_stale_worker_can_neither_renew_nor_finish(
    queue: JobQueue, redis: Redis, settings: Settings
) -> None:
    fast = settings.model_copy(update={"lease_s": 0.2})
    leases = JobQueue(redis, fast).leases
    job, _ = await queue.enqueue(JobType.ingest)
    (first,) = (await leases.claim("w1", 1)).jobs
    stale = Lease.for_job(first, "w1")
    await asyncio.sleep(0.3)  # w1 stalls past its lease
    (second,) = (await leases.claim("w2", 1)).jobs
    assert (second.id, second.attempts, second.worker) == (job.id, 2, "w2")
    assert await leases.renew("w1", [stale]) == [LeaseState.lost]
    assert not await leases.finish(stale, SUCCEEDED)
    fresh = Lease.for_job(second, "w2")
    assert await leases.finish(fresh, SUCCEEDED)
    assert await leases.finish(fresh, SUCCEEDED)  # a repeated call (lost reply) is harmless
    done = await queue.get(job.id)
    assert (done.status, done.attempts, done.worker) == (JobStatus.succeeded, 2, "w2")
    pending = await redis.xpending(keys.stream(Priority.normal), keys.GROUP)
    assert pending["pending"] == 0


async def test_a_job_whose_workers_keep_dying_is_dead_lettered(
    queue: JobQueue, redis: Redis, settings: Settings
) -> None:
    leases = JobQueue(redis, settings.model_copy(update={"lease_s": 0.1, "max_deliveries": 2})).leases
    job, _ = await queue.enqueue(JobType.ingest)
    assert len((await leases.claim("w1", 1)).jobs) == 1
    await asyncio.sleep(0.15)
    assert len((await leases.claim("w2", 1)).jobs) == 1
    await asyncio.sleep(0.15)
    assert (await leases.claim("w3", 1)).jobs == []
    dead = await queue.get(job.id)
    assert (dead.status, dead.dead_reason, dead.attempts) == (JobStatus.dead, "worker_lost", 2)
    assert dead.error is not None and dead.error.poison
    (letter,) = (await queue.dead_letters()).items
    assert (letter.job_id, letter.reason, letter.attempts) == (job.id, "worker_lost", 2)

    replayed = await queue.requeue(job.id)
    assert (replayed.status, replayed.attempts, replayed.error) == (JobStatus.queued, 0, None)
    assert (await queue.dead_letters()).items == []
    assert [j.id for j in (await leases.claim("w4", 1)).jobs] == [job.id]
