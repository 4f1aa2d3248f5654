"""Redis crashes (SIGKILL) and restarts from its append-only file with jobs queued and running: the
workers ride it out, reconnect, and every job completes, its side effects applied once."""

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from orchestrator.core import keys
from orchestrator.core.redis_client import connect
from orchestrator.jobs.job_queue import JobQueue
from orchestrator.jobs.model import PRIORITIES, JobStatus, JobType
from orchestrator.settings import Settings
from tests.support import fake_handlers
from tests.support.job_queue import FAST, wait_until
from tests.support.pools import running_pools, wait_final
from tests.support.redis_server import RedisServer


@pytest.fixture
def crash_settings(own_redis_server: RedisServer) -> Settings:
    # Enough deliveries that attempts cut short by the outage still leave room to finish.
    return Settings(redis_url=own_redis_server.url, **{**FAST, "max_deliveries": 10})


@pytest.fixture
async def crash_redis(crash_settings: Settings) -> AsyncIterator[Redis]:
    client = connect(crash_settings)
    yield client
    await client.aclose()


async def test_jobs_complete_after_redis_restarts(
    own_redis_server: RedisServer, crash_redis: Redis, crash_settings: Settings
) -> None:
    redis, settings = crash_redis, crash_settings
    queue = JobQueue(redis, settings)
    await queue.setup()
    steps = [1, 2, 4, 8]
    ids = [(await queue.enqueue(JobType.ingest, {"steps": steps, "step_s": 0.05})).job.id for _ in range(40)]
    async with running_pools(redis, settings, count=2, concurrency=4) as pools:
        await wait_until(lambda: _running(redis, 4), what="jobs running before the crash")
        own_redis_server.crash()
        await asyncio.sleep(1.5)  # longer than a lease: workers meet connection errors meanwhile
        own_redis_server.start()
        jobs = await wait_final(redis, queue, ids, timeout_s=120)
        assert all(pool.counters.processed > 0 for pool in pools)

    assert [job.status for job in jobs] == [JobStatus.succeeded] * len(ids)
    ledger = await redis.hgetall(fake_handlers.LEDGER)
    assert {job_id: int(total) for job_id, total in ledger.items()} == dict.fromkeys(ids, sum(steps))
    for priority in PRIORITIES:
        assert await redis.xlen(keys.stream(priority)) == 0


async def _running(redis: Redis, count: int) -> bool:
    return await redis.zcard(keys.jobs_by_status(JobStatus.running)) >= count
