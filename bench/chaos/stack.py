"""The stack under chaos: deploy/run_stack.py's services (Redis, Chroma, compute, the orchestrator API with
its in-process workers) on free ports in one data dir, plus a second compute replica and separate
`python -m orchestrator worker` processes, every output in a log file.

What it guarantees: every service is its own process group (so a kill reaches a parse worker too); a
service is only ever killed, stopped or restarted while its lock is held (`hold`), and a watchdog thread
restarts any service that died while nobody held it, recording that as an unexpected exit."""

import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import IO
from unittest import mock

import httpx

from deploy import run_stack
from tests.support import VENVS, free_port

READY_TIMEOUT_S = 300


class LogService(run_stack.Service):
    """run_stack's Service with its output appended to a log file, and a lock that a fault holds."""

    log: IO[str]
    lock: threading.Lock

    def _relay(self, process) -> None:  # type: ignore[no-untyped-def]
        for line in process.stdout:
            self.log.write(line.decode(errors="replace"))
            self.log.flush()

    def signal_group(self, signum: int) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signum)
        except ProcessLookupError:
            pass

    def kill(self) -> None:
        """kill -9 of the whole process group, waited for."""
        self.signal_group(signal.SIGKILL)
        if self.process is not None:
            self.process.wait(30)

    def wait_ready(self, timeout_s: float = READY_TIMEOUT_S, poll_s: float = 0.2) -> None:
        super().wait_ready(timeout_s, poll_s)


def _logged(service: run_stack.Service, logs: Path, **extra_env: str) -> LogService:
    logged = LogService(service.name, list(service.argv), service.ready, {**service.env, **extra_env})
    logged.log = open(logs / f"{service.name}.log", "a")  # noqa: SIM115 (closed when the stack stops)
    logged.lock = threading.Lock()
    return logged


