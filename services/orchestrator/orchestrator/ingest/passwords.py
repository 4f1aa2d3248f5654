"""A document's password (an encrypted PDF's), kept for one ingest job only: in its own Redis key by job
id, with a TTL, stored before the job is queued so its first attempt finds it. Never in the job's record,
payload or events, never logged, never answered. The queue deletes it when the job ends, however it ends
(jobs/lua/common.lua `finalize`); the TTL is the backstop."""

from redis.asyncio import Redis

from orchestrator.core import keys


async def keep(redis: Redis, job_id: str, password: str, ttl_s: int) -> None:
    await redis.set(keys.job_secret(job_id), password, ex=ttl_s)


async def read(redis: Redis, job_id: str) -> str | None:
    return await redis.get(keys.job_secret(job_id))


async def forget(redis: Redis, job_id: str) -> None:
    await redis.delete(keys.job_secret(job_id))
