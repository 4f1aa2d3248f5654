"""Worker heartbeats, visible in Redis: who runs, where, since when, last beat, what it holds."""

from redis.asyncio import Redis

from orchestrator.core import keys
from orchestrator.jobs.model import WorkerInfo


async def beat(redis: Redis, info: WorkerInfo, ttl_s: float) -> None:
    """Writes the worker's record; it expires unless renewed, so a dead worker drops out by itself."""
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hset(keys.worker(info.id), mapping=info.to_redis())
        pipe.pexpire(keys.worker(info.id), int(ttl_s * 1000))
        pipe.zadd(keys.WORKERS, {info.id: info.last_beat_at_ms})
        await pipe.execute()


async def leave(redis: Redis, worker_id: str) -> None:
    async with redis.pipeline(transaction=True) as pipe:
        pipe.delete(keys.worker(worker_id))
        pipe.zrem(keys.WORKERS, worker_id)
        await pipe.execute()


async def list_workers(redis: Redis) -> list[WorkerInfo]:
    """Live workers, most recent beat first; the index forgets workers whose record expired."""
    worker_ids = await redis.zrange(keys.WORKERS, 0, -1, desc=True)
    async with redis.pipeline(transaction=False) as pipe:
        for worker_id in worker_ids:
            pipe.hgetall(keys.worker(worker_id))
        rows = await pipe.execute()
    gone = [worker_id for worker_id, raw in zip(worker_ids, rows, strict=True) if not raw]
    if gone:
        await redis.zrem(keys.WORKERS, *gone)
    return [WorkerInfo.from_redis(raw) for raw in rows if raw]
