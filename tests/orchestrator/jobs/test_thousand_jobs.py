"""1,000 jobs across 4 workers with seeded random failures: every job ends once, as its script says."""

import random
from collections import Counter

from redis.asyncio import Redis

from orchestrator.core import keys
from orchestrator.jobs.job_queue import JobQueue
from orchestrator.jobs.model import PRIORITIES, JobStatus, JobType, Priority
from orchestrator.settings import Settings
from tests.support import fake_handlers
from tests.support.pools import running_pools, wait_final

JOBS = 1_000


def random_plan(rng: random.Random) -> list[str]:
    """Up to six attempts' actions: mostly retries before a success, some permanent failures and poison."""
    plan = []
    for _ in range(6):
        action = rng.choices(["ok", "retry", "fail", "poison"], weights=[55, 35, 6, 4])[0]
        plan.append(action)
        if action != "retry":
            break
    return plan


def expected_end(plan: list[str], max_deliveries: int) -> tuple[JobStatus, int, str | None]:
    """(final status, attempts, dead-letter reason) that the queue's rules give for this plan."""
    for attempt in range(1, max_deliveries + 1):
        action = plan[attempt - 1] if attempt <= len(plan) else "ok"
        if action == "ok":
            return JobStatus.succeeded, attempt, None
        if action == "fail":
            return JobStatus.failed, attempt, None
        if action == "poison":
            return JobStatus.dead, attempt, "poison"
    return JobStatus.dead, max_deliveries, "retries_exhausted"


async def test_thousand_jobs_with_random_failures_each_end_exactly_once(
    queue: JobQueue, redis: Redis, settings: Settings
) -> None:
    rng = random.Random(20_251_122)
    plans: dict[str, list[str]] = {}
    for i in range(JOBS):
        plan = random_plan(rng)
        job, _ = await queue.enqueue(
            JobType.ingest, {"plan": plan, "steps": [i + 1]}, priority=rng.choice(PRIORITIES)
        )
        plans[job.id] = plan
    expected = {job_id: expected_end(plan, settings.max_deliveries) for job_id, plan in plans.items()}

    async with running_pools(redis, settings, count=4, concurrency=4) as pools:
        jobs = await wait_final(redis, queue, list(plans), timeout_s=120)

    assert len(jobs) == JOBS
    for job in jobs:
        status, attempts, reason = expected[job.id]
        assert (job.status, job.attempts, job.dead_reason) == (status, attempts, reason), job.id
        trail = await redis.lrange(fake_handlers.attempts_key(job.id), 0, -1)
        assert [int(entry.split(":")[0]) for entry in trail] == list(range(1, attempts + 1))
    # Each job's effect applied exactly once, whatever its attempts did.
    ledger = await redis.hgetall(fake_handlers.LEDGER)
    assert {job_id: int(total) for job_id, total in ledger.items()} == {
        job.id: job.payload["steps"][0] for job in jobs
    }

    # Exactly one final state each: one status index, one final event, nothing left queued or pending.
    final_members = Counter[str]()
    for status in JobStatus:
        members = await redis.zrange(keys.jobs_by_status(status), 0, -1)
        final_members.update(members)
        assert len(members) == sum(1 for s, _, _ in expected.values() if s is status), status
    assert set(final_members) == set(plans) and max(final_members.values()) == 1
    for job_id in plans:
        final_events = [
            f
            for _, f in await redis.xrange(keys.job_events(job_id))
            if f["type"] == "status"
            and any(f'"{s}"' in f["data"] for s in ("succeeded", "failed", "cancelled", "dead"))
        ]
        assert len(final_events) == 1, job_id
    for priority in PRIORITIES:
        assert await redis.xlen(keys.stream(priority)) == 0
    assert await redis.zcard(keys.DELAYED) == 0

    # The dead letters are exactly the jobs expected dead, each with its reason.
    letters = {d.job_id: d.reason for d in (await queue.dead_letters(limit=1_000)).items}
    assert letters == {job_id: reason for job_id, (_, _, reason) in expected.items() if reason}

    # The workers' counters add up to what the handlers did; all four took part.
    totals = Counter[str]()
    for pool in pools:
        totals.update({k: v for k, v in vars(pool.counters).items()})
        assert pool.counters.processed > 0
    outcomes = Counter(status for status, _, _ in expected.values())
    assert totals["processed"] == sum(attempts for _, attempts, _ in expected.values())
    assert totals["retried"] == totals["processed"] - JOBS
    assert (totals["succeeded"], totals["failed"], totals["dead"]) == (
        outcomes[JobStatus.succeeded],
        outcomes[JobStatus.failed],
        outcomes[JobStatus.dead],
    )
    assert totals["lost"] == totals["released"] == 0
    assert Priority.high in {job.priority for job in jobs}
