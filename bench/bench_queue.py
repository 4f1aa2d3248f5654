"""`make bench-queue`: job-queue throughput and enqueue-to-start latency with 1 and 4 worker processes,
printed beside the raw XADD + XREADGROUP + XACK round trip measured against the same redis-server.

It starts its own redis-server (free port, temp dir, append-only file with fsync every second). Workers
are real `python -m orchestrator worker` processes running a no-op handler. Throughput: a backlog of
BACKLOG_JOBS jobs, timed from the first start to the last finish by the server's clock. Latency: jobs
enqueued at a steady LATENCY_RATE_PER_S, from just before enqueue to the handler's first line. Medians
of REPEATS runs. Writes bench/results/queue.json.
"""

import asyncio
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from orchestrator.core import keys
from orchestrator.jobs import presence
from orchestrator.jobs.context import JobContext
from orchestrator.jobs.handlers import Handlers
from orchestrator.jobs.model import Job, JobStatus, JobType
from orchestrator.jobs.queue import JobQueue
from orchestrator.settings import Settings
from tests.support import REPO, free_port

BACKLOG_JOBS = 2_000
LATENCY_JOBS = 300
LATENCY_RATE_PER_S = 100
RAW_ROUND_TRIPS = 3_000
REPEATS = 3
WORKER_COUNTS = (1, 4)
CONCURRENCY = 8  # per worker process
LATENCY_KEY = "bench:latency_ns"
HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def handlers(clients: Any) -> Handlers:
    """The worker processes' handler factory: a no-op that reports its start latency when asked."""
    redis = clients.redis

    async def noop(ctx: JobContext, job: Job) -> None:
        enqueued_ns = job.payload.get("t0_ns")
        if enqueued_ns is not None:
            await redis.rpush(LATENCY_KEY, time.time_ns() - enqueued_ns)

    return {JobType.reconcile: noop}


