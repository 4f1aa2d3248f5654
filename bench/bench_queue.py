"""`make bench-queue`: job-queue throughput and enqueue-to-start latency with 1 and 4 worker processes,
printed beside the raw XADD + XREADGROUP + XACK round trip measured against the same redis-server, and
all of it twice, side by side: Redis fsyncing its append-only file every second and on every write.

It starts two redis-servers of its own (free ports, append-only file on, `appendfsync everysec` and
`appendfsync always`), their files in a temp dir on a real disk (under bench/results unless
BENCH_REDIS_DIR names another; tmpfs would make fsync free, and the run says which filesystem it got).
The rounds alternate between the two servers, so both see the same load. Workers are real
`python -m orchestrator worker` processes running a no-op handler. Throughput: a backlog of BACKLOG_JOBS
jobs, timed from the first start to the last finish by the server's clock. Latency: jobs enqueued at a
steady LATENCY_RATE_PER_S, from just before enqueue to the handler's first line. The queue cycle: one
client, one job at a time (enqueue, claim, finish: three scripts, so with `always` three fsyncs that no
other client shares, the worst case). Medians of REPEATS runs. Writes bench/results/queue.json.
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
from orchestrator.jobs.job_queue import JobQueue
from orchestrator.jobs.leases import Lease
from orchestrator.jobs.model import Job, JobStatus, JobType
from orchestrator.jobs.outcomes import SUCCEEDED
from orchestrator.settings import Settings
from tests.support import REPO, free_port

BACKLOG_JOBS = 2_000
LATENCY_JOBS = 300
LATENCY_RATE_PER_S = 100
RAW_ROUND_TRIPS = 3_000
CYCLE_JOBS = 1_000
REPEATS = 3
WORKER_COUNTS = (1, 4)
CONCURRENCY = 8  # per worker process
LATENCY_KEY = "bench:latency_ns"
FSYNC_POLICIES = ("everysec", "always")
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


def start_redis(directory: str, port: int, appendfsync: str) -> subprocess.Popen[bytes]:
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
        appendfsync,
    ]
    return subprocess.Popen([server, *args], stdout=subprocess.DEVNULL)


def filesystem(path: Path) -> str:
    """The type of the filesystem `path` is on (its longest mount point in /proc/mounts)."""
    best, kind = "", "unknown"
    for line in Path("/proc/mounts").read_text().splitlines():
        _, mount, fs_type, *_ = line.split()
        if str(path).startswith(mount) and len(mount) > len(best):
            best, kind = mount, fs_type
    return kind


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


async def queue_cycle(redis: Redis, queue: JobQueue) -> float:
    """One client, one job at a time: enqueue, claim, finish (jobs/s)."""
    await redis.flushall()
    await queue.setup()
    started = time.perf_counter()
    for _ in range(CYCLE_JOBS):
        await queue.enqueue(JobType.reconcile)
        (job,) = (await queue.leases.claim("bench-cycle", 1)).jobs
        if not await queue.leases.finish(Lease.for_job(job, "bench-cycle"), SUCCEEDED):
            raise RuntimeError(f"job {job.id}: lease lost in the cycle")
    return CYCLE_JOBS / (time.perf_counter() - started)


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


class Server:
    """One redis-server under test, with the client and queue the benchmark drives it through."""

    def __init__(self, directory: Path, appendfsync: str):
        self.appendfsync = appendfsync
        directory.mkdir()
        port = free_port()
        self.process = start_redis(str(directory), port, appendfsync)
        self.url = f"redis://127.0.0.1:{port}/0"
        self.redis = Redis.from_url(self.url, decode_responses=True)
        self.queue = JobQueue(self.redis, Settings(redis_url=self.url))

    async def close(self) -> None:
        await self.redis.aclose()
        self.process.terminate()
        self.process.wait()


def medians(runs: list[tuple[float, list[float]]]) -> dict[str, Any]:
    return {
        "jobs_per_s": statistics.median(r[0] for r in runs),
        "start_p50_ms": statistics.median(percentile(r[1], 0.5) for r in runs),
        "start_p99_ms": statistics.median(percentile(r[1], 0.99) for r in runs),
        "runs_jobs_per_s": [round(r[0]) for r in runs],
    }


async def measure(servers: list[Server]) -> dict[str, dict[str, Any]]:
    """Every measure for every server, round by round, the servers taking turns within each round."""
    raw: dict[str, list[tuple[float, float, float]]] = {s.appendfsync: [] for s in servers}
    cycle: dict[str, list[float]] = {s.appendfsync: [] for s in servers}
    runs: dict[tuple[str, int], list[tuple[float, list[float]]]] = {}
    for _ in range(REPEATS):
        for server in servers:
            await server.redis.flushall()
            raw[server.appendfsync].append(await raw_round_trip(server.redis))
            cycle[server.appendfsync].append(await queue_cycle(server.redis, server.queue))
        for workers in WORKER_COUNTS:
            for server in servers:
                run = await one_run(server.redis, server.queue, workers, server.url)
                runs.setdefault((server.appendfsync, workers), []).append(run)
    results = {}
    for server in servers:
        policy = server.appendfsync
        results[policy] = {
            "raw": {
                "round_trips_per_s": statistics.median(r[0] for r in raw[policy]),
                "p50_ms": statistics.median(r[1] for r in raw[policy]),
                "p99_ms": statistics.median(r[2] for r in raw[policy]),
            },
            "cycle": {
                "jobs_per_s": statistics.median(cycle[policy]),
                "runs_jobs_per_s": [round(r) for r in cycle[policy]],
            },
            "workers": {workers: medians(runs[(policy, workers)]) for workers in WORKER_COUNTS},
        }
    return results


def report(results: dict[str, dict[str, Any]], fs_type: str, load: float) -> None:
    fast, safe = (results[p] for p in FSYNC_POLICIES)
    print(
        f"queue benchmark: redis-server AOF on {fs_type}, appendfsync everysec beside always (rounds "
        f"interleaved); worker processes, concurrency {CONCURRENCY} each; no-op handler; median of "
        f"{REPEATS} runs; {os.cpu_count()} CPUs, load {load:.1f}"
    )
    print(f"{'':38}{'jobs/s':^26}{'p50 ms':^16}{'p99 ms':^16}")
    print(f"{'':38}{'everysec':>9}{'always':>9}{'ratio':>8}" + f"{'everysec':>9}{'always':>7}" * 2)
    rows = [
        ("raw XADD+XREADGROUP+XACK (1 client)", lambda r: r["raw"]["round_trips_per_s"], "raw"),
        ("queue cycle, 1 client (enq+claim+fin)", lambda r: r["cycle"]["jobs_per_s"], None),
    ]
    for label, rate, latency in rows:
        line = f"{label:38}{rate(fast):>9.0f}{rate(safe):>9.0f}{rate(safe) / rate(fast):>8.2f}"
        if latency:
            line += "".join(f"{fast[latency][q]:>9.2f}{safe[latency][q]:>7.2f}" for q in ("p50_ms", "p99_ms"))
        print(line)
    for workers in WORKER_COUNTS:
        label = f"queue, {workers} worker{'s' if workers > 1 else ''} (enqueue->start)"
        a, b = fast["workers"][workers], safe["workers"][workers]
        ratio = b["jobs_per_s"] / a["jobs_per_s"]
        line = f"{label:38}{a['jobs_per_s']:>9.0f}{b['jobs_per_s']:>9.0f}{ratio:>8.2f}"
        line += "".join(f"{a[q]:>9.2f}{b[q]:>7.2f}" for q in ("start_p50_ms", "start_p99_ms"))
        print(line)
    print(
        f"(backlog of {BACKLOG_JOBS} jobs for jobs/s; {LATENCY_JOBS} jobs at {LATENCY_RATE_PER_S}/s for "
        f"latency; the cycle is {CYCLE_JOBS} jobs one at a time; raw p50/p99 is one round trip of the three "
        "commands; ratio: always / everysec)"
    )


async def main() -> None:
    disk = Path(os.environ.get("BENCH_REDIS_DIR", RESULTS))
    disk.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-queue-redis-", dir=disk) as directory:
        fs_type = filesystem(Path(directory).resolve())
        servers = [Server(Path(directory) / policy, policy) for policy in FSYNC_POLICIES]
        try:
            for server in servers:
                await wait_for(lambda server=server: _ping(server.redis), timeout_s=10)
            results = await measure(servers)
        finally:
            for server in servers:
                await server.close()

    load = os.getloadavg()[0]
    report(results, fs_type, load)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "queue.json").write_text(
        json.dumps(
            {
                "appendfsync": results,
                "filesystem": fs_type,
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
