"""The queue as a worker sees it: claim jobs, wait for work, renew leases, record outcomes.

A lease is the stream entry pending on this worker in the consumer group: it lapses when the entry's idle
time passes lease_s, and renewing it (XCLAIM JUSTID) resets that time. Each attempt is fenced by
(worker, fence) (see fence.py): a worker that lost its lease can no longer record anything for the job,
even when a later attempt runs on the same worker with the same attempt number.
"""

from dataclasses import dataclass
from enum import IntEnum

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from orchestrator.core import keys
from orchestrator.core.redis_hashes import pairs
from orchestrator.jobs.fence import LeaseFence
from orchestrator.jobs.model import PRIORITIES, Job, Progress
from orchestrator.jobs.outcomes import Outcome
from orchestrator.jobs.scripts import Scripts
from orchestrator.jobs.streams import ensure_groups
from orchestrator.settings import Settings


@dataclass(frozen=True)
class Lease:
    job_id: str
    worker: str
    attempt: int  # the job's attempts when claimed: the delivery budget, for retries and logs
    fence: int  # the job's fence when claimed: what every lease check compares

    @classmethod
    def for_job(cls, job: Job, worker: str) -> "Lease":
        """The lease `worker` holds on a job it has just claimed."""
        return cls(job.id, worker, job.attempts, job.fence)

    def fence_guard(self) -> LeaseFence:
        """A core.fencing.Fence that holds while this lease does, for writes outside the queue's scripts."""
        return LeaseFence(keys.job(self.job_id), self.worker, self.fence)


class LeaseState(IntEnum):
    # The numbers are what renew.lua and progress.lua answer.
    lost = 0
    held = 1
    cancel_requested = 2


@dataclass(frozen=True)
class Claimed:
    jobs: list[Job]
    due_in_ms: int | None  # until the next delayed retry is due, if any
    wake_id: str  # wait for wake entries after this one


class Leases:
    def __init__(self, redis: Redis, settings: Settings, scripts: Scripts):
        self._redis = redis
        self._settings = settings
        self._scripts = scripts
        self._lease_ms = round(settings.lease_s * 1000)
        self._cursors = [keys.autoclaim_cursor(p) for p in PRIORITIES]

    async def claim(self, worker: str, count: int) -> Claimed:
        """Up to `count` jobs, started (attempt counted) for `worker`; lapsed leases are taken over first."""
        args = (worker, count, self._lease_ms, self._settings.max_deliveries)
        try:
            rows, due_in_ms, wake_id = await self._scripts.run("claim", *args, extra_keys=self._cursors)
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            # The groups are gone (a Redis that lost its data): make them and read from the start.
            await ensure_groups(self._redis)
            rows, due_in_ms, wake_id = await self._scripts.run("claim", *args, extra_keys=self._cursors)
        jobs = [Job.from_redis(pairs(row)) for row in rows]
        return Claimed(jobs, None if due_in_ms < 0 else due_in_ms, wake_id)

    async def wait_for_work(self, wake_id: str, timeout_s: float) -> None:
        """Blocks until something is queued after `wake_id`, or for timeout_s."""
        block_ms = max(1, round(timeout_s * 1000))
        await self._redis.xread({keys.WAKE: wake_id}, count=1, block=block_ms)

    async def renew(self, worker: str, leases: list[Lease]) -> list[LeaseState]:
        args = [part for lease in leases for part in (lease.job_id, lease.fence)]
        states = await self._scripts.run("renew", worker, *args)
        return [LeaseState(s) for s in states]

    async def state(self, lease: Lease) -> LeaseState:
        guard = lease.fence_guard()
        *held, cancel = await self._redis.hmget(guard.key, [*guard.fields, "cancel_requested"])
        if not guard.holds(held):
            return LeaseState.lost
        return LeaseState.cancel_requested if cancel == "1" else LeaseState.held

    async def report(
        self, lease: Lease, *, stage: str | None = None, progress: Progress | None = None
    ) -> LeaseState:
        """Writes a stage or progress update to the job and its event stream (see progress.py)."""
        result = await self._scripts.run(
            "progress",
            lease.job_id,
            lease.worker,
            lease.fence,
            stage or "",
            progress.model_dump_json() if progress else "",
        )
        return LeaseState(result)

    async def finish(self, lease: Lease, outcome: Outcome) -> bool:
        """Records the attempt's outcome and acknowledges its entry; False if the lease was lost."""
        result = await self._scripts.run(
            "finish",
            lease.job_id,
            lease.worker,
            lease.fence,
            outcome.status,
            outcome.error.model_dump_json() if outcome.error else "",
            outcome.retry_delay_ms,
            outcome.dead_reason,
        )
        return result == "ok"
