"""A worker pool on real Redis: priorities, retries with backoff, cancel, shutdown, progress, presence."""

import asyncio
from collections.abc import AsyncIterator

from redis.asyncio import Redis

from orchestrator.core import keys
from orchestrator.jobs import presence
from orchestrator.jobs.event_hub import EventHub
from orchestrator.jobs.events import JobEvent
from orchestrator.jobs.job_queue import JobQueue
from orchestrator.jobs.model import JobStatus, JobType, Priority
from orchestrator.jobs.worker import WorkerPool
from orchestrator.settings import Settings
from tests.support import fake_handlers
from tests.support.job_queue import wait_until
from tests.support.pools import running_pools, wait_final


async def events(redis: Redis, job_id: str, *, block_s: float = 0.2) -> AsyncIterator[JobEvent]:
    """The job's events as an SSE client gets them: through an event hub, until the job ends."""
    reader = Redis(connection_pool=redis.connection_pool)  # shares the test's pool; closing it keeps it
    hub = EventHub(reader, max_streams=1, max_per_owner=1, block_s=block_s, check_s=block_s)
    await hub.start()
    try:
        async for event in hub.subscribe(job_id, "test").events(heartbeat_s=60):
            if event is not None:
                yield event
    finally:
        await hub.stop()


async def test_higher_priorities_run_first_from_a_backlog(
    queue: JobQueue, redis: Redis, settings: Settings
) -> None:
    ids = {
        priority: [(await queue.enqueue(JobType.ingest, priority=priority)).job.id for _ in range(5)]
        for priority in (Priority.low, Priority.normal, Priority.high)
    }
    async with running_pools(redis, settings, concurrency=1):
        await wait_final(redis, queue, [i for group in ids.values() for i in group])
    assert await redis.lrange(fake_handlers.ORDER, 0, -1) == (
        ids[Priority.high] + ids[Priority.normal] + ids[Priority.low]
    )


async def test_a_high_priority_job_overtakes_a_running_backlog(
    queue: JobQueue, redis: Redis, settings: Settings
) -> None:
    lows = [
        (await queue.enqueue(JobType.ingest, {"step_s": 0.01}, priority=Priority.low)).job.id
        for _ in range(30)
    ]
    async with running_pools(redis, settings, concurrency=1):
        await wait_until(lambda: _started_at_least(redis, 5), what="5 low jobs to start")
        started_before = await redis.llen(fake_handlers.ORDER)
        highs = [(await queue.enqueue(JobType.ingest, priority=Priority.high)).job.id for _ in range(3)]
        await wait_final(redis, queue, lows + highs)
    order = await redis.lrange(fake_handlers.ORDER, 0, -1)
    # At most one low job (the one running at that moment) starts between the enqueue and the highs.
    assert all(order.index(h) <= started_before + 3 for h in highs)


async def _started_at_least(redis: Redis, count: int) -> bool:
    return await redis.llen(fake_handlers.ORDER) >= count


async def test_retries_wait_at_least_their_backoff(queue: JobQueue, redis: Redis, settings: Settings) -> None:
    slow = settings.model_copy(update={"retry_base_s": 0.2, "retry_max_s": 1.0})
    job, _ = await queue.enqueue(JobType.ingest, {"plan": ["retry", "retry", "ok"]})
    async with running_pools(redis, slow, concurrency=1):
        (done,) = await wait_final(redis, queue, [job.id])
    assert (done.status, done.attempts, done.error) == (JobStatus.succeeded, 3, None)
    # Event ids are the server's clock in ms: compare when each retry was scheduled and when it began.
    statuses = [
        (int(e.id.split("-")[0]), e.data["status"]) async for e in events(redis, job.id) if e.type == "status"
    ]
    assert [s for _, s in statuses] == [
        "queued",
        "running",
        "retrying",
        "running",
        "retrying",
        "running",
        "succeeded",
    ]
    retried_ms = [ms for ms, s in statuses if s == "retrying"]
    restarted_ms = [ms for ms, s in statuses if s == "running"][1:]
    for attempt, (failed_at, started_at) in enumerate(zip(retried_ms, restarted_ms, strict=True), 1):
        minimum_ms = slow.retry_base_s * 2 ** (attempt - 1) / 2 * 1000  # equal jitter: at least half
        assert started_at - failed_at >= minimum_ms


