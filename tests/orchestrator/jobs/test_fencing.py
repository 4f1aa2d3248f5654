"""Fencing tokens: every claim gives a job a new fence, nothing resets it, and every lease check (renew,
progress, finish, Leases.state, the guard handed to catalog transactions) compares it. `attempts`, the
delivery budget, may repeat (requeue resets it, a release gives it back); a stale attempt whose number
comes round again on the same worker must still find its lease lost.

Each interleaving is forced step by step: a lease lapses because the test ages its stream entry (XCLAIM
IDLE), not because the test sleeps past it.
"""

import dataclasses

from redis.asyncio import Redis

from orchestrator.core import keys
from orchestrator.jobs.job_queue import JobQueue
from orchestrator.jobs.leases import Lease, Leases, LeaseState
from orchestrator.jobs.model import Job, JobErrorInfo, JobStatus, JobType, Progress
from orchestrator.jobs.outcomes import CANCELLED, RELEASED, SUCCEEDED, Outcome

FAILED = Outcome(JobStatus.failed, JobErrorInfo(code="corrupt_document", message="no"))
STALE_PROGRESS = Progress(done=7, total=9, unit="pages")


def lease_of(job: Job, worker: str) -> Lease:
    # Field by field, so that this file also runs against the queue as it was before fences, where it
    # shows the stale attempt still holding its lease.
    values = {"job_id": job.id, "worker": worker, "attempt": job.attempts, "fence": getattr(job, "fence", 0)}
    return Lease(**{f.name: values[f.name] for f in dataclasses.fields(Lease)})


async def lapse(redis: Redis, job_id: str) -> None:
    """The job's worker stalls past its lease: its stream entry is aged (same owner, no delivery counted)."""
    priority, entry_id, worker = await redis.hmget(keys.job(job_id), ["priority", "entry_id", "worker"])
    stream = keys.stream(priority)
    await redis.execute_command("XCLAIM", stream, keys.GROUP, worker, 0, entry_id, "IDLE", 10**9, "JUSTID")


async def claim_one(leases: Leases, worker: str) -> tuple[Job, Lease]:
    (job,) = (await leases.claim(worker, 1)).jobs
    return job, lease_of(job, worker)


async def assert_lost(leases: Leases, lease: Lease) -> None:
    """Nothing this attempt does lands: progress, renewal and an outcome are all refused."""
    assert await leases.report(lease, stage="stale", progress=STALE_PROGRESS) is LeaseState.lost
    assert await leases.renew(lease.worker, [lease]) == [LeaseState.lost]
    assert await leases.state(lease) is LeaseState.lost
    assert not await leases.finish(lease, SUCCEEDED)


async def guard_holds(redis: Redis, lease: Lease) -> bool:
    guard = lease.fence_guard()
    return guard.holds(await redis.hmget(guard.key, list(guard.fields)))


async def test_a_stale_attempt_on_the_same_worker_after_a_requeue_is_fenced_off(
    queue: JobQueue, redis: Redis
) -> None:
    leases = queue.leases
    job, _ = await queue.enqueue(JobType.ingest)
    first, stale = await claim_one(leases, "w1")  # attempt 1 on w1, which then stalls
    await lapse(redis, job.id)
    _, second = await claim_one(leases, "w2")
    assert await leases.finish(second, FAILED)
    await queue.requeue(job.id)  # the operator retries: the budget starts again at attempt 1...
    again, current = await claim_one(leases, "w1")  # ...on the stalled attempt's own worker
    assert (first.attempts, again.attempts) == (1, 1)

    await assert_lost(leases, stale)

    assert await leases.state(current) is LeaseState.held
    record = await queue.get(job.id)
    assert (record.status, record.stage, record.progress) == (JobStatus.running, None, None)
    events = await redis.xrange(keys.job_events(job.id))
    assert not any(fields["type"] == "progress" for _, fields in events)
    assert await leases.finish(current, SUCCEEDED)
    assert (await queue.get(job.id)).status is JobStatus.succeeded


