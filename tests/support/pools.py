"""Helpers for tests that run worker pools in-process."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio import Redis

from orchestrator.core import keys
from orchestrator.jobs.job_queue import JobQueue
from orchestrator.jobs.model import FINAL_JOB_STATUSES, Job
from orchestrator.jobs.worker import WorkerPool
from orchestrator.settings import Settings
from tests.support import fake_handlers
from tests.support.job_queue import wait_until


@asynccontextmanager
async def running_pools(
    redis: Redis, settings: Settings, count: int = 1, *, concurrency: int = 4
) -> AsyncIterator[list[WorkerPool]]:
    queue = JobQueue(redis, settings)
    handlers = fake_handlers.handlers(redis)
    pools = [
        WorkerPool(queue, handlers, concurrency=concurrency, worker_id=f"pool-{i}") for i in range(count)
    ]
    for pool in pools:
        await pool.start()
    try:
        yield pools
    finally:
        for pool in pools:
            await pool.stop(deadline_s=0)


async def wait_final(redis: Redis, queue: JobQueue, job_ids: list[str], timeout_s: float = 60.0) -> list[Job]:
    """Waits until every job is in a final status index (cheap to poll), then reads them."""

    async def all_final() -> bool:
        waiting = list(job_ids)
        for status in FINAL_JOB_STATUSES:
            scores = await redis.zmscore(keys.jobs_by_status(status), waiting)
            waiting = [i for i, score in zip(waiting, scores, strict=True) if score is None]
            if not waiting:
                return True
        return False

    try:
        await wait_until(all_final, timeout_s=timeout_s, what=f"{len(job_ids)} jobs to end")
    except AssertionError:
        stuck = [j for j in await queue.get_many(job_ids) if j is None or not j.final]
        raise AssertionError(f"{len(stuck)} jobs did not end, e.g. {stuck[:3]}") from None
    return [j for j in await queue.get_many(job_ids) if j is not None]
