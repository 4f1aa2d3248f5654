"""An asyncio worker pool: claims jobs, runs their handlers, records outcomes, keeps leases alive.

One fetch loop claims as many jobs as there are free slots (higher priorities first) and blocks on the
wake stream when there is nothing to do; each job runs in its own task; a heartbeat loop renews the
leases of running jobs and publishes the worker's presence. Redis going away is survived: every loop
retries with capped, jittered backoff, and outcomes are recorded once Redis is back.
"""

import asyncio
import contextlib
import logging
import os
import secrets
import signal
import socket
from collections.abc import Awaitable
from dataclasses import asdict, dataclass

from redis.backoff import EqualJitterBackoff

import orchestrator.jobs.presence as presence
from orchestrator.core.ids import now_ms
from orchestrator.core.redis_client import TRANSIENT_ERRORS
from orchestrator.errors import JobCancelled, LeaseLost, OrchestratorError
from orchestrator.jobs.context import JobContext
from orchestrator.jobs.handlers import Handlers
from orchestrator.jobs.job_queue import JobQueue
from orchestrator.jobs.leases import Claimed, Lease
from orchestrator.jobs.model import Job, JobStatus, WorkerInfo
from orchestrator.jobs.outcomes import CANCELLED, NO_HANDLER, RELEASED, SUCCEEDED, Outcome, RetryPolicy

log = logging.getLogger(__name__)


def _ignore_outcome(task: asyncio.Future[object]) -> None:
    if not task.cancelled():
        task.exception()


@dataclass
class Counters:
    processed: int = 0  # attempts whose outcome was recorded
    succeeded: int = 0
    failed: int = 0
    retried: int = 0
    dead: int = 0
    cancelled: int = 0
    released: int = 0  # handed back at shutdown, attempt not counted
    lost: int = 0  # abandoned: another worker had taken the job over

    def count(self, status: JobStatus) -> None:
        if status is JobStatus.queued:
            self.released += 1
            return
        self.processed += 1
        name = "retried" if status is JobStatus.retrying else str(status)
        setattr(self, name, getattr(self, name) + 1)


@dataclass
class _Running:
    ctx: JobContext
    task: asyncio.Task[None]