async def test_a_released_job_claimed_again_has_a_new_fence(queue: JobQueue, redis: Redis) -> None:
    leases = queue.leases
    job, _ = await queue.enqueue(JobType.ingest)
    first, released = await claim_one(leases, "w1")
    assert await leases.finish(released, RELEASED)  # shutting down: the attempt is given back
    assert (await queue.get(job.id)).attempts == 0
    again, current = await claim_one(leases, "w1")  # the same worker id after its restart

    assert again.attempts == first.attempts == 1
    await assert_lost(leases, released)
    assert again.fence > first.fence
    assert await leases.state(current) is LeaseState.held
    assert (await queue.get(job.id)).progress is None


async def test_the_fence_strictly_increases_across_every_way_back_to_running(
    queue: JobQueue, redis: Redis
) -> None:
    leases = queue.leases
    job, _ = await queue.enqueue(JobType.ingest)
    assert job.fence == 0  # no claim yet
    first, _ = await claim_one(leases, "w1")
    await lapse(redis, job.id)
    second, lease2 = await claim_one(leases, "w2")
    assert await leases.finish(lease2, FAILED)
    await queue.requeue(job.id)
    third, lease3 = await claim_one(leases, "w1")
    assert await leases.finish(lease3, RELEASED)
    fourth, _ = await claim_one(leases, "w1")

    fences = [j.fence for j in (first, second, third, fourth)]
    assert fences == [1, 2, 3, 4]
    assert [j.attempts for j in (first, second, third, fourth)] == [1, 2, 1, 1]  # the budget, as shown
    assert (await queue.get(job.id)).fence == 4


async def test_the_guard_agrees_with_the_lease_state_at_every_step(queue: JobQueue, redis: Redis) -> None:
    leases = queue.leases
    issued: list[Lease] = []

    async def agree(holder: Lease | None) -> None:
        """Exactly `holder` holds (None: nobody), by the guard and by Leases.state alike."""
        for lease in issued:
            state = await leases.state(lease)
            assert await guard_holds(redis, lease) is (state is not LeaseState.lost), (lease, state)
            assert (state is not LeaseState.lost) is (lease == holder), (lease, state)

    job, _ = await queue.enqueue(JobType.ingest)
    _, lease = await claim_one(leases, "w1")
    issued.append(lease)
    guard = lease.fence_guard()
    assert (guard.key, guard.fields) == (keys.job(job.id), ("status", "worker", "fence"))
    await agree(lease)
    await lapse(redis, job.id)
    await agree(lease)  # lapsed but not yet taken over: still its own
    _, lease = await claim_one(leases, "w2")
    issued.append(lease)
    await agree(lease)
    assert await leases.finish(lease, FAILED)
    await agree(None)
    await queue.requeue(job.id)
    await agree(None)
    _, lease = await claim_one(leases, "w1")
    issued.append(lease)
    await agree(lease)
    await queue.cancel(job.id)  # running: flagged, and the lease still held until its worker stops
    assert await leases.state(lease) is LeaseState.cancel_requested
    await agree(lease)
    assert await leases.finish(lease, CANCELLED)  # its worker saw the flag
    await agree(None)


async def test_a_job_written_before_fences_counts_as_fence_0(queue: JobQueue, redis: Redis) -> None:
    leases = queue.leases
    job, _ = await queue.enqueue(JobType.ingest)
    _, lease = await claim_one(leases, "w1")
    await redis.hdel(keys.job(job.id), "fence")  # as older code left a running job
    old = dataclasses.replace(lease, fence=0)
    assert await leases.state(old) is LeaseState.held
    assert await guard_holds(redis, old)
    assert await leases.renew("w1", [old]) == [LeaseState.held]
    assert await leases.finish(old, RELEASED)
    again, _ = await claim_one(leases, "w1")
    assert again.fence == 1
