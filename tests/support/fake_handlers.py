"""Handlers for the tests. They do what the job's payload scripts and leave a trail in Redis: every
attempt, and side effects applied idempotently, so a test can prove each effect happened exactly once.

payload: steps: amounts, one effect per step (default [1]); step_s: pause after each step;
plan: what each attempt does, by attempt number (default "ok"):
  ok | retry (retryable error) | fail (permanent) | poison | stall (half the steps, then hang: kill me) |
  hang_once (after the steps, hang the first time it runs) | loop (check for cancel until cancelled)
"""

import asyncio
from typing import Any

from redis.asyncio import Redis

from contracts.errors import ErrorCode
from orchestrator.errors import JobError
from orchestrator.jobs.context import JobContext
from orchestrator.jobs.handlers import Handlers
from orchestrator.jobs.model import Job, JobType

LEDGER = "test:ledger"  # hash: job id -> sum of the amounts of its applied effects
ORDER = "test:order"  # list: job ids in the order their first attempt started

# Adds an effect's amount to the ledger only the first time that effect is applied.
APPLY_ONCE = """
if redis.call('SADD', KEYS[1], ARGV[1]) == 1 then redis.call('HINCRBY', KEYS[2], ARGV[2], ARGV[3]) end
"""


def attempts_key(job_id: str) -> str:
    return f"test:attempts:{job_id}"


def effects_key(job_id: str) -> str:
    return f"test:effects:{job_id}"


def stalled_key(job_id: str) -> str:
    return f"test:stalled:{job_id}"


def build(clients: Any) -> Handlers:
    """The factory a worker process loads (ORCH_HANDLERS=tests.support.fake_handlers:build)."""
    return handlers(clients.redis)


def handlers(redis: Redis) -> Handlers:
    apply_once = redis.register_script(APPLY_ONCE)

    async def scripted(ctx: JobContext, job: Job) -> None:
        plan = job.payload.get("plan", [])
        action = plan[ctx.attempt - 1] if ctx.attempt <= len(plan) else "ok"
        await redis.rpush(attempts_key(job.id), f"{ctx.attempt}:{ctx.lease.worker}:{action}")
        if ctx.attempt == 1:
            await redis.rpush(ORDER, job.id)
        steps = job.payload.get("steps", [1])
        for index, amount in enumerate(steps):
            await ctx.check_cancelled()
            if action == "stall" and index == len(steps) // 2:
                await redis.set(stalled_key(job.id), ctx.lease.worker)
                await asyncio.sleep(3600)
            await apply_once(keys=[effects_key(job.id), LEDGER], args=[index, job.id, amount])
            await ctx.progress(index + 1, len(steps), "steps", stage="work")
            await asyncio.sleep(job.payload.get("step_s", 0))
        match action:
            case "retry":
                raise JobError(ErrorCode.upstream_error, "flaky upstream", retryable=True)
            case "fail":
                raise JobError(ErrorCode.corrupt_document, "bad input")
            case "poison":
                raise JobError(ErrorCode.internal, "it killed its parser", poison=True)
            case "hang_once":
                if await redis.set(f"test:hung:{job.id}", 1, nx=True):
                    await asyncio.sleep(3600)
            case "loop":
                while True:
                    await ctx.check_cancelled()
                    await asyncio.sleep(0.02)

    return {JobType.ingest: scripted, JobType.reingest: scripted}
