"""Worker processes: one is SIGKILLed mid-job and another takes the job over; SIGTERM stops one gracefully."""

import signal
import subprocess

from redis.asyncio import Redis

from orchestrator.core import keys
from orchestrator.jobs.job_queue import JobQueue
from orchestrator.jobs.model import PRIORITIES, JobStatus, JobType, Priority
from orchestrator.settings import Settings
from tests.support import fake_handlers
from tests.support.job_queue import start_worker_process, wait_until
from tests.support.pools import wait_final


def _stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=30)


async def test_killed_worker_job_is_reclaimed_and_its_effects_apply_once(
    queue: JobQueue, redis: Redis, settings: Settings
) -> None:
    steps = [1, 2, 4, 8]  # distinct powers of two: any effect applied twice shows in the sum
    job, _ = await queue.enqueue(JobType.ingest, {"steps": steps, "plan": ["stall", "ok"]})
    first = start_worker_process(settings, "first")
    try:
        await wait_until(
            lambda: redis.exists(fake_handlers.stalled_key(job.id)), what="the first worker mid-job"
        )
        first.kill()
        assert first.wait(timeout=30) == -signal.SIGKILL
    finally:
        first.kill()
    mid = await queue.get(job.id)
    assert (mid.status, mid.worker, mid.attempts) == (JobStatus.running, "first", 1)
    assert int(await redis.hget(fake_handlers.LEDGER, job.id)) == 1 + 2  # half the steps happened

    second = start_worker_process(settings, "second")
    try:
        (done,) = await wait_final(redis, queue, [job.id])
    finally:
        assert _stop(second) == 0

    assert (done.status, done.attempts, done.worker) == (JobStatus.succeeded, 2, "second")
    assert await redis.lrange(fake_handlers.attempts_key(job.id), 0, -1) == [
        "1:first:stall",
        "2:second:ok",
    ]
    assert int(await redis.hget(fake_handlers.LEDGER, job.id)) == sum(steps)
    assert await redis.smembers(fake_handlers.effects_key(job.id)) == {"0", "1", "2", "3"}
    finals = [f["data"] for _, f in await redis.xrange(keys.job_events(job.id)) if f["type"] == "status"]
    assert sum('"succeeded"' in data for data in finals) == 1
    assert [await redis.zscore(keys.jobs_by_status(s), job.id) is not None for s in JobStatus].count(
        True
    ) == 1
    for priority in PRIORITIES:
        assert await redis.xlen(keys.stream(priority)) == 0
        assert (await redis.xpending(keys.stream(priority), keys.GROUP))["pending"] == 0


async def test_sigterm_releases_the_running_job_and_exits_cleanly(
    queue: JobQueue, redis: Redis, settings: Settings
) -> None:
    job, _ = await queue.enqueue(JobType.ingest, {"plan": ["hang_once"]})
    worker = start_worker_process(settings, "terminated")
    try:
        await wait_until(lambda: redis.exists(f"test:hung:{job.id}"), what="the job to hang")
        assert _stop(worker) == 0
    finally:
        worker.kill()
    released = await queue.get(job.id)
    assert (released.status, released.attempts) == (JobStatus.queued, 0)
    assert await redis.xlen(keys.stream(Priority.normal)) == 1
    assert not await redis.exists(keys.worker("terminated"))