class ChaosStack:
    def __init__(
        self,
        data: Path,
        logs: Path,
        *,
        lease_s: float,
        workers: int,
        worker_concurrency: int,
        api_workers: int,
        redis_fsync: str,
        reconcile_interval_s: float,
        reconcile_grace_s: float,
    ) -> None:
        ports = {
            "RUN_REDIS_PORT": str(free_port()),
            "RUN_CHROMA_PORT": str(free_port()),
            "COMPUTE_PORT": str(free_port()),
            "ORCH_PORT": str(free_port()),
        }
        with mock.patch.dict(os.environ, {"RUN_DATA_DIR": str(data), **ports}):
            redis, chroma, compute_a, orchestrator = run_stack.services()
        # run_stack's policy is `always` (a write is acknowledged once it is on disk); --redis-fsync may
        # override it (Redis takes the last of a repeated option) to see what everysec would lose.
        redis = replace(redis, argv=[*redis.argv, "--appendfsync", redis_fsync])
        port_b = str(free_port())
        compute_b = replace(
            compute_a,
            name="compute-b",
            ready=compute_a.ready.replace(ports["COMPUTE_PORT"], port_b),
            env={**compute_a.env, "COMPUTE_PORT": port_b},
        )
        compute_a = replace(compute_a, name="compute-a")
        # Two replicas on two shared cores: one parse worker and one embedding thread each (as tests/e2e).
        small = {
            "COMPUTE_PARSE_WORKERS": "1",
            "COMPUTE_EMBED_THREADS": "1",
            "COMPUTE_LOG_LEVEL": "warning",
            "COMPUTE_ENV": "dev",
        }
        heartbeat_s = min(5.0, lease_s / 3)
        self.orch_env = {
            "ORCH_COMPUTE_URLS": ",".join(s.ready.removesuffix("/readyz") for s in (compute_a, compute_b)),
            "ORCH_API_WORKERS": str(api_workers),
            "ORCH_LEASE_S": str(lease_s),
            "ORCH_HEARTBEAT_S": f"{heartbeat_s:.3f}",
            "ORCH_JOB_RETENTION_S": "0",  # an acknowledged job must still be there at the end
            "ORCH_RECONCILE_INTERVAL_S": str(reconcile_interval_s),
            "ORCH_RECONCILE_GRACE_S": str(reconcile_grace_s),
            "ORCH_RETRY_BASE_S": "0.5",
            "ORCH_RETRY_MAX_S": "4",
            "ORCH_UPLOADS_PER_MIN": "0",
            "ORCH_SEARCHES_PER_MIN": "0",
            "ORCH_COMPUTE_BACKOFF_BASE_S": "0.2",
            "ORCH_COMPUTE_BACKOFF_MAX_S": "2",
            "ORCH_COMPUTE_MAX_ATTEMPTS": "6",
            "ORCH_CHROMA_TIMEOUT_S": "10",
            "ORCH_LOG_LEVEL": "warning",
        }
        self.lease_s = lease_s
        self.redis = _logged(redis, logs)
        self.chroma = _logged(chroma, logs, ANONYMIZED_TELEMETRY="False")
        self.compute = [_logged(compute_a, logs, **small), _logged(compute_b, logs, **small)]
        self.api = _logged(orchestrator, logs, **self.orch_env)
        self.workers = [
            self._worker(orchestrator, logs, n, worker_concurrency) for n in range(1, workers + 1)
        ]
        self.services = [self.redis, self.chroma, *self.compute, self.api, *self.workers]
        self.api_url = orchestrator.ready.removesuffix("/readyz")
        self.redis_url = f"redis://127.0.0.1:{ports['RUN_REDIS_PORT']}/0"
        self.chroma_url = f"http://127.0.0.1:{ports['RUN_CHROMA_PORT']}"
        self.unexpected_exits: list[dict] = []
        self.restart_failures: list[dict] = []
        self._watch_stop = threading.Event()
        self._watchdog: threading.Thread | None = None

    def _worker(self, orchestrator: run_stack.Service, logs: Path, n: int, concurrency: int) -> LogService:
        """A separate worker process; its Prometheus port doubles as its readiness check."""
        metrics_port = str(free_port())
        worker = run_stack.Service(
            f"worker-{n}",
            [
                str(VENVS / "orchestrator/bin/python"),
                "-m",
                "orchestrator",
                "worker",
                "--concurrency",
                str(concurrency),
            ],
            f"http://127.0.0.1:{metrics_port}/metrics",
            {**orchestrator.env, **self.orch_env, "ORCH_METRICS_PORT": metrics_port},
        )
        return _logged(worker, logs)

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """In run_stack's order, each ready before the next; the compute replicas start together."""
        for group in ([self.redis], [self.chroma], self.compute, [self.api], self.workers):
            for service in group:
                if run_stack.port_in_use("127.0.0.1", httpx.URL(service.ready).port):
                    raise RuntimeError(f"{service.name}: port taken")
                service.start()
            for service in group:
                service.wait_ready()
        self._watchdog = threading.Thread(target=self._watch, name="chaos-watchdog", daemon=True)
        self._watchdog.start()

    def stop(self) -> None:
        """Stops every service, newest first, each once a fault still undoing itself lets go of it."""
        self._watch_stop.set()
        if self._watchdog is not None:
            self._watchdog.join(10)
        for service in reversed(self.services):
            held = service.lock.acquire(timeout=READY_TIMEOUT_S)
            try:
                service.signal_group(signal.SIGCONT)  # a stopped process cannot act on SIGTERM
                service.stop(timeout_s=20)
                service.log.close()
            finally:
                if held:
                    service.lock.release()

    @contextlib.contextmanager
    def hold(self, service: LogService, *, wait: bool = True) -> Iterator[bool]:
        """The service's lock (False when wait=False and someone holds it): while held, the watchdog
        leaves the service alone."""
        got = service.lock.acquire(blocking=wait)
        try:
            yield got
        finally:
            if got:
                service.lock.release()

    def restart(self, service: LogService) -> None:
        """Starts it again (the lock held by the caller) until it is ready; a start that fails is recorded
        and tried again, a few times."""
        for attempt in range(3):
            if self._watch_stop.is_set():
                raise RuntimeError("the stack is stopping")
            try:
                service.stop(timeout_s=5)  # whatever is left of its process group
                service.start()
                service.wait_ready()
                return
            except RuntimeError as exc:
                self.restart_failures.append({"service": service.name, "attempt": attempt, "error": str(exc)})
        raise RuntimeError(f"{service.name} would not start again; see its log")

    def all_ready(self) -> list[str]:
        """The names of the services that are not ready now."""
        return [s.name for s in self.services if not (s.alive and s.is_ready())]

    def _watch(self) -> None:
        while not self._watch_stop.wait(1.0):
            for service in self.services:
                with self.hold(service, wait=False) as got:
                    if not got or service.alive or self._watch_stop.is_set():
                        continue
                    code = service.process.returncode if service.process else None
                    self.unexpected_exits.append(
                        {"service": service.name, "returncode": code, "t": time.time()}
                    )
                    try:
                        self.restart(service)
                    except RuntimeError:
                        pass