class WorkerPool:
    def __init__(
        self,
        queue: JobQueue,
        handlers: Handlers,
        *,
        concurrency: int | None = None,
        worker_id: str | None = None,
    ):
        settings = queue.settings
        self.worker_id = worker_id or f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        self.concurrency = concurrency or settings.concurrency
        self.counters = Counters()
        self._redis = queue.redis
        self._settings = settings
        self._handlers = handlers
        self._leases = queue.leases
        self._policy = RetryPolicy(settings)
        self._reconnect = EqualJitterBackoff(cap=settings.reconnect_max_s, base=settings.reconnect_base_s)
        self._running: dict[Lease, _Running] = {}
        self._slot_free = asyncio.Event()
        self._stopping = asyncio.Event()
        self._heartbeat_stop = asyncio.Event()
        self._loops: list[asyncio.Task[None]] = []
        self._started_at_ms = 0

    @property
    def in_flight(self) -> list[str]:
        return [lease.job_id for lease in self._running]

    async def start(self) -> None:
        self._started_at_ms = now_ms()
        self._slot_free.set()
        self._loops = [
            asyncio.create_task(self._fetch_loop(), name=f"{self.worker_id}-fetch"),
            asyncio.create_task(self._heartbeat_loop(), name=f"{self.worker_id}-heartbeat"),
        ]
        log.info("worker %s started, concurrency %d", self.worker_id, self.concurrency)

    async def stop(self, deadline_s: float | None = None) -> None:
        """Stops claiming, gives running jobs deadline_s to finish, then releases the rest to the queue."""
        if not self._loops or self._stopping.is_set():
            return
        deadline_s = self._settings.shutdown_deadline_s if deadline_s is None else deadline_s
        self._stopping.set()
        fetch, heartbeat = self._loops
        await fetch
        tasks = [running.task for running in self._running.values()]
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=deadline_s)
            for task in late:
                task.cancel()
            if late:
                # Bounded: a handler may swallow the cancellation. Whatever still runs then is
                # abandoned, and its lease lapses once the heartbeat stops.
                await asyncio.wait(late, timeout=self._settings.redis_socket_timeout_s)
        # Not cancelled but told to stop: redis-py can turn a cancellation that lands mid-command into a
        # connection error, which the loop would take for an outage and carry on.
        self._heartbeat_stop.set()
        await heartbeat
        with contextlib.suppress(*TRANSIENT_ERRORS):  # if so, its presence record expires by itself
            await presence.leave(self._redis, self.worker_id)
        log.info("worker %s stopped: %s", self.worker_id, asdict(self.counters))

    async def run(self) -> None:
        """Runs until SIGTERM or SIGINT, then stops gracefully."""
        stop_requested = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop_requested.set)
        await self.start()
        await stop_requested.wait()
        log.info("worker %s: stop requested", self.worker_id)
        await self.stop()

    async def _fetch_loop(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            if not self._slot_free.is_set() and not await self._unless_stopping(self._slot_free.wait()):
                return
            try:
                claimed = await self._leases.claim(self.worker_id, self.concurrency - len(self._running))
                for job in claimed.jobs:
                    self._spawn(job)
                if not claimed.jobs:
                    await self._unless_stopping(
                        self._leases.wait_for_work(claimed.wake_id, self._idle_wait_s(claimed))
                    )
                failures = 0
            except TRANSIENT_ERRORS as exc:
                log.warning("worker %s: Redis unavailable (%s), retrying", self.worker_id, exc)
                await self._unless_stopping(asyncio.sleep(self._reconnect.compute(failures)))
                failures += 1
            except Exception:
                # Anything else is a bug, but a worker that silently stops claiming while its heartbeat
                # says it is alive is worse: log it and keep going, slowly.
                log.exception("worker %s: claiming failed", self.worker_id)
                await self._unless_stopping(asyncio.sleep(self._settings.reconnect_max_s))

    def _idle_wait_s(self, claimed: Claimed) -> float:
        # Wake up for the next due retry, and at least every idle_block_s to look for lapsed leases.
        if claimed.due_in_ms is None:
            return self._settings.idle_block_s
        return min(self._settings.idle_block_s, claimed.due_in_ms / 1000)

    async def _unless_stopping(self, awaitable: Awaitable[object]) -> bool:
        """Awaits `awaitable` unless the pool starts stopping first; True if it completed."""
        work = asyncio.ensure_future(awaitable)
        stop = asyncio.ensure_future(self._stopping.wait())
        done, _ = await asyncio.wait({work, stop}, return_when=asyncio.FIRST_COMPLETED)
        for task in (work, stop):
            if task not in done:
                task.cancel()
                # A cancelled Redis call may still end in an error (see stop()); nobody needs it.
                task.add_done_callback(_ignore_outcome)
        if work in done:
            work.result()
            return True
        return False

    def _spawn(self, job: Job) -> None:
        lease = Lease.for_job(job, self.worker_id)
        ctx = JobContext(job, lease, self._leases)
        task = asyncio.create_task(self._run(ctx), name=f"job-{job.id}-{job.attempts}")
        self._running[lease] = _Running(ctx, task)
        if len(self._running) >= self.concurrency:
            self._slot_free.clear()
        task.add_done_callback(lambda _: self._forget(lease))

    def _forget(self, lease: Lease) -> None:
        del self._running[lease]
        self._slot_free.set()

    async def _run(self, ctx: JobContext) -> None:
        try:
            outcome = await self._execute(ctx)
        except asyncio.CancelledError:
            # Past the shutdown deadline: hand the job back now rather than make it wait for its lease.
            await self._release(ctx)
            raise
        if outcome is None:
            self.counters.lost += 1
            log.warning("job %s attempt %d: lease lost, abandoned", ctx.job.id, ctx.attempt)
            return
        await self._record(ctx, outcome)

    async def _execute(self, ctx: JobContext) -> Outcome | None:
        """Runs the handler; None if the lease was lost and this worker must not record anything."""
        handler = self._handlers.get(ctx.job.type)
        if handler is None:
            log.error("job %s: no handler for type %s", ctx.job.id, ctx.job.type)
            return NO_HANDLER
        try:
            await handler(ctx, ctx.job)
        except LeaseLost:
            return None
        except JobCancelled:
            return CANCELLED
        except Exception as exc:
            if ctx.lease_lost:
                return None
            if ctx.cancel_seen:
                return CANCELLED
            outcome = self._policy.outcome(exc, ctx.attempt)
            unexpected = not isinstance(exc, OrchestratorError)  # its record says only its type
            log.log(
                logging.WARNING if unexpected else logging.INFO,
                "job %s attempt %d: %s (%s)",
                ctx.job.id,
                ctx.attempt,
                outcome.status,
                exc,
                exc_info=unexpected,
            )
            return outcome
        return SUCCEEDED

    async def _record(self, ctx: JobContext, outcome: Outcome) -> None:
        failures = 0
        while True:
            try:
                recorded = await self._leases.finish(ctx.lease, outcome)
                break
            except TRANSIENT_ERRORS as exc:
                log.warning("job %s: cannot record %s yet (%s)", ctx.job.id, outcome.status, exc)
                await asyncio.sleep(self._reconnect.compute(failures))
                failures += 1
            except Exception:
                log.exception("job %s: recording %s failed; its lease will lapse", ctx.job.id, outcome.status)
                return
        if recorded:
            self.counters.count(outcome.status)
        else:
            self.counters.lost += 1
            log.warning("job %s attempt %d: lease lost before its outcome", ctx.job.id, ctx.attempt)

    async def _release(self, ctx: JobContext) -> None:
        try:
            async with asyncio.timeout(self._settings.redis_socket_timeout_s):
                if await self._leases.finish(ctx.lease, RELEASED):
                    self.counters.count(JobStatus.queued)
        except Exception as exc:  # Redis away, or too slow: the lease lapses instead, and another
            log.warning("job %s: release failed (%s)", ctx.job.id, exc)  # worker takes the job then

    async def _heartbeat_loop(self) -> None:
        while not self._heartbeat_stop.is_set():
            try:
                await self._beat()
            except TRANSIENT_ERRORS as exc:
                log.warning("worker %s: heartbeat failed (%s)", self.worker_id, exc)
            except Exception:
                log.exception("worker %s: heartbeat failed", self.worker_id)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._heartbeat_stop.wait(), self._settings.heartbeat_s)

    async def _beat(self) -> None:
        running = list(self._running.values())
        if running:
            states = await self._leases.renew(self.worker_id, [r.ctx.lease for r in running])
            for entry, state in zip(running, states, strict=True):
                entry.ctx.note(state)
        info = WorkerInfo(
            id=self.worker_id,
            host=socket.gethostname(),
            pid=os.getpid(),
            concurrency=self.concurrency,
            started_at_ms=self._started_at_ms,
            last_beat_at_ms=now_ms(),
            in_flight=self.in_flight,
            counters=asdict(self.counters),
        )
        await presence.beat(self._redis, info, ttl_s=3 * self._settings.heartbeat_s)