def start_redis(directory: str, port: int) -> subprocess.Popen[bytes]:
    server = shutil.which("redis-server") or "/usr/bin/redis-server"
    args = [
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        directory,
        "--save",
        "",
        "--appendonly",
        "yes",
        "--appendfsync",
        "everysec",
    ]
    return subprocess.Popen([server, *args], stdout=subprocess.DEVNULL)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def wait_for(check, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise RuntimeError("benchmark step timed out")
        await asyncio.sleep(0.01)


async def raw_round_trip(redis: Redis) -> tuple[float, float, float]:
    """One client: XADD, XREADGROUP, XACK per message, sequentially. (round trips/s, p50 ms, p99 ms)"""
    stream = "bench:raw"
    await redis.xgroup_create(stream, "g", id="0", mkstream=True)
    times_s = []
    started = time.perf_counter()
    for _ in range(RAW_ROUND_TRIPS):
        t0 = time.perf_counter()
        await redis.xadd(stream, {"job": "x"})
        [[_, [(entry_id, _)]]] = await redis.xreadgroup("g", "c", {stream: ">"}, count=1)
        await redis.xack(stream, "g", entry_id)
        times_s.append(time.perf_counter() - t0)
    rate = RAW_ROUND_TRIPS / (time.perf_counter() - started)
    await redis.delete(stream)
    return rate, percentile(times_s, 0.5) * 1000, percentile(times_s, 0.99) * 1000


def start_workers(count: int, redis_url: str) -> list[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "ORCH_REDIS_URL": redis_url,
        "ORCH_HANDLERS": "bench.bench_queue:handlers",
        "ORCH_CONCURRENCY": str(CONCURRENCY),
    }
    return [
        subprocess.Popen(
            [sys.executable, "-m", "orchestrator", "worker", "--worker-id", f"bench-{i}"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for i in range(count)
    ]


async def one_run(redis: Redis, queue: JobQueue, workers: int, redis_url: str) -> tuple[float, list[float]]:
    """(backlog jobs/s, enqueue-to-start latencies in ms) for one run with fresh worker processes."""
    await redis.flushall()
    await queue.setup()
    ids = [(await queue.enqueue(JobType.reconcile)).job.id for _ in range(BACKLOG_JOBS)]
    processes = start_workers(workers, redis_url)
    try:
        succeeded = keys.jobs_by_status(JobStatus.succeeded)
        await wait_for(lambda: _at_least(redis, succeeded, BACKLOG_JOBS))
        jobs = await queue.get_many(ids)
        first_start_ms = min(j.started_at_ms for j in jobs if j)
        last_finish_ms = max(j.finished_at_ms for j in jobs if j)
        throughput = BACKLOG_JOBS / max(0.001, (last_finish_ms - first_start_ms) / 1000)

        await wait_for(lambda: _workers_up(redis, workers))
        for _ in range(LATENCY_JOBS):
            await queue.enqueue(JobType.reconcile, {"t0_ns": time.time_ns()})
            await asyncio.sleep(1 / LATENCY_RATE_PER_S)
        await wait_for(lambda: _at_least(redis, succeeded, BACKLOG_JOBS + LATENCY_JOBS))
        latencies_ms = [int(ns) / 1e6 for ns in await redis.lrange(LATENCY_KEY, 0, -1)]
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(timeout=60)
    return throughput, latencies_ms


async def _at_least(redis: Redis, index: str, count: int) -> bool:
    return await redis.zcard(index) >= count


async def _workers_up(redis: Redis, count: int) -> bool:
    return len(await presence.list_workers(redis)) >= count


async def main() -> None:
    port = free_port()
    with tempfile.TemporaryDirectory() as directory:
        server = start_redis(directory, port)
        url = f"redis://127.0.0.1:{port}/0"
        settings = Settings(redis_url=url)
        redis = Redis.from_url(url, decode_responses=True)
        try:
            await wait_for(lambda: _ping(redis), timeout_s=10)
            raw = [await raw_round_trip(redis) for _ in range(REPEATS)]
            raw_rate = statistics.median(r[0] for r in raw)
            raw_p50 = statistics.median(r[1] for r in raw)
            raw_p99 = statistics.median(r[2] for r in raw)
            queue = JobQueue(redis, settings)
            rows = {}
            for workers in WORKER_COUNTS:
                runs = [await one_run(redis, queue, workers, url) for _ in range(REPEATS)]
                rows[workers] = {
                    "jobs_per_s": statistics.median(r[0] for r in runs),
                    "start_p50_ms": statistics.median(percentile(r[1], 0.5) for r in runs),
                    "start_p99_ms": statistics.median(percentile(r[1], 0.99) for r in runs),
                    "runs_jobs_per_s": [round(r[0]) for r in runs],
                }
        finally:
            await redis.aclose()
            server.terminate()
            server.wait()

    load = os.getloadavg()[0]
    print(
        f"queue benchmark: redis-server AOF everysec; worker processes, concurrency {CONCURRENCY} each; "
        f"no-op handler; median of {REPEATS} runs; {os.cpu_count()} CPUs, load {load:.1f}"
    )
    print(f"{'':34}{'jobs/s':>9}{'p50 ms':>9}{'p99 ms':>9}")
    print(f"{'raw XADD+XREADGROUP+XACK (1 client)':34}{raw_rate:>9.0f}{raw_p50:>9.2f}{raw_p99:>9.2f}")
    for workers, row in rows.items():
        label = f"queue, {workers} worker{'s' if workers > 1 else ''} (enqueue->start)"
        print(f"{label:34}{row['jobs_per_s']:>9.0f}{row['start_p50_ms']:>9.2f}{row['start_p99_ms']:>9.2f}")
    print(
        f"(backlog of {BACKLOG_JOBS} jobs for jobs/s; {LATENCY_JOBS} jobs at {LATENCY_RATE_PER_S}/s for "
        "latency; raw p50/p99 is one round trip of the three commands)"
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "queue.json").write_text(
        json.dumps(
            {
                "raw": {"round_trips_per_s": raw_rate, "p50_ms": raw_p50, "p99_ms": raw_p99},
                "workers": rows,
                "concurrency": CONCURRENCY,
                "repeats": REPEATS,
                "load_average": load,
            },
            indent=2,
        )
    )


async def _ping(redis: Redis) -> bool:
    try:
        return bool(await redis.ping())
    except Exception:
        return False


if __name__ == "__main__":
    asyncio.run(main())
