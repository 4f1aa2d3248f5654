"""One chaos run, in phases: start the stack; run the load and the fault scheduler side by side for
duration_s; stop both (every fault undone: killed services restarted and ready, stopped workers resumed);
wait, quiet, until every job in Redis is final (at most settle_s); reconcile on demand with grace 0,
twice, with a settle between; then the final checks. Returns the result (bench/chaos/report.py says its
layout). The stack is always stopped and its data removed; its logs are kept when a check failed (or
with keep_logs)."""

import shutil
import signal
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import redis

from bench.chaos import report
from bench.chaos.checks import final_checks
from bench.chaos.faults import Faults
from bench.chaos.ledger import FINAL_JOB, Ledger
from bench.chaos.load import Load
from bench.chaos.searches import SearchAudit
from bench.chaos.stack import ChaosStack
from orchestrator.core import keys


@dataclass(frozen=True)
class Config:
    seed: int
    duration_s: float
    settle_s: float = 240.0
    lease_s: float = 4.0  # short, so a SIGSTOP past the lease lasts seconds
    workers: int = 2  # separate worker processes, beside the API's own in-process workers
    worker_concurrency: int = 2
    api_workers: int = 2
    load_threads: int = 3
    redis_fsync: str = "always"
    reconcile_interval_s: float = 15.0  # the periodic reconciler runs during the chaos too
    reconcile_grace_s: float = 5.0


def run(config: Config, workdir: Path | None = None, *, keep_logs: bool = False) -> dict:
    root = Path(tempfile.mkdtemp(prefix="chaos-", dir=workdir))
    (root / "logs").mkdir()
    stack = ChaosStack(
        root / "data",
        root / "logs",
        lease_s=config.lease_s,
        workers=config.workers,
        worker_concurrency=config.worker_concurrency,
        api_workers=config.api_workers,
        redis_fsync=config.redis_fsync,
        reconcile_interval_s=config.reconcile_interval_s,
        reconcile_grace_s=config.reconcile_grace_s,
    )
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    timings: dict[str, float] = {}
    ledger = Ledger()
    result: dict = {}
    load: Load | None = None
    faults: Faults | None = None
    try:
        t = time.monotonic()
        stack.start()
        timings["stack_start"] = time.monotonic() - t
        print(f"[chaos] stack ready in {timings['stack_start']:.0f} s; logs in {root / 'logs'}", flush=True)
        audit = SearchAudit(stack.redis_url)
        load = Load(
            stack.api_url,
            ledger,
            audit,
            seed=config.seed,
            duration_s=config.duration_s,
            threads=config.load_threads,
        )
        faults = Faults(stack, seed=config.seed, duration_s=config.duration_s)
        t = time.monotonic()
        load.start()
        faults.start()
        time.sleep(config.duration_s)
        load.stopping.set()
        faults.stop()
        load.stop()
        for worker in stack.workers:
            worker.signal_group(signal.SIGCONT)
        timings["chaos"] = time.monotonic() - t
        print(f"[chaos] load and faults stopped: {faults.counts}", flush=True)

        t = time.monotonic()
        reports = []
        for _ in range(2):
            settle(stack, config.settle_s - (time.monotonic() - t))
            reports.append(reconcile(stack.api_url))
            time.sleep(2)
        timings["settle"] = time.monotonic() - t
        t = time.monotonic()
        found = final_checks(stack.redis_url, stack.chroma_url, ledger)
        audit.close()
        found.take("search_violations", audit.violations, audit.examples)
        found.take("unexpected_exits", len(stack.unexpected_exits), stack.unexpected_exits)
        found.take("restart_failures", len(stack.restart_failures), stack.restart_failures)
        timings["checks"] = time.monotonic() - t
        result = report.build(
            config=asdict(config),
            started_at=started_at,
            findings=found,
            faults=faults,
            ledger=ledger,
            audit=audit,
            reconciles=reports,
            timings_s=timings,
            logs=root / "logs",
        )
        return result
    finally:
        for part in (load, faults):
            if part is not None:
                part.stopping.set()
        stack.stop()
        if result.get("passed") and not keep_logs:
            shutil.rmtree(root, ignore_errors=True)
        else:
            shutil.rmtree(root / "data", ignore_errors=True)


def settle(stack: ChaosStack, timeout_s: float) -> None:
    """Waits until every service is ready and every job in Redis is final, or timeout_s has passed."""
    deadline = time.monotonic() + max(timeout_s, 5.0)
    r = redis.Redis.from_url(stack.redis_url, decode_responses=True, socket_timeout=5)
    try:
        while time.monotonic() < deadline:
            try:
                ids = r.zrange(keys.JOBS, 0, -1)
                pipe = r.pipeline(transaction=False)
                for job_id in ids:
                    pipe.hget(keys.job(job_id), "status")
                open_jobs = [s for s in pipe.execute() if s is not None and s not in FINAL_JOB]
            except redis.RedisError:
                open_jobs = ["?"]
            if not open_jobs and not stack.all_ready():
                return
            time.sleep(1.0)
    finally:
        r.close()


def reconcile(api_url: str) -> dict:
    """POST /admin/reconcile with grace 0: every stale vector goes now. Its report, or the error."""
    for _ in range(5):
        try:
            response = httpx.post(f"{api_url}/api/v1/admin/reconcile", params={"grace_s": 0}, timeout=120)
            if response.status_code == 200:
                return response.json()
            error = f"{response.status_code}: {response.text[:300]}"
        except httpx.HTTPError as exc:
            error = f"unknown:{type(exc).__name__}"
        time.sleep(2)
    return {"error": error}