async def test_failures_end_failed_or_dead_with_their_reason(
    queue: JobQueue, redis: Redis, settings: Settings
) -> None:
    failed, _ = await queue.enqueue(JobType.ingest, {"plan": ["fail"]})
    poison, _ = await queue.enqueue(JobType.ingest, {"plan": ["poison"]})
    exhausted, _ = await queue.enqueue(JobType.ingest, {"plan": ["retry"] * 10})
    orphan, _ = await queue.enqueue(JobType.delete_collection)  # no handler for this type
    async with running_pools(redis, settings) as (pool,):
        jobs = await wait_final(redis, queue, [failed.id, poison.id, exhausted.id, orphan.id])
    by_id = {j.id: j for j in jobs}
    assert by_id[failed.id].status is JobStatus.failed
    assert by_id[failed.id].error is not None and by_id[failed.id].error.code == "corrupt_document"
    assert (by_id[poison.id].status, by_id[poison.id].attempts) == (JobStatus.dead, 1)
    assert (by_id[exhausted.id].status, by_id[exhausted.id].attempts) == (
        JobStatus.dead,
        settings.max_deliveries,
    )
    letters = {d.job_id: d.reason for d in (await queue.dead_letters()).items}
    assert letters == {poison.id: "poison", exhausted.id: "retries_exhausted", orphan.id: "no_handler"}
    assert pool.counters.retried == settings.max_deliveries - 1
    assert (pool.counters.failed, pool.counters.dead) == (1, 3)


async def test_cancel_a_queued_job_and_it_never_starts(
    queue: JobQueue, redis: Redis, settings: Settings
) -> None:
    doomed, _ = await queue.enqueue(JobType.ingest)
    await queue.cancel(doomed.id)
    sentinel, _ = await queue.enqueue(JobType.ingest)
    async with running_pools(redis, settings):
        await wait_final(redis, queue, [sentinel.id])
    job = await queue.get(doomed.id)
    assert (job.status, job.attempts) == (JobStatus.cancelled, 0)
    assert await redis.llen(fake_handlers.attempts_key(doomed.id)) == 0


async def test_cancel_a_running_job_stops_it_between_steps(
    queue: JobQueue, redis: Redis, settings: Settings
) -> None:
    job, _ = await queue.enqueue(JobType.ingest, {"plan": ["loop"]})
    async with running_pools(redis, settings) as (pool,):
        await wait_until(lambda: _is(queue, job.id, JobStatus.running), what="job to run")
        requested = await queue.cancel(job.id)
        assert (requested.status, requested.cancel_requested) == (JobStatus.running, True)
        (done,) = await wait_final(redis, queue, [job.id])
    assert done.status is JobStatus.cancelled
    assert pool.counters.cancelled == 1


async def _is(queue: JobQueue, job_id: str, status: JobStatus) -> bool:
    return (await queue.get(job_id)).status is status


async def test_graceful_stop_finishes_short_jobs_and_releases_long_ones(
    queue: JobQueue, redis: Redis, settings: Settings
) -> None:
    short, _ = await queue.enqueue(JobType.ingest, {"steps": [1, 1], "step_s": 0.1})
    long, _ = await queue.enqueue(JobType.ingest, {"plan": ["hang_once"]})
    pool = WorkerPool(JobQueue(redis, settings), fake_handlers.handlers(redis), concurrency=2)
    await pool.start()
    await wait_until(lambda: _both_started(redis, short.id, long.id), what="both jobs to start")
    await pool.stop(deadline_s=0.5)
    assert (await queue.get(short.id)).status is JobStatus.succeeded
    released = await queue.get(long.id)
    assert (released.status, released.attempts) == (JobStatus.queued, 0)
    assert (pool.counters.succeeded, pool.counters.released) == (1, 1)
    assert await redis.xlen(keys.stream(Priority.normal)) == 1  # back in line, not pending on anyone
    async with running_pools(redis, settings):
        (done,) = await wait_final(redis, queue, [long.id])
    assert (done.status, done.attempts) == (JobStatus.succeeded, 1)


async def _both_started(redis: Redis, *job_ids: str) -> bool:
    return all([await redis.llen(fake_handlers.attempts_key(i)) for i in job_ids])


async def test_progress_is_on_the_record_and_on_the_event_stream(
    queue: JobQueue, redis: Redis, settings: Settings
) -> None:
    job, _ = await queue.enqueue(JobType.ingest, {"steps": [1, 2, 3]})
    watcher = asyncio.create_task(_collect(redis, job.id))
    async with running_pools(redis, settings):
        (done,) = await wait_final(redis, queue, [job.id])
    seen = await asyncio.wait_for(watcher, timeout=10)
    assert done.progress is not None
    assert (done.stage, done.progress.done, done.progress.total, done.progress.unit) == (
        "work",
        3,
        3,
        "steps",
    )
    assert [(t, d.get("status") or d["progress"]["done"]) for t, d in seen] == [
        ("status", "queued"),
        ("status", "running"),
        ("progress", 1),
        ("progress", 2),
        ("progress", 3),
        ("status", "succeeded"),
    ]


async def test_a_healthy_job_keeps_its_lease_past_lease_s(
    queue: JobQueue, redis: Redis, settings: Settings
) -> None:
    short_lease = settings.model_copy(update={"lease_s": 0.4, "heartbeat_s": 0.1})
    job, _ = await queue.enqueue(JobType.ingest, {"steps": [1] * 6, "step_s": 0.2})
    async with running_pools(redis, short_lease, count=2) as pools:
        (done,) = await wait_final(redis, queue, [job.id])
    assert (done.status, done.attempts) == (JobStatus.succeeded, 1)
    assert sum(pool.counters.lost for pool in pools) == 0


async def test_event_stream_ends_for_a_job_already_over(queue: JobQueue, redis: Redis) -> None:
    job, _ = await queue.enqueue(JobType.ingest)
    await queue.cancel(job.id)
    await redis.delete(keys.job_events(job.id))  # as if its events had expired
    assert [e async for e in events(redis, job.id, block_s=0.05)] == []


async def _collect(redis: Redis, job_id: str) -> list[tuple[str, dict]]:
    return [(event.type, event.data) async for event in events(redis, job_id, block_s=0.1)]


async def test_workers_publish_heartbeats(queue: JobQueue, redis: Redis, settings: Settings) -> None:
    job, _ = await queue.enqueue(JobType.ingest, {"plan": ["loop"]})
    async with running_pools(redis, settings) as (pool,):
        await wait_until(lambda: _is(queue, job.id, JobStatus.running), what="job to run")
        await wait_until(lambda: _beat_shows(redis, job.id), what="a heartbeat listing the job")
        (worker,) = await presence.list_workers(redis)
        assert (worker.id, worker.concurrency) == (pool.worker_id, 4)
        assert worker.pid > 0 and worker.host and worker.started_at_ms <= worker.last_beat_at_ms
        stats = await queue.stats()
        assert stats.streams[Priority.normal].in_flight == 1
        assert [w.id for w in stats.workers] == [pool.worker_id]
        await queue.cancel(job.id)
        await wait_final(redis, queue, [job.id])
    assert await presence.list_workers(redis) == []


async def _beat_shows(redis: Redis, job_id: str) -> bool:
    workers = await presence.list_workers(redis)
    return bool(workers) and job_id in workers[0].in_flight
